import assert from "node:assert/strict";
import { type ConnectTarget, dial, type DialOptions } from "../client.ts";
import type { CloseInfo, Conn, Message } from "../conn.ts";
import {
  ConnectionClosedError,
  DialError,
  HandshakeError,
  ProtocolError,
} from "../errors.ts";
import { Opcode } from "../frame.ts";
import {
  type Handler,
  serve,
  upgrade,
  type WebSocketServer,
} from "../server.ts";
import {
  closePayload,
  encoder,
  frame,
  FrameReader,
  isPending,
  rawServer,
  readRequest,
  readToEnd,
  switchingProtocols,
  writeAll,
} from "./_peers.ts";
import {
  concat,
  listenLoopback,
  memoryPair,
  type MemoryTransport,
  randomBytes,
} from "./_util.ts";

const SIZES = [0, 125, 126, 65535, 65536, 4 * 1024 * 1024];

function start(handler: Handler): WebSocketServer & { url: string } {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    onError: (error) => {
      throw error;
    },
  }, handler);
  return Object.assign(server, {
    url: `ws://127.0.0.1:${server.addr.port}/chat`,
  });
}

async function echo(conn: Conn): Promise<void> {
  for await (const message of conn) await conn.send(message);
}

/** Deno's built-in server, echoing every message. */
function startDenoEcho(
  onSocket: (socket: WebSocket) => void = (socket) => {
    socket.onmessage = (event) => socket.send(event.data);
  },
): Deno.HttpServer<Deno.NetAddr> & { url: string } {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      onSocket(socket);
      return response;
    },
  );
  return Object.assign(server, {
    url: `ws://127.0.0.1:${server.addr.port}/`,
  });
}

async function next(reader: ReadableStreamDefaultReader<Message>) {
  const { value, done } = await reader.read();
  assert.equal(done, false, "the stream ended");
  return value!;
}

async function assertEchoes(conn: Conn): Promise<void> {
  const reader = conn.readable.getReader();
  for (const [i, size] of SIZES.entries()) {
    const payload = randomBytes(size, i + 10);
    await conn.send(payload);
    assert.deepEqual(await next(reader), payload, `binary of ${size}`);
    const text = "ü€x".repeat(Math.ceil(size / 6)).slice(0, size);
    await conn.send(text);
    assert.equal(await next(reader), text, `text of ${size}`);
  }
  reader.releaseLock();
}

/** Awaits a rejected dial and checks the DialError's fields. */
async function dialError(
  url: string,
  options: DialOptions = {},
): Promise<DialError> {
  const error = await dial(url, options).then(
    (conn) => {
      conn.abort();
      throw new Error("dial() succeeded");
    },
    (error) => error,
  );
  assert.ok(error instanceof DialError, String(error));
  assert.equal(error.url, url);
  const protocols = options.protocols ?? [];
  assert.equal(
    error.protocol,
    typeof protocols === "string" ? protocols : protocols.join(", "),
  );
  assert.equal(error.origin, options.origin ?? "");
  return error;
}

function protocolCause(error: DialError, code: string): HandshakeError {
  assert.ok(error.cause instanceof HandshakeError, String(error.cause));
  assert.equal(error.cause.code, code);
  assert.ok(error.message.startsWith(`Cannot dial ${error.url}: `));
  return error.cause;
}

/** A raw server answering the upgrade with `response` (head lines). */
function answering(
  response: (
    request: Awaited<ReturnType<typeof readRequest>>["request"],
  ) => Promise<string> | string,
) {
  return rawServer(async (socket) => {
    const { request } = await readRequest(socket);
    await writeAll(socket, await response(request));
    // The client gives up and closes.
    await readToEnd(socket);
  });
}

// ---- Talking ---------------------------------------------------------

