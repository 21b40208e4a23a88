import assert from "node:assert/strict";
import { parseArgs, USAGE, UsageError } from "../cli/_args.ts";

Deno.test("parseArgs() reads every client option, long, short and with =", () => {
  const args = parseArgs([
    "-H",
    "X-One: 1",
    "--header=X-Two:  two words ",
    "-p",
    "chat, superchat",
    "--protocol=,v2,",
    "-o",
    "https://example.com",
    "-x",
    "socks5://127.0.0.1:1080",
    "-k",
    "--ca",
    "a.pem",
    "--ca=b.pem",
    "-c",
    "--max-redirects",
    "3",
    "--timeout=2500",
    "-w",
    "100",
    "ws://127.0.0.1:8080/",
  ]);
  assert.deepEqual(args, {
    url: "ws://127.0.0.1:8080/",
    headers: [["X-One", "1"], ["X-Two", "two words"]],
    protocols: ["chat", "superchat", "v2"],
    origin: "https://example.com",
    proxy: "socks5://127.0.0.1:1080",
    insecure: true,
    ca: ["a.pem", "b.pem"],
    compress: true,
    maxRedirects: 3,
    timeout: 2500,
    wait: 100,
    host: "127.0.0.1",
    broadcast: false,
    help: false,
  });
  assert.equal(parseArgs(["--no-proxy", "ws://h/"]).proxy, false);
  // A lone "-" is an argument, not an option.
  assert.equal(parseArgs(["-"]).url, "-");
});

Deno.test("parseArgs() reads the server options and --help", () => {
  const args = parseArgs([
    "-l",
    "8080",
    "--host",
    "::1",
    "-b",
    "--cert",
    "c.pem",
    "--key=k.pem",
  ]);
  assert.equal(args.listen, 8080);
  assert.equal(args.host, "::1");
  assert.equal(args.broadcast, true);
  assert.equal(args.cert, "c.pem");
  assert.equal(args.key, "k.pem");
  assert.equal(parseArgs(["-h"]).help, true);
  // --help needs nothing else, and a switch ignores a value given with =.
  assert.equal(parseArgs(["--help=yes"]).help, true);
  assert.match(USAGE, /^Usage:\n/);
});

Deno.test("parseArgs() names what is wrong", () => {
  const cases: [string[], string][] = [
    [[], "Missing the URL to connect to"],
    [["--header"], "--header needs a value"],
    [["-o"], "--origin needs a value"],
    [
      ["--header", "NoColon", "ws://h/"],
      'Invalid header "NoColon" (use "Name: value")',
    ],
    [
      ["--header", ": v", "ws://h/"],
      'Invalid header ": v" (use "Name: value")',
    ],
    [["--listen", "65536"], 'Invalid port "65536"'],
    [["--listen", "-1"], 'Invalid port "-1"'],
    [["--timeout", "1.5", "ws://h/"], 'Invalid timeout "1.5"'],
    [["--wait", "x", "ws://h/"], 'Invalid wait "x"'],
    [["--max-redirects", "101", "ws://h/"], 'Invalid redirect count "101"'],
    [["--nope"], "Unknown option --nope"],
    [["-z"], "Unknown option -z"],
    [["ws://a/", "ws://b/"], 'Unexpected argument "ws://b/"'],
    [["ws://a/", "--listen", "1"], "Give a URL or --listen, not both"],
    [["--listen", "1", "--cert", "c.pem"], "--cert and --key go together"],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseArgs(argv),
      (error) => error instanceof UsageError && error.message === message,
      argv.join(" "),
    );
  }
  // Names that are properties of every object are plain arguments.
  assert.equal(parseArgs(["constructor"]).url, "constructor");
});
