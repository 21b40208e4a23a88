import assert from "node:assert/strict";
import {
  BusBase,
  type BusGap,
  decodeEnvelope,
  encodeEnvelope,
  LocalBus,
} from "../fanout/bus.ts";
import { BroadcastChannelBus } from "../fanout/bus_broadcast_channel.ts";
import { dial } from "../client.ts";
import type { Conn } from "../conn.ts";
import { take } from "./_topics.ts";

/** A bus whose wire is the test: it records what it sends and joins. */
class WireBus extends BusBase {
  sent: [string, Uint8Array][] = [];
  log: string[] = [];
  feed(topic: string, envelope: Uint8Array): void {
    this.receive(topic, envelope);
  }
  lose(): void {
    this.reportGap();
  }
  protected transmit(topic: string, envelope: Uint8Array): void {
    this.sent.push([topic, envelope]);
  }
  protected override join(topic: string): Promise<void> {
    this.log.push(`join ${topic}`);
    return Promise.resolve();
  }
  protected override leave(topic: string): Promise<void> {
    this.log.push(`leave ${topic}`);
    return Promise.resolve();
  }
  protected shutdown(): Promise<void> {
    this.log.push("shutdown");
    return Promise.resolve();
  }
}

Deno.test("encodeEnvelope() and decodeEnvelope() round-trip text and binary", () => {
  assert.deepEqual(decodeEnvelope(encodeEnvelope("node", 1, "héllo")), {
    origin: "node",
    seq: 1,
    payload: "héllo",
  });
  const bytes = new Uint8Array([0, 1, 255]);
  const envelope = encodeEnvelope("n", 2 ** 40, bytes);
  assert.deepEqual(decodeEnvelope(envelope), {
    origin: "n",
    seq: 2 ** 40,
    payload: bytes,
  });
  assert.equal(decodeEnvelope(new Uint8Array(0)), undefined);
  assert.equal(decodeEnvelope(envelope.subarray(0, 8)), undefined);
  const bad = envelope.slice();
  bad[0] = 2; // another version
  assert.equal(decodeEnvelope(bad), undefined);
  assert.equal(decodeEnvelope(encodeEnvelope("n", 0, "x")), undefined);
  assert.throws(() => encodeEnvelope("x".repeat(256), 1, ""), RangeError);
});

Deno.test("BusBase counts references per topic", async () => {
  const bus = new WireBus();
  await bus.subscribe("a");
  await bus.subscribe("a");
  await bus.subscribe("b");
  await bus.unsubscribe("a");
  assert.deepEqual(bus.log, ["join a", "join b"]);
  await bus.unsubscribe("a");
  await bus.unsubscribe("a"); // one too many: nothing
  assert.deepEqual(bus.log, ["join a", "join b", "leave a"]);
  assert.deepEqual(bus.topics, ["b"]);
  await bus.close();
  await bus.close();
  assert.deepEqual(bus.log, ["join a", "join b", "leave a", "shutdown"]);
});

Deno.test("BusBase numbers messages per topic and drops its own", async () => {
  const bus = new WireBus({ nodeId: "me" });
  const got: unknown[] = [];
  bus.onMessage = (topic, payload, meta) => got.push([topic, payload, meta]);
  await bus.subscribe("t");
  bus.publish("t", "a");
  bus.publish("t", "b");
  bus.publish("u", "c");
  assert.deepEqual(
    bus.sent.map(([topic, e]) => [topic, decodeEnvelope(e)?.seq]),
    [["t", 1], ["t", 2], ["u", 1]],
  );
  bus.feed("t", bus.sent[0][1]); // our own, come back
  assert.deepEqual(got, []);
  assert.equal(bus.stats.published, 3);
  await bus.close();
});

