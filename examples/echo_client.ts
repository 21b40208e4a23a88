/**
 * A line client: sends each line of standard input as a text message and
 * prints each text message it receives as one line. At the end of input it
 * closes with 1000 and exits 0 once the closing handshake is done; every
 * message that arrived before the server's close frame is printed.
 *
 * ```sh
 * deno run -A examples/echo_client.ts ws://127.0.0.1:9001/ [--protocol chat] [--origin http://example.com] [--version 13|hixie-76|hixie-75]
 * ```
 *
 * `--protocol` may be repeated to offer several subprotocols. Failures go
 * to standard error with a non-zero exit status.
 *
 * @module
 */

import {
  ConnectionClosedError,
  dial,
  DialError,
  type DialOptions,
  HandshakeError,
  ProtocolError,
} from "../mod.ts";

const USAGE =
  "Usage: deno run -A examples/echo_client.ts URL [--protocol P]... [--origin O] [--version 13|hixie-76|hixie-75]";

function fail(message: string, status = 1): never {
  console.error(message);
  Deno.exit(status);
}

/** Splits arguments into positionals and `--name value` flags. */
function parseArgs(
  args: string[],
): { positional: string[]; flags: Map<string, string[]> } {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!match) {
      positional.push(args[i]);
      continue;
    }
    const value = match[2] ?? args[++i];
    if (value === undefined) {
      fail(`Missing value for --${match[1]}\n${USAGE}`, 2);
    }
    flags.set(match[1], [...(flags.get(match[1]) ?? []), value]);
  }
  return { positional, flags };
}

/** Why a dial or a connection failed, with the cause's code when it has one. */
function describe(error: unknown): string {
  if (error instanceof DialError) {
    const cause = error.cause as { code?: unknown; name?: unknown } | undefined;
    const code =
      cause instanceof HandshakeError || cause instanceof ProtocolError
        ? cause.code
        : cause?.code ?? cause?.name;
    return code === undefined ? error.message : `${error.message} (${code})`;
  }
  if (error instanceof ConnectionClosedError && error.cause instanceof Error) {
    return `${error.message}: ${error.cause.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Yields the lines of a byte stream, without their line endings. */
async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let end: number;
    while ((end = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
    }
  }
  if (pending) yield pending;
}

const { positional, flags } = parseArgs(Deno.args);
for (const name of flags.keys()) {
  if (!["protocol", "origin", "version"].includes(name)) {
    fail(`Unknown flag --${name}\n${USAGE}`, 2);
  }
}
if (positional.length !== 1) fail(USAGE, 2);
const version = flags.get("version")?.at(-1) ?? "13";
if (version !== "13" && version !== "hixie-76" && version !== "hixie-75") {
  fail(
    `Unsupported --version ${version}: use 13 (RFC 6455), hixie-76 or hixie-75`,
    2,
  );
}

// One line per setting.
const options: DialOptions = {
  protocols: flags.get("protocol") ?? [],
  origin: flags.get("origin")?.at(-1),
  maxMessageSize: 64 * 1024 * 1024,
  version,
};

const conn = await dial(positional[0], options).catch((error) =>
  fail(describe(error))
);

// Send what is typed; at the end of input, close with 1000. If the server
// closes first, sending stops and the printing loop below says how it ended.
const sending = (async () => {
  for await (const line of lines(Deno.stdin.readable)) {
    await conn.send(line);
  }
  await conn.close(1000);
})();
sending.catch((error) => {
  if (!(error instanceof ConnectionClosedError)) conn.abort(error);
});

// Print what arrives until the closing handshake is done.
try {
  for await (const message of conn) {
    if (typeof message === "string") console.log(message);
    else console.error(`(binary message of ${message.length} bytes)`);
  }
} catch (error) {
  fail(describe(error));
}
const { code, wasClean } = await conn.closed;
if (!wasClean) fail(`Connection closed abnormally with code ${code}`);
Deno.exit(0);
