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

import { dial, type DialOptions } from "../client.ts";
import type { Conn, Message } from "../conn.ts";
import { DialError } from "../errors.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import { serve } from "../server.ts";

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

const USAGE = `Usage:
  cli.ts [options] <url>            connect to a ws:// or wss:// URL
  cli.ts --listen <port> [options]  run an echo server

In a terminal, type a message and press Enter; received messages appear
above the line being typed. With standard input from a pipe or a file, each
line is sent as a text message and each received text message is printed on
a line of its own.

Client options:
  -H, --header <name: value>  Add a request header (repeatable)
  -p, --protocol <name>       Offer a subprotocol (repeatable, or comma-separated)
  -o, --origin <origin>       Send an Origin header
  -x, --proxy <url>           Go through a proxy: http://, https://, socks5://,
                              socks5h:// (user:pass@ for credentials); by default
                              the https_proxy, http_proxy, all_proxy and
                              no_proxy variables
      --no-proxy              Ignore the proxy variables
  -k, --insecure              Do not check the server's certificate
      --ca <file>             Trust the PEM certificates in a file (repeatable)
  -c, --compress              Offer permessage-deflate compression
      --max-redirects <n>     Redirects to follow (default 5)
      --timeout <ms>          Handshake timeout (default 10000)
  -w, --wait <ms>             Without a terminal: after the last line, wait this
                              long for more messages before closing (default 0:
                              replies the server sends before it reads the
                              close still arrive; a server close ends the wait)

Server options:
  -l, --listen <port>         Listen on a port and echo every message
      --host <host>           The address to listen on (default 127.0.0.1)
  -b, --broadcast             Send each message to every client instead
      --cert <file>           PEM certificate chain: serve wss://
      --key <file>            PEM private key for --cert
  -p, --protocol <name>       Subprotocols to accept, preferred first

  -h, --help                  Show this help

Commands, in a terminal:
  /ping [text]                Ping the server and show the round trip time
  /close [code] [reason]      Close the connection (default 1000)
  /binary <hex>               Send a binary message (e.g. /binary 00ff10)
  /quit                       Close with 1000 and exit (also Ctrl-D, Ctrl-C)
  /help                       Show the commands
  //text                      Send a message that starts with "/"

Received binary messages are shown in hex up to 32 bytes, by length above.

Exit status: 0 for a normal close (1000, or no code), 1 when the connection
could not be opened, 2 for bad arguments, 3 for any other close.
`;

/** The parsed command line. */
interface Args {
  url?: string;
  headers: [string, string][];
  protocols: string[];
  origin?: string;
  proxy?: string | false;
  insecure: boolean;
  ca: string[];
  compress: boolean;
  maxRedirects?: number;
  timeout?: number;
  wait: number;
  listen?: number;
  host: string;
  broadcast: boolean;
  cert?: string;
  key?: string;
  help: boolean;
}

class UsageError extends Error {}

const VALUED: Record<string, string> = {
  "-H": "--header",
  "-p": "--protocol",
  "-o": "--origin",
  "-x": "--proxy",
  "-l": "--listen",
  "-w": "--wait",
};
const FLAGS: Record<string, string> = {
  "-k": "--insecure",
  "-c": "--compress",
  "-b": "--broadcast",
  "-h": "--help",
};

function number(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`Invalid ${name} ${JSON.stringify(text)}`);
  }
  return value;
}

