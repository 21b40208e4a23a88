import assert from "node:assert/strict";
import { Conn, type ConnOptions, type Message } from "../conn.ts";
import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import { Opcode } from "../frame.ts";
import { HixieProtocol } from "../legacy/protocol.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import {
  closePayload,
  encoder,
  frame,
  FrameReader,
  isPending,
  readToEnd,
  writeAll,
} from "./_peers.ts";
import {
  concat,
  memoryPair,
  type MemoryTransport,
  randomBytes,
} from "./_util.ts";

type Role = "client" | "server";

function makeConn(
  role: Role,
  transport: MemoryTransport,
  options: ConnOptions = {},
  autoCloseEcho?: boolean,
): Conn {
  return new Conn({
    role,
    transport,
    machine: new WebSocketProtocol({ role, autoCloseEcho }),
    url: "ws://example.com/chat",
    request: role === "server"
      ? new Request("http://example.com/chat")
      : undefined,
    ...options,
  });
}

/** A client and a server connection over one in-memory pair. */
function connPair(
  options: {
    capacity?: number;
    client?: ConnOptions;
    server?: ConnOptions;
    autoCloseEcho?: boolean;
  } = {},
): { client: Conn; server: Conn } {
  const [a, b] = memoryPair(options.capacity);
  return {
    client: makeConn("client", a, options.client, options.autoCloseEcho),
    server: makeConn("server", b, options.server, options.autoCloseEcho),
  };
}

/**
 * A connection in `role` and a raw peer transport that plays the other
 * role by hand (`frames` reads what the connection sends).
 */
function withPeer(
  role: Role,
  options: ConnOptions = {},
  capacity?: number,
  autoCloseEcho?: boolean,
): { conn: Conn; peer: MemoryTransport; frames: FrameReader; peerRole: Role } {
  const [a, b] = memoryPair(capacity);
  const peerRole: Role = role === "client" ? "server" : "client";
  return {
    conn: makeConn(role, a, options, autoCloseEcho),
    peer: b,
    frames: new FrameReader(b, role === "client" ? "server" : "client"),
    peerRole,
  };
}

async function closeBoth(client: Conn, server: Conn): Promise<void> {
  const info = await client.close();
  assert.deepEqual(info, { code: 1000, reason: "", wasClean: true });
  assert.deepEqual(await server.closed, info);
}

async function readN(conn: Conn, n: number): Promise<Message[]> {
  const reader = conn.readable.getReader();
  const out: Message[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const { value, done } = await reader.read();
      assert.equal(done, false, `stream ended after ${i} messages`);
      out.push(value!);
    }
  } finally {
    reader.releaseLock();
  }
  return out;
}

const MESSAGES: Message[] = [
  "hello",
  "héllo wörld ☃",
  new Uint8Array([0, 1, 2, 255]),
  "",
  new Uint8Array(0),
  randomBytes(70_000, 1),
];

Deno.test("Conn carries text, binary and empty messages from client to server", async () => {
  const { client, server } = connPair();
  const received = readN(server, MESSAGES.length);
  for (const message of MESSAGES) await client.send(message);
  assert.deepEqual(await received, MESSAGES);
  await closeBoth(client, server);
});

Deno.test("Conn carries text, binary and empty messages from server to client", async () => {
  const { client, server } = connPair();
  const received = readN(client, MESSAGES.length);
  for (const message of MESSAGES) await server.send(message);
  assert.deepEqual(await received, MESSAGES);
  const got = await received;
  assert.equal(typeof got[0], "string");
  assert.ok(got[2] instanceof Uint8Array);
  assert.ok(got[4] instanceof Uint8Array);
  await closeBoth(client, server);
});

Deno.test("Conn exposes what it was made with", async () => {
  const [a, b] = memoryPair();
  const client = new Conn({
    role: "client",
    transport: a,
    machine: new WebSocketProtocol({ role: "client" }),
    url: "ws://example.com/chat",
    protocol: "chat.v1",
    origin: "http://example.com",
  });
  const request = new Request("http://example.com/chat");
  const server = new Conn({
    role: "server",
    transport: b,
    machine: new WebSocketProtocol({ role: "server" }),
    url: "ws://example.com/chat",
    request,
  });
  assert.equal(client.protocol, "chat.v1");
  assert.equal(client.origin, "http://example.com");
  assert.equal(client.extensions, "");
  assert.equal(client.version, "13");
  assert.equal(client.url, "ws://example.com/chat");
  assert.equal(client.request, undefined);
  assert.equal(server.request, request);
  assert.equal(server.protocol, "");
  assert.equal(client.closeTimeout, 10_000);
  await closeBoth(client, server);
});

