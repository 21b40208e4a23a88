// What the command line prints and how it ends: writing to the standard
// streams, showing messages and closes, and the exit statuses.

import type { Conn } from "../conn.ts";

/**
 * The exit statuses of {@linkcode main}.
 *
 * @example Telling a normal close from a failure
 * ```ts ignore
 * import { ExitCode, main } from "@seed/websocket/cli";
 *
 * const status = await main(["ws://127.0.0.1:8080/"]);
 * if (status !== ExitCode.Ok) console.error("The connection did not close normally");
 * ```
 */
export const ExitCode: {
  readonly Ok: 0;
  readonly DialFailed: 1;
  readonly Usage: 2;
  readonly Abnormal: 3;
} = {
  /** The connection closed normally (1000, or a close frame without a code). */
  Ok: 0,
  /** The connection could not be opened. */
  DialFailed: 1,
  /** Bad arguments. */
  Usage: 2,
  /** The connection closed with another code, or abnormally (1006). */
  Abnormal: 3,
} as const;

const encoder = new TextEncoder();

/** Writes all of `text`, synchronously, so that output never interleaves. */
export function writeOut(
  text: string,
  to: { writeSync(p: Uint8Array): number } = Deno.stdout,
): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += to.writeSync(bytes.subarray(offset));
}

/** Writes all of `text` to standard error. */
export function writeErr(text: string): void {
  writeOut(text, Deno.stderr);
}

const SHORT_BINARY = 32;

/** How a binary message is shown: hex when short, its length otherwise. */
export function describeBinary(bytes: Uint8Array): string {
  if (bytes.length > SHORT_BINARY) return `<binary, ${bytes.length} bytes>`;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `<binary, ${bytes.length} bytes: ${hex}>`;
}

/** Reads typed hex (spaces allowed) back into bytes; undefined if it is not hex. */
export function parseHex(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
  return new Uint8Array(
    clean.match(/../g)?.map((pair) => parseInt(pair, 16)) ?? [],
  );
}

/** The exit status for a close code: 0 for a normal close (1000, or none). */
export function exitCodeFor(code: number): number {
  return code === 1000 || code === 1005 ? ExitCode.Ok : ExitCode.Abnormal;
}

/**
 * Passes each received message to `print`, a binary one as
 * {@linkcode describeBinary} shows it; resolves once the connection has
 * closed, however it closed (the caller reports that from `closed`).
 */
export async function printMessages(
  conn: Conn,
  print: (text: string) => void,
): Promise<void> {
  try {
    for await (const message of conn) {
      print(typeof message === "string" ? message : describeBinary(message));
    }
  } catch {
    // Reported from `closed`.
  }
}

/** "Closed with 1000 (reason)". */
export function describeClose(code: number, reason: string): string {
  return `Closed with ${code}${reason ? ` (${reason})` : ""}`;
}
