// The command line's arguments: the usage text, and the parser that turns
// argv into options (or a UsageError naming what is wrong).

/** The help text, printed for --help and after a usage error. */
export const USAGE = `Usage:
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
export interface Args {
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

/** Bad arguments: the message says which, and the usage follows it. */
export class UsageError extends Error {}

// The short names.
const SHORT = new Map<string, string>([
  ["-H", "--header"],
  ["-p", "--protocol"],
  ["-o", "--origin"],
  ["-x", "--proxy"],
  ["-l", "--listen"],
  ["-w", "--wait"],
  ["-k", "--insecure"],
  ["-c", "--compress"],
  ["-b", "--broadcast"],
  ["-h", "--help"],
]);

// The options that are on or off, by the field they set.
const SWITCHES = new Map<
  string,
  "insecure" | "compress" | "broadcast" | "help"
>(
  [
    ["--insecure", "insecure"],
    ["--compress", "compress"],
    ["--broadcast", "broadcast"],
    ["--help", "help"],
  ],
);

// The options whose value is kept as given, by the field it goes in.
const TEXTS = new Map<string, "origin" | "proxy" | "host" | "cert" | "key">([
  ["--origin", "origin"],
  ["--proxy", "proxy"],
  ["--host", "host"],
  ["--cert", "cert"],
  ["--key", "key"],
]);

// The options that take a whole number: its field, its name in an error,
// and its largest value.
const NUMBERS = new Map<
  string,
  ["maxRedirects" | "timeout" | "wait" | "listen", string, number]
>([
  ["--max-redirects", ["maxRedirects", "redirect count", 100]],
  ["--timeout", ["timeout", "timeout", 2 ** 31 - 1]],
  ["--wait", ["wait", "wait", 2 ** 31 - 1]],
  ["--listen", ["listen", "port", 65535]],
]);

function number(name: string, text: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > max) {
    throw new UsageError(`Invalid ${name} ${JSON.stringify(text)}`);
  }
  return value;
}

function header(text: string): [string, string] {
  const colon = text.indexOf(":");
  if (colon <= 0) {
    throw new UsageError(
      `Invalid header ${JSON.stringify(text)} (use "Name: value")`,
    );
  }
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

/** Parses the command line; throws a UsageError for bad arguments. */
export function parseArgs(argv: readonly string[]): Args {
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
    arg = SHORT.get(arg) ?? arg;
    const take = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    const toggle = SWITCHES.get(arg);
    const text = TEXTS.get(arg);
    const numeric = NUMBERS.get(arg);
    if (toggle) args[toggle] = true;
    else if (text) args[text] = take();
    else if (numeric) args[numeric[0]] = number(numeric[1], take(), numeric[2]);
    else if (arg === "--header") args.headers.push(header(take()));
    else if (arg === "--protocol") {
      args.protocols.push(
        ...take().split(",").map((p) => p.trim()).filter(Boolean),
      );
    } else if (arg === "--ca") args.ca.push(take());
    else if (arg === "--no-proxy") args.proxy = false;
    else if (arg.startsWith("-") && arg !== "-") {
      throw new UsageError(`Unknown option ${arg}`);
    } else if (args.url !== undefined) {
      throw new UsageError(`Unexpected argument ${JSON.stringify(arg)}`);
    } else args.url = arg;
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