Deno.test("Conn feeds the machine the bytes that followed the handshake", async () => {
  const [a, b] = memoryPair();
  const client = new Conn({
    role: "client",
    transport: a,
    machine: new WebSocketProtocol({ role: "client" }),
    url: "ws://example.com/",
    head: frame("server", Opcode.Text, "early"),
  });
  const server = makeConn("server", b);
  assert.deepEqual(await readN(client, 1), ["early"]);
  await closeBoth(client, server);
});

Deno.test("Conn is async-iterable until a normal close", async () => {
  const { client, server } = connPair();
  await client.send("one");
  await client.send("two");
  await client.send(new Uint8Array([3]));
  const closing = client.close(1000, "done");
  const received: Message[] = [];
  for await (const message of server) received.push(message);
  assert.deepEqual(received, ["one", "two", new Uint8Array([3])]);
  assert.deepEqual(await closing, {
    code: 1000,
    reason: "done",
    wasClean: true,
  });
  assert.deepEqual(await server.closed, {
    code: 1000,
    reason: "done",
    wasClean: true,
  });
});

Deno.test("Conn closes when a for-await loop breaks", async () => {
  const { client, server } = connPair();
  await server.send("first");
  for await (const message of client) {
    assert.equal(message, "first");
    break;
  }
  assert.deepEqual(await client.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  assert.deepEqual(await server.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
});

Deno.test("Conn.readable pipes to Conn.writable for an echo", async () => {
  const { client, server } = connPair();
  const echo = server.readable.pipeTo(server.writable);
  const writer = client.writable.getWriter();
  const reader = client.readable.getReader();
  for (const message of MESSAGES) await writer.write(message);
  for (const message of MESSAGES) {
    const { value, done } = await reader.read();
    assert.equal(done, false);
    assert.deepEqual(value, message);
  }
  await writer.close();
  await echo;
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
  assert.deepEqual(await client.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  assert.deepEqual(await server.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
});

Deno.test("Conn.writable aborted closes the connection with 1001", async () => {
  const { client, server } = connPair();
  await client.writable.abort(new Error("leaving"));
  assert.deepEqual(await client.closed, {
    code: 1001,
    reason: "",
    wasClean: true,
  });
  assert.deepEqual(await server.closed, {
    code: 1001,
    reason: "",
    wasClean: true,
  });
});

Deno.test("send() over sendBufferSize resolves only once its bytes are written", async () => {
  // 64 bytes of pipe and a peer that does not read: the frame cannot leave.
  const { conn, peer, frames } = withPeer("client", { sendBufferSize: 0 }, 64);
  const payload = randomBytes(1000, 2);
  const sent = conn.send(payload);
  assert.equal(await isPending(sent), true);
  assert.ok(conn.bufferedAmount > 0);
  const got = await frames.expect();
  assert.equal(got.opcode, Opcode.Binary);
  assert.deepEqual(got.payload, payload);
  await sent;
  assert.equal(conn.bufferedAmount, 0);
  conn.abort();
  await conn.closed;
  peer.close();
});

Deno.test("send() under sendBufferSize resolves once queued; flush() once written", async () => {
  const { conn, peer, frames } = withPeer("client", {}, 64);
  const payload = randomBytes(1000, 2);
  const sent = conn.send(payload);
  // Queued at once: counted before any write, resolved without one.
  assert.ok(conn.bufferedAmount >= 1000);
  assert.equal(await isPending(sent), false);
  const flushed = conn.flush();
  assert.equal(await isPending(flushed), true);
  const got = await frames.expect();
  assert.deepEqual(got.payload, payload);
  await flushed;
  assert.equal(conn.bufferedAmount, 0);
  // Nothing queued: resolves at once.
  assert.equal(await isPending(conn.flush()), false);
  conn.abort();
  await conn.closed;
  // Everything had been written before the abort.
  await conn.flush();
  peer.close();
});

Deno.test("many awaited sends share socket writes", async () => {
  const [a, b] = memoryPair();
  const conn = makeConn("client", a);
  const peer = makeConn("server", b);
  const n = 1000;
  for (let i = 0; i < n; i++) await conn.send(`message ${i}`);
  await conn.flush();
  // One write per message would be n writes.
  assert.ok(a.written.length <= n / 10, `${a.written.length} writes`);
  const got = await readN(peer, n);
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `message ${i}`));
  await closeBoth(conn, peer);
});

Deno.test("an echo loop that awaits each send() shares socket writes", async () => {
  const [a, b] = memoryPair();
  const client = makeConn("client", a);
  const server = makeConn("server", b);
  const echoed = (async () => {
    for await (const message of server) await server.send(message);
  })();
  const n = 500;
  for (let i = 0; i < n; i++) client.send(`message ${i}`).catch(() => {});
  const got = await readN(client, n);
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `message ${i}`));
  assert.ok(b.written.length <= n / 10, `${b.written.length} writes`);
  await closeBoth(client, server);
  await echoed;
});

