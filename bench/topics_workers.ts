// Broadcast deliveries per second with the subscribers spread over one
// worker, then two, their hubs joined by a BroadcastChannel bus.
//
//   deno run -A bench/topics_workers.ts [--subscribers 1000] [--messages 1000] [--size 64] [--repeats 3]
//
// Each worker holds its share of the subscribers (server-side `Conn`s over
// sink transports, see topics_sink.ts) and publishes its share of the
// messages, as if from its own clients; every message reaches every
// subscriber, local ones directly and the other worker's through the bus.
// A run ends when every subscriber has every message; each run measures
// its second round, after one that warms the workers up.

import { cpuUsage } from "node:process";
import { BroadcastChannelBus } from "../fanout/bus_broadcast_channel.ts";
import { Topics } from "../fanout/topics.ts";
import { sinkConn, SinkCounter } from "./topics_sink.ts";

interface Init {
  channel: string;
  subscribers: number;
  messages: number;
  size: number;
}

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
};

async function work(init: Init): Promise<void> {
  const counter = new SinkCounter();
  const bus = new BroadcastChannelBus({ name: init.channel });
  let skipped = 0;
  const topics = new Topics({
    bus,
    maxBufferedBytes: 64 * 1024 * 1024,
    onSlow: () => skipped++,
  });
  const conns = Array.from(
    { length: init.subscribers },
    () => sinkConn(counter),
  );
  await Promise.all(conns.map((conn) => topics.subscribe(conn, "t")));
  scope.onmessage = async (event) => {
    if (event.data === "stop") {
      for (const conn of conns) conn.abort();
      await Promise.all(conns.map((conn) => conn.closed));
      topics.close();
      await bus.close();
      scope.postMessage({ stopped: true });
      return;
    }
    const { total, own } = event.data as { total: number; own: number };
    const frame = init.size + (init.size < 126 ? 2 : 4);
    const done = counter.until(counter.bytes + total * frame * conns.length);
    const payload = "x".repeat(init.size);
    const t0 = performance.now();
    // Publishes in turns of 50, letting writes and the bus run between.
    for (let sent = 0; sent < own;) {
      for (const end = Math.min(own, sent + 50); sent < end; sent++) {
        topics.publish("t", payload);
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await done;
    scope.postMessage({
      ms: performance.now() - t0,
      skipped,
      missed: bus.stats.missed,
      stale: bus.stats.stale,
    });
  };
  scope.postMessage({ ready: true });
}

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

async function run(workers: number): Promise<number> {
  const subscribers = flag("subscribers", 1000);
  const messages = flag("messages", 1000);
  const size = flag("size", 64);
  const channel = `bench-${crypto.randomUUID()}`;
  const pool: Worker[] = [];
  const next: ((data: Record<string, number | boolean>) => void)[] = [];
  const wait = (i: number) =>
    new Promise<Record<string, number | boolean>>((resolve) =>
      next[i] = resolve
    );
  const readies: Promise<unknown>[] = [];
  for (let i = 0; i < workers; i++) {
    const worker = new Worker(import.meta.url, { type: "module" });
    worker.onmessage = (event) => next[i](event.data);
    readies.push(wait(i));
    worker.postMessage(
      {
        channel,
        subscribers: subscribers / workers,
        messages,
        size,
      } satisfies Init,
    );
    pool.push(worker);
  }
  await Promise.all(readies);
  // One unmeasured round first: each worker is a fresh isolate, and a cold
  // one spends the first round compiling.
  const round = async () => {
    const results = pool.map((_, i) => wait(i));
    pool.forEach((worker) =>
      worker.postMessage({ total: messages, own: messages / workers })
    );
    return await Promise.all(results);
  };
  await round();
  const cpu0 = cpuUsage();
  const done = await round();
  const cpu = cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const ms = Math.max(...done.map((d) => d.ms as number));
  const faults = done.reduce(
    (n, d) =>
      n + (d.skipped as number) + (d.missed as number) + (d.stale as number),
    0,
  );
  const stopped = pool.map((_, i) => wait(i));
  pool.forEach((worker) => worker.postMessage("stop"));
  await Promise.all(stopped);
  pool.forEach((worker) => worker.terminate());
  const rate = messages * subscribers / (ms / 1000);
  console.log(
    `  ${workers} worker(s): ${messages} x ${subscribers} deliveries in ${
      ms.toFixed(0)
    } ms = ${(rate / 1e6).toFixed(2)} M/s; process CPU ${
      cpuMs.toFixed(0)
    } ms, ${
      (cpuMs * 1000 / (messages * subscribers)).toFixed(2)
    } µs per delivery (skipped, missed or stale: ${faults})`,
  );
  return rate;
}

if ("WorkerGlobalScope" in globalThis) {
  scope.onmessage = (event) => work(event.data as Init);
} else {
  const repeats = flag("repeats", 3);
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < repeats; r++) {
    one.push(await run(1));
    two.push(await run(2));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  console.log(
    `median: 1 worker ${(median(one) / 1e6).toFixed(2)} M/s, 2 workers ${
      (median(two) / 1e6).toFixed(2)
    } M/s, ratio ${
      (median(two) / median(one)).toFixed(2)
    }x (cores: ${navigator.hardwareConcurrency})`,
  );
}
