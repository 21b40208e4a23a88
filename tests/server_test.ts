import assert from "node:assert/strict";
import type { CloseInfo, Conn } from "../conn.ts";
import {
  ConnectionClosedError,
  HandshakeError,
  ProtocolError,
} from "../errors.ts";
import { Opcode } from "../frame.ts";
import { dial } from "../client.ts";
import {
  type Handler,
  serve,
  type ServeOptions,
  upgrade,
  type WebSocketServer,
} from "../server.ts";
import {
  encoder,
  frame,
  head,
  httpExchange,
  isPending,
  rawClient,
  rawClose,
  readToEnd,
  upgradeLines,
  writeAll,
} from "./_peers.ts";
import { concat, listenLoopback, randomBytes } from "./_util.ts";

/** A server on a free loopback port that collects the errors it reports. */
function start(
  handler: Handler,
  options: ServeOptions = {},
): WebSocketServer & { errors: unknown[]; url: string } {
  const errors: unknown[] = [];
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    onError: (error) => errors.push(error),
    ...options,
  }, handler);
  return Object.assign(server, {
    errors,
    url: `ws://127.0.0.1:${server.addr.port}/chat`,
  });
}

async function echo(conn: Conn): Promise<void> {
  for await (const message of conn) await conn.send(message);
}

/** Deno's built-in WebSocket client, with promises for its events. */
class BuiltinClient {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #messages: (string | ArrayBuffer)[] = [];
  #waiting: ((message: string | ArrayBuffer) => void)[] = [];

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = (event) =>
        reject(new Error((event as ErrorEvent).message ?? "error"));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (event) => resolve(event);
    });
    this.ws.onmessage = (event) => {
      const waiting = this.#waiting.shift();
      if (waiting) waiting(event.data);
      else this.#messages.push(event.data);
    };
  }

  static async open(
    url: string,
    protocols?: string | string[],
  ): Promise<BuiltinClient> {
    const client = new BuiltinClient(url, protocols);
    await client.opened;
    return client;
  }

  next(): Promise<string | ArrayBuffer> {
    const message = this.#messages.shift();
    if (message !== undefined) return Promise.resolve(message);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async close(code?: number, reason?: string): Promise<CloseEvent> {
    this.ws.close(code, reason);
    return await this.closed;
  }
}

function closeOf(event: CloseEvent): CloseInfo {
  return { code: event.code, reason: event.reason, wasClean: event.wasClean };
}

/** Settles with the `Conn` the handler receives, and keeps it open until released. */
function capture(): {
  handler: Handler;
  conn: Promise<Conn>;
  release: () => void;
} {
  const got = Promise.withResolvers<Conn>();
  const release = Promise.withResolvers<void>();
  return {
    handler: async (conn) => {
      got.resolve(conn);
      await release.promise;
    },
    conn: got.promise,
    release: () => release.resolve(),
  };
}

const SIZES = [0, 125, 126, 65535, 65536, 4 * 1024 * 1024];

Deno.test("serve() echoes binary messages of every length class to the built-in client", async () => {
  const server = start(echo);
  const client = await BuiltinClient.open(server.url);
  for (const [i, size] of SIZES.entries()) {
    const payload = randomBytes(size, i + 1);
    client.ws.send(payload);
    const got = await client.next();
    assert.ok(got instanceof ArrayBuffer, `size ${size}`);
    assert.deepEqual(new Uint8Array(got), payload, `size ${size}`);
  }
  assert.deepEqual(closeOf(await client.close()), {
    code: 1005,
    reason: "",
    wasClean: true,
  });
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() echoes text messages of every length class to the built-in client", async () => {
  const server = start(echo);
  const client = await BuiltinClient.open(server.url);
  for (const size of SIZES) {
    const text = "é€😀abc".repeat(Math.ceil(size / 12)).slice(0, size);
    client.ws.send(text);
    assert.equal(await client.next(), text, `size ${size}`);
  }
  await client.close(1000);
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() delivers the built-in client's close code and reason", async () => {
  const { handler, conn, release } = capture();
  const server = start(handler);
  const client = await BuiltinClient.open(server.url);
  const event = await client.close(4002, "client leaving");
  assert.deepEqual(closeOf(event), {
    code: 4002,
    reason: "client leaving",
    wasClean: true,
  });
  assert.deepEqual(await (await conn).closed, {
    code: 4002,
    reason: "client leaving",
    wasClean: true,
  });
  release();
  await server.shutdown();
});