Deno.test("a peer that stops reading blocks await send() past sendBufferSize, within mark + one message", async () => {
  const mark = 4096;
  const size = 1000;
  const frameSize = size + 2 + 2 + 4; // header, 16-bit length, mask key
  const { conn, peer, frames } = withPeer(
    "client",
    { sendBufferSize: mark },
    1024,
  );
  const total = 100;
  let accepted = 0;
  let highest = 0;
  const sender = (async () => {
    for (let i = 0; i < total; i++) {
      const sent = conn.send(randomBytes(size, i));
      highest = Math.max(highest, conn.bufferedAmount);
      await sent;
      accepted++;
    }
  })();
  // Nobody reads: the sender stops once the mark is passed.
  assert.equal(await isPending(sender), true);
  const stalled = accepted;
  assert.ok(stalled < total / 2, `${stalled} sends accepted`);
  assert.equal(await isPending(sender), true);
  assert.equal(accepted, stalled);
  assert.ok(highest <= mark + frameSize, `${highest} bytes buffered`);
  // Reading lets it go on, every message in order.
  for (let i = 0; i < total; i++) {
    const got = await frames.expect();
    assert.deepEqual(got.payload, randomBytes(size, i));
  }
  await sender;
  assert.equal(accepted, total);
  assert.ok(highest <= mark + frameSize, `${highest} bytes buffered`);
  await conn.flush();
  assert.equal(conn.bufferedAmount, 0);
  conn.abort();
  await conn.closed;
  peer.close();
});

Deno.test("close() after sends not awaited delivers them all before the close frame", async () => {
  // A small pipe and no send buffer: most sends are still pending.
  const { conn, peer, frames } = withPeer(
    "client",
    { sendBufferSize: 0 },
    64,
  );
  const n = 50;
  const sends = Array.from(
    { length: n },
    (_, i) => conn.send(randomBytes(300, i)),
  );
  const closed = conn.close(1000, "done");
  for (let i = 0; i < n; i++) {
    const got = await frames.expect();
    assert.equal(got.opcode, Opcode.Binary);
    assert.deepEqual(got.payload, randomBytes(300, i));
  }
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "done" });
  await Promise.all(sends);
  await writeAll(peer, frame("server", Opcode.Close, closePayload(1000)));
  await peer.closeWrite();
  assert.deepEqual(await closed, { code: 1000, reason: "", wasClean: true });
  await conn.flush();
  peer.close();
});

Deno.test("close() after sends not awaited: the peer reads all of them, then the close", async () => {
  const { client, server } = connPair();
  const n = 200;
  for (let i = 0; i < n; i++) client.send(`message ${i}`).catch(() => {});
  const closed = client.close();
  const got: Message[] = [];
  for await (const message of server) got.push(message);
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `message ${i}`));
  assert.deepEqual(await closed, { code: 1000, reason: "", wasClean: true });
  assert.deepEqual(await server.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
});

