// Nothing received is lost: every message a peer sent before its close (or
// before a protocol violation) reaches the reader on the other side, in
// every protocol version and both roles, over loopback, with a reader slow
// enough that the inbox is full when the close arrives.

import assert from "node:assert/strict";
import {
  type Conn,
  ConnectionClosedError,
  dial,
  type Message,
  Opcode,
  ProtocolError,
  serve,
  type WebSocketServer,
} from "../mod.ts";
import { Conn as RawConn, type ProtocolVersion } from "../conn.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import {
  frame,
  FrameReader,
  head,
  readHead,
  readRequest,
  switchingProtocols,
  upgradeLines,
  writeAll,
} from "./_peers.ts";
import { concat, randomBytes } from "./_util.ts";

const VERSIONS: ProtocolVersion[] = ["13", "8", "7", "hixie-76", "hixie-75"];
const ROLES = ["server", "client"] as const;
type Role = typeof ROLES[number];
const KiB = 1024;
const MiB = 1024 * KiB;
// Small, so that the inbox is full long before the peer has sent it all.
const READ_BUFFER = 4 * KiB;

/** A seeded PRNG (mulberry32): floats in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXT_UNIT = "κόσμε, ASCII and € 😀 ";
let textPool = "";

/** Text of exactly `n` UTF-16 code units, different for each `i`. */
function textOf(n: number, i: number): string {
  while (textPool.length < n + 64) textPool += TEXT_UNIT;
  const prefix = `${i}:`;
  if (n <= prefix.length) return prefix.slice(0, n);
  const start = i % TEXT_UNIT.length;
  const body = textPool.slice(start, start + n - prefix.length)
    // Never a lone half of a surrogate pair.
    .replace(/^[\udc00-\udfff]/, "!").replace(/[\ud800-\udbff]$/, "!");
  return prefix + body;
}

/**
 * `count` messages of seeded sizes in [min, max] (the first of `max`):
 * text and binary alternately, text only for the drafts.
 */
function messages(
  version: ProtocolVersion,
  count: number,
  min: number,
  max: number,
  seed: number,
): Message[] {
  const next = random(seed);
  const textOnly = version.startsWith("hixie");
  return Array.from({ length: count }, (_, i) => {
    const size = i === 0 ? max : min + Math.floor(next() * (max - min + 1));
    return textOnly || i % 2 === 0 ? textOf(size, i) : randomBytes(size, i);
  });
}

function assertSame(received: Message[], sent: Message[]): void {
  assert.equal(received.length, sent.length, "message count");
  for (let i = 0; i < sent.length; i++) {
    assert.deepEqual(received[i], sent[i], `message ${i}`);
  }
}

/** Reads every message, yielding to the event loop every few: slowly. */
async function readSlowly(conn: Conn): Promise<Message[]> {
  const received: Message[] = [];
  for await (const message of conn) {
    received.push(message);
    if (received.length % 32 === 0) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return received;
}

/** A hybi client of version 8 or 7 (dial() speaks 13): a raw handshake, then a Conn as dial() makes it. */
async function dialHybi(port: number, version: "8" | "7"): Promise<Conn> {
  const socket = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = upgradeLines(port).map((line) =>
      line.startsWith("Sec-WebSocket-Version:")
        ? `Sec-WebSocket-Version: ${version}`
        : line
    );
    await writeAll(socket, head(lines));
    const { head: response, rest } = await readHead(socket);
    const status = new TextDecoder().decode(response).split("\r\n")[0];
    assert.match(status, /^HTTP\/1\.1 101 /);
    socket.setNoDelay(true);
    return new RawConn({
      role: "client",
      transport: socket,
      machine: new WebSocketProtocol({
        role: "client",
        ownsInput: true,
        autoCloseEcho: false,
      }),
      head: rest,
      url: `ws://127.0.0.1:${port}/chat`,
      version,
      readBufferSize: READ_BUFFER,
    });
  } catch (error) {
    socket.close();
    throw error;
  }
}

/**
 * A server speaking `version` that runs `handler`, and a client connected to
 * it; the test body gets both ends.
 */
