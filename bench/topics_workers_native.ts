// Broadcast deliveries per second from one worker against two, with the
// subscribers real sockets held by bench/loadgen (the Go generator, mode
// fanout) and the server shaped as users run it: bench/servers/
// topics_workers.ts, W workers `serve()`-ing one port with `reusePort`,
// joined by a `BroadcastChannelBus`. For each layout of the processes on
// the cores and each repeat, it runs one worker then two (interleaved),
// each in a fresh server process: dial, warmup, a measured window, then a
// drain in which every subscriber must get every message in order.
//
//   deno run -A bench/topics_workers_native.ts [--subscribers 1000]
//     [--size 64] [--publishers 4] [--inflight 32] [--repeats 3]
//     [--warmup 1000] [--duration 3000] [--layouts free,split,overlap]
//     [--trace-gc] [--perf] [--quiet <cores>] [--json <file>]
//
// --publishers  publishing connections, spread evenly over the workers
// --inflight    messages each publisher keeps undelivered
// --layouts     free: nothing pinned (GOMAXPROCS=2); split: server on core
//               0, generator on core 1; overlap: server on cores 0-1,
//               generator on core 1 (GOMAXPROCS=1 when pinned)
// --trace-gc    runs the server with --v8-flags=--trace-gc and reports the
//               workers' GC pauses within the window (their share of the
//               workers' time, and per delivery)
// --perf        counts the server's socket writes (sendto) and context
//               switches over the window with `perf stat`
// --quiet       before each run, waits (up to a minute) until the rest of
//               the machine uses under this many cores (default 0.3)
//
// Prints each run as it ends, then a table per layout: medians (min–max)
// of deliveries/s, CPU shares of one core over the window (server process,
// its worker threads, its V8 helper threads, generator, everything else on
// the machine from /proc/stat), CPU per delivery, and the ratio of two
// workers to one.
//
// Needs Go and gorilla/websocket; on Debian or Ubuntu:
// `apt-get install golang-go golang-github-gorilla-websocket-dev`.

import {
  buildGenerator,
  machineBusyTicks,
  sleep,
  stopByStdin,
  TICKS_PER_SECOND,
} from "./_wire.ts";
import {
  describe,
  type Detail,
  type GcPauses,
  type Layout,
  type Run,
  type Settings,
  table,
} from "./_topics_workers_report.ts";

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const SUBSCRIBERS = Number(option("subscribers", "1000"));
const SIZE = Number(option("size", "64"));
const PUBLISHERS = Number(option("publishers", "4"));
const INFLIGHT = Number(option("inflight", "32"));
const REPEATS = Number(option("repeats", "3"));
const WARMUP = Number(option("warmup", "1000"));
const DURATION = Number(option("duration", "3000"));
const TRACE_GC = Deno.args.includes("--trace-gc");
const JSON_PATH = option("json", "");
const PERF = Deno.args.includes("--perf");
const QUIET = Number(option("quiet", "0.3"));
const SETTINGS: Settings = {
  repeats: REPEATS,
  duration: DURATION,
  subscribers: SUBSCRIBERS,
};
const PERF_EVENTS = [
  "syscalls:sys_enter_sendto",
  "syscalls:sys_enter_recvfrom",
  "context-switches",
];

const LAYOUTS: Record<string, Layout> = {
  free: { title: "not pinned: both processes on both cores" },
  split: {
    title: "server on core 0, generator on core 1",
    server: "0",
    generator: "1",
  },
  overlap: {
    title: "server on cores 0-1, generator on core 1",
    server: "0,1",
    generator: "1",
  },
};
const layouts = option("layouts", "free,split,overlap").split(",");
for (const name of layouts) {
  if (!(name in LAYOUTS)) throw new TypeError(`Unknown layout ${name}`);
}

const root = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