Deno.test("writable's writes resolve once queued under sendBufferSize", async () => {
  const { conn, peer, frames } = withPeer("client", {}, 64);
  const writer = conn.writable.getWriter();
  // The pipe holds 64 bytes and nobody reads, yet the writes resolve.
  await writer.write("one".padEnd(200, "."));
  await writer.write("two".padEnd(200, "."));
  assert.ok(conn.bufferedAmount > 0);
  const flushed = conn.flush();
  assert.equal(await isPending(flushed), true);
  assert.equal((await frames.expect()).payload.length, 200);
  assert.equal((await frames.expect()).payload.length, 200);
  await flushed;
  writer.releaseLock();
  conn.abort();
  await conn.closed;
  peer.close();
});

Deno.test("send() promises over the mark resolve in order as the buffer drains", async () => {
  const { conn, peer, frames } = withPeer("client", { sendBufferSize: 0 }, 64);
  const order: number[] = [];
  const sends = [1, 2, 3].map((i) =>
    conn.send(`message ${i} `.padEnd(100, "x")).then(() => order.push(i))
  );
  assert.equal(await isPending(Promise.all(sends)), true);
  for (const i of [1, 2, 3]) {
    const got = await frames.expect();
    assert.equal(
      new TextDecoder().decode(got.payload),
      `message ${i} `.padEnd(100, "x"),
    );
  }
  await Promise.all(sends);
  assert.deepEqual(order, [1, 2, 3]);
  conn.abort();
  peer.close();
});

Deno.test("Conn stops reading the transport while unread messages fill its buffer", async () => {
  const { conn, peer } = withPeer("client", { readBufferSize: 100 }, 256);
  const count = 200;
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < count; i++) {
      await writeAll(peer, frame("server", Opcode.Binary, randomBytes(50, i)));
      written++;
    }
  })();
  // Nobody reads the connection: the peer's writes must block.
  assert.equal(await isPending(writing, 50), true);
  assert.ok(written < count, `the peer wrote all ${written} frames`);
  const stalledAt = written;
  assert.equal(await isPending(writing, 20), true);
  assert.equal(written, stalledAt);
  // Reading makes room, and everything flows.
  const received = await readN(conn, count);
  await writing;
  for (let i = 0; i < count; i++) {
    assert.deepEqual(received[i], randomBytes(50, i));
  }
  conn.abort();
  peer.close();
});

Deno.test("ping() resolves with the round-trip time once the pong arrives", async () => {
  const { client, server } = connPair();
  const rtt = await client.ping();
  assert.equal(typeof rtt, "number");
  assert.ok(rtt >= 0 && Number.isFinite(rtt));
  const rtt2 = await server.ping(new Uint8Array([1, 2, 3]));
  assert.ok(rtt2 >= 0);
  await closeBoth(client, server);
});

Deno.test("ping() waits for the pong that answers it", async () => {
  const { conn, peer, frames } = withPeer("client");
  const pinged = conn.ping(new Uint8Array([7]));
  const ping = await frames.expect();
  assert.equal(ping.opcode, Opcode.Ping);
  assert.deepEqual(ping.payload, new Uint8Array([7]));
  // An unsolicited pong does not answer it.
  await writeAll(peer, frame("server", Opcode.Pong, new Uint8Array([9])));
  assert.equal(await isPending(pinged), true);
  await writeAll(peer, frame("server", Opcode.Pong, new Uint8Array([7])));
  assert.ok(await pinged >= 0);
  conn.abort();
  peer.close();
});

Deno.test("ping() rejects with ConnectionClosedError when the peer closes first", async () => {
  const { conn, peer, frames } = withPeer("client");
  const pinged = conn.ping();
  assert.equal((await frames.expect()).opcode, Opcode.Ping);
  await writeAll(peer, frame("server", Opcode.Close, closePayload(1000)));
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "" });
  await peer.closeWrite();
  await assert.rejects(pinged, ConnectionClosedError);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  peer.close();
});

Deno.test("ping() rejects with ConnectionClosedError on abort", async () => {
  const { conn, peer } = withPeer("client");
  const pinged = conn.ping();
  conn.abort();
  await assert.rejects(pinged, ConnectionClosedError);
  await assert.rejects(conn.ping(), ConnectionClosedError);
  peer.close();
});

Deno.test("close() runs the closing handshake from the client", async () => {
  const { client, server } = connPair();
  const info = await client.close(1000, "bye");
  assert.deepEqual(info, { code: 1000, reason: "bye", wasClean: true });
  assert.deepEqual(await server.closed, info);
  assert.deepEqual(await server.readable.getReader().read(), {
    value: undefined,
    done: true,
  });
});