Deno.test("dial() echoes every length class through serve()", async () => {
  const server = start(echo);
  const conn = await dial(server.url);
  await assertEchoes(conn);
  assert.deepEqual(await conn.close(), {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  await server.shutdown();
});

Deno.test("dial() echoes every length class through Deno.serve", async () => {
  const server = startDenoEcho();
  const conn = await dial(server.url);
  await assertEchoes(conn);
  assert.deepEqual(await conn.close(), {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  await server.shutdown();
});

Deno.test("dial() reassembles fragmented messages with pings in between", async () => {
  const utf8 = encoder.encode("wörld"); // ö is two bytes: split it
  const server = rawServer(async (socket) => {
    const { request, rest } = await readRequest(socket);
    await writeAll(socket, await switchingProtocols(request));
    const frames = new FrameReader(socket, "server", rest);
    await writeAll(
      socket,
      concat(
        frame("server", Opcode.Text, "Hello ", false),
        frame("server", Opcode.Ping, "p1"),
        frame("server", Opcode.Continuation, utf8.subarray(0, 2), false),
        frame("server", Opcode.Continuation, utf8.subarray(2), true),
        frame("server", Opcode.Binary, new Uint8Array([1, 2]), false),
        frame("server", Opcode.Continuation, new Uint8Array(0), false),
        frame("server", Opcode.Continuation, new Uint8Array([3]), true),
      ),
    );
    const pong = await frames.expect();
    assert.equal(pong.opcode, Opcode.Pong);
    assert.deepEqual(pong.payload, encoder.encode("p1"));
    await writeAll(socket, frame("server", Opcode.Close, closePayload(1000)));
    assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "" });
  });
  const conn = await dial(server.url);
  const received: Message[] = [];
  for await (const message of conn) received.push(message);
  assert.deepEqual(received, ["Hello wörld", new Uint8Array([1, 2, 3])]);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  await server.done;
});

Deno.test("dial() keeps the bytes that arrive with the 101 response", async () => {
  const server = rawServer(async (socket) => {
    const { request, rest } = await readRequest(socket);
    await writeAll(
      socket,
      concat(
        encoder.encode(await switchingProtocols(request)),
        frame("server", Opcode.Text, "early"),
        frame("server", Opcode.Binary, new Uint8Array([1, 2, 3])),
        frame("server", Opcode.Close, closePayload(1000, "done")),
      ),
    );
    const frames = new FrameReader(socket, "server", rest);
    assert.deepEqual(await frames.expectClose(), {
      code: 1000,
      reason: "done",
    });
  });
  const conn = await dial(server.url);
  const received: Message[] = [];
  for await (const message of conn) received.push(message);
  assert.deepEqual(received, ["early", new Uint8Array([1, 2, 3])]);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "done",
    wasClean: true,
  });
  await server.done;
});