// Children start through sh to raise their descriptor limit, and through
// taskset when pinned; both exec, so the pid is the child's.
function spawn(cores: string | undefined, args: string[], env = {}) {
  const pin = cores ? `exec taskset -c ${cores} "$0" "$@"` : 'exec "$0" "$@"';
  return new Deno.Command("sh", {
    args: ["-c", `ulimit -n 65536 2>/dev/null; ${pin}`, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

interface Server {
  pid: number;
  port: number;
  tids: number[];
  /** Each worker's `performance.timeOrigin`. */
  origins: number[];
  /** Stops the server; resolves with the lines it printed after starting. */
  stop(): Promise<string[]>;
}

async function startServer(layout: Layout, workers: number): Promise<Server> {
  const child = spawn(layout.server, [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    ...(TRACE_GC ? ["--v8-flags=--trace-gc"] : []),
    `${root}bench/servers/topics_workers.ts`,
    "--workers",
    String(workers),
  ]);
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  const printed: string[] = [];
  let started: Omit<Server, "stop"> | undefined;
  while (started === undefined) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`Server exited early: ${await stderr}`);
    buffered += value;
    let end;
    while (started === undefined && (end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.startsWith("{")) started = JSON.parse(line);
      else printed.push(line);
    }
  }
  const rest = (async () => {
    for (let r = await lines.read(); !r.done; r = await lines.read()) {
      buffered += r.value;
    }
    return [...printed, ...buffered.split("\n")];
  })();
  return {
    ...started,
    async stop() {
      await stopByStdin(child);
      await stderr;
      return await rest;
    },
  };
}

async function runOnce(
  generator: string,
  name: string,
  workers: number,
  repeat: number,
): Promise<Run> {
  const layout = LAYOUTS[name];
  const server = await startServer(layout, workers);
  let out: { metrics: Record<string, number>; cpu: Run["cpu"]; detail: Detail };
  let printed: string[];
  try {
    const child = spawn(layout.generator, [
      generator,
      ...["-mode", "fanout", "-url", `ws://127.0.0.1:${server.port}/`],
      ...["-pid", String(server.pid), "-conns", String(SUBSCRIBERS)],
      ...["-publishers", String(PUBLISHERS), "-workers", String(workers)],
      ...["-inflight", String(INFLIGHT), "-size", String(SIZE)],
      ...["-warmup", `${WARMUP}ms`, "-duration", `${DURATION}ms`],
      ...(PERF ? ["-perf", PERF_EVENTS.join(",")] : []),
    ], { GOMAXPROCS: layout.generator ? "1" : "2" });
    child.stdin.close();
    const { stdout, stderr, code } = await child.output();
    const text = decoder.decode(stdout).trim();
    if (code !== 0 || text === "") {
      throw new Error(`exit ${code}: ${decoder.decode(stderr).slice(-500)}`);
    }
    out = JSON.parse(text.split("\n").at(-1)!);
  } finally {
    printed = await server.stop();
  }
  const threads = Object.entries(out.detail.threads).map((
    [key, value],
  ) => ({ tid: Number(key.split(" ")[0]), name: key.split(" ")[1], value }));
  return {
    layout: name,
    workers,
    repeat,
    rate: out.metrics["deliveries/s"],
    cpu: out.cpu,
    detail: out.detail,
    workerThreads: server.tids.map((tid) =>
      threads.find((t) => t.tid === tid)?.value ?? 0
    ),
    helpers: threads.filter((t) => t.name === "V8")
      .reduce((sum, t) => sum + t.value, 0),
    gc: TRACE_GC
      ? gcPauses(printed, Math.min(...server.origins), out.detail.window)
      : undefined,
  };
}

// --trace-gc lines: "[pid:isolate]  N ms: Scavenge a (b) -> c (d) MB, ...,
// pause / external ms ...", N counted from the isolate's start. The
// workers start within milliseconds of one another, so the first one's
// time origin places every worker's lines (the idle main thread has none
// in the window).
function gcPauses(
  lines: string[],
  origin: number,
  [start, end]: [number, number],
): GcPauses {
  let count = 0;
  let pauseMs = 0;
  for (const line of lines) {
    const match =
      /\]\s+(\d+) ms: (Scavenge|Mark-Compact|Minor Mark-Sweep).*MB, ([\d.]+) \//
        .exec(line);
    if (!match) continue;
    const at = origin + Number(match[1]);
    if (at < start || at > end) continue;
    count++;
    pauseMs += Number(match[3]);
  }
  return { count, pauseMs };
}

// Waits until the rest of the machine is under QUIET cores over a second,
// for at most a minute; says so when it never was.
async function quiet(): Promise<void> {
  for (let tries = 0; tries < 60; tries++) {
    const before = machineBusyTicks();
    await sleep(1000);
    const cores = (machineBusyTicks() - before) / TICKS_PER_SECOND;
    if (cores < QUIET) return;
  }
  console.error(`The machine stayed busier than ${QUIET} cores`);
}

const tmp = await Deno.makeTempDir({ prefix: "ws-topics-native-" });
const runs: Run[] = [];
try {
  const generator = await buildGenerator(tmp);
  console.error(
    `${layouts.length} layout(s) × ${REPEATS} repeat(s) × 1 and 2 workers:` +
      ` ${SUBSCRIBERS} subscribers, ${PUBLISHERS} publishers × ${INFLIGHT} in` +
      ` flight, ${SIZE} B; warmup ${WARMUP} ms, window ${DURATION} ms;` +
      ` ${navigator.hardwareConcurrency} cores`,
  );
  for (const name of layouts) {
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      for (const workers of [1, 2]) {
        await quiet();
        try {
          const run = await runOnce(generator, name, workers, repeat);
          runs.push(run);
          console.error(describe(run, SETTINGS));
        } catch (error) {
          console.error(
            `[${name} ${repeat}/${REPEATS}] ${workers} worker(s) failed: ${error}`,
          );
        }
      }
    }
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
const report: string[] = [];
for (const name of layouts) {
  const mine = runs.filter((r) => r.layout === name);
  if (mine.length > 0) report.push(...table(LAYOUTS[name], mine, SETTINGS), "");
}
report.push(
  "CPU figures are shares of one core over the measured window, medians" +
    " (min–max); server CPU is the whole process (its threads: the workers," +
    " V8's helper threads, the main thread and runtime); other load is the" +
    " rest of the machine, from /proc/stat. Faults: lost, reordered or" +
    " missing messages at the subscribers, frames never sent, copies the" +
    " hubs skipped as slow, and the buses' missed and stale messages.",
);
console.log(report.join("\n"));
if (JSON_PATH) {
  await Deno.writeTextFile(JSON_PATH, JSON.stringify(runs, null, 2));
}