Deno.test("close() runs the closing handshake from the server", async () => {
  const { client, server } = connPair();
  const info = await server.close(4000, "shutting down");
  assert.deepEqual(info, {
    code: 4000,
    reason: "shutting down",
    wasClean: true,
  });
  assert.deepEqual(await client.closed, info);
});

Deno.test("close() is idempotent", async () => {
  const { client, server } = connPair();
  const first = client.close(4001, "first");
  const second = client.close(4002, "second");
  const expected = { code: 4001, reason: "first", wasClean: true };
  assert.deepEqual(await first, expected);
  assert.deepEqual(await second, expected);
  assert.deepEqual(await client.close(), expected);
  assert.deepEqual(await server.closed, expected);
  assert.deepEqual(await server.close(1000, "late"), expected);
});

Deno.test("close() rejects a code or reason that may not be sent", async () => {
  const { client, server } = connPair();
  await assert.rejects(client.close(1005), RangeError);
  await assert.rejects(client.close(1000, "x".repeat(124)), RangeError);
  await closeBoth(client, server);
});

Deno.test("send() rejects with ConnectionClosedError once closing", async () => {
  const { client, server } = connPair();
  const closing = client.close();
  await assert.rejects(client.send("late"), ConnectionClosedError);
  await closing;
  await assert.rejects(client.send("later"), ConnectionClosedError);
  await assert.rejects(server.send("late"), ConnectionClosedError);
});

Deno.test("abort() drops the connection with 1006 and fails pending operations", async () => {
  // The peer reads nothing, so a send over the mark stays pending.
  const { conn, peer } = withPeer("client", { sendBufferSize: 500 }, 64);
  const early = conn.send(randomBytes(400, 3));
  const sent = conn.send(randomBytes(1000, 3));
  const flushed = conn.flush();
  await early;
  const reader = conn.readable.getReader();
  const read = reader.read();
  const pinged = conn.ping();
  assert.equal(await isPending(sent), true);
  assert.equal(await isPending(read), true);
  const reason = new Error("giving up");
  conn.abort(reason);
  const error = await sent.then(() => undefined, (e) => e);
  assert.ok(error instanceof ConnectionClosedError);
  assert.equal(error.code, 1006);
  assert.equal(error.cause, reason);
  await assert.rejects(flushed, ConnectionClosedError);
  // What was accepted and never written is reported by the next flush().
  await assert.rejects(conn.flush(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.cause, reason);
    return true;
  });
  await assert.rejects(conn.send("late"), ConnectionClosedError);
  await assert.rejects(read, (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.code, 1006);
    assert.equal(e.wasClean, false);
    assert.equal(e.cause, reason);
    return true;
  });
  await assert.rejects(pinged, ConnectionClosedError);
  assert.deepEqual(await conn.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  assert.equal(peer.isClosed, false);
  conn.abort(); // idempotent
  assert.deepEqual(await conn.close(), {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  peer.close();
});

Deno.test("abort() makes the peer see an abnormal close", async () => {
  const { client, server } = connPair();
  client.abort();
  assert.deepEqual(await server.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await assert.rejects(
    server.readable.getReader().read(),
    ConnectionClosedError,
  );
});

Deno.test("close() gives up after closeTimeout when the peer never answers", async () => {
  const { conn, peer, frames } = withPeer("client", { closeTimeout: 50 });
  const closing = conn.close(1000, "bye");
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "bye" });
  // The peer reads the close frame and says nothing.
  const info = await closing;
  assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
  await assert.rejects(conn.readable.getReader().read(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.ok(e.cause instanceof DOMException);
    assert.equal(e.cause.name, "TimeoutError");
    return true;
  });
  peer.close();
});

Deno.test("Conn gives up after closeTimeout when the peer never closes the transport", async () => {
  const { conn, peer, frames } = withPeer("client", { closeTimeout: 50 });
  await writeAll(peer, frame("server", Opcode.Close, closePayload(1000)));
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "" });
  // The server never sends its FIN: the client stops waiting.
  const info = await conn.closed;
  assert.equal(info.code, 1000);
  assert.equal(info.reason, "");
  peer.close();
});

