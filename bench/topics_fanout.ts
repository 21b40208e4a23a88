// One publish to many subscribers in one process: the time from
// `publish()` to the last subscriber's bytes handed to its transport, and
// the effect of one stalled subscriber on the others.
//
//   deno run -A bench/topics_fanout.ts [--subscribers 10000] [--size 64] [--repeats 50]
//
// Subscribers are server-side `Conn`s over sink transports (see
// topics_sink.ts): the whole send path (frame, write queue, write) runs,
// without the kernel's socket copy.

import { cpuUsage } from "node:process";
import { Topics } from "../fanout/topics.ts";
import { percentile, sinkConn, SinkCounter } from "./topics_sink.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const SUBSCRIBERS = flag("subscribers", 10_000);
const SIZE = flag("size", 64);
const REPEATS = flag("repeats", 50);
const payload = "x".repeat(SIZE);

async function run(stalled: number, maxBufferedBytes: number): Promise<{
  publish: number[];
  written: number[];
  stalledBuffered: number;
  skipped: number;
  cpu: number;
}> {
  const counter = new SinkCounter();
  let skipped = 0;
  const topics = new Topics({
    maxBufferedBytes,
    onSlow: () => skipped++,
  });
  const conns = Array.from(
    { length: SUBSCRIBERS },
    (_, i) => sinkConn(counter, i < stalled),
  );
  for (const conn of conns) topics.subscribe(conn, "t");
  const frame = SIZE + (SIZE < 126 ? 2 : 4);
  const publish: number[] = [];
  const written: number[] = [];
  let cpu = 0;
  for (let r = 0; r < REPEATS + 5; r++) {
    const c0 = cpuUsage();
    const target = counter.bytes + frame * (SUBSCRIBERS - stalled);
    const done = counter.until(target);
    const t0 = performance.now();
    topics.publish("t", payload);
    const t1 = performance.now();
    await done;
    const t2 = performance.now();
    const c1 = cpuUsage(c0);
    if (r >= 5) { // warm-up runs left out
      publish.push(t1 - t0);
      written.push(t2 - t0);
      cpu += (c1.user + c1.system) / 1000;
    }
  }
  const stalledBuffered = stalled > 0
    ? Math.min(REPEATS + 5 - skipped, REPEATS + 5) * frame
    : 0;
  for (const conn of conns) conn.abort();
  await Promise.all(conns.map((conn) => conn.closed));
  topics.close();
  return { publish, written, stalledBuffered, skipped, cpu: cpu / REPEATS };
}

function summary(label: string, times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 0.5).toFixed(2)} ms, ` +
    `p99 ${percentile(sorted, 0.99).toFixed(2)} ms, max ${
      sorted.at(-1)!.toFixed(2)
    } ms`;
}

console.log(
  `${SUBSCRIBERS} subscribers, ${SIZE} B message, ${REPEATS} publishes`,
);
// One unmeasured round first, so that neither measured one pays for
// compiling the path.
await run(0, 64 * 1024);
const base = await run(0, 64 * 1024);
console.log(summary("  publish() call      ", base.publish));
console.log(summary("  written to all      ", base.written));
console.log(
  `  CPU time per publish: ${
    base.cpu.toFixed(2)
  } ms (machine load shows in the wall times above)`,
);
const slow = await run(1, 1024);
console.log("With one stalled subscriber (maxBufferedBytes 1 KiB, skip):");
console.log(summary("  publish() call      ", slow.publish));
console.log(summary("  written to the rest ", slow.written));
console.log(`  CPU time per publish: ${slow.cpu.toFixed(2)} ms`);
console.log(
  `  the stalled one was given ${slow.stalledBuffered} B, then skipped ${slow.skipped} times`,
);
