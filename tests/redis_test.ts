import assert from "node:assert/strict";
import {
  encodeCommand,
  RespClient,
  RespError,
  RespParser,
  RespPush,
  type RespValue,
} from "../fanout/_resp.ts";
import type { BusGap } from "../fanout/bus.ts";
import { RedisBus } from "../fanout/bus_redis.ts";
import { dial } from "../client.ts";
import type { Conn } from "../conn.ts";
import { everySplit, mulberry32 } from "./_util.ts";
import { take } from "./_topics.ts";
import { RedisCluster, RedisServer, within } from "./_redis.ts";
import { keySlot } from "../fanout/_cluster_slot.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

function parseAll(chunks: Uint8Array[]): RespValue[] {
  const parser = new RespParser();
  const out: RespValue[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let item = parser.next(); item; item = parser.next()) {
      out.push(item.value);
    }
  }
  return out;
}

Deno.test("RespParser reads RESP2 and RESP3 values split anywhere", () => {
  const wire = bytes(
    "+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n" +
      "*-1\r\n_\r\n,1.5\r\n#t\r\n(12345678901234567890\r\n!3\r\nERR\r\n" +
      "=7\r\ntxt:abc\r\n%1\r\n+k\r\n:2\r\n~1\r\n:3\r\n" +
      ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\n\x00\x7f\r\n" +
      "|1\r\n+ttl\r\n:9\r\n+after-attribute\r\n",
  );
  const expected: RespValue[] = [
    "OK",
    new RespError("ERR bad"),
    42,
    bytes("he\r\no"),
    null,
    [1, new Uint8Array(0)],
    null,
    null,
    1.5,
    true,
    12345678901234567890n,
    new RespError("ERR"),
    "abc",
    new Map([["k", 2]]),
    [3],
  ];
  for (const chunks of everySplit(wire)) {
    const values = parseAll(chunks);
    assert.equal(values.length, expected.length + 2);
    values.slice(0, expected.length).forEach((value, i) => {
      if (value instanceof RespError) {
        assert.equal(value.message, (expected[i] as RespError).message);
      } else assert.deepEqual(value, expected[i]);
    });
    const push = values[expected.length];
    assert.ok(push instanceof RespPush);
    assert.deepEqual(push.data, [
      bytes("message"),
      bytes("c"),
      new Uint8Array([0, 0x7f]),
    ]);
    assert.equal(values.at(-1), "after-attribute");
  }
  assert.throws(() => parseAll([bytes("?x\r\n")]), TypeError);
  assert.throws(() => parseAll([bytes("+no cr\n")]), TypeError);
});

Deno.test("encodeCommand() writes an array of bulk strings", () => {
  assert.equal(
    new TextDecoder().decode(
      encodeCommand(["SET", "k", 12, new Uint8Array([0x61])]),
    ),
    "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$1\r\na\r\n",
  );
});

Deno.test("RespClient pipelines commands to a real server, RESP3 and RESP2", async () => {
  await using server = await RedisServer.start();
  for (const protocol of [3, 2] as const) {
    const client = await RespClient.connect({ port: server.port, protocol });
    const replies = await Promise.all(
      Array.from({ length: 1000 }, () => client.command(["INCR", "n"])),
    );
    assert.deepEqual(replies.at(-1), protocol === 3 ? 1000 : 2000);
    assert.ok(
      replies.every((r, i) => r === (protocol === 3 ? i + 1 : 1001 + i)),
    );
    const binary = new Uint8Array([0, 13, 10, 255]);
    assert.equal(await client.command(["SET", "b", binary]), "OK");
    assert.deepEqual(await client.command(["GET", "b"]), binary);
    const error = await client.command(["NOSUCHCOMMAND"]);
    assert.ok(error instanceof RespError);
    assert.match(error.message, /^ERR unknown command/);
    const hello = await client.command(["HELLO"]);
    assert.equal(
      hello instanceof Map ? hello.get("proto") : (hello as RespValue[])[5],
      protocol,
    );
    client.close();
    await client.closed;
    await assert.rejects(client.command(["PING"]));
  }
});

/** A bus on the test server, connected. */
async function bus(
  port: number,
  options: ConstructorParameters<typeof RedisBus>[0] = {},
): Promise<RedisBus> {
  const random = mulberry32(7);
  const result = new RedisBus({ port, random, ...options });
  await result.ready;
  return result;
}