Deno.test("readTimeout drops a silent peer with a TimeoutError cause", async () => {
  const { conn, peer } = withPeer("client", { readTimeout: 50 });
  const read = conn.readable.getReader().read();
  assert.deepEqual(await conn.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await assert.rejects(read, (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.ok(e.cause instanceof DOMException);
    assert.equal(e.cause.name, "TimeoutError");
    return true;
  });
  peer.close();
});

Deno.test("readTimeout does not fire while the peer keeps talking", async () => {
  const { conn, peer } = withPeer("client", { readTimeout: 1000 });
  for (let i = 0; i < 5; i++) {
    await writeAll(peer, frame("server", Opcode.Text, `tick ${i}`));
    assert.deepEqual(await readN(conn, 1), [`tick ${i}`]);
  }
  conn.abort();
  peer.close();
});

Deno.test("writeTimeout drops a peer that stops reading with a TimeoutError cause", async () => {
  const { conn, peer } = withPeer("client", { writeTimeout: 50 }, 64);
  // Under the mark, the send resolves; the write then times out.
  await conn.send(randomBytes(1000, 4));
  await assert.rejects(conn.flush(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.ok(e.cause instanceof DOMException);
    assert.equal(e.cause.name, "TimeoutError");
    return true;
  });
  assert.deepEqual(await conn.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  // The bytes accepted and never written are reported again.
  await assert.rejects(conn.flush(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal((e.cause as DOMException).name, "TimeoutError");
    return true;
  });
  await assert.rejects(conn.send("next"), ConnectionClosedError);
  peer.close();
});

Deno.test("Conn.readable ends normally after a 1000 close from the peer", async () => {
  const { conn, peer, frames } = withPeer("client");
  await writeAll(peer, frame("server", Opcode.Text, "last words"));
  await writeAll(peer, frame("server", Opcode.Close, closePayload(1000)));
  await frames.expectClose();
  await peer.closeWrite();
  const received: Message[] = [];
  for await (const message of conn) received.push(message);
  assert.deepEqual(received, ["last words"]);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  peer.close();
});

Deno.test("Conn.readable errors after a 1002 close, once earlier messages are read", async () => {
  const { conn, peer, frames } = withPeer("client");
  await writeAll(peer, frame("server", Opcode.Text, "a"));
  await writeAll(peer, frame("server", Opcode.Binary, new Uint8Array([2])));
  await writeAll(
    peer,
    frame("server", Opcode.Close, closePayload(1002, "broken")),
  );
  assert.deepEqual(await frames.expectClose(), {
    code: 1002,
    reason: "broken",
  });
  await peer.closeWrite();
  assert.deepEqual(await conn.closed, {
    code: 1002,
    reason: "broken",
    wasClean: true,
  });
  const reader = conn.readable.getReader();
  assert.deepEqual(await reader.read(), { value: "a", done: false });
  assert.deepEqual(await reader.read(), {
    value: new Uint8Array([2]),
    done: false,
  });
  await assert.rejects(reader.read(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.code, 1002);
    assert.equal(e.reason, "broken");
    return true;
  });
  peer.close();
});

Deno.test("Conn.readable errors after a 1006 drop, once earlier messages are read", async () => {
  const { conn, peer } = withPeer("client");
  await writeAll(peer, frame("server", Opcode.Text, "a"));
  await writeAll(peer, frame("server", Opcode.Text, "b"));
  peer.close(); // no close frame
  assert.deepEqual(await conn.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  const reader = conn.readable.getReader();
  assert.deepEqual(await reader.read(), { value: "a", done: false });
  assert.deepEqual(await reader.read(), { value: "b", done: false });
  await assert.rejects(reader.read(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.code, 1006);
    assert.equal(e.wasClean, false);
    return true;
  });
});

Deno.test("Conn fails the connection with 1002 on a protocol violation and closes the transport first", async () => {
  const { conn, peer, frames } = withPeer("client");
  // A server must not mask its frames.
  await writeAll(peer, frame("client", Opcode.Text, "masked"));
  assert.deepEqual((await frames.expectClose()).code, 1002);
  // The client failed the connection, so it sends its FIN first.
  assert.equal(await frames.next(), null);
  assert.equal(await isPending(conn.closed), true);
  await peer.closeWrite();
  assert.deepEqual(await conn.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await assert.rejects(conn.readable.getReader().read(), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.ok(e.cause instanceof ProtocolError);
    assert.equal(e.cause.code, "MASKED_FRAME");
    return true;
  });
  peer.close();
});

Deno.test("Conn on the server side closes the transport first", async () => {
  const { conn, peer, frames } = withPeer("server");
  await writeAll(peer, frame("client", Opcode.Close, closePayload(1000, "x")));
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "x" });
  // Both close frames are through: the server closes without waiting for
  // the client's FIN.
  assert.equal(await frames.next(), null);
  assert.equal(await isPending(conn.closed), false);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "x",
    wasClean: true,
  });
  peer.close();
});