async function withPair(
  version: ProtocolVersion,
  onServer: (conn: Conn) => Promise<void>,
  onClient: (conn: Conn) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  const handled = Promise.withResolvers<void>();
  const server: WebSocketServer = serve({
    hostname: "127.0.0.1",
    port: 0,
    versions: [version],
    readBufferSize: READ_BUFFER,
    onListen: () => {},
    onError: (error) => errors.push(error),
  }, (conn) => onServer(conn).then(handled.resolve, handled.reject));
  try {
    const port = server.addr.port;
    const client = version === "8" || version === "7"
      ? await dialHybi(port, version)
      : await dial(`ws://127.0.0.1:${port}/chat`, {
        version,
        readBufferSize: READ_BUFFER,
      });
    assert.equal(client.version, version);
    await Promise.all([onClient(client), handled.promise]);
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(errors, []);
}

const SIZES = [
  { name: "1000 small messages", count: 1000, min: 0, max: 300 },
  { name: "16 messages up to 1 MiB", count: 16, min: 64 * KiB, max: MiB },
];

for (const version of VERSIONS) {
  for (const sender of ROLES) {
    const reader: Role = sender === "server" ? "client" : "server";
    for (const { name, count, min, max } of SIZES) {
      Deno.test(`a ${sender} that sends ${name} then closes has them all delivered to a slow ${reader} reader (${version})`, async () => {
        const sent = messages(version, count, min, max, count);
        // The reader starts once the close is under way, so the inbox is
        // full and the rest waits in the socket when the close arrives.
        const closing = Promise.withResolvers<void>();
        const send = async (conn: Conn) => {
          const writes = sent.map((message) => conn.send(message));
          const done = conn.close(1000, "done");
          closing.resolve();
          await Promise.all(writes);
          const info = await done;
          assert.equal(info.wasClean, true);
        };
        const read = async (conn: Conn) => {
          await closing.promise;
          assertSame(await readSlowly(conn), sent);
          assert.equal((await conn.closed).wasClean, true);
        };
        await withPair(
          version,
          sender === "server" ? send : read,
          sender === "server" ? read : send,
        );
      });
    }

    Deno.test(`a ${reader} that closes while the ${sender}'s messages are in flight still reads them all (${version})`, async () => {
      const sent = messages(version, 1000, 0, 300, 7);
      // The peer queues every message at once and waits for our close.
      const send = async (conn: Conn) => {
        const writes = sent.map((message) => conn.send(message));
        await Promise.all(writes);
        assert.equal((await conn.closed).wasClean, true);
      };
      const read = async (conn: Conn) => {
        const received: Message[] = [];
        let closing: Promise<unknown> | undefined;
        for await (const message of conn) {
          received.push(message);
          // Our close goes out with most of the peer's messages unread.
          closing ??= conn.close(1000);
          if (received.length % 32 === 0) {
            await new Promise((resolve) => setTimeout(resolve, 0));
          }
        }
        assertSame(received, sent);
        const info = await conn.closed;
        assert.equal(info.wasClean, true);
      };
      await withPair(
        version,
        sender === "server" ? send : read,
        sender === "server" ? read : send,
      );
    });
  }
}

// ---- A violation after messages ---------------------------------------

const LINES = Array.from(
  { length: 50 },
  (_, i) => `message ${i} before the fault`,
);

/** What a raw peer sends: the messages, a frame with reserved opcode 5, one more message. */
function faultyStream(peer: Role): Uint8Array {
  return concat(
    ...LINES.map((line) => frame(peer, Opcode.Text, line)),
    frame(peer, 5, "reserved"),
    frame(peer, Opcode.Text, "after the fault"),
  );
}

/** Reads the echoes of LINES, then a 1002 close frame, then the end of the stream. */
async function expectEchoesThenFailure(frames: FrameReader): Promise<void> {
  const decoder = new TextDecoder();
  for (const line of LINES) {
    const echo = await frames.expect();
    assert.equal(echo.opcode, Opcode.Text);
    assert.equal(decoder.decode(echo.payload), line);
  }
  assert.equal((await frames.expectClose()).code, 1002);
  assert.equal(await frames.next(), null);
}

/** Echoes until the connection fails; returns how it failed. */
async function echoUntilFailure(conn: Conn): Promise<ConnectionClosedError> {
  try {
    for await (const message of conn) await conn.send(message);
  } catch (error) {
    assert.ok(error instanceof ConnectionClosedError);
    assert.ok(error.cause instanceof ProtocolError);
    assert.equal(error.cause.code, "RESERVED_OPCODE");
    return error;
  }
  throw new Error("The connection ended without failing");
}

for (const version of ["13", "8", "7"] as const) {
  Deno.test(`serve() answers the messages before a violation, then fails with 1002 (${version})`, async () => {
    const failed = Promise.withResolvers<ConnectionClosedError>();
    const server = serve({
      hostname: "127.0.0.1",
      port: 0,
      versions: [version],
      onListen: () => {},
    }, (conn) => echoUntilFailure(conn).then(failed.resolve, failed.reject));
    try {
      const port = server.addr.port;
      const socket = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const lines = upgradeLines(port).map((line) =>
          line.startsWith("Sec-WebSocket-Version:")
            ? `Sec-WebSocket-Version: ${version}`
            : line
        );
        await writeAll(socket, head(lines));
        const { rest } = await readHead(socket);
        await writeAll(socket, faultyStream("client"));
        await expectEchoesThenFailure(new FrameReader(socket, "client", rest));
      } finally {
        socket.close();
      }
      await failed.promise;
    } finally {
      await server.shutdown();
    }
  });
}

Deno.test("dial() answers the messages before a violation, then fails with 1002", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = (async () => {
    const socket = await listener.accept();
    try {
      const { request, rest } = await readRequest(socket);
      await writeAll(socket, await switchingProtocols(request));
      await writeAll(socket, faultyStream("server"));
      await expectEchoesThenFailure(new FrameReader(socket, "server", rest));
    } finally {
      socket.close();
    }
  })();
  try {
    const conn = await dial(`ws://127.0.0.1:${listener.addr.port}/`);
    await Promise.all([echoUntilFailure(conn), peer]);
    assert.equal((await conn.closed).wasClean, false);
  } finally {
    listener.close();
  }
});