Deno.test("RedisBus delivers 10,000 messages in order, none lost or repeated", async () => {
  await using server = await RedisServer.start();
  for (const protocol of [3, 2] as const) {
    const a = await bus(server.port, { nodeId: "a", protocol });
    const b = await bus(server.port, { nodeId: "b", protocol });
    const seqs: number[] = [];
    const done = Promise.withResolvers<void>();
    let binary: unknown;
    b.onMessage = (topic, payload, meta) => {
      assert.equal(topic, "t");
      if (meta.seq === 10_001) {
        binary = payload;
        done.resolve();
      } else {
        assert.equal(payload, `m${meta.seq}`);
        seqs.push(meta.seq);
      }
    };
    await b.subscribe("t");
    await a.subscribe("t"); // its own messages must not come back
    let echoed = 0;
    a.onMessage = () => echoed++;
    for (let i = 1; i <= 10_000; i++) a.publish("t", `m${i}`);
    a.publish("t", new Uint8Array([1, 0, 2]));
    await within(done.promise, 10_000, "10,000 messages");
    assert.equal(seqs.length, 10_000);
    assert.ok(seqs.every((seq, i) => seq === i + 1));
    assert.deepEqual(binary, new Uint8Array([1, 0, 2]));
    assert.equal(echoed, 0);
    assert.deepEqual(
      { ...b.stats },
      { published: 0, delivered: 10_001, missed: 0, stale: 0, malformed: 0 },
    );
    await a.close();
    await b.close();
  }
});

Deno.test("RedisBus subscribes once per topic however many references", async () => {
  await using server = await RedisServer.start();
  const admin = await RespClient.connect({ port: server.port });
  const numsub = async () =>
    ((await admin.command(["PUBSUB", "NUMSUB", "topics:t"])) as RespValue[])[1];
  const shards = async () =>
    ((await admin.command([
      "PUBSUB",
      "SHARDNUMSUB",
      "topics:s",
    ])) as RespValue[])[1];
  const a = await bus(server.port);
  const b = await bus(server.port, { sharded: true });
  try {
    await a.subscribe("t");
    await a.subscribe("t");
    await b.subscribe("s");
    assert.equal(await numsub(), 1);
    assert.equal(await shards(), 1);
    await a.unsubscribe("t");
    // A round trip on the same connection orders after the unsubscribe.
    assert.equal(await numsub(), 1);
    await a.unsubscribe("t");
    await b.unsubscribe("s");
    // Nothing confirms an unsubscribe to a caller; poll the server's view
    // by round trips, not by time.
    for (let i = 0; i < 1000 && (await numsub()) !== 0; i++);
    for (let i = 0; i < 1000 && (await shards()) !== 0; i++);
    assert.equal(await numsub(), 0);
    assert.equal(await shards(), 0);
  } finally {
    await a.close();
    await b.close();
    admin.close();
    await admin.closed;
  }
});

