import assert from "node:assert/strict";
import type { Conn } from "../conn.ts";
import { dial } from "../client.ts";
import { serve, type WebSocketServer } from "../server.ts";
import {
  freePort,
  hasProgram,
  MICROSOCKS,
  startMicrosocks,
  testCert,
} from "./_proxy_servers.ts";

const CLI = new URL("../cli/cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with piped standard input. */
async function cli(args: string[], stdin = ""): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

function start(
  handler: (conn: Conn) => Promise<void>,
  options: { cert?: string; key?: string; requests?: Request[] } = {},
): WebSocketServer & { url: string } {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    checkOrigin: "any",
    protocols: (offered) => offered.at(-1),
    compression: true,
    cert: options.cert,
    key: options.key,
    beforeUpgrade: (request) => void options.requests?.push(request),
  }, handler);
  const scheme = options.cert ? "wss" : "ws";
  return Object.assign(server, {
    url: `${scheme}://localhost:${server.addr.port}/cli`,
  });
}

async function echo(conn: Conn): Promise<void> {
  try {
    for await (const message of conn) {
      if (message === "binary please") {
        await conn.send(new Uint8Array([0, 1, 0xab]));
        await conn.send(new Uint8Array(1000));
      } else if (message === "close please") {
        await conn.close(1011, "As asked");
      } else await conn.send(message);
    }
  } catch {
    // Closed abnormally.
  }
}

Deno.test("cli --help lists every option; bad arguments exit with 2", async () => {
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  for (
    const option of [
      "--header",
      "--protocol",
      "--origin",
      "--proxy",
      "--no-proxy",
      "--insecure",
      "--ca",
      "--compress",
      "--max-redirects",
      "--timeout",
      "--wait",
      "--listen",
      "--host",
      "--broadcast",
      "--cert",
      "--key",
      "--help",
      "/ping",
      "/close",
      "/binary",
      "/quit",
      "Exit status",
    ]
  ) assert.ok(help.stdout.includes(option), option);
  for (
    const [args, message] of [
      [[], "Missing the URL"],
      [["--bogus", "ws://x/"], "Unknown option --bogus"],
      [["-H", "novalue", "ws://x/"], "Invalid header"],
      [["--listen", "99999"], "Invalid port"],
      [["--listen", "1", "ws://x/"], "not both"],
      [["--listen", "1", "--cert", "c.pem"], "go together"],
    ] as const
  ) {
    const run = await cli([...args]);
    assert.equal(run.code, 2, args.join(" "));
    assert.ok(run.stderr.split("\n")[0].includes(message), run.stderr);
    assert.match(run.stderr, /Usage:/);
  }
});

Deno.test("cli sends one message per line and prints each reply; 0 for a normal close", async () => {
  await using server = start(echo);
  const run = await cli([server.url], "hello\r\nworld\n\nbinary please\nlast");
  assert.equal(
    run.stdout,
    "hello\nworld\n\n<binary, 3 bytes: 0001ab>\n<binary, 1000 bytes>\nlast\n",
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^Connected to ws:\/\/localhost:\d+\/cli/);
  assert.match(run.stderr, /Closed with 1000\n$/);
});

Deno.test("cli exits with 3 when the server closes with another code", async () => {
  await using server = start(echo);
  const run = await cli(
    ["--wait", "10000", server.url],
    "one\nclose please\n",
  );
  assert.equal(run.stdout, "one\n");
  assert.equal(run.code, 3);
  assert.match(run.stderr, /Closed with 1011 \(As asked\)/);
});

