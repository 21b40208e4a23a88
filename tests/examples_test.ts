// The examples' command lines are a contract: each test runs an example as a
// subprocess and talks to it over loopback.

import assert from "node:assert/strict";
import { type Conn, dial, DialError, type Message, serve } from "../mod.ts";
import { listenLoopback, randomBytes } from "./_util.ts";

const ROOT = new URL("../", import.meta.url);

/** An example running as a subprocess, its output read line by line. */
class Example implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #stdout: ReadableStreamDefaultReader<string>;
  #buffered = "";
  #stderr: Promise<string>;

  constructor(script: string, args: string[], stdin = false) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(`examples/${script}`, ROOT).href, ...args],
      cwd: ROOT,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = stdin ? this.child.stdin.getWriter() : undefined;
    this.#stdout = this.child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stderr = new Response(this.child.stderr).text();
  }

  /** Writes text to the example's standard input. */
  async write(text: string): Promise<void> {
    await this.#stdin!.write(new TextEncoder().encode(text));
  }

  /** Ends the example's standard input. */
  async endInput(): Promise<void> {
    const stdin = this.#stdin;
    this.#stdin = undefined;
    await stdin?.close();
  }

  /** The next line of standard output, without its newline. */
  async line(): Promise<string> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#stdout.read();
      if (done) {
        throw new Error(
          `Example ended before a full line; stderr: ${await this.#stderr}`,
        );
      }
      this.#buffered += value;
    }
    const end = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, end);
    this.#buffered = this.#buffered.slice(end + 1);
    return line;
  }

  /** Waits for the example to exit; returns its status and the rest of its output. */
  async exit(): Promise<{ code: number; stdout: string; stderr: string }> {
    await this.endInput();
    let stdout = this.#buffered;
    this.#buffered = "";
    for (
      let r = await this.#stdout.read();
      !r.done;
      r = await this.#stdout.read()
    ) {
      stdout += r.value;
    }
    const { code } = await this.child.status;
    return { code, stdout, stderr: await this.#stderr };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.endInput().catch(() => {});
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#stdout.cancel();
    await this.#stderr;
  }
}

/** Starts an example server on a free port and returns it with its port. */
async function startServer(
  script: string,
  args: string[] = [],
): Promise<{ example: Example; port: number }> {
  const example = new Example(script, ["--port", "0", ...args]);
  const line = await example.line();
  const match = /^(?:Listening on ws|Chat on http):\/\/127\.0\.0\.1:(\d+)\/$/
    .exec(line);
  if (!match) {
    await example[Symbol.asyncDispose]();
    throw new Error(`Unexpected first line: ${line}`);
  }
  return { example, port: Number(match[1]) };
}

/** The next message of a connection, which must not have ended. */
async function next(reader: ReadableStreamDefaultReader<Message>): Promise<
  Message
> {
  const { value, done } = await reader.read();
  assert.equal(done, false, "Connection ended before a message arrived");
  return value!;
}

/** Opens the built-in WebSocket and waits for it to open. */
async function openBuiltin(
  url: string,
  protocols?: string[],
): Promise<WebSocket> {
  const socket = new WebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`Cannot open ${url}`));
  });
  return socket;
}

function nextBuiltin(socket: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((resolve) => {
    socket.onmessage = (event) => resolve(event.data);
  });
}

function closeBuiltin(
  socket: WebSocket,
  code?: number,
  reason?: string,
): Promise<CloseEvent> {
  return new Promise((resolve) => {
    socket.onclose = resolve;
    socket.close(code, reason);
  });
}

