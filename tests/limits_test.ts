// Limits and timeouts: keepalive, idle timeout, caps on connections and
// handshakes, slow clients, shutdown, and resources after many cycles.

import assert from "node:assert/strict";
import { Conn } from "../conn.ts";
import { dial, serve } from "../mod.ts";
import type { WebSocketServer } from "../server.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import { memoryPair } from "./_util.ts";

const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };

function pair(
  clientOptions: Partial<ConstructorParameters<typeof Conn>[0]> = {},
  serverOptions: Partial<ConstructorParameters<typeof Conn>[0]> = {},
): [Conn, Conn] {
  const [a, b] = memoryPair();
  const client = new Conn({
    role: "client",
    transport: a,
    machine: new WebSocketProtocol({ role: "client" }),
    url: "ws://memory/",
    pingInterval: 0,
    ...clientOptions,
  });
  const server = new Conn({
    role: "server",
    transport: b,
    machine: new WebSocketProtocol({ role: "server" }),
    url: "ws://memory/",
    pingInterval: 0,
    ...serverOptions,
  });
  return [client, server];
}

async function readStatusLine(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(1024);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text.split("\r\n")[0];
}

const UPGRADE_REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

Deno.test("keepalive drops a peer that stops answering pings", async () => {
  const [a, b] = memoryPair();
  const conn = new Conn({
    role: "client",
    transport: a,
    machine: new WebSocketProtocol({ role: "client" }),
    url: "ws://memory/",
    pingInterval: 20,
    pingTimeout: 30,
  });
  // The peer is a transport nobody reads: no pong ever comes.
  const info = await conn.closed;
  assert.equal(info.code, 1006);
  assert.equal(info.wasClean, false);
  b.close();
});

Deno.test("keepalive keeps a healthy connection open", async () => {
  const [client, server] = pair({ pingInterval: 10, pingTimeout: 200 });
  // Both sides read, so pongs flow; several keepalive rounds pass.
  const reading = (async () => {
    for await (const _ of server) { /* drain */ }
  })();
  for (let i = 0; i < 5; i++) await client.ping();
  let rounds = 0;
  const start = performance.now();
  while (performance.now() - start < 100) {
    await client.ping();
    rounds++;
  }
  assert.ok(rounds > 0);
  const info = await client.close(1000);
  assert.equal(info.wasClean, true);
  await reading;
  await server.closed;
});

Deno.test("idleTimeout closes a quiet connection with 1001", async () => {
  const [client, server] = pair({}, { idleTimeout: 30 });
  const messages: unknown[] = [];
  const reading = (async () => {
    for await (const message of client) messages.push(message);
  })();
  const info = await server.closed;
  assert.equal(info.code, 1001);
  assert.equal(info.wasClean, true);
  await reading;
  assert.deepEqual(messages, []);
});

Deno.test("idleTimeout counts messages as activity", async () => {
  const [client, server] = pair({}, { idleTimeout: 60 });
  const echo = (async () => {
    for await (const message of server) await server.send(message);
  })();
  const iterator = client[Symbol.asyncIterator]();
  // Traffic every few milliseconds for longer than the idle timeout.
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < 150) {
    await client.send("tick");
    assert.equal((await iterator.next()).value, "tick");
    count++;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(count > 5);
  await client.close();
  await echo;
});

async function withServer(
  options: Parameters<typeof serve>[0],
  body: (server: WebSocketServer) => Promise<void>,
): Promise<void> {
  const server = serve(
    { ...quiet, ...options },
    async (conn) => {
      for await (const message of conn) await conn.send(message);
    },
  );
  try {
    await body(server);
  } finally {
    await server.shutdown();
  }
}

Deno.test("maxConnections answers 503 past the cap", async () => {
  await withServer({ maxConnections: 1 }, async (server) => {
    const url = `ws://127.0.0.1:${server.addr.port}/`;
    const first = await dial(url);
    const error = await dial(url).catch((e) => e);
    assert.equal(error.cause?.code, "BAD_STATUS");
    assert.equal(error.cause?.response?.status, 503);
    await first.close();
  });
});

Deno.test("a client sending one header byte at a time is cut off without delaying others", async () => {
  await withServer({ handshakeTimeout: 150 }, async (server) => {
    const slow = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    const bytes = new TextEncoder().encode(UPGRADE_REQUEST);
    let sent = 0;
    const dripping = (async () => {
      try {
        while (sent < bytes.length) {
          await slow.write(bytes.subarray(sent, sent + 1));
          sent++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } catch {
        // Cut off: the server closed the socket.
      }
    })();
    // Meanwhile a normal client is served at once.
    const conn = await dial(`ws://127.0.0.1:${server.addr.port}/`);
    await conn.send("quick");
    for await (const message of conn) {
      assert.equal(message, "quick");
      break;
    }
    // The slow socket is closed by the server long before its head is done.
    const buffer = new Uint8Array(64);
    const ended = await slow.read(buffer).catch(() => null);
    assert.equal(ended, null);
    assert.ok(sent < bytes.length);
    await dripping;
    slow.close();
  });
});

Deno.test("shutdown() closes open connections with 1001 and resolves finished", async () => {
  const server = serve(quiet, async (conn) => {
    for await (const message of conn) await conn.send(message);
  });
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const conns = await Promise.all([dial(url), dial(url), dial(url)]);
  const readers = conns.map(async (conn) => {
    for await (const _ of conn) { /* drain */ }
  });
  await server.shutdown();
  await server.finished;
  for (const conn of conns) {
    const info = await conn.closed;
    assert.equal(info.code, 1001);
    assert.equal(info.wasClean, true);
  }
  await Promise.all(readers);
});

Deno.test("shutdown() is bounded by the close timeout for a peer that never answers", async () => {
  const server = serve({ ...quiet, closeTimeout: 50 }, async (conn) => {
    for await (const _ of conn) { /* drain */ }
  });
  const socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  await socket.write(new TextEncoder().encode(UPGRADE_REQUEST));
  assert.equal(
    await readStatusLine(socket),
    "HTTP/1.1 101 Switching Protocols",
  );
  // This raw peer never reads nor answers the close frame.
  await server.shutdown();
  socket.close();
});

// Open file descriptors of this process (sockets included).
function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test("a thousand open/close cycles leave descriptors and memory where they started", async () => {
  const server = serve(quiet, async (conn) => {
    for await (const message of conn) await conn.send(message);
  });
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const gc = (globalThis as { gc?: () => void }).gc;
  const cycle = async () => {
    const conn = await dial(url);
    await conn.send("x");
    for await (const _ of conn) break;
    await conn.closed;
  };
  // Warm up, so that one-time allocations are not counted as growth.
  for (let i = 0; i < 20; i++) await cycle();
  gc?.();
  const before = openFds();
  const heapBefore = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 1000; i += 10) {
    await Promise.all(Array.from({ length: 10 }, cycle));
  }
  await server.shutdown();
  const after = openFds();
  // The listener is gone too; nothing else is left behind.
  assert.ok(after < before, `descriptors ${before} -> ${after}`);
  // Heap growth stays far below what a thousand retained connections cost.
  if (gc) {
    // Only meaningful after a collection: `deno task test` runs V8 with
    // --expose-gc; a plain `deno test` checks descriptors alone.
    gc();
    const grown = Deno.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 2 * 1024 * 1024, `heap grew by ${grown} bytes`);
  }
});