Deno.test("Conn failing the connection sends FIN and waits for the peer's before closing", async () => {
  const { conn, peer, frames } = withPeer("server");
  // An unmasked frame from a client: the server fails with 1002; the peer
  // may still be sending, so the server half-closes and reads until EOF,
  // for its close frame to be read before the socket goes.
  await writeAll(peer, frame("server", Opcode.Text, "unmasked"));
  assert.equal((await frames.expectClose()).code, 1002);
  assert.equal(await frames.next(), null, "FIN");
  assert.equal(await isPending(conn.closed), true);
  await peer.closeWrite();
  assert.equal((await conn.closed).wasClean, false);
  peer.close();
});

Deno.test("Conn on the client side waits for the server to close the transport", async () => {
  const { conn, peer, frames } = withPeer("client");
  await writeAll(peer, frame("server", Opcode.Close, closePayload(1000, "y")));
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "y" });
  const next = frames.next();
  assert.equal(await isPending(next), true);
  assert.equal(await isPending(conn.closed), true);
  await peer.closeWrite();
  assert.equal(await next, null);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "y",
    wasClean: true,
  });
  peer.close();
});

Deno.test("Conn answers pings while the application is not reading", async () => {
  const { conn, peer, frames } = withPeer("client");
  await writeAll(peer, frame("server", Opcode.Ping, new Uint8Array([4, 2])));
  const pong = await frames.expect();
  assert.equal(pong.opcode, Opcode.Pong);
  assert.deepEqual(pong.payload, new Uint8Array([4, 2]));
  conn.abort();
  peer.close();
});

Deno.test("Conn closes on await using", async () => {
  const { client, server } = connPair();
  {
    await using conn = client;
    await conn.send("in scope");
    assert.deepEqual(await readN(server, 1), ["in scope"]);
  }
  assert.equal(await isPending(client.closed, 1), false);
  assert.deepEqual(await client.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  assert.deepEqual(await server.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
});

// ---- Nothing received is lost -----------------------------------------

Deno.test("close() after sends loses none of the replies sent before the peer's close frame", async () => {
  // Both machines as dial() and serve() make them: a close frame is
  // answered once the application has answered what came before it.
  const { client, server } = connPair({
    client: { readBufferSize: 16 },
    autoCloseEcho: false,
  });
  const echoing = (async () => {
    // Answers without waiting for each write: they leave in one write.
    for await (const message of server) server.send(message).catch(() => {});
  })();
  const lines = Array.from({ length: 29 }, (_, i) => `line ${i} of the input`);
  const received: Message[] = [];
  const reading = (async () => {
    for await (const message of client) received.push(message);
  })();
  // Sent in one turn with the close frame: the echoes all arrive after
  // our close frame left, in one read, ahead of the server's close frame.
  const sent = lines.map((line) => client.send(line));
  const info = await client.close(1000);
  await Promise.all(sent);
  await reading;
  await echoing;
  assert.deepEqual(received, lines);
  assert.deepEqual(info, { code: 1000, reason: "", wasClean: true });
  assert.deepEqual(await server.closed, info);
});

Deno.test("close() keeps reading the peer's messages under backpressure until its close frame", async () => {
  // The peer's messages are in flight when we close: they fill the inbox,
  // the connection stops reading, and a slow reader still gets them all.
  const { conn, peer, frames } = withPeer(
    "client",
    { readBufferSize: 64 },
    1024,
    false,
  );
  const count = 100;
  const writing = (async () => {
    for (let i = 0; i < count; i++) {
      await writeAll(peer, frame("server", Opcode.Binary, randomBytes(40, i)));
    }
  })();
  const closing = conn.close(1000, "done");
  assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "done" });
  // Nobody reads yet: the peer's writes stall.
  assert.equal(await isPending(writing, 20), true);
  const received: Message[] = [];
  for await (const message of conn) {
    received.push(message);
    if (received.length === count) {
      await writing;
      await writeAll(peer, frame("server", Opcode.Close, closePayload(1000)));
      peer.closeWrite();
    }
  }
  assert.equal(received.length, count);
  for (let i = 0; i < count; i++) {
    assert.deepEqual(received[i], randomBytes(40, i));
  }
  assert.deepEqual(await closing, { code: 1000, reason: "", wasClean: true });
  peer.close();
});

