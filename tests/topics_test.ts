import assert from "node:assert/strict";
import type { Conn } from "../conn.ts";
import { LocalBus } from "../fanout/bus.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import { Topics } from "../fanout/topics.ts";
import { connPair, stalledConn, take } from "./_topics.ts";

async function dispose(...conns: Conn[]): Promise<void> {
  for (const conn of conns) conn.abort();
  await Promise.all(conns.map((conn) => conn.closed));
}

Deno.test("Topics.publish() reaches every subscriber but the excluded one", async () => {
  const topics = new Topics();
  const pairs = Array.from({ length: 4 }, connPair);
  for (const { server } of pairs) topics.subscribe(server, "room");
  topics.subscribe(pairs[0].server, "other");
  assert.equal(topics.subscriberCount("room"), 4);
  assert.deepEqual([...topics.topicsOf(pairs[0].server)], ["room", "other"]);

  const sent = topics.publish("room", "hello", { exclude: pairs[1].server });
  assert.equal(sent, 3);
  assert.equal(topics.publish("other", new Uint8Array([1, 2])), 1);
  assert.equal(topics.publish("nobody", "x"), 0);

  assert.deepEqual(await take(pairs[0].client, 2), [
    "hello",
    new Uint8Array([1, 2]),
  ]);
  for (const i of [2, 3]) {
    assert.deepEqual(await take(pairs[i].client, 1), ["hello"]);
  }
  // The excluded one gets the next message, not the excluded one.
  topics.publish("room", "second");
  assert.deepEqual(await take(pairs[1].client, 1), ["second"]);
  await dispose(...pairs.flatMap(({ server, client }) => [server, client]));
});

Deno.test("Topics.publish() encodes the frame once for all subscribers", async () => {
  const topics = new Topics();
  const pairs = Array.from({ length: 3 }, connPair);
  const given: unknown[] = [];
  for (const { server } of pairs) {
    const send = server.send.bind(server);
    server.send = (data, options) => {
      given.push(data);
      return send(data, options);
    };
    topics.subscribe(server, "t");
  }
  topics.publish("t", "once");
  assert.equal(given.length, 3);
  assert.ok(given[0] instanceof PreparedMessage);
  assert.ok(given.every((message) => message === given[0]));
  await dispose(...pairs.flatMap(({ server, client }) => [server, client]));
});

Deno.test("Topics.publish() passes compress: false to the connections", async () => {
  const topics = new Topics({ compress: false });
  const { server, client } = connPair();
  const options: unknown[] = [];
  const send = server.send.bind(server);
  server.send = (data, option) => {
    options.push(option);
    return send(data, option);
  };
  topics.subscribe(server, "t");
  topics.publish("t", "a");
  topics.publish("t", "b", { compress: true });
  assert.deepEqual(options, [{ compress: false }, undefined]);
  await dispose(server, client);
});

Deno.test("Topics.unsubscribe() and a closed connection end subscriptions", async () => {
  const topics = new Topics();
  const a = connPair();
  const b = connPair();
  topics.subscribe(a.server, "x");
  topics.subscribe(a.server, "y");
  topics.subscribe(b.server, "x");
  assert.equal(topics.unsubscribe(a.server, "x"), true);
  assert.equal(topics.unsubscribe(a.server, "x"), false);
  assert.deepEqual([...topics.subscribers("x")], [b.server]);
  assert.deepEqual(topics.topics.sort(), ["x", "y"]);

  a.client.abort();
  await a.server.closed;
  assert.equal(topics.topicsOf(a.server).size, 0);
  assert.deepEqual(topics.topics, ["x"]);
  await dispose(a.server, b.server, b.client);
  assert.deepEqual(topics.topics, []);
});

Deno.test("Topics.publish() to a closing subscriber leaves no rejection unhandled", async () => {
  const topics = new Topics();
  const { server, client } = connPair();
  const open = connPair();
  topics.subscribe(server, "t");
  topics.subscribe(open.server, "t");
  const closing = server.close(1000);
  // Still subscribed until it has closed; its send rejects, and a rejection
  // nobody handled would fail this test.
  assert.equal(topics.publish("t", "late"), 2);
  assert.deepEqual(await take(open.client, 1), ["late"]);
  for await (const _ of client) { /* until closed */ }
  await closing;
  await dispose(open.server, open.client);
});