Deno.test("BusBase reports gaps and drops duplicates and late messages", async () => {
  const bus = new WireBus({ nodeId: "me" });
  const got: string[] = [];
  const gaps: BusGap[] = [];
  bus.onMessage = (_topic, payload, meta) =>
    got.push(`${meta.origin}:${meta.seq}:${payload}`);
  bus.onGap = (gap) => gaps.push(gap);
  bus.feed("t", encodeEnvelope("p", 1, "early")); // not subscribed: dropped
  await bus.subscribe("t");
  bus.feed("t", encodeEnvelope("p", 5, "a")); // joined mid-stream: no gap
  bus.feed("t", encodeEnvelope("p", 6, "b"));
  bus.feed("t", encodeEnvelope("p", 6, "b")); // duplicate
  bus.feed("t", encodeEnvelope("q", 1, "x")); // another publisher
  bus.feed("t", encodeEnvelope("p", 9, "c")); // 7 and 8 lost
  bus.feed("t", encodeEnvelope("p", 8, "late")); // reordered: dropped
  bus.feed("t", new Uint8Array([1, 2, 3]));
  assert.deepEqual(got, ["p:5:a", "p:6:b", "q:1:x", "p:9:c"]);
  assert.deepEqual(gaps, [{
    topic: "t",
    reason: "sequence",
    origin: "p",
    missed: 2,
  }]);
  assert.deepEqual(
    { ...bus.stats },
    { published: 0, delivered: 4, missed: 2, stale: 2, malformed: 1 },
  );
  // After a reconnect every topic reports a gap, and counts start anew.
  bus.lose();
  assert.deepEqual(gaps[1], { topic: "t", reason: "reconnect" });
  bus.feed("t", encodeEnvelope("p", 3, "restarted"));
  assert.equal(got.at(-1), "p:3:restarted");
  await bus.close();
});

Deno.test("LocalBus delivers many messages in order, none lost or repeated", async () => {
  const a = new LocalBus();
  const b = new LocalBus({ group: a.group });
  const c = new LocalBus({ group: a.group });
  const seqs: number[] = [];
  b.onMessage = (_topic, payload, meta) => {
    assert.equal(payload, `m${meta.seq}`);
    seqs.push(meta.seq);
  };
  let heardByC = 0;
  c.onMessage = () => heardByC++;
  await b.subscribe("t");
  await c.subscribe("other");
  for (let i = 1; i <= 10_000; i++) a.publish("t", `m${i}`);
  await Promise.resolve();
  assert.equal(seqs.length, 10_000);
  assert.ok(seqs.every((seq, i) => seq === i + 1));
  assert.equal(heardByC, 0);
  await Promise.all([a.close(), b.close(), c.close()]);
  a.publish("t", "after close"); // ignored
});

Deno.test("BroadcastChannelBus joins buses of one thread, in order", async () => {
  const name = `test-${crypto.randomUUID()}`;
  const a = new BroadcastChannelBus({ name, nodeId: "a" });
  const b = new BroadcastChannelBus({ name, nodeId: "b" });
  const done = Promise.withResolvers<void>();
  const got: unknown[] = [];
  b.onMessage = (topic, payload, meta) => {
    got.push([topic, payload, meta.origin, meta.seq]);
    if (got.length === 1000) done.resolve();
  };
  await b.subscribe("t");
  a.publish("nobody", "dropped by b");
  for (let i = 1; i <= 999; i++) a.publish("t", `m${i}`);
  a.publish("t", new Uint8Array([1, 2]));
  await done.promise;
  assert.deepEqual(got[0], ["t", "m1", "a", 1]);
  assert.deepEqual(got[999], ["t", new Uint8Array([1, 2]), "a", 1000]);
  assert.ok(got.every((m, i) => (m as unknown[])[3] === i + 1));
  assert.equal(b.stats.missed + b.stats.stale, 0);
  await a.close();
  await b.close();
});