Deno.test("serve() handlers close with a code and reason the built-in client sees", async () => {
  const server = start(async (conn) => {
    await conn.close(4321, "see you");
  });
  const client = new BuiltinClient(server.url);
  assert.deepEqual(closeOf(await client.closed), {
    code: 4321,
    reason: "see you",
    wasClean: true,
  });
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() closes with 1000 when the handler returns", async () => {
  const server = start(() => {});
  const client = new BuiltinClient(server.url);
  assert.deepEqual(closeOf(await client.closed), {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() closes with 1011 when the handler throws and reports the error", async () => {
  const boom = new Error("secret internals");
  const server = start(() => {
    throw boom;
  });
  const client = new BuiltinClient(server.url);
  const event = await client.closed;
  assert.equal(event.code, 1011);
  assert.equal(event.reason, "");
  await server.shutdown();
  assert.deepEqual(server.errors, [boom]);
});

Deno.test("serve() closes with 1009 when a message exceeds maxMessageSize", async () => {
  const server = start(echo, { maxMessageSize: 1000 });
  const client = await BuiltinClient.open(server.url);
  client.ws.send(new Uint8Array(1000));
  assert.equal((await client.next() as ArrayBuffer).byteLength, 1000);
  client.ws.send(new Uint8Array(1001));
  assert.equal((await client.closed).code, 1009);
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() selects the server's preferred subprotocol from a list", async () => {
  const { handler, conn, release } = capture();
  const server = start(handler, { protocols: ["chat.v2", "chat.v1"] });
  const client = await BuiltinClient.open(server.url, ["chat.v1", "chat.v2"]);
  assert.equal(client.ws.protocol, "chat.v2");
  assert.equal((await conn).protocol, "chat.v2");
  release();
  await client.closed;
  await server.shutdown();
});

Deno.test("serve() selects a subprotocol with a function", async () => {
  const { handler, conn, release } = capture();
  const seen: string[][] = [];
  const server = start(handler, {
    protocols: (offered, request) => {
      seen.push(offered);
      assert.ok(request instanceof Request);
      return offered.at(-1);
    },
  });
  const client = await BuiltinClient.open(server.url, ["a", "b", "c"]);
  assert.equal(client.ws.protocol, "c");
  assert.equal((await conn).protocol, "c");
  assert.deepEqual(seen, [["a", "b", "c"]]);
  release();
  await client.closed;
  await server.shutdown();
});

Deno.test("serve() selects no subprotocol when none is offered", async () => {
  const { handler, conn, release } = capture();
  const server = start(handler, { protocols: ["chat"] });
  const client = await BuiltinClient.open(server.url);
  assert.equal(client.ws.protocol, "");
  assert.equal((await conn).protocol, "");
  release();
  await client.closed;
  await server.shutdown();
});

Deno.test("serve() rejects a cross-origin upgrade with 403 by default", async () => {
  let called = false;
  const server = start(() => {
    called = true;
  });
  const port = server.addr.port;
  const response = await httpExchange(
    port,
    head([...upgradeLines(port), "Origin: http://evil.example"]),
  );
  assert.equal(response.status, 403);
  // The same origin is allowed.
  const raw = await rawClient(port, [`Origin: http://127.0.0.1:${port}`]);
  assert.equal(raw.response.status, 101);
  assert.deepEqual(await raw.frames.expectClose(), { code: 1000, reason: "" });
  raw[Symbol.dispose]();
  await server.shutdown();
  assert.equal(called, true);
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() accepts any origin with checkOrigin any", async () => {
  const origins: string[] = [];
  const server = start((conn) => {
    origins.push(conn.origin);
  }, { checkOrigin: "any" });
  const raw = await rawClient(server.addr.port, [
    "Origin: http://evil.example",
  ]);
  await raw.frames.expectClose();
  raw[Symbol.dispose]();
  await server.shutdown();
  assert.deepEqual(origins, ["http://evil.example"]);
});

Deno.test("serve() accepts only the listed origins", async () => {
  const origins: string[] = [];
  const server = start((conn) => {
    origins.push(conn.origin);
  }, { checkOrigin: ["https://app.example"] });
  const port = server.addr.port;
  const raw = await rawClient(port, ["Origin: https://app.example"]);
  await raw.frames.expectClose();
  raw[Symbol.dispose]();
  for (const origin of ["https://other.example", `http://127.0.0.1:${port}`]) {
    const response = await httpExchange(
      port,
      head([...upgradeLines(port), `Origin: ${origin}`]),
    );
    assert.equal(response.status, 403, origin);
  }
  await server.shutdown();
  assert.deepEqual(origins, ["https://app.example"]);
});

Deno.test("serve() refuses an upgrade with the response beforeUpgrade returns", async () => {
  const server = start(() => {}, {
    beforeUpgrade: (request) =>
      request.headers.get("authorization") === "Bearer ok"
        ? undefined
        : new Response("Who are you?", {
          status: 401,
          headers: { "WWW-Authenticate": "Bearer" },
        }),
  });
  const port = server.addr.port;
  const refused = await httpExchange(port, head(upgradeLines(port)));
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("www-authenticate"), "Bearer");
  assert.equal(refused.body, "Who are you?");
  const raw = await rawClient(port, ["Authorization: Bearer ok"]);
  await raw.frames.expectClose();
  raw[Symbol.dispose]();
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() answers other requests with the fallback", async () => {
  const server = start(() => {}, {
    fallback: (request) =>
      new Response(`<h1>${new URL(request.url).pathname}</h1>`, {
        headers: { "Content-Type": "text/html" },
      }),
  });
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/page`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html");
  assert.equal(await response.text(), "<h1>/page</h1>");
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() answers other requests with 426 by default", async () => {
  const server = start(() => {});
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.equal(response.status, 426);
  assert.equal(response.headers.get("upgrade"), "websocket");
  await response.body?.cancel();
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

// Requests that break the upgrade rules, each with its exact status.
const BAD_REQUESTS: {
  name: string;
  request: (port: number) => string | Uint8Array;
  status: number;
  header?: [string, string];
}[] = [
  {
    name: "a POST",
    request: (port) =>
      head(["POST /chat HTTP/1.1", ...upgradeLines(port).slice(1)]),
    status: 405,
    header: ["allow", "GET"],
  },
  {
    name: "HTTP/1.0",
    request: (port) =>
      head(["GET /chat HTTP/1.0", ...upgradeLines(port).slice(1)]),
    status: 400,
  },
  {
    name: "no Host",
    request: (port) =>
      head(upgradeLines(port).filter((line) => !line.startsWith("Host:"))),
    status: 400,
  },
  {
    name: "an unknown Sec-WebSocket-Version",
    request: (port) =>
      head(
        upgradeLines(port).map((line) =>
          line.startsWith("Sec-WebSocket-Version:")
            ? "Sec-WebSocket-Version: 12"
            : line
        ),
      ),
    status: 400,
    header: ["sec-websocket-version", "13"],
  },
  {
    name: "a bad key",
    request: (port) => head(upgradeLines(port, "c2hvcnQ=")),
    status: 400,
  },
  {
    name: "no Connection: upgrade",
    request: (port) =>
      head(upgradeLines(port).filter((line) => !line.startsWith("Connection"))),
    status: 400,
  },
  {
    // 100 bytes past the 16 KiB limit, with no end of head in sight.
    name: "an oversized head",
    request: (port) =>
      [...upgradeLines(port), "X-Filler: " + "a".repeat(16 * 1024)].join(
        "\r\n",
      ).slice(0, 16 * 1024 + 100),
    status: 431,
  },
  {
    name: "garbage bytes",
    request: () => concat(randomBytes(300, 7), encoder.encode("\r\n\r\n")),
    status: 400,
  },
  {
    name: "a malformed request line",
    request: () => "HELLO\r\n\r\n",
    status: 400,
  },
];

for (const { name, request, status, header } of BAD_REQUESTS) {
  Deno.test(`serve() answers ${name} with ${status}`, async () => {
    let called = false;
    const server = start(() => {
      called = true;
    });
    const response = await httpExchange(
      server.addr.port,
      request(server.addr.port),
    );
    assert.equal(response.status, status);
    if (header) assert.equal(response.headers.get(header[0]), header[1]);
    assert.equal(response.headers.get("connection"), "close");
    await server.shutdown();
    assert.equal(called, false);
    assert.deepEqual(server.errors, []);
  });
}

Deno.test("serve() answers a head cut off by the end of the stream with 400", async () => {
  const server = start(() => {});
  const port = server.addr.port;
  const response = await httpExchange(port, "GET /chat HTTP/1.1\r\nHost:", {
    closeWrite: true,
  });
  assert.equal(response.status, 400);
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() cuts off a silent client after handshakeTimeout and serves others meanwhile", async () => {
  const server = start(echo, { handshakeTimeout: 500 });
  using slow = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  const cutOff = readToEnd(slow);
  // Another client is served while the slow one holds its socket.
  const client = await BuiltinClient.open(server.url);
  client.ws.send("still served");
  assert.equal(await client.next(), "still served");
  await client.close();
  // The slow client gets nothing and the server closes its socket.
  assert.equal((await cutOff).length, 0);
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() keeps other connections going when a client resets mid-frame", async () => {
  const closings: Promise<CloseInfo>[] = [];
  const server = start(async (conn) => {
    closings.push(conn.closed);
    if (conn.request?.headers.get("x-role") === "resetter") {
      // Queue more than the peer will read, so that its close resets.
      conn.send(new Uint8Array(256 * 1024)).catch(() => {});
    }
    await echo(conn);
  });
  const port = server.addr.port;
  const client = await BuiltinClient.open(server.url);
  client.ws.send("before");
  assert.equal(await client.next(), "before");

  const raw = await rawClient(port, ["X-Role: resetter"]);
  // Wait for the server's bytes to arrive, and leave most of them unread.
  await raw.socket.read(new Uint8Array(1));
  const partial = frame("client", Opcode.Text, "x".repeat(1000));
  await writeAll(raw.socket, partial.subarray(0, 500));
  raw.socket.close(); // unread data: the kernel sends a reset
  assert.equal(closings.length, 2);
  assert.deepEqual(await closings[1], {
    code: 1006,
    reason: "",
    wasClean: false,
  });

  client.ws.send("after");
  assert.equal(await client.next(), "after");
  await client.close(1000);
  assert.deepEqual(await closings[0], {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() fails an unmasked client frame with 1002", async () => {
  const errors = Promise.withResolvers<unknown>();
  const server = start(async (conn) => {
    try {
      await echo(conn);
    } catch (error) {
      errors.resolve(error);
      throw error;
    }
  });
  const raw = await rawClient(server.addr.port);
  await writeAll(raw.socket, frame("server", Opcode.Text, "unmasked"));
  const { code } = await raw.frames.expectClose();
  assert.equal(code, 1002);
  // The server failed the connection: it closes the TCP connection first.
  assert.equal(await raw.frames.next(), null);
  raw[Symbol.dispose]();
  const error = await errors.promise;
  assert.ok(error instanceof ConnectionClosedError);
  assert.ok(error.cause instanceof ProtocolError);
  assert.equal(error.cause.code, "UNMASKED_FRAME");
  await server.shutdown();
  // A peer's violation is not the application's error.
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() raw clients complete the closing handshake", async () => {
  const { handler, conn, release } = capture();
  const server = start(handler);
  const raw = await rawClient(server.addr.port);
  assert.deepEqual(await rawClose(raw, 4000, "raw"), {
    code: 4000,
    reason: "raw",
  });
  raw[Symbol.dispose]();
  assert.deepEqual(await (await conn).closed, {
    code: 4000,
    reason: "raw",
    wasClean: true,
  });
  release();
  await server.shutdown();
});

Deno.test("shutdown() closes open connections with 1001 and resolves finished", async () => {
  let ready = 0;
  const allReady = Promise.withResolvers<void>();
  const ended: CloseInfo[] = [];
  const server = start(async (conn) => {
    if (++ready === 2) allReady.resolve();
    for await (const _ of conn) {
      // Nothing to do: wait for the end.
    }
    ended.push(await conn.closed);
  });
  const clients = [
    await BuiltinClient.open(server.url),
    await BuiltinClient.open(server.url),
  ];
  await allReady.promise;
  let finished = false;
  server.finished.then(() => finished = true);
  await server.shutdown();
  assert.equal(finished, true);
  for (const client of clients) {
    const event = await client.closed;
    assert.equal(event.code, 1001);
    assert.equal(event.wasClean, true);
  }
  assert.deepEqual(ended, [
    { code: 1001, reason: "", wasClean: true },
    { code: 1001, reason: "", wasClean: true },
  ]);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    Deno.errors.ConnectionRefused,
  );
  await server.finished;
  assert.deepEqual(server.errors, []);
});

Deno.test("shutdown() abandons handshakes in progress", async () => {
  const server = start(() => {}, { handshakeTimeout: 60_000 });
  using silent = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  const cutOff = readToEnd(silent);
  // Make sure the server has accepted the socket before shutting down.
  const client = await BuiltinClient.open(server.url);
  await client.closed;
  await server.shutdown();
  assert.equal((await cutOff).length, 0);
});

Deno.test("serve() stops when its signal aborts", async () => {
  const controller = new AbortController();
  const server = start(() => {}, { signal: controller.signal });
  const finished = server.finished;
  assert.equal(await isPending(finished, 2), true);
  controller.abort();
  await finished;
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("serve() is AsyncDisposable", async () => {
  let port = 0;
  {
    await using server = start(() => {});
    port = server.addr.port;
    const client = new BuiltinClient(server.url);
    assert.equal((await client.closed).code, 1000);
  }
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("serve(handler) listens on port 8000 of every interface", async () => {
  const logged: unknown[][] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => logged.push(args);
  let server: WebSocketServer;
  try {
    server = serve(async (conn) => {
      await conn.close(4000, "default");
    });
  } finally {
    console.log = log;
  }
  try {
    assert.deepEqual({ ...server.addr }, {
      transport: "tcp",
      hostname: "0.0.0.0",
      port: 8000,
    });
    assert.deepEqual(logged, [["Listening on ws://0.0.0.0:8000/"]]);
    const client = new BuiltinClient("ws://127.0.0.1:8000/");
    assert.equal((await client.closed).code, 4000);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() without a handler throws TypeError", () => {
  assert.throws(
    () =>
      serve(
        { port: 0, onListen() {} },
        undefined as unknown as Handler,
      ),
    TypeError,
  );
});

Deno.test("upgrade() upgrades a socket from your own listener", async () => {
  using listener = listenLoopback();
  const url = `ws://127.0.0.1:${listener.addr.port}/own?x=1`;
  const client = new BuiltinClient(url, "proto");
  const socket = await listener.accept();
  const conn = await upgrade(socket, { protocols: ["proto"] });
  await client.opened;
  assert.equal(conn.url, url);
  assert.equal(conn.protocol, "proto");
  assert.equal(conn.request?.method, "GET");
  assert.deepEqual(conn.remoteAddr, socket.remoteAddr);
  client.ws.send("hi");
  const reader = conn.readable.getReader();
  assert.deepEqual(await reader.read(), { value: "hi", done: false });
  reader.releaseLock();
  await conn.send("hello");
  assert.equal(await client.next(), "hello");
  assert.deepEqual(await conn.close(1000, "done"), {
    code: 1000,
    reason: "done",
    wasClean: true,
  });
  assert.deepEqual(closeOf(await client.closed), {
    code: 1000,
    reason: "done",
    wasClean: true,
  });
});

Deno.test("upgrade() uses the bytes of the request already read", async () => {
  using listener = listenLoopback();
  const port = listener.addr.port;
  using raw = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = encoder.encode(head(upgradeLines(port)));
  const socket = await listener.accept();
  const upgrading = upgrade(socket, { head: request.subarray(0, 20) });
  await writeAll(raw, request.subarray(20));
  const conn = await upgrading;
  assert.equal(conn.url, `ws://127.0.0.1:${port}/chat`);
  conn.abort();
  await conn.closed;
});

Deno.test("upgrade() answers a plain request with 426 and rejects", async () => {
  using listener = listenLoopback();
  const port = listener.addr.port;
  const response = httpExchange(
    port,
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
  );
  const socket = await listener.accept();
  await assert.rejects(upgrade(socket), HandshakeError);
  const { status, headers } = await response;
  assert.equal(status, 426);
  assert.equal(headers.get("sec-websocket-version"), "13");
});

Deno.test("serve() and dial() pass sendBufferSize on to their connections", async () => {
  // With no send buffer, send() resolves only once its bytes are written;
  // with the default, at once, while they are still queued.
  const seen: number[] = [];
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, sendBufferSize: 0 },
    async (conn) => {
      await conn.send("x".repeat(1000));
      seen.push(conn.bufferedAmount);
      for await (const _ of conn) { /* until the client closes */ }
    },
  );
  try {
    const url = `ws://127.0.0.1:${server.addr.port}/`;
    for (const sendBufferSize of [0, undefined]) {
      await using conn = await dial(url, { sendBufferSize });
      await conn[Symbol.asyncIterator]().next(); // the server's message
      await conn.send("y".repeat(1000));
      seen.push(conn.bufferedAmount);
    }
  } finally {
    await server.shutdown();
  }
  assert.equal(seen.length, 4);
  assert.deepEqual(seen.map((n) => n > 0), [false, false, false, true]);
});