/** Parses the command line; throws a UsageError for bad arguments. */
function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    headers: [],
    protocols: [],
    insecure: false,
    ca: [],
    compress: false,
    wait: 0,
    host: "127.0.0.1",
    broadcast: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    arg = VALUED[arg] ?? FLAGS[arg] ?? arg;
    const take = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case "--header": {
        const text = take();
        const colon = text.indexOf(":");
        if (colon <= 0) {
          throw new UsageError(
            `Invalid header ${JSON.stringify(text)} (use "Name: value")`,
          );
        }
        args.headers.push([
          text.slice(0, colon).trim(),
          text.slice(colon + 1).trim(),
        ]);
        break;
      }
      case "--protocol":
        args.protocols.push(
          ...take().split(",").map((p) => p.trim()).filter(Boolean),
        );
        break;
      case "--origin":
        args.origin = take();
        break;
      case "--proxy":
        args.proxy = take();
        break;
      case "--no-proxy":
        args.proxy = false;
        break;
      case "--insecure":
        args.insecure = true;
        break;
      case "--ca":
        args.ca.push(take());
        break;
      case "--compress":
        args.compress = true;
        break;
      case "--max-redirects":
        args.maxRedirects = number("redirect count", take(), 0, 100);
        break;
      case "--timeout":
        args.timeout = number("timeout", take(), 0, 2 ** 31 - 1);
        break;
      case "--wait":
        args.wait = number("wait", take(), 0, 2 ** 31 - 1);
        break;
      case "--listen":
        args.listen = number("port", take(), 0, 65535);
        break;
      case "--host":
        args.host = take();
        break;
      case "--broadcast":
        args.broadcast = true;
        break;
      case "--cert":
        args.cert = take();
        break;
      case "--key":
        args.key = take();
        break;
      case "--help":
        args.help = true;
        break;
      default:
        if (arg.startsWith("-") && arg !== "-") {
          throw new UsageError(`Unknown option ${arg}`);
        }
        if (args.url !== undefined) {
          throw new UsageError(`Unexpected argument ${JSON.stringify(arg)}`);
        }
        args.url = arg;
    }
  }
  if (!args.help) {
    if (args.listen === undefined && args.url === undefined) {
      throw new UsageError("Missing the URL to connect to");
    }
    if (args.listen !== undefined && args.url !== undefined) {
      throw new UsageError("Give a URL or --listen, not both");
    }
    if ((args.cert === undefined) !== (args.key === undefined)) {
      throw new UsageError("--cert and --key go together");
    }
  }
  return args;
}

const encoder = new TextEncoder();

function writeOut(
  text: string,
  to: { writeSync(p: Uint8Array): number } = Deno.stdout,
) {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += to.writeSync(bytes.subarray(offset));
}

function writeErr(text: string): void {
  writeOut(text, Deno.stderr);
}

const SHORT_BINARY = 32;

/** How a binary message is shown: hex when short, its length otherwise. */
function describeBinary(bytes: Uint8Array): string {
  if (bytes.length > SHORT_BINARY) return `<binary, ${bytes.length} bytes>`;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `<binary, ${bytes.length} bytes: ${hex}>`;
}

function parseHex(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
  return new Uint8Array(
    clean.match(/../g)?.map((pair) => parseInt(pair, 16)) ?? [],
  );
}

function exitCodeFor(code: number): number {
  return code === 1000 || code === 1005 ? ExitCode.Ok : ExitCode.Abnormal;
}

function describeClose(code: number, reason: string): string {
  return `Closed with ${code}${reason ? ` (${reason})` : ""}`;
}

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