Deno.test("RedisBus reconnects after the server restarts and reports a gap", async () => {
  await using server = await RedisServer.start();
  const a = await bus(server.port, { nodeId: "a" });
  const b = await bus(server.port, { nodeId: "b" });
  const got: string[] = [];
  let next = Promise.withResolvers<void>();
  b.onMessage = (_topic, payload) => {
    got.push(payload as string);
    next.resolve();
  };
  const gaps: BusGap[] = [];
  const gap = Promise.withResolvers<void>();
  b.onGap = (info) => {
    gaps.push(info);
    gap.resolve();
  };
  try {
    await b.subscribe("t");
    a.publish("t", "before");
    await within(next.promise, 5000, "the first message");
    await server.restart();
    await within(gap.promise, 5000, "the gap");
    assert.deepEqual(gaps, [{ topic: "t", reason: "reconnect" }]);
    // Subscribed again once the server confirms; the publisher's queued
    // or later messages then arrive, in order, with no false gap.
    await b.subscribe("t");
    await b.unsubscribe("t");
    next = Promise.withResolvers<void>();
    a.publish("t", "after");
    await within(next.promise, 5000, "a message after the restart");
    assert.deepEqual(got, ["before", "after"]);
    assert.equal(gaps.length, 1);
    assert.ok(b.reconnects >= 1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("RedisBus keeps trying while the server is down and stops on close", async () => {
  await using server = await RedisServer.start();
  const errors: unknown[] = [];
  const failing = Promise.withResolvers<void>();
  const a = new RedisBus({
    port: server.port,
    random: mulberry32(1),
    reconnectDelay: 5,
    maxReconnectDelay: 20,
    onError: (error) => {
      if (errors.push(error) === 4) failing.resolve();
    },
  });
  await a.ready;
  await server.kill();
  a.publish("t", "held while down");
  // Failed attempts are reported; wait for a few of them.
  await within(failing.promise, 5000, "four failed attempts");
  await a.close(); // clears the pending retry timer
  assert.ok(errors.length >= 4);
});

/** examples/chat_rooms.ts as a subprocess, once it listens. */
async function chatRooms(redisPort: number): Promise<
  { port: number; stop(): Promise<void> }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      new URL("../examples/chat_rooms.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--redis",
      `127.0.0.1:${redisPort}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const stop = async () => {
    try {
      child.kill();
    } catch {
      // Already gone.
    }
    await child.status;
    await reader.cancel();
    await stderr;
  };
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(`chat_rooms.ts ended: ${await stderr}`);
    }
    text += value;
  }
  const match = /^Chat rooms on http:\/\/127\.0\.0\.1:(\d+)\/\n/.exec(text);
  if (!match) {
    await stop();
    throw new Error(`Unexpected output: ${text}`);
  }
  return { port: Number(match[1]), stop };
}

/** The next JSON event of a type, skipping others. */
async function nextEvent(
  conn: Conn,
  type: string,
): Promise<Record<string, unknown>> {
  for (;;) {
    const [message] = await take(conn, 1);
    const event = JSON.parse(message as string);
    if (event.type === type) return event;
  }
}

Deno.test("examples/chat_rooms.ts: two processes share rooms through Redis", async () => {
  await using server = await RedisServer.start();
  const one = await chatRooms(server.port);
  const two = await chatRooms(server.port);
  const clients: Conn[] = [];
  const join = async (port: number, room: string) => {
    const conn = await dial(`ws://127.0.0.1:${port}/ws?room=${room}`);
    clients.push(conn);
    const welcome = await nextEvent(conn, "welcome");
    assert.equal(welcome.room, room);
    return conn;
  };
  try {
    const alice = await join(one.port, "r1");
    const bob = await join(two.port, "r1");
    const carol = await join(two.port, "r2");
    await alice.send("hello r1");
    const heard = await within(nextEvent(bob, "message"), 5000, "a message");
    assert.equal(heard.text, "hello r1");
    await carol.send("hello r2");
    const own = await within(nextEvent(carol, "message"), 5000, "a message");
    assert.equal(own.text, "hello r2"); // nothing of r1 came first
  } finally {
    for (const client of clients) client.abort();
    await Promise.all(clients.map((client) => client.closed));
    await one.stop();
    await two.stop();
  }
});

Deno.test("RedisBus history returns what a subscriber missed, or says it cannot", async () => {
  await using server = await RedisServer.start();
  for (const protocol of [3, 2] as const) {
    const topic = `h${protocol}`;
    const a = await bus(server.port, { nodeId: "a", history: 100, protocol });
    const b = await bus(server.port, { nodeId: "b", history: 100, protocol });
    const ids: string[] = [];
    let tenth = Promise.withResolvers<void>();
    b.onMessage = (_topic, payload, meta) => {
      assert.equal(payload, `m${meta.seq}`);
      ids.push(meta.id!);
      if (ids.length === 10) tenth.resolve();
    };
    try {
      await b.subscribe(topic);
      for (let i = 1; i <= 10; i++) a.publish(topic, `m${i}`);
      await within(tenth.promise, 5000, "ten messages");
      // Came back after the third: gets the fourth to the tenth.
      const back = await b.history(topic, ids[2]);
      assert.equal(back.complete, true);
      assert.deepEqual(
        back.messages.map((m) => [m.id, m.payload, m.origin, m.seq]),
        ids.slice(3).map((id, i) => [id, `m${i + 4}`, "a", i + 4]),
      );
      const limited = await b.history(topic, ids[2], 3);
      assert.equal(limited.complete, false);
      assert.equal(limited.messages.length, 3);
      assert.deepEqual(await b.history(topic, ids[9]), {
        complete: true,
        messages: [],
      });
      // Far more than the window: the stream is trimmed past the third.
      tenth = Promise.withResolvers<void>();
      b.onMessage = (_topic, _payload, meta) => {
        if (meta.seq === 1010) tenth.resolve();
      };
      for (let i = 11; i <= 1010; i++) a.publish(topic, `m${i}`);
      await within(tenth.promise, 5000, "a thousand messages");
      const late = await b.history(topic, ids[2]);
      assert.equal(late.complete, false);
      assert.ok(late.messages.length >= 100 && late.messages.length < 1000);
      assert.equal(late.messages.at(-1)!.seq, 1010);
      await assert.rejects(b.history(topic, "nonsense"), TypeError);
      assert.deepEqual(await b.history("never-used", "0-0"), {
        complete: false,
        messages: [],
      });
    } finally {
      await a.close();
      await b.close();
    }
  }
});

Deno.test("RedisBus with cluster routes each topic to its slot's node", async () => {
  await using cluster = await RedisCluster.start(3);
  const seed = cluster.nodes[0].port;
  const a = await bus(seed, { nodeId: "a", cluster: true });
  const b = await bus(seed, { nodeId: "b", cluster: true });
  try {
    // Topics on every node: "t0" ... "t29" spread over the three.
    const topics = Array.from({ length: 30 }, (_, i) => `t${i}`);
    const owners = new Set(
      topics.map((t) => Math.floor(keySlot(`topics:${t}`) / 5462)),
    );
    assert.equal(owners.size, 3);
    const got = new Map<string, number[]>();
    let count = 0;
    const all = Promise.withResolvers<void>();
    b.onMessage = (topic, _payload, meta) => {
      got.set(topic, [...(got.get(topic) ?? []), meta.seq]);
      if (++count === topics.length * 100) all.resolve();
    };
    await Promise.all(topics.map((topic) => b.subscribe(topic)));
    for (let i = 0; i < 100; i++) {
      for (const topic of topics) a.publish(topic, `m${i}`);
    }
    await within(all.promise, 10_000, "3000 messages");
    for (const topic of topics) {
      assert.deepEqual(
        got.get(topic),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
    }
    assert.equal(b.stats.missed + b.stats.stale, 0);
    // Each node holds the subscriptions of its own slots only.
    const decode = (bytes: unknown) =>
      new TextDecoder().decode(bytes as Uint8Array);
    const admins = await Promise.all(
      cluster.nodes.map((node) => RespClient.connect({ port: node.port })),
    );
    try {
      const ids: string[] = [];
      for (const admin of admins) {
        const channels = await admin.command(["PUBSUB", "SHARDCHANNELS"]);
        assert.ok((channels as unknown[]).length > 0);
        for (const channel of channels as Uint8Array[]) {
          const slot = await admin.command(["CLUSTER", "KEYSLOT", channel]);
          assert.equal(slot, keySlot(decode(channel)));
        }
        ids.push(decode(await admin.command(["CLUSTER", "MYID"])));
      }

      // Move the slot of "t0" to another node: its subscribers there are
      // dropped, and the bus follows the slot, reporting the gap.
      const slot = keySlot("topics:t0");
      const map = await admins[0].command(["CLUSTER", "SLOTS"]);
      let source = -1;
      for (
        const [start, end, master] of map as [number, number, RespValue[]][]
      ) {
        if (slot >= start && slot <= end) {
          source = cluster.nodes.findIndex((node) => node.port === master[1]);
        }
      }
      assert.ok(source >= 0);
      const target = (source + 1) % 3;
      const gapped = Promise.withResolvers<void>();
      b.onGap = (gap) => {
        if (gap.topic === "t0") gapped.resolve();
      };
      await admins[target].command([
        "CLUSTER",
        "SETSLOT",
        slot,
        "IMPORTING",
        ids[source],
      ]);
      await admins[source].command([
        "CLUSTER",
        "SETSLOT",
        slot,
        "MIGRATING",
        ids[target],
      ]);
      for (const admin of [admins[target], admins[source]]) {
        assert.equal(
          await admin.command([
            "CLUSTER",
            "SETSLOT",
            slot,
            "NODE",
            ids[target],
          ]),
          "OK",
        );
      }
      await within(gapped.promise, 5000, "the gap on t0");
      // Confirmed on its new node.
      await within(b.subscribe("t0"), 5000, "t0 on its new node");
      await b.unsubscribe("t0");
      await a.refresh();
      const moved = Promise.withResolvers<unknown>();
      b.onMessage = (topic, payload) => {
        if (topic === "t0") moved.resolve(payload);
      };
      a.publish("t0", "after the move");
      assert.equal(
        await within(moved.promise, 5000, "t0 moved"),
        "after the move",
      );
      const channels = await admins[target].command([
        "PUBSUB",
        "SHARDCHANNELS",
      ]);
      assert.ok(
        (channels as Uint8Array[]).some((c) => decode(c) === "topics:t0"),
      );
    } finally {
      for (const admin of admins) admin.close();
      await Promise.all(admins.map((admin) => admin.closed));
    }
  } finally {
    await a.close();
    await b.close();
  }
});