/** A worker of tests/_topics_worker.ts, once it listens. */
async function startWorker(
  id: number,
  channel: string,
): Promise<{ worker: Worker; port: number; stop(): Promise<void> }> {
  const worker = new Worker(
    new URL("./_topics_worker.ts", import.meta.url),
    { type: "module" },
  );
  const ready = Promise.withResolvers<number>();
  const stopped = Promise.withResolvers<void>();
  worker.onmessage = (event) => {
    if (event.data === "stopped") stopped.resolve();
    else ready.resolve(event.data.port);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    ready.reject(new Error(event.message));
    stopped.reject(new Error(event.message));
  };
  worker.postMessage({ id, channel });
  const port = await ready.promise;
  return {
    worker,
    port,
    async stop() {
      worker.postMessage("stop");
      await stopped.promise;
      worker.terminate();
    },
  };
}

Deno.test("BroadcastChannelBus joins the hubs of two workers", async () => {
  const channel = `test-${crypto.randomUUID()}`;
  // One after the other: the second finds its module graph type-checked.
  const workers = [
    await startWorker(1, channel),
    await startWorker(2, channel),
  ];
  const clients: Conn[] = [];
  try {
    for (const { port } of workers) {
      clients.push(await dial(`ws://127.0.0.1:${port}/`));
    }
    assert.deepEqual(await take(clients[0], 1), ["worker:1"]);
    assert.deepEqual(await take(clients[1], 1), ["worker:2"]);
    await clients[0].send("from 1");
    assert.deepEqual(await take(clients[0], 1), ["from 1"]);
    assert.deepEqual(await take(clients[1], 1), ["from 1"]);
    await clients[1].send("from 2");
    assert.deepEqual(await take(clients[1], 1), ["from 2"]);
    assert.deepEqual(await take(clients[0], 1), ["from 2"]);
  } finally {
    for (const client of clients) client.abort();
    await Promise.all(clients.map((client) => client.closed));
    await Promise.all(workers.map((worker) => worker.stop()));
  }
});

/** Reads lines from a stream. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<{
  line: string;
  rest: ReadableStreamDefaultReader<string>;
}> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Ended before a line: ${text}`);
    text += value;
  }
  return { line: text.slice(0, text.indexOf("\n")), rest: reader };
}

Deno.test("examples/chat_workers.ts: workers share a port and one room", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      "--allow-read",
      new URL("../examples/chat_workers.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--workers",
      "2",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const clients: Conn[] = [];
  let rest: ReadableStreamDefaultReader<string> | undefined;
  try {
    const first = await firstLine(child.stdout);
    rest = first.rest;
    const match = /^Chat on http:\/\/127\.0\.0\.1:(\d+)\/ \(2 workers\)$/
      .exec(first.line);
    assert.ok(match, first.line);
    // The kernel spreads connections by a hash of their addresses: dial
    // until both workers hold one (the odds of 40 on one: 2^-39).
    const byWorker = new Map<string, Conn>();
    for (let i = 0; i < 40 && byWorker.size < 2; i++) {
      const conn = await dial(`ws://127.0.0.1:${match[1]}/ws`);
      clients.push(conn);
      const [welcome] = await take(conn, 1);
      const { type, name } = JSON.parse(welcome as string);
      assert.equal(type, "welcome");
      const worker = /^(w\d)-guest-\d+$/.exec(name)![1];
      if (!byWorker.has(worker)) byWorker.set(worker, conn);
    }
    assert.deepEqual([...byWorker.keys()].sort(), ["w1", "w2"]);
    const sender = byWorker.get("w1")!;
    const receiver = byWorker.get("w2")!;
    await sender.send("hello across workers");
    for (;;) {
      const [message] = await take(receiver, 1);
      const event = JSON.parse(message as string);
      if (event.type !== "message") continue;
      assert.equal(event.text, "hello across workers");
      assert.match(event.name, /^w1-guest-/);
      break;
    }
  } finally {
    for (const client of clients) client.abort();
    await Promise.all(clients.map((client) => client.closed));
    child.kill();
    await child.status;
    await rest?.cancel();
    await stderr;
  }
});