async function connect(args: Args): Promise<number> {
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
  const printing = (async () => {
    try {
      for await (const message of conn) {
        writeOut(
          typeof message === "string"
            ? `${message}\n`
            : `${describeBinary(message)}\n`,
        );
      }
    } catch {
      // Reported from `closed` below.
    }
  })();
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

/**
 * A line editor for a raw-mode terminal: the prompt line is redrawn after
 * every key and every received message, so output never breaks it.
 */
class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #pending = "";
  readonly prompt = "> ";

  /** Prints a line above the prompt, then redraws the prompt line. */
  print(text: string): void {
    writeOut(`\r\x1b[K${text.replace(/\r?\n/g, "\r\n")}\r\n`);
    this.redraw();
  }

  redraw(): void {
    const back = this.#chars.length - this.#cursor;
    writeOut(
      `\r\x1b[K${this.prompt}${this.#chars.join("")}${
        back > 0 ? `\x1b[${back}D` : ""
      }`,
    );
  }

  /**
   * Takes typed text; returns the events: submitted lines, and "eof" for
   * Ctrl-D on an empty line, "interrupt" for Ctrl-C on an empty line.
   */
  feed(text: string): (string | { key: "eof" | "interrupt" })[] {
    const events: (string | { key: "eof" | "interrupt" })[] = [];
    let input = this.#pending + text;
    this.#pending = "";
    while (input.length > 0) {
      if (input[0] === "\x1b") {
        const match = /^(\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(input.slice(1));
        if (!match) {
          // An escape sequence cut between two reads: wait for the rest.
          if (input.length < 8 && /^(\[[0-9;]*|O)?$/.test(input.slice(1))) {
            this.#pending = input;
            break;
          }
          input = input.slice(1);
          continue;
        }
        this.#escape(match[1]);
        input = input.slice(1 + match[0].length);
        continue;
      }
      const char = String.fromCodePoint(input.codePointAt(0)!);
      input = input.slice(char.length);
      switch (char) {
        case "\r":
        case "\n": {
          const line = this.#chars.join("");
          if (line) this.#history.push(line);
          this.#historyIndex = this.#history.length;
          this.#chars = [];
          this.#cursor = 0;
          // Keep the typed line on screen, then a fresh prompt.
          writeOut(`\r\x1b[K${this.prompt}${line}\r\n`);
          events.push(line);
          break;
        }
        case "\x7f":
        case "\b":
          if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
          break;
        case "\x01": // Ctrl-A
          this.#cursor = 0;
          break;
        case "\x05": // Ctrl-E
          this.#cursor = this.#chars.length;
          break;
        case "\x02": // Ctrl-B
          this.#cursor = Math.max(0, this.#cursor - 1);
          break;
        case "\x06": // Ctrl-F
          this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
          break;
        case "\x0b": // Ctrl-K
          this.#chars.splice(this.#cursor);
          break;
        case "\x15": // Ctrl-U
          this.#chars.splice(0, this.#cursor);
          this.#cursor = 0;
          break;
        case "\x17": { // Ctrl-W
          let start = this.#cursor;
          while (start > 0 && this.#chars[start - 1] === " ") start--;
          while (start > 0 && this.#chars[start - 1] !== " ") start--;
          this.#chars.splice(start, this.#cursor - start);
          this.#cursor = start;
          break;
        }
        case "\x03": // Ctrl-C: clears the line, or quits on an empty one
          if (this.#chars.length > 0) {
            this.#chars = [];
            this.#cursor = 0;
          } else events.push({ key: "interrupt" });
          break;
        case "\x04": // Ctrl-D: deletes, or quits on an empty line
          if (this.#chars.length === 0) events.push({ key: "eof" });
          else if (this.#cursor < this.#chars.length) {
            this.#chars.splice(this.#cursor, 1);
          }
          break;
        case "\x0c": // Ctrl-L
          writeOut("\x1b[2J\x1b[H");
          break;
        default:
          if (char >= " " || char === "\t") {
            this.#chars.splice(this.#cursor++, 0, char);
          }
      }
    }
    this.redraw();
    return events;
  }

  #escape(sequence: string): void {
    switch (sequence) {
      case "[D":
      case "OD":
        this.#cursor = Math.max(0, this.#cursor - 1);
        break;
      case "[C":
      case "OC":
        this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
        break;
      case "[H":
      case "OH":
      case "[1~":
      case "[7~":
        this.#cursor = 0;
        break;
      case "[F":
      case "OF":
      case "[4~":
      case "[8~":
        this.#cursor = this.#chars.length;
        break;
      case "[3~":
        if (this.#cursor < this.#chars.length) {
          this.#chars.splice(this.#cursor, 1);
        }
        break;
      case "[A":
      case "OA":
        if (this.#historyIndex > 0) this.#recall(--this.#historyIndex);
        break;
      case "[B":
      case "OB":
        if (this.#historyIndex < this.#history.length) {
          this.#recall(++this.#historyIndex);
        }
        break;
    }
  }

  #recall(index: number): void {
    this.#chars = Array.from(this.#history[index] ?? "");
    this.#cursor = this.#chars.length;
  }
}

const COMMANDS =
  `Commands: /ping [text], /close [code] [reason], /binary <hex>, /quit, /help; //text sends "/text"`;

// In a terminal: raw mode, a line editor, commands.
async function chat(conn: Conn, connected: string): Promise<number> {
  const editor = new LineEditor();
  Deno.stdin.setRaw(true);
  try {
    editor.print(`${connected}. /help for commands, Ctrl-D to quit`);
    const printing = (async () => {
      try {
        for await (const message of conn) {
          editor.print(
            `< ${
              typeof message === "string" ? message : describeBinary(message)
            }`,
          );
        }
      } catch {
        // Reported from `closed` below.
      }
    })();
    const typing = (async () => {
      const textDecoder = new TextDecoder();
      const buffer = new Uint8Array(1024);
      while (true) {
        const n = await Deno.stdin.read(buffer);
        if (n === null) {
          await conn.close(1000).catch(() => {});
          return;
        }
        const events = editor.feed(
          textDecoder.decode(buffer.subarray(0, n), { stream: true }),
        );
        for (const event of events) {
          if (typeof event === "string") {
            if (await command(conn, editor, event)) return;
          } else {
            await conn.close(1000).catch(() => {});
            return;
          }
        }
      }
    })();
    typing.catch(() => {});
    const info = await conn.closed;
    await printing;
    editor.print(describeClose(info.code, info.reason));
    writeOut("\r\x1b[K");
    return exitCodeFor(info.code);
  } finally {
    Deno.stdin.setRaw(false);
  }
}

// Runs one typed line; returns true once the connection is closing.
async function command(
  conn: Conn,
  editor: LineEditor,
  line: string,
): Promise<boolean> {
  const send = (message: Message) =>
    conn.send(message).catch((error) => editor.print(`! ${error.message}`));
  if (!line.startsWith("/") || line.startsWith("//")) {
    if (line !== "") await send(line.startsWith("//") ? line.slice(1) : line);
    return false;
  }
  const [name, ...rest] = line.slice(1).split(" ");
  switch (name) {
    case "ping": {
      const text = rest.join(" ");
      conn.ping(text ? encoder.encode(text) : undefined).then(
        (ms) => editor.print(`< pong (${ms.toFixed(1)} ms)`),
        (error) => editor.print(`! ${error.message}`),
      );
      return false;
    }
    case "close":
    case "quit": {
      const code = name === "close" && rest[0] !== undefined
        ? Number(rest[0])
        : 1000;
      const reason = name === "close" ? rest.slice(1).join(" ") : "";
      try {
        conn.close(code, reason).catch(() => {});
        return true;
      } catch (error) {
        editor.print(`! ${(error as Error).message}`);
        return false;
      }
    }
    case "binary": {
      const bytes = parseHex(rest.join(""));
      if (bytes === undefined) editor.print("! Invalid hex");
      else await send(bytes);
      return false;
    }
    case "help":
      editor.print(COMMANDS);
      return false;
    default:
      editor.print(`! Unknown command /${name}. ${COMMANDS}`);
      return false;
  }
}

// --listen: an echo or broadcast server until SIGINT or SIGTERM.
async function listen(args: Args): Promise<number> {
  const clients = new Set<Conn>();
  const tls = args.cert !== undefined
    ? {
      cert: await Deno.readTextFile(args.cert),
      key: await Deno.readTextFile(args.key!),
    }
    : {};
  const server = serve({
    port: args.listen!,
    hostname: args.host,
    checkOrigin: "any",
    protocols: args.protocols.length
      ? (offered) => args.protocols.find((p) => offered.includes(p))
      : undefined,
    compression: args.compress,
    ...tls,
    onListen: ({ port, hostname }) => {
      const scheme = args.cert ? "wss" : "ws";
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      writeErr(
        `Listening on ${scheme}://${host}:${port}/ (${
          args.broadcast ? "broadcast" : "echo"
        })\n`,
      );
    },
  }, async (conn) => {
    const peer = conn.remoteAddr as Deno.NetAddr | undefined;
    const who = peer ? `${peer.hostname}:${peer.port}` : "a client";
    writeErr(`${who} connected\n`);
    clients.add(conn);
    try {
      for await (const message of conn) {
        if (!args.broadcast) {
          await conn.send(message);
          continue;
        }
        const prepared = new PreparedMessage(message);
        await Promise.all(
          [...clients].map((client) => client.send(prepared).catch(() => {})),
        );
      }
    } catch {
      // Closed abnormally: reported below.
    } finally {
      clients.delete(conn);
      const info = await conn.closed;
      writeErr(
        `${who} ${describeClose(info.code, info.reason).toLowerCase()}\n`,
      );
    }
  });
  const stop = () => server.shutdown();
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  return ExitCode.Ok;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
