/**
 * A command-line WebSocket client and server, in the spirit of `wscat`.
 *
 * In a terminal it is a chat: type a line and Enter to send it; received
 * messages are printed above the line being typed, which is kept intact.
 * Lines starting with `/` are commands (`/ping`, `/close [code] [reason]`,
 * `/binary HEX`, `/help`, `/quit`). With standard input from a pipe or a file
 * it sends one message per line and prints each received text message on a
 * line of its own; the exit status says how the connection closed (0 for a
 * normal close). `--listen PORT` runs an echo (or `--broadcast`) server.
 *
 * ```sh
 * deno run -A jsr:@seed/websocket/cli ws://127.0.0.1:8080/chat
 * echo hello | deno run -A jsr:@seed/websocket/cli wss://example.com/echo
 * deno run -A jsr:@seed/websocket/cli --listen 8080 --broadcast
 * ```
 *
 * @example Running it from a program
 * ```ts ignore
 * import { main } from "@seed/websocket/cli";
 *
 * Deno.exit(await main(["--listen", "8080"]));
 * ```
 *
 * @module
 */

import { type Args, parseArgs, USAGE, UsageError } from "./_args.ts";
import { connect } from "./_client.ts";
import { ExitCode, writeErr, writeOut } from "./_output.ts";
import { listen } from "./_server.ts";

export { ExitCode } from "./_output.ts";

/**
 * Runs the command line: connects (or listens) and returns the exit status.
 *
 * @param args The arguments, without the program's name.
 * @returns The exit status: 0 after a normal close, 1 when the connection
 *   could not be opened, 2 for bad arguments, 3 after any other close.
 *
 * @example Printing the help
 * ```ts ignore
 * import { main } from "@seed/websocket/cli";
 *
 * await main(["--help"]);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  let parsed: Args;
  try {
    parsed = parseArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    writeErr(`${error.message}\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  if (parsed.help) {
    writeOut(USAGE);
    return ExitCode.Ok;
  }
  if (parsed.listen !== undefined) return await listen(parsed);
  return await connect(parsed);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
