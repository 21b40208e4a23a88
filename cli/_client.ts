// The client side of the command line: dial with the options given, then
// chat in a terminal (see _chat.ts) or, without one, send standard input
// line by line and print what arrives.

import { dial, type DialOptions } from "../client.ts";
import type { Conn } from "../conn.ts";
import { DialError } from "../errors.ts";
import type { Args } from "./_args.ts";
import { chat } from "./_chat.ts";
import {
  describeClose,
  ExitCode,
  exitCodeFor,
  printMessages,
  writeErr,
  writeOut,
} from "./_output.ts";

/** Dials `args.url` and runs the session; resolves with the exit status. */
export async function connect(args: Args): Promise<number> {
  const interactive = Deno.stdin.isTerminal();
  const options: DialOptions = {
    protocols: args.protocols,
    origin: args.origin,
    headers: args.headers,
    proxy: args.proxy,
    insecure: args.insecure,
    caCerts: args.ca.length
      ? await Promise.all(args.ca.map((file) => Deno.readTextFile(file)))
      : undefined,
    compression: args.compress,
    maxRedirects: args.maxRedirects,
    handshakeTimeout: args.timeout,
  };
  let conn: Conn;
  try {
    conn = await dial(args.url!, options);
  } catch (error) {
    writeErr(
      `${error instanceof DialError ? error.message : String(error)}\n`,
    );
    return ExitCode.DialFailed;
  }
  const details = [
    conn.protocol && `subprotocol ${conn.protocol}`,
    conn.extensions && `extensions ${conn.extensions}`,
  ].filter(Boolean).join(", ");
  const connected = `Connected to ${conn.url}${details ? ` (${details})` : ""}`;
  return interactive
    ? await chat(conn, connected)
    : await pipe(conn, connected, args.wait);
}

// Without a terminal: lines in, messages out, an exit status at the end.
async function pipe(
  conn: Conn,
  connected: string,
  wait: number,
): Promise<number> {
  writeErr(`${connected}\n`);
  const printing = printMessages(conn, (text) => writeOut(`${text}\n`));
  const sending = (async () => {
    let buffered = "";
    const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
    try {
      for await (const chunk of lines) {
        buffered += chunk;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        for (const line of parts) await conn.send(line.replace(/\r$/, ""));
      }
      if (buffered) await conn.send(buffered.replace(/\r$/, ""));
    } catch {
      // The connection closed first.
      return;
    }
    // Give the replies to the last lines time to arrive, unless the
    // server closes first.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      conn.closed,
      new Promise((resolve) => timer = setTimeout(resolve, wait)),
    ]);
    clearTimeout(timer);
    await conn.close(1000).catch(() => {});
  })();
  const info = await conn.closed;
  await printing;
  // The sender may be blocked reading stdin: the process exits anyway.
  void sending;
  writeErr(`${describeClose(info.code, info.reason)}\n`);
  return exitCodeFor(info.code);
}
