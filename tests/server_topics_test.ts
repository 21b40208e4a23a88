// The topic methods of a served connection and of the server: the API over
// the server's hub (topics.ts), for every protocol version.

import assert from "node:assert/strict";
import { type Conn, dial, serve, Topics } from "../mod.ts";

const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };

// Reads `n` messages from a connection without closing it.
async function take(conn: Conn, n: number): Promise<unknown[]> {
  const iterator = conn[Symbol.asyncIterator]();
  const messages: unknown[] = [];
  while (messages.length < n) {
    const { value, done } = await iterator.next();
    if (done) break;
    messages.push(value);
  }
  return messages;
}

Deno.test("conn.subscribe(), conn.publish() and server.publish() fan out through the server's hub", async () => {
  const joined = Promise.withResolvers<void>();
  const served: Conn[] = [];
  const server = serve(
    { ...quiet, versions: ["13", "hixie-76"] },
    async (conn) => {
      await conn.subscribe("room");
      if (served.push(conn) === 3) joined.resolve();
      await conn.send("joined");
      for await (const message of conn) conn.publish("room", message);
    },
  );
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const a = await dial(url);
  const b = await dial(url);
  const c = await dial(url, { version: "hixie-76" });
  try {
    await joined.promise;
    for (const conn of [a, b, c]) {
      assert.deepEqual(await take(conn, 1), ["joined"]);
    }
    assert.equal(server.subscribers("room").size, 3);
    // A member's message reaches the others, not itself.
    await a.send("from a");
    assert.deepEqual(await take(b, 1), ["from a"]);
    assert.deepEqual(await take(c, 1), ["from a"]);
    // The server's publish reaches everyone, a first in line.
    assert.equal(server.publish("room", "to all"), 3);
    for (const conn of [a, b, c]) {
      assert.deepEqual(await take(conn, 1), ["to all"]);
    }
    // A connection that closes leaves its topics.
    await c.close();
    await served.find((conn) => conn.version === "hixie-76")!.closed;
    assert.equal(server.subscribers("room").size, 2);
    assert.ok(server.topics instanceof Topics);
  } finally {
    await a.close();
    await b.close();
    await server.shutdown();
  }
});

Deno.test("serve({ topics }) uses the hub it is given; a dialled connection has none", async () => {
  const topics = new Topics();
  const server = serve({ ...quiet, topics }, async (conn) => {
    conn.unsubscribe("nothing");
    await conn.subscribe("news");
    await conn.send("ready");
    for await (const _ of conn) { /* until closed */ }
  });
  const conn = await dial(`ws://127.0.0.1:${server.addr.port}/`);
  try {
    assert.deepEqual(await take(conn, 1), ["ready"]);
    assert.equal(server.topics, topics);
    assert.equal(topics.subscriberCount("news"), 1);
    assert.throws(() => conn.publish("news", "x"), TypeError);
    await assert.rejects(async () => await conn.subscribe("news"), TypeError);
  } finally {
    await conn.close();
    await server.shutdown();
  }
});