for (const role of ["client", "server"] as const) {
  Deno.test(`Conn (${role}) answers the messages before a protocol violation, then fails with 1002`, async () => {
    const peerRole = role === "client" ? "server" : "client";
    const { conn, peer, frames } = withPeer(role, {}, undefined, false);
    const echoing = (async () => {
      for await (const message of conn) await conn.send(message);
    })().catch((error) => error);
    // Two messages and a frame with a reserved opcode, in one write, and a
    // message after it that must never be read.
    await writeAll(
      peer,
      concat(
        frame(peerRole, Opcode.Text, "first"),
        frame(peerRole, Opcode.Binary, new Uint8Array([1, 2, 3])),
        frame(peerRole, 5, "bad"),
        frame(peerRole, Opcode.Text, "x"),
      ),
    );
    const first = await frames.expect();
    assert.equal(first.opcode, Opcode.Text);
    assert.equal(new TextDecoder().decode(first.payload), "first");
    const second = await frames.expect();
    assert.equal(second.opcode, Opcode.Binary);
    assert.deepEqual(second.payload, new Uint8Array([1, 2, 3]));
    assert.equal((await frames.expectClose()).code, 1002);
    // It failed the connection, so it sends its FIN first.
    assert.equal(await frames.next(), null);
    peer.close();
    const error = await echoing;
    assert.ok(error instanceof ConnectionClosedError);
    assert.ok(error.cause instanceof ProtocolError);
    assert.equal(error.cause.code, "RESERVED_OPCODE");
    assert.equal((await conn.closed).wasClean, false);
  });
}

Deno.test("Conn fails a violation after at most a second when the application does not read", async () => {
  const { conn, peer, frames } = withPeer("client", {}, undefined, false);
  await writeAll(
    peer,
    concat(
      frame("server", Opcode.Text, "unread"),
      frame("client", Opcode.Text, "a masked frame"),
    ),
  );
  assert.equal((await frames.expectClose()).code, 1002);
  assert.equal(await frames.next(), null);
  peer.close();
  await conn.closed;
  // The message before the fault is still there for a late reader.
  const reader = conn.readable.getReader();
  assert.deepEqual(await reader.read(), { value: "unread", done: false });
  await assert.rejects(reader.read(), ConnectionClosedError);
});

for (const version of ["hixie-76", "hixie-75"] as const) {
  Deno.test(`Conn (${version}) answers the messages before invalid UTF-8, then closes the transport`, async () => {
    const [a, peer] = memoryPair();
    const conn = new Conn({
      role: "server",
      transport: a,
      machine: new HixieProtocol({
        version,
        role: "server",
        autoCloseEcho: false,
      }),
      url: "ws://example.com/",
      version,
    });
    const echoing = (async () => {
      for await (const message of conn) await conn.send(message);
    })().catch((error) => error);
    const text = (s: string) =>
      concat(Uint8Array.of(0), encoder.encode(s), Uint8Array.of(0xff));
    await writeAll(
      peer,
      concat(
        text("one"),
        text("two"),
        Uint8Array.of(0x00, 0x61, 0xfe, 0xff),
        text("never"),
      ),
    );
    // The answers, then the end of the stream, without closing bytes.
    assert.deepEqual(await readToEnd(peer), concat(text("one"), text("two")));
    peer.close();
    const error = await echoing;
    assert.ok(error instanceof ConnectionClosedError);
    assert.ok(error.cause instanceof ProtocolError);
    assert.equal(error.cause.code, "INVALID_UTF8");
    assert.equal((await conn.closed).wasClean, false);
  });
}