Deno.test("examples/echo_server.ts keeps the echo contract", async (t) => {
  const { example, port } = await startServer("echo_server.ts");
  await using _ = example;
  const url = `ws://127.0.0.1:${port}/`;

  await t.step("echoes text and binary to the built-in WebSocket", async () => {
    const socket = await openBuiltin(url);
    let echo = nextBuiltin(socket);
    socket.send("héllo");
    assert.equal(await echo, "héllo");
    echo = nextBuiltin(socket);
    socket.send(new Uint8Array([0, 1, 2, 255]));
    assert.deepEqual(
      new Uint8Array(await echo as ArrayBuffer),
      new Uint8Array([0, 1, 2, 255]),
    );
    const closed = await closeBuiltin(socket, 1000);
    assert.equal(closed.code, 1000);
    assert.equal(closed.wasClean, true);
  });

  await t.step("echoes text and binary to dial()", async () => {
    const conn = await dial(url);
    const reader = conn.readable.getReader();
    const bytes = randomBytes(70_000, 1);
    await conn.send("text");
    await conn.send(bytes);
    await conn.send("");
    assert.equal(await next(reader), "text");
    assert.deepEqual(await next(reader), bytes);
    assert.equal(await next(reader), "");
    reader.releaseLock();
    assert.deepEqual(await conn.close(), {
      code: 1000,
      reason: "",
      wasClean: true,
    });
  });

  await t.step("selects the first subprotocol offered", async () => {
    const conn = await dial(url, { protocols: ["second", "first"] });
    assert.equal(conn.protocol, "second");
    await conn.close();
    const socket = await openBuiltin(url, ["x.v2", "x.v1"]);
    assert.equal(socket.protocol, "x.v2");
    await closeBuiltin(socket);
  });

  await t.step("accepts a foreign origin", async () => {
    const conn = await dial(url, { origin: "http://elsewhere.example" });
    await conn.send("from afar");
    for await (const message of conn) {
      assert.equal(message, "from afar");
      break;
    }
    assert.equal((await conn.closed).wasClean, true);
  });

  await t.step("answers a close with the same code and reason", async () => {
    const conn = await dial(url);
    assert.deepEqual(await conn.close(4321, "custom reason"), {
      code: 4321,
      reason: "custom reason",
      wasClean: true,
    });
    const socket = await openBuiltin(url);
    const closed = await closeBuiltin(socket, 3001, "bye");
    assert.equal(closed.code, 3001);
    assert.equal(closed.reason, "bye");
  });

  await t.step("echoes a 16 MiB message", async () => {
    const conn = await dial(url);
    const reader = conn.readable.getReader();
    const bytes = randomBytes(16 * 1024 * 1024, 2);
    await conn.send(bytes);
    const echo = await next(reader);
    assert.ok(echo instanceof Uint8Array);
    assert.equal(echo.length, bytes.length);
    assert.deepEqual(echo, bytes);
    reader.releaseLock();
    await conn.close();
  });
});

Deno.test("examples/echo_client.ts sends stdin lines and prints the echoes", async () => {
  const { example: server, port } = await startServer("echo_server.ts");
  await using _ = server;
  await using client = new Example(
    "echo_client.ts",
    [`ws://127.0.0.1:${port}/`],
    true,
  );
  // One line at a time: each echo is printed before the next line is sent,
  // so none can be cut off by the close at the end of input.
  for (const line of ["hello", "wörld", "", "last line"]) {
    await client.write(`${line}\n`);
    assert.equal(await client.line(), line);
  }
  assert.deepEqual(await client.exit(), { code: 0, stdout: "", stderr: "" });
});