Deno.test("dial() fails a masked frame from the server with 1002", async () => {
  const server = rawServer(async (socket) => {
    const { request, rest } = await readRequest(socket);
    await writeAll(socket, await switchingProtocols(request));
    await writeAll(socket, frame("client", Opcode.Text, "masked"));
    const frames = new FrameReader(socket, "server", rest);
    assert.equal((await frames.expectClose()).code, 1002);
    // The client failed the connection, so it closes the TCP connection.
    assert.equal(await frames.next(), null);
  });
  const conn = await dial(server.url);
  assert.deepEqual(await conn.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await assert.rejects(conn.readable.getReader().read(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.ok(e.cause instanceof ProtocolError);
    assert.equal(e.cause.code, "MASKED_FRAME");
    assert.equal(e.cause.closeCode, 1002);
    return true;
  });
  await server.done;
});

Deno.test("dial() closes with 1009 when a message exceeds maxMessageSize", async () => {
  const server = start(async (conn) => {
    await conn.send(new Uint8Array(2000));
    await conn.closed;
  });
  const conn = await dial(server.url, { maxMessageSize: 1999 });
  const info = await conn.closed;
  assert.equal(info.wasClean, false);
  await assert.rejects(conn.readable.getReader().read(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.ok(e.cause instanceof ProtocolError);
    assert.equal(e.cause.closeCode, 1009);
    return true;
  });
  await server.shutdown();
});

Deno.test("ping() measures the round trip to serve() and Deno.serve", async () => {
  const ours = start(echo);
  const theirs = startDenoEcho();
  for (const url of [ours.url, theirs.url]) {
    const conn = await dial(url);
    const rtt = await conn.ping();
    assert.ok(typeof rtt === "number" && rtt >= 0 && Number.isFinite(rtt));
    assert.ok(await conn.ping(encoder.encode("custom")) >= 0);
    await conn.close();
  }
  await ours.shutdown();
  await theirs.shutdown();
});

// ---- Closing ---------------------------------------------------------

Deno.test("dial() connections close from the client, against serve()", async () => {
  const closed = Promise.withResolvers<CloseInfo>();
  const server = start(async (conn) => {
    closed.resolve(conn.closed);
    await echo(conn);
  });
  const conn = await dial(server.url);
  const expected = { code: 4000, reason: "client bye", wasClean: true };
  assert.deepEqual(await conn.close(4000, "client bye"), expected);
  assert.deepEqual(await closed.promise, expected);
  await server.shutdown();
});

Deno.test("dial() connections close from the server, against serve()", async () => {
  const closed = Promise.withResolvers<CloseInfo>();
  const server = start(async (conn) => {
    closed.resolve(await conn.close(4001, "server bye"));
  });
  const conn = await dial(server.url);
  const expected = { code: 4001, reason: "server bye", wasClean: true };
  assert.deepEqual(await conn.closed, expected);
  assert.deepEqual(await closed.promise, expected);
  await server.shutdown();
});

Deno.test("dial() connections close from the client, against Deno.serve", async () => {
  const closed = Promise.withResolvers<CloseEvent>();
  const server = startDenoEcho((socket) => {
    socket.onclose = (event) => closed.resolve(event);
  });
  const conn = await dial(server.url);
  assert.deepEqual(await conn.close(4002, "to deno"), {
    code: 4002,
    reason: "to deno",
    wasClean: true,
  });
  const event = await closed.promise;
  assert.equal(event.code, 4002);
  assert.equal(event.reason, "to deno");
  await server.shutdown();
});

Deno.test("dial() connections close from the server, against Deno.serve", async () => {
  const server = startDenoEcho((socket) => {
    socket.onopen = () => socket.close(4003, "from deno");
  });
  const conn = await dial(server.url);
  assert.deepEqual(await conn.closed, {
    code: 4003,
    reason: "from deno",
    wasClean: true,
  });
  await server.shutdown();
});

// ---- The handshake ---------------------------------------------------

Deno.test("dial() sends its headers, origin and subprotocols to the server", async () => {
  const seen = Promise.withResolvers<Conn>();
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    protocols: ["chat.v1"],
  }, async (conn) => {
    seen.resolve(conn);
    await echo(conn);
  });
  const port = server.addr.port;
  const origin = `http://127.0.0.1:${port}`;
  const conn = await dial(`ws://127.0.0.1:${port}/room/1?user=ann#frag`, {
    origin,
    protocols: ["chat.v2", "chat.v1"],
    headers: { Authorization: "Bearer token", "X-Custom": "yes" },
  });
  const remote = await seen.promise;
  assert.equal(remote.request?.headers.get("authorization"), "Bearer token");
  assert.equal(remote.request?.headers.get("x-custom"), "yes");
  assert.equal(remote.request?.headers.get("origin"), origin);
  assert.equal(
    remote.request?.headers.get("sec-websocket-protocol"),
    "chat.v2, chat.v1",
  );
  assert.equal(remote.origin, origin);
  assert.equal(remote.url, `ws://127.0.0.1:${port}/room/1?user=ann`);
  assert.equal(conn.origin, origin);
  assert.equal(conn.protocol, "chat.v1");
  assert.equal(remote.protocol, "chat.v1");
  assert.equal(conn.url, `ws://127.0.0.1:${port}/room/1?user=ann`);
  assert.equal(conn.extensions, "");
  assert.equal(conn.version, "13");
  assert.equal((conn.remoteAddr as Deno.NetAddr).port, port);
  await conn.close();
  await server.shutdown();
});

