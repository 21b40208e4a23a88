// The reports of bench/topics_workers_native.ts: a line per run, a table
// per layout.

/** Where the server and the generator may run. */
export interface Layout {
  title: string;
  /** The server's cores for `taskset -c`; unpinned without. */
  server?: string;
  /** The generator's cores, likewise. */
  generator?: string;
}

/** The runner's settings the reports quote. */
export interface Settings {
  repeats: number;
  /** The measured window, in milliseconds. */
  duration: number;
  subscribers: number;
}

/** What the generator's fanout mode reports beyond its rates. */
export interface Detail {
  lost: number;
  reordered: number;
  incomplete: number;
  badFrames: number;
  reads: number;
  sent: number;
  subscribers: Record<string, number>;
  publishers: Record<string, number>;
  threads: Record<string, number>;
  /** The measured window, in milliseconds since the epoch. */
  window: [number, number];
  perf?: Record<string, number>;
  server: { workers: Record<string, number>[] } | string;
}

/** The workers' GC pauses in the measured window, from --trace-gc. */
export interface GcPauses {
  count: number;
  pauseMs: number;
}

/** One run: a layout, a worker count, a repeat. */
export interface Run {
  layout: string;
  workers: number;
  repeat: number;
  rate: number;
  cpu: { driver: number; server: number; other: number };
  detail: Detail;
  /** Per worker thread, in order. */
  workerThreads: number[];
  /** V8's helper threads (concurrent and parallel GC, compilers). */
  helpers: number;
  gc?: GcPauses;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function spread(values: number[], digits = 2, scale = 1): string {
  const f = (v: number) => (v * scale).toFixed(digits);
  const med = f(median(values));
  return values.length === 1
    ? med
    : `${med} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

/** A count summed over the workers' /stats. */
function serverCount(run: Run, field: string): number {
  const workers = typeof run.detail.server === "string"
    ? []
    : run.detail.server.workers;
  return workers.reduce((n, w) => n + (w[field] ?? 0), 0);
}

function faults(run: Run): number {
  return run.detail.lost + run.detail.reordered + run.detail.incomplete +
    run.detail.badFrames + serverCount(run, "skipped") +
    serverCount(run, "busMissed") + serverCount(run, "busStale");
}

/** Deliveries per socket write of the server, with --perf. */
function perWrite(run: Run, settings: Settings): number | undefined {
  const writes = run.detail.perf?.["syscalls:sys_enter_sendto"];
  return writes ? run.rate * settings.duration / 1000 / writes : undefined;
}

/** One run's line. */
export function describe(run: Run, settings: Settings): string {
  const d = run.detail;
  const writes = perWrite(run, settings);
  const perf = writes === undefined
    ? ""
    : `; ${writes.toFixed(1)} deliveries per server write, ${
      (d.perf!["context-switches"] / (settings.duration / 1000)).toFixed(0)
    } server context switches/s`;
  const perWorker = (r: Record<string, number>) =>
    Object.keys(r).sort().map((k) => `${k} ${r[k]}`).join(", ");
  const gc = run.gc
    ? `; GC in the window: ${run.gc.count} pauses, ${
      run.gc.pauseMs.toFixed(0)
    } ms (${
      (run.gc.pauseMs / settings.duration / run.workers * 100).toFixed(0)
    }% of the workers' time), ${
      (run.gc.pauseMs * 1000 / (run.rate * settings.duration / 1000)).toFixed(3)
    } µs per delivery`
    : "";
  return `[${run.layout} ${run.repeat}/${settings.repeats}] ${run.workers} worker(s): ${
    (run.rate / 1e3).toFixed(0)
  }k deliveries/s; cpu server ${run.cpu.server.toFixed(2)} (workers ${
    run.workerThreads.map((v) => v.toFixed(2)).join(" + ")
  }, V8 helpers ${run.helpers.toFixed(2)}), generator ${
    run.cpu.driver.toFixed(2)
  }, other ${run.cpu.other.toFixed(2)}; ${
    (d.sent * settings.subscribers / d.reads).toFixed(1)
  } deliveries per read; subscribers ${perWorker(d.subscribers)}; publishers ${
    perWorker(d.publishers)
  }; lost ${d.lost}, reordered ${d.reordered}, incomplete ${d.incomplete}, skipped as slow ${
    serverCount(run, "skipped")
  }, missed by the bus ${serverCount(run, "busMissed")}, all faults ${
    faults(run)
  }${gc}${perf}`;
}

// Which side set the pace: worker threads that used 85% of a core each,
// a generator that used 85% of the one core it was pinned to, or a machine
// whose two cores were 90% busy.
function saturated(runs: Run[], layout: Layout): string {
  const labels = [];
  if (median(runs.map((r) => Math.min(...r.workerThreads))) >= 0.85) {
    labels.push("worker threads");
  }
  if (layout.generator && median(runs.map((r) => r.cpu.driver)) >= 0.85) {
    labels.push("generator");
  }
  if (layout.server === "0" && median(runs.map((r) => r.cpu.server)) >= 0.85) {
    labels.push("server's core");
  }
  const busy = median(
    runs.map((r) => r.cpu.driver + r.cpu.server + r.cpu.other),
  );
  if (busy >= 1.8) labels.push(`machine (${(busy * 50).toFixed(0)}% busy)`);
  return labels.length ? labels.join(", ") : "none";
}

/** A layout's table: one worker, two, and their ratio. */
export function table(
  layout: Layout,
  runs: Run[],
  settings: Settings,
): string[] {
  const lines = [
    `${layout.title}:`,
    "",
    "| workers | deliveries/s | server CPU | worker threads | V8 helpers | generator CPU | other load | server µs/delivery | generator µs/delivery | deliveries per server write | faults | saturated |",
    "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const workers of [1, 2]) {
    const mine = runs.filter((r) => r.workers === workers);
    if (mine.length === 0) continue;
    const threads = Array.from(
      { length: workers },
      (_, i) => median(mine.map((r) => r.workerThreads[i])).toFixed(2),
    ).join(" + ");
    lines.push(
      `| ${workers} | ${spread(mine.map((r) => r.rate), 0)} | ${
        spread(mine.map((r) => r.cpu.server))
      } | ${threads} | ${spread(mine.map((r) => r.helpers))} | ${
        spread(mine.map((r) => r.cpu.driver))
      } | ${spread(mine.map((r) => r.cpu.other))} | ${
        spread(mine.map((r) => r.cpu.server / r.rate), 2, 1e6)
      } | ${spread(mine.map((r) => r.cpu.driver / r.rate), 2, 1e6)} | ${
        mine.every((r) => perWrite(r, settings) !== undefined)
          ? spread(mine.map((r) => perWrite(r, settings)!), 1)
          : "—"
      } | ${mine.reduce((n, r) => n + faults(r), 0)} | ${
        saturated(mine, layout)
      } |`,
    );
  }
  const pairs = runs.filter((r) => r.workers === 2).flatMap((two) => {
    const one = runs.find((r) => r.workers === 1 && r.repeat === two.repeat);
    return one ? [two.rate / one.rate] : [];
  });
  if (pairs.length > 0) {
    const one = median(runs.filter((r) => r.workers === 1).map((r) => r.rate));
    const two = median(runs.filter((r) => r.workers === 2).map((r) => r.rate));
    lines.push(
      "",
      `Ratio 2 workers / 1: ${(two / one).toFixed(2)}x of the medians; ` +
        `per repeat ${spread(pairs)}x.`,
    );
  }
  return lines;
}