Deno.test("cli exits with 1 when the dial fails", async () => {
  const port = freePort();
  const run = await cli([`ws://127.0.0.1:${port}/`, "--no-proxy"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^Cannot dial ws:\/\/127\.0\.0\.1:\d+\/: /);
});

Deno.test("cli sends its headers, subprotocols, origin and compression offer", async () => {
  const requests: Request[] = [];
  await using server = start(echo, { requests });
  const run = await cli([
    "-H",
    "X-One: 1",
    "--header=Authorization: Bearer abc",
    "-p",
    "a.v1,b.v1",
    "--protocol",
    "c.v1",
    "--origin",
    "http://example.test",
    "--compress",
    server.url,
  ], "x\n");
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /subprotocol c\.v1, extensions permessage-deflate/,
  );
  const headers = requests[0].headers;
  assert.equal(headers.get("x-one"), "1");
  assert.equal(headers.get("authorization"), "Bearer abc");
  assert.equal(headers.get("sec-websocket-protocol"), "a.v1, b.v1, c.v1");
  assert.equal(headers.get("origin"), "http://example.test");
  assert.match(headers.get("sec-websocket-extensions")!, /permessage-deflate/);
});

Deno.test("cli reaches wss:// with --ca and with --insecure, and fails without", async () => {
  const cert = await testCert();
  const dir = await Deno.makeTempDir();
  const ca = `${dir}/ca.pem`;
  await Deno.writeTextFile(ca, cert.ca);
  await using server = start(echo, cert);
  try {
    const trusted = await cli(["--ca", ca, server.url], "secure\n");
    assert.equal(trusted.stdout, "secure\n");
    assert.equal(trusted.code, 0, trusted.stderr);
    const insecure = await cli(["-k", server.url], "anyway\n");
    assert.equal(insecure.stdout, "anyway\n");
    assert.equal(insecure.code, 0, insecure.stderr);
    const refused = await cli([server.url], "no\n");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /certificate/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "cli goes through --proxy",
  ignore: !hasProgram(MICROSOCKS),
  async fn() {
    await using server = start(echo);
    await using proxy = await startMicrosocks({
      scheme: "socks5h",
      auth: ["u", "p"],
    });
    const run = await cli(["--proxy", proxy.url, server.url], "via socks\n");
    assert.equal(run.stdout, "via socks\n");
    assert.equal(run.code, 0, run.stderr);
    const denied = await cli([
      "-x",
      `socks5h://127.0.0.1:${proxy.port}`,
      server.url,
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /asks for authentication/);
  },
});

/** Starts `cli.ts --listen`; resolves once it listens. */
async function listening(args: string[]) {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--listen", String(port), ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!log.includes("Listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The server did not start: ${log}`);
    log += value;
  }
  const rest = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return log;
      log += value;
    }
  })();
  return {
    url: `ws://127.0.0.1:${port}/`,
    firstLine: log,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      return { code: status.code, log: await rest };
    },
  };
}

async function next(conn: Conn): Promise<unknown> {
  const reader = conn.readable.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return value;
}

Deno.test("cli --listen echoes, and --broadcast sends to every client", async () => {
  const echoing = await listening([]);
  assert.match(
    echoing.firstLine,
    /Listening on ws:\/\/127\.0\.0\.1:\d+\/ \(echo\)/,
  );
  const conn = await dial(echoing.url, { proxy: false });
  await conn.send("ping me");
  assert.equal(await next(conn), "ping me");
  await conn.send(new Uint8Array([7, 8]));
  assert.deepEqual(await next(conn), new Uint8Array([7, 8]));
  await conn.close();
  const stopped = await echoing.stop();
  assert.equal(stopped.code, 0);
  assert.match(stopped.log, /connected/);

  const broadcasting = await listening(["--broadcast"]);
  const a = await dial(broadcasting.url, { proxy: false });
  await a.send("a here");
  assert.equal(await next(a), "a here");
  // b is registered once its own message has come back.
  const b = await dial(broadcasting.url, { proxy: false });
  await b.send("b here");
  assert.equal(await next(a), "b here");
  assert.equal(await next(b), "b here");
  await a.send("to all");
  assert.equal(await next(a), "to all");
  assert.equal(await next(b), "to all");
  // The server's shutdown closes both with 1001.
  const stoppedBroadcast = await broadcasting.stop();
  assert.equal(stoppedBroadcast.code, 0);
  assert.equal((await a.closed).code, 1001);
  assert.equal((await b.closed).code, 1001);
});

