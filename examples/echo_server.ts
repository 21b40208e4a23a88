/**
 * An echo server: every message goes back to its sender with the same type.
 * It accepts any origin, picks the first subprotocol a client offers,
 * accepts messages up to 64 MiB, and answers a client's close frame with
 * the same code and reason. It speaks RFC 6455 (and the hybi drafts 7 and
 * 8), the legacy drafts hixie-76 and hixie-75, and answers offers of
 * permessage-deflate. The server for conformance suites and for
 * trying a client.
 *
 * ```sh
 * deno run -A examples/echo_server.ts [--port 9001] [--hostname 127.0.0.1]
 * ```
 *
 * It prints one line, `Listening on ws://HOST:PORT/`, once it listens;
 * `--port 0` picks a free port and the line names it.
 *
 * @module
 */

import { type Conn, serve, type ServeOptions } from "../mod.ts";

const USAGE =
  "Usage: deno run -A examples/echo_server.ts [--port N] [--hostname H]";

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  Deno.exit(2);
}

/** Reads `--name value` and `--name=value` flags; no positional arguments. */
function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!match) fail(`Unexpected argument ${args[i]}`);
    const value = match[2] ?? args[++i];
    if (value === undefined) fail(`Missing value for --${match[1]}`);
    flags.set(match[1], value);
  }
  return flags;
}

const flags = parseFlags(Deno.args);
for (const name of flags.keys()) {
  if (name !== "port" && name !== "hostname") fail(`Unknown flag --${name}`);
}
const port = Number(flags.get("port") ?? "9001");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`Invalid port ${flags.get("port")}`);
}

// One line per setting.
const options: ServeOptions = {
  port,
  hostname: flags.get("hostname") ?? "127.0.0.1",
  checkOrigin: "any",
  protocols: (offered) => offered[0],
  maxMessageSize: 64 * 1024 * 1024,
  versions: ["13", "8", "7", "hixie-76", "hixie-75"],
  compression: true,
  onListen: ({ hostname, port }) => {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(`Listening on ws://${host}:${port}/`);
  },
};

// When the client closes, the protocol layer has already answered with its
// code and reason; the loop then ends (or throws ConnectionClosedError for
// an unusual code, which serve() ignores), and serve()'s own close is a
// no-op. The handler never closes with a code of its own.
async function echo(conn: Conn): Promise<void> {
  for await (const message of conn) await conn.send(message);
}

serve(options, echo);