for (const url of ["http://127.0.0.1:1/", "ftp://127.0.0.1/", "not a url"]) {
  Deno.test(`dial() rejects ${JSON.stringify(url)} with BAD_SCHEME`, async () => {
    const error = await dialError(url, {
      protocols: ["a", "b"],
      origin: "http://o.example",
    });
    protocolCause(error, "BAD_SCHEME");
  });
}

Deno.test("dial() rejects a refusing status with BAD_STATUS and keeps the response", async () => {
  const server = answering(() =>
    "HTTP/1.1 403 Forbidden\r\nX-Reason: nope\r\nContent-Length: 0\r\n\r\n"
  );
  const error = await dialError(server.url, {
    protocols: "chat",
    origin: "http://o.example",
  });
  const cause = protocolCause(error, "BAD_STATUS");
  assert.equal(cause.response?.status, 403);
  assert.equal(cause.response?.statusText, "Forbidden");
  assert.equal(cause.response?.headers.get("x-reason"), "nope");
  await server.done;
});

Deno.test("dial() rejects a 101 without Upgrade: websocket with BAD_UPGRADE", async () => {
  const server = answering(async (request) =>
    (await switchingProtocols(request)).replace(
      "Upgrade: websocket",
      "Upgrade: h2c",
    )
  );
  const error = await dialError(server.url);
  const cause = protocolCause(error, "BAD_UPGRADE");
  assert.equal(cause.response?.status, 101);
  await server.done;
});

Deno.test("dial() rejects a bad accept with BAD_ACCEPT", async () => {
  const server = answering(() =>
    [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "",
      "",
    ].join("\r\n")
  );
  protocolCause(await dialError(server.url), "BAD_ACCEPT");
  await server.done;
});

Deno.test("dial() rejects a subprotocol it did not offer with BAD_PROTOCOL", async () => {
  const server = answering((request) =>
    switchingProtocols(request, ["Sec-WebSocket-Protocol: other"])
  );
  const error = await dialError(server.url, { protocols: ["chat"] });
  protocolCause(error, "BAD_PROTOCOL");
  await server.done;
});

Deno.test("dial() rejects a subprotocol when it offered none with BAD_PROTOCOL", async () => {
  const server = answering((request) =>
    switchingProtocols(request, ["Sec-WebSocket-Protocol: chat"])
  );
  protocolCause(await dialError(server.url), "BAD_PROTOCOL");
  await server.done;
});

Deno.test("dial() rejects an extension it did not offer with BAD_EXTENSION", async () => {
  const server = answering((request) =>
    switchingProtocols(request, [
      "Sec-WebSocket-Extensions: permessage-deflate",
    ])
  );
  protocolCause(await dialError(server.url), "BAD_EXTENSION");
  await server.done;
});

Deno.test("dial() rejects a server that never answers with a TimeoutError", async () => {
  const server = rawServer(async (socket) => {
    await readRequest(socket);
    // Never answer; the client gives up and closes.
    assert.equal((await readToEnd(socket)).length, 0);
  });
  const error = await dialError(server.url, { handshakeTimeout: 100 });
  assert.ok(error.cause instanceof DOMException, String(error.cause));
  assert.equal(error.cause.name, "TimeoutError");
  await server.done;
});

Deno.test("dial() rejects with the reason when its signal aborts", async () => {
  const requested = Promise.withResolvers<void>();
  const server = rawServer(async (socket) => {
    await readRequest(socket);
    requested.resolve();
    await readToEnd(socket);
  });
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const dialing = dialError(server.url, { signal: controller.signal });
  await requested.promise;
  assert.equal(await isPending(dialing, 2), true);
  controller.abort(reason);
  assert.equal((await dialing).cause, reason);
  await server.done;
});

Deno.test("dial() rejects at once when its signal is already aborted", async () => {
  const controller = new AbortController();
  const reason = new Error("too late");
  controller.abort(reason);
  using listener = listenLoopback();
  const error = await dialError(`ws://127.0.0.1:${listener.addr.port}/`, {
    signal: controller.signal,
  });
  assert.equal(error.cause, reason);
});