Deno.test("Topics with slowPolicy skip leaves a stalled subscriber behind, bounded", async () => {
  const skipped: string[] = [];
  const topics = new Topics({
    maxBufferedBytes: 4096,
    onSlow: (_conn, topic, action) => skipped.push(`${topic}:${action}`),
  });
  const stalled = stalledConn(1024);
  const fast = connPair();
  topics.subscribe(stalled.server, "t");
  topics.subscribe(fast.server, "t");
  const message = "m".repeat(1000);
  // A reader that keeps up stays under the bound.
  for (let i = 0; i < 100; i++) {
    topics.publish("t", message);
    assert.deepEqual(await take(fast.client, 1), [message]);
  }
  assert.ok(skipped.length > 80, `skipped ${skipped.length}`);
  assert.equal(skipped[0], "t:skip");
  // At most one message past the bound waits for the stalled reader.
  assert.ok(stalled.server.bufferedAmount <= 4096 + 1004);
  assert.equal(topics.subscriberCount("t"), 2);

  // In one turn, the bound holds too: bytes given but not yet taken by
  // the connection's writer count.
  const burst = stalledConn(1024);
  topics.subscribe(burst.server, "burst");
  for (let i = 0; i < 100; i++) topics.publish("burst", message);
  assert.equal(skipped.filter((s) => s === "burst:skip").length, 95);
  burst.peer.close();
  stalled.peer.close();
  await dispose(burst.server);
  await dispose(stalled.server, fast.server, fast.client);
});

Deno.test("Topics with slowPolicy close closes a stalled subscriber with the code", async () => {
  const slow: string[] = [];
  const topics = new Topics({
    maxBufferedBytes: 2048,
    slowPolicy: "close",
    closeCode: 1013,
    onSlow: (_conn, _topic, action) => slow.push(action),
  });
  const stalled = stalledConn(1024);
  const closes: unknown[] = [];
  const close = stalled.server.close.bind(stalled.server);
  stalled.server.close = (code, reason) => {
    closes.push([code, reason]);
    return close(code, reason);
  };
  const fast = connPair();
  topics.subscribe(stalled.server, "t");
  topics.subscribe(stalled.server, "u");
  topics.subscribe(fast.server, "t");
  for (let i = 0; i < 20; i++) {
    topics.publish("t", "m".repeat(1000));
    assert.equal((await take(fast.client, 1)).length, 1);
  }
  assert.deepEqual(slow, ["close"]);
  assert.deepEqual(closes, [[1013, "Too slow to keep up"]]);
  assert.equal(topics.topicsOf(stalled.server).size, 0);
  assert.deepEqual(topics.topics, ["t"]);
  stalled.peer.close();
  await dispose(stalled.server, fast.server, fast.client);
});

Deno.test("Topics checks its options and arguments", () => {
  assert.throws(() => new Topics({ maxBufferedBytes: -1 }), RangeError);
  assert.throws(
    () => new Topics({ slowPolicy: "drop" as "skip" }),
    TypeError,
  );
  assert.throws(() => new Topics({ closeCode: 1000 as 1008 }), RangeError);
  const topics = new Topics();
  assert.throws(() => topics.publish("t", 5 as unknown as string), TypeError);
  topics.close();
  assert.throws(() => topics.publish("t", "x"), TypeError);
});

Deno.test("Topics joined by a bus deliver across hubs, once, without echo", async () => {
  const busA = new LocalBus({ nodeId: "a" });
  const busB = new LocalBus({ nodeId: "b", group: busA.group });
  const hubA = new Topics({ bus: busA });
  const hubB = new Topics({ bus: busB });
  const a = connPair();
  const b = connPair();
  await hubA.subscribe(a.server, "room");
  await hubB.subscribe(b.server, "room");
  assert.deepEqual(busA.topics, ["room"]);

  hubA.publish("room", "from a");
  hubB.publish("room", "from b");
  assert.deepEqual(await take(a.client, 2), ["from a", "from b"]);
  assert.deepEqual(await take(b.client, 2), ["from b", "from a"]);
  assert.equal(busA.stats.delivered, 1);
  assert.equal(busB.stats.delivered, 1);

  // The last local subscriber gone, the hub leaves the topic on the bus.
  hubB.unsubscribe(b.server, "room");
  assert.deepEqual(busB.topics, []);
  hubA.publish("room", "again");
  await Promise.resolve();
  assert.equal(busB.stats.delivered, 1);

  hubA.close();
  hubB.close();
  await busA.close();
  await busB.close();
  await dispose(a.server, a.client, b.server, b.client);
});
