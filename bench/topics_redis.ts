// Publish-to-delivery latency between two processes over Redis, at a fixed
// publish rate, and a check that nothing is lost, repeated or reordered.
//
//   deno run -A bench/topics_redis.ts [--rate 10000] [--seconds 5] [--size 64] [--redis HOST:PORT]
//
// Without --redis it starts its own redis-server on a free loopback port.
// This process publishes; a second process (this file with --subscriber)
// receives and times each message from its publish() call (the stamp in
// its payload, on the clock both processes share) to its `onMessage`.

import { RedisBus } from "../fanout/bus_redis.ts";
import { RedisServer } from "../tests/_redis.ts";
import { percentile } from "./topics_sink.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const now = () => performance.timeOrigin + performance.now();

async function subscriber(port: number): Promise<void> {
  const bus = new RedisBus({ port });
  await bus.ready;
  const latencies: number[] = [];
  let expected = 1;
  let outOfOrder = 0;
  const done = Promise.withResolvers<void>();
  bus.onMessage = (_topic, payload, meta) => {
    const at = now();
    const bytes = payload as Uint8Array;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint8(8) === 1) { // the end marker
      done.resolve();
      return;
    }
    if (meta.seq !== expected) outOfOrder++;
    expected = meta.seq + 1;
    latencies.push(at - view.getFloat64(0));
  };
  await bus.subscribe("latency");
  console.log("ready");
  await done.promise;
  latencies.sort((a, b) => a - b);
  console.log(JSON.stringify({
    received: latencies.length,
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1),
    outOfOrder,
    missed: bus.stats.missed,
    stale: bus.stats.stale,
  }));
  await bus.close();
}

async function publisher(): Promise<void> {
  const rate = Number(flag("rate", "10000"));
  const seconds = Number(flag("seconds", "5"));
  const size = Math.max(16, Number(flag("size", "64")));
  let server: RedisServer | undefined;
  let port: number;
  const given = flag("redis", "");
  if (given) port = Number(given.split(":").at(-1));
  else {
    server = await RedisServer.start(["--loglevel", "notice"]);
    port = server.port;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--subscriber", String(port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const line = async () => {
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("The subscriber ended");
      text += value;
    }
    const end = text.indexOf("\n");
    const result = text.slice(0, end);
    text = text.slice(end + 1);
    return result;
  };
  const bus = new RedisBus({ port });
  await bus.ready;
  if ((await line()) !== "ready") throw new Error("The subscriber failed");
  const total = rate * seconds;
  const payload = new Uint8Array(size);
  const view = new DataView(payload.buffer);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    // Publishes what is due by now, then yields for about a millisecond.
    const due = Math.min(
      total,
      Math.floor((performance.now() - start) * rate / 1000),
    );
    for (; sent < due; sent++) {
      view.setFloat64(0, now());
      bus.publish("latency", payload);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const elapsed = (performance.now() - start) / 1000;
  view.setUint8(8, 1);
  bus.publish("latency", payload);
  const result = JSON.parse(await line());
  await child.status;
  await lines.cancel();
  await bus.close();
  await server?.[Symbol.asyncDispose]();
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(
    `${total} publishes of ${size} B at ${(total / elapsed).toFixed(0)}/s ` +
      `(target ${rate}/s), one topic, two processes through Redis`,
  );
  console.log(
    `  latency p50 ${ms(result.p50)}, p90 ${ms(result.p90)}, p99 ${
      ms(result.p99)
    }, max ${ms(result.max)}`,
  );
  console.log(
    `  received ${result.received}/${total}, missed ${result.missed}, ` +
      `repeated or late ${result.stale}, out of order ${result.outOfOrder}`,
  );
}

const i = Deno.args.indexOf("--subscriber");
if (i >= 0) await subscriber(Number(Deno.args[i + 1]));
else await publisher();