Deno.test("dial() rejects a refused connection with a network error", async () => {
  const listener = listenLoopback();
  const port = listener.addr.port;
  listener.close();
  const error = await dialError(`ws://127.0.0.1:${port}/`);
  assert.ok(
    error.cause instanceof Deno.errors.ConnectionRefused,
    String(error.cause),
  );
});

Deno.test("dial() rejects a server that closes during the handshake", async () => {
  const server = rawServer(async (socket) => {
    await readRequest(socket);
    await writeAll(socket, "HTTP/1.1 101 Switching");
  });
  const error = await dialError(server.url);
  protocolCause(error, "UNEXPECTED_EOF");
  await server.done;
});

Deno.test("dial() opens its stream through connect: an in-memory pair", async () => {
  const [client, server] = memoryPair();
  const targets: ConnectTarget[] = [];
  const accepted = upgrade(server, { checkOrigin: "any" }).then(echo);
  const conn = await dial("wss://example.test:9443/room", {
    proxy: false,
    connect: (target) => {
      targets.push(target);
      return Promise.resolve(client);
    },
  });
  assert.equal(targets.length, 1);
  assert.deepEqual(
    {
      hostname: targets[0].hostname,
      port: targets[0].port,
      tls: targets[0].tls,
      proxy: targets[0].proxy,
      url: targets[0].url.href,
    },
    {
      hostname: "example.test",
      port: 9443,
      tls: true,
      proxy: false,
      url: "wss://example.test:9443/room",
    },
  );
  await conn.send("over memory");
  for await (const message of conn) {
    assert.equal(message, "over memory");
    break;
  }
  await conn.closed;
  await accepted;
});

Deno.test("dial() opens its stream through connect: a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ws.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    const socket = await listener.accept();
    await echo(await upgrade(socket));
  })();
  const conn = await dial("ws://localhost/unix", {
    proxy: false,
    connect: () => Deno.connect({ transport: "unix", path }),
  });
  await conn.send(new Uint8Array([1, 2, 3]));
  for await (const message of conn) {
    assert.deepEqual(message, new Uint8Array([1, 2, 3]));
    break;
  }
  assert.equal(conn.url, "ws://localhost/unix");
  await conn.closed;
  await serving;
  listener.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("dial() through connect reaches serve({ listener }) on a Unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/serve.sock`;
  const server = serve({
    listener: Deno.listen({ transport: "unix", path }),
    onListen() {},
  }, echo);
  try {
    const conn = await dial("ws://localhost/over-unix", {
      proxy: false,
      connect: () => Deno.connect({ transport: "unix", path }),
    });
    await conn.send("over unix");
    for await (const message of conn) {
      assert.equal(message, "over unix");
      // The echo came from the handler, which runs once the server listed
      // it (leaving the loop closes the connection).
      assert.equal(server.connections.size, 1);
      break;
    }
    await conn.close();
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dial() fails with the connector's error, and closes a late transport", async () => {
  const controller = new AbortController();
  const [client] = memoryPair();
  let resolveLate!: (t: MemoryTransport) => void;
  const failing = dial("ws://example.test/", {
    proxy: false,
    signal: controller.signal,
    connect: () => new Promise((resolve) => resolveLate = resolve),
  });
  controller.abort(new Error("Stop"));
  const error = await failing.catch((e) => e);
  assert.ok(error instanceof DialError);
  assert.equal((error.cause as Error).message, "Stop");
  resolveLate(client);
  await Promise.resolve();
  await Promise.resolve();
  assert.ok(client.isClosed);
  const refused = await dial("ws://example.test/", {
    proxy: false,
    connect: () => Promise.reject(new Deno.errors.ConnectionRefused("No")),
  }).catch((e) => e);
  assert.ok(refused instanceof DialError);
  assert.ok(refused.cause instanceof Deno.errors.ConnectionRefused);
});
