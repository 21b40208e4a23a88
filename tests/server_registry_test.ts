// The registry of a server's open connections (server/_registry.ts), driven
// directly over in-memory pairs, and as WebSocketServer.connections.

import assert from "node:assert/strict";
import { type Conn, dial, serve } from "../mod.ts";
import { ConnRegistry } from "../server/_registry.ts";
import { rfc6455Conn } from "../conn/_rfc6455.ts";
import { memoryPair } from "./_util.ts";

const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };

// A connected pair of connections over memory: [server end, client end].
function connPair(): [Conn, Conn] {
  const [a, b] = memoryPair();
  return [
    rfc6455Conn({ role: "server", transport: a, url: "ws://memory/" }),
    rfc6455Conn({ role: "client", transport: b, url: "ws://memory/" }),
  ];
}

// Reads one message.
async function next(conn: Conn): Promise<unknown> {
  const { value } = await conn[Symbol.asyncIterator]().next();
  return value;
}

Deno.test("ConnRegistry holds a connection until it has closed", async () => {
  const registry = new ConnRegistry();
  const [server1, client1] = connPair();
  const [server2, client2] = connPair();
  registry.add(server1);
  registry.add(server2);
  assert.equal(registry.size, 2);
  assert.deepEqual([...registry.connections], [server1, server2]);
  await client1.close(1000);
  await server1.closed;
  assert.equal(registry.size, 1);
  assert.ok(!registry.connections.has(server1));
  assert.ok(registry.connections.has(server2));
  await client2.close(1000);
  await server2.closed;
  assert.equal(registry.size, 0);
});

Deno.test("ConnRegistry lets go of a connection before its closed resolves, even to a reaction made before it was added", async () => {
  const registry = new ConnRegistry();
  const [server, client] = connPair();
  // Made before add(): a reaction to `closed` made by the registry itself
  // would run after this one.
  const listedAtClose = server.closed.then(() =>
    registry.connections.has(server)
  );
  registry.add(server);
  await client.close(1000);
  assert.equal(await listedAtClose, false);
  assert.equal(registry.size, 0);
});

Deno.test("ConnRegistry does not keep a connection that ended before it was added", async () => {
  const registry = new ConnRegistry();
  const [server, client] = connPair();
  server.abort();
  await server.closed;
  registry.add(server);
  assert.equal(registry.size, 0);
  await client.closed;
});

Deno.test("ConnRegistry.closeAll() closes every connection with the code", async () => {
  const registry = new ConnRegistry();
  const pairs = [connPair(), connPair()];
  for (const [server] of pairs) registry.add(server);
  registry.closeAll(1001);
  for (const [server, client] of pairs) {
    assert.equal((await client.closed).code, 1001);
    await server.closed;
  }
  assert.equal(registry.size, 0);
});

Deno.test("server.connections holds the open connections: sent to, closed by the peer, shut down with 1001", async () => {
  const served: Conn[] = [];
  const allServed = Promise.withResolvers<void>();
  const server = serve(quiet, async (conn) => {
    if (served.push(conn) === 3) allServed.resolve();
    for await (const _ of conn); // until the peer closes
  });
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const clients = [await dial(url), await dial(url), await dial(url)];
  try {
    await allServed.promise;
    assert.equal(server.connections.size, 3);
    assert.deepEqual(new Set(server.connections), new Set(served));
    // The README's idiom: a message to every connection.
    for (const conn of server.connections) await conn.send("to all");
    for (const client of clients) assert.equal(await next(client), "to all");
    // A client that leaves is no longer listed once its connection closed.
    await clients[0].close(1000);
    await served[0].closed;
    assert.equal(server.connections.size, 2);
    assert.ok(!server.connections.has(served[0]));
    // Shutdown closes the rest with 1001 (going away).
    await server.shutdown();
    assert.equal((await clients[1].closed).code, 1001);
    assert.equal((await clients[2].closed).code, 1001);
    assert.equal(server.connections.size, 0);
  } finally {
    for (const client of clients) client.abort();
    await server.shutdown();
  }
});

Deno.test("server.connections lets go of a connection whose handler throws at once, closed with 1011 and reported", async () => {
  const reported: unknown[] = [];
  const server = serve(
    {
      ...quiet,
      onError: (error) => reported.push(error),
    },
    (() => {
      throw new Error("handler failed");
    }) as unknown as (conn: Conn) => Promise<void>,
  );
  const client = await dial(`ws://127.0.0.1:${server.addr.port}/`);
  try {
    assert.equal((await client.closed).code, 1011);
    await server.shutdown();
    assert.equal(server.connections.size, 0);
    assert.deepEqual(reported.map((error) => (error as Error).message), [
      "handler failed",
    ]);
  } finally {
    client.abort();
    await server.shutdown();
  }
});