// ---------------------------------------------------------------------------
// In a terminal, through tmux.

const TMUX = ["/usr/bin/tmux", "/bin/tmux", "/usr/local/bin/tmux"].find(
  hasProgram,
);

Deno.test({
  name:
    "cli in a terminal keeps the typed line intact around incoming messages",
  ignore: TMUX === undefined,
  async fn() {
    const received: string[] = [];
    let serverConn: Conn | undefined;
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => connected = resolve);
    await using server = start(async (conn) => {
      serverConn = conn;
      connected();
      try {
        for await (const message of conn) {
          received.push(message as string);
          await conn.send(`echo: ${message}`);
        }
      } catch {
        // Closed abnormally.
      }
    });
    const socket = `cli-test-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const { stdout, success, stderr } = await new Deno.Command(TMUX!, {
        args: ["-L", socket, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(success, decoder.decode(stderr));
      return decoder.decode(stdout);
    };
    const screen = async () =>
      (await tmux("capture-pane", "-p", "-t", "cli")).split("\n")
        .map((line) => line.trimEnd()).filter((line) => line !== "");
    // Polls the screen until it shows what is expected.
    const waitFor = async (test: (lines: string[]) => boolean) => {
      const start = performance.now();
      for (let delay = 10;; delay = Math.min(delay * 2, 200)) {
        const lines = await screen();
        if (test(lines)) return lines;
        if (performance.now() - start > 20_000) {
          assert.fail(`The screen never showed it:\n${lines.join("\n")}`);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    };
    const command = `'${Deno.execPath()}' run -A '${CLI}' ${server.url}; ` +
      `echo "EXIT=$?"; sleep 600`;
    await tmux(
      "new-session",
      "-d",
      "-s",
      "cli",
      "-x",
      "120",
      "-y",
      "30",
      command,
    );
    try {
      await ready;
      await waitFor((lines) => lines.some((l) => l.startsWith("Connected to")));
      await tmux("send-keys", "-t", "cli", "-l", "hello");
      await tmux("send-keys", "-t", "cli", "Enter");
      await waitFor((lines) => lines.includes("< echo: hello"));
      // A partial line, then a message from the server: the line survives.
      await tmux("send-keys", "-t", "cli", "-l", "partial");
      await waitFor((lines) => lines.at(-1) === "> partial");
      await serverConn!.send("incoming!");
      let lines = await waitFor((lines) => lines.includes("< incoming!"));
      assert.equal(lines.at(-1), "> partial");
      assert.equal(lines.at(-2), "< incoming!");
      // Line editing: the cursor moves and the text goes in the middle.
      await tmux("send-keys", "-t", "cli", "Left", "Left", "X", "End", "!");
      await tmux("send-keys", "-t", "cli", "Enter");
      await waitFor((lines) => lines.includes("< echo: partiXal!"));
      assert.deepEqual(received, ["hello", "partiXal!"]);
      await tmux("send-keys", "-t", "cli", "-l", "/ping");
      await tmux("send-keys", "-t", "cli", "Enter");
      await waitFor((lines) => lines.some((l) => /^< pong \(\d/.test(l)));
      await tmux("send-keys", "-t", "cli", "-l", "/binary 00ff");
      await tmux("send-keys", "-t", "cli", "Enter");
      await serverConn!.send(new Uint8Array([1, 2]));
      await waitFor((lines) => lines.includes("< <binary, 2 bytes: 0102>"));
      // Ctrl-D on an empty line closes normally: exit status 0.
      await tmux("send-keys", "-t", "cli", "C-d");
      lines = await waitFor((lines) => lines.includes("EXIT=0"));
      assert.ok(lines.includes("Closed with 1000"), lines.join("\n"));
      assert.equal((await serverConn!.closed).code, 1000);
    } finally {
      await tmux("kill-server").catch(() => {});
    }
  },
});