Deno.test("examples/echo_client.ts offers --protocol and sends --origin", async () => {
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    checkOrigin: ["http://allowed.example"],
    protocols: (offered) => offered.at(-1),
  }, async (conn) => {
    const offered = conn.request?.headers.get("sec-websocket-protocol");
    await conn.send(`${offered} | ${conn.protocol} | ${conn.origin}`);
    for await (const message of conn) await conn.send(message);
  });
  try {
    await using client = new Example("echo_client.ts", [
      `ws://127.0.0.1:${server.addr.port}/`,
      "--protocol",
      "one",
      "--protocol=two",
      "--origin",
      "http://allowed.example",
      "--version",
      "13",
    ], true);
    assert.equal(
      await client.line(),
      "one, two | two | http://allowed.example",
    );
    assert.deepEqual(await client.exit(), { code: 0, stdout: "", stderr: "" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("examples/echo_client.ts fails with a message and a non-zero status", async (t) => {
  async function run(
    args: string[],
  ): Promise<{ code: number; stderr: string }> {
    await using client = new Example("echo_client.ts", args, true);
    const { code, stdout, stderr } = await client.exit();
    assert.equal(stdout, "");
    return { code, stderr };
  }

  await t.step("for a URL that is not ws: or wss:", async () => {
    const { code, stderr } = await run(["http://127.0.0.1:1/"]);
    assert.notEqual(code, 0);
    assert.match(
      stderr,
      /Cannot dial http:\/\/127\.0\.0\.1:1\/.*\(BAD_SCHEME\)/,
    );
  });

  await t.step("for a refused connection", async () => {
    const listener = listenLoopback();
    const { port } = listener.addr;
    listener.close();
    const { code, stderr } = await run([`ws://127.0.0.1:${port}/`]);
    assert.notEqual(code, 0);
    assert.match(stderr, /Cannot dial .*\(ECONNREFUSED\)/);
  });

  await t.step("for a refused upgrade", async () => {
    const server = serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => {},
    );
    try {
      const { code, stderr } = await run([
        `ws://127.0.0.1:${server.addr.port}/`,
        "--origin",
        "http://elsewhere.example",
      ]);
      assert.notEqual(code, 0);
      assert.match(stderr, /403.*\(BAD_STATUS\)/);
    } finally {
      await server.shutdown();
    }
  });

  await t.step("for a version other than 13", async () => {
    const { code, stderr } = await run([
      "ws://127.0.0.1:1/",
      "--version",
      "8",
    ]);
    assert.notEqual(code, 0);
    assert.match(stderr, /Unsupported --version 8/);
  });

  await t.step("without a URL", async () => {
    const { code, stderr } = await run([]);
    assert.notEqual(code, 0);
    assert.match(stderr, /^Usage: /);
  });
});

Deno.test("examples/chat_server.ts serves the page and relays messages", async (t) => {
  const { example, port } = await startServer("chat_server.ts");
  await using _ = example;
  const origin = `http://127.0.0.1:${port}`;

  await t.step("serves the page at / and 404 elsewhere", async () => {
    const page = await fetch(`${origin}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /new WebSocket\(/);
    const missing = await fetch(`${origin}/missing`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  await t.step("relays a message with join and leave notices", async () => {
    const json = async (reader: ReadableStreamDefaultReader<Message>) =>
      JSON.parse(await next(reader) as string);
    const alice = await dial(`ws://127.0.0.1:${port}/ws`, { origin });
    const a = alice.readable.getReader();
    assert.deepEqual(await json(a), {
      type: "welcome",
      name: "guest-1",
      users: [],
    });
    assert.deepEqual(await json(a), { type: "join", name: "guest-1" });

    const bob = await dial(`ws://127.0.0.1:${port}/ws`);
    const b = bob.readable.getReader();
    assert.deepEqual(await json(b), {
      type: "welcome",
      name: "guest-2",
      users: ["guest-1"],
    });
    assert.deepEqual(await json(b), { type: "join", name: "guest-2" });
    assert.deepEqual(await json(a), { type: "join", name: "guest-2" });

    await alice.send("Hello, Bob");
    const said = { type: "message", name: "guest-1", text: "Hello, Bob" };
    assert.deepEqual(await json(b), said);
    assert.deepEqual(await json(a), said);

    b.releaseLock();
    await bob.close();
    assert.deepEqual(await json(a), { type: "leave", name: "guest-2" });
    a.releaseLock();
    await alice.close();
  });

  await t.step("refuses a foreign origin and other paths", async () => {
    for (
      const [path, options, status] of [
        ["/ws", { origin: "http://elsewhere.example" }, 403],
        ["/other", {}, 404],
      ] as const
    ) {
      const error = await dial(`ws://127.0.0.1:${port}${path}`, options)
        .then((conn: Conn) => conn.close(), (error: unknown) => error);
      assert.ok(error instanceof DialError);
      const cause = error.cause as { code?: string; response?: Response };
      assert.equal(cause.code, "BAD_STATUS");
      assert.equal(cause.response?.status, status);
    }
  });
});

Deno.test("examples/autobahn_client.ts runs every case and updates the reports", async () => {
  // A small stand-in for the Autobahn fuzzing server: three cases, the
  // second of which drops the connection, to show the driver goes on.
  const sent = new Map<number, Message[]>();
  const echoed = new Map<number, Message[]>();
  const agents: string[] = [];
  const errors: unknown[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError: (error) => errors.push(error),
  }, async (conn) => {
    const url = new URL(conn.request!.url);
    switch (url.pathname) {
      case "/getCaseCount":
        await conn.send("3");
        return;
      case "/runCase": {
        const n = Number(url.searchParams.get("case"));
        agents.push(`${n} ${url.searchParams.get("agent")}`);
        if (n === 2) return conn.abort();
        const messages = [`case ${n}: héllo`, randomBytes(n * 100_000, n)];
        sent.set(n, messages);
        for (const message of messages) await conn.send(message);
        const received: Message[] = [];
        for await (const message of conn) {
          received.push(message);
          if (received.length === messages.length) break;
        }
        echoed.set(n, received);
        return;
      }
      case "/updateReports":
        agents.push(`reports ${url.searchParams.get("agent")}`);
        return;
      default:
        throw new Error(`Unexpected path ${url.pathname}`);
    }
  });
  try {
    await using driver = new Example("autobahn_client.ts", [
      `ws://127.0.0.1:${server.addr.port}/`,
      "test agent",
    ]);
    const { code, stdout, stderr } = await driver.exit();
    assert.equal(stderr, "");
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split("\n");
    assert.equal(lines.length, 5);
    assert.match(lines[0], /^Running 3 cases against /);
    assert.match(lines[1], /^Case 1\/3 closed with 1000 /);
    assert.match(lines[2], /^Case 2\/3 ended: /);
    assert.match(lines[3], /^Case 3\/3 closed with 1000 /);
    assert.equal(lines[4], "Reports updated");
    assert.deepEqual(agents, [
      "1 test agent",
      "2 test agent",
      "3 test agent",
      "reports test agent",
    ]);
    assert.deepEqual(echoed, sent);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});
