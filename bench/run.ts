// The loopback benchmark runner (`deno task bench`). Each server under test
// runs in its own process, as does the load: bench/servers/ours.ts (this
// library's `serve()`) and bench/servers/builtin.ts (`Deno.serve` +
// `Deno.upgradeWebSocket`) are driven by bench/load.ts, alternating A B A B
// over the repeats; then the client role: bench/clients/ours.ts (`dial()`)
// and bench/clients/builtin.ts (`new WebSocket`) against the lean echo
// server bench/servers/raw.ts. Prints each run as it ends, then a Markdown
// table of medians (min–max), the ratio ours/built-in and the targets, and
// the CPU shares of driver, server and everything else on the machine.
//
//   deno task bench [--quick] [--only <id>[,<id>...]] [--repeats <n>]
//                   [--ours-nodelay] [--json <file>] [--list]
//
// --quick        one repeat, shorter windows
// --only         run only these scenarios (see --list)
// --repeats      repeats per scenario (default 3)
// --ours-nodelay run our server on its own listener with TCP_NODELAY set
//                (`upgrade()` instead of `serve()`), to show that setting
// --json         also write every run's figures to a file

import type { LoadConfig } from "./load.ts";
import type { ClientConfig } from "./clients/_config.ts";
import { type CpuShare, type RunResult, stopByStdin } from "./_wire.ts";

type Side = "ours" | "builtin";

interface Target {
  op: ">=" | "<=";
  ratio: number;
}

interface Scenario {
  id: string;
  title: string;
  role: "server" | "client";
  /** For the server role: the load; for the client role: the clients. */
  config: Partial<LoadConfig> | Partial<ClientConfig>;
  /** Targets for the ratio ours/built-in, by metric; none for a probe. */
  targets: Record<string, Target>;
  /** Extra arguments for our server. */
  oursArgs?: string[];
}

const MORE = (ratio: number): Target => ({ op: ">=", ratio });
const LESS = (ratio: number): Target => ({ op: "<=", ratio });

const text16 = { size: 16, binary: false };
const bin1k = { size: 1024, binary: true };

const SCENARIOS: Scenario[] = [
  {
    id: "echo16x1",
    title: "16 B text echo, 1 conn",
    role: "server",
    config: { mode: "echo", conns: 1, ...text16, window: 1024, batch: 256 },
    targets: { "msg/s": MORE(2) },
  },
  {
    id: "echo16x16",
    title: "16 B text echo, 16 conns",
    role: "server",
    config: { mode: "echo", conns: 16, ...text16, window: 256, batch: 64 },
    targets: { "msg/s": MORE(2) },
  },
  {
    id: "echo16x256",
    title: "16 B text echo, 256 conns",
    role: "server",
    config: { mode: "echo", conns: 256, ...text16, window: 64, batch: 16 },
    targets: { "msg/s": MORE(2) },
  },
  {
    id: "echo1kx16",
    title: "1 KiB binary echo, 16 conns",
    role: "server",
    config: { mode: "echo", conns: 16, ...bin1k, window: 64, batch: 16 },
    targets: { "msg/s": MORE(2) },
  },
  {
    id: "echo16x16-await",
    title: "16 B echo, 16 conns, `await conn.send()` per message (probe)",
    role: "server",
    config: { mode: "echo", conns: 16, ...text16, window: 256, batch: 64 },
    targets: {},
    oursArgs: ["--await"],
  },
  {
    id: "latency",
    title: "16 B round trip, 1 in flight",
    role: "server",
    config: { mode: "latency", conns: 1, ...text16 },
    targets: { "p50 µs": LESS(1), "p99 µs": LESS(1) },
  },
  {
    id: "bytes1m",
    title: "1 MiB binary echo, 1 conn",
    role: "server",
    config: {
      mode: "bytes",
      conns: 1,
      size: 1 << 20,
      binary: true,
      window: 2,
      batch: 1,
    },
    targets: { "MB/s": MORE(1) },
  },
  {
    id: "bytes16m",
    title: "16 MiB binary echo, 1 conn",
    role: "server",
    config: {
      mode: "bytes",
      conns: 1,
      size: 16 << 20,
      binary: true,
      window: 2,
      batch: 1,
    },
    targets: { "MB/s": MORE(1) },
  },
  {
    id: "handshake",
    title: "open + close, 16 at a time",
    role: "server",
    config: { mode: "handshake", concurrency: 16 },
    targets: { "handshakes/s": MORE(1) },
  },
  {
    id: "idle",
    title: "memory per idle connection (10,000 open)",
    role: "server",
    config: { mode: "idle", conns: 10_000 },
    targets: { "KiB/conn": LESS(0.5) },
  },
  {
    id: "broadcast",
    title: "broadcast of 16 B to 1,000 conns",
    role: "server",
    config: { mode: "broadcast", conns: 1000, ...text16, window: 16, batch: 4 },
    targets: { "deliveries/s": MORE(2) },
  },
  {
    id: "client16x1",
    title: "client: 16 B text echo, 1 conn",
    role: "client",
    config: { conns: 1, ...text16, window: 1024 },
    targets: { "msg/s": MORE(1.5) },
  },
  {
    id: "client16x16",
    title: "client: 16 B text echo, 16 conns",
    role: "client",
    config: { conns: 16, ...text16, window: 256 },
    targets: { "msg/s": MORE(1.5) },
  },
  {
    id: "client16x256",
    title: "client: 16 B text echo, 256 conns",
    role: "client",
    config: { conns: 256, ...text16, window: 64 },
    targets: { "msg/s": MORE(1.5) },
  },
  {
    id: "client1kx16",
    title: "client: 1 KiB binary echo, 16 conns",
    role: "client",
    config: { conns: 16, ...bin1k, window: 64 },
    targets: { "msg/s": MORE(1.5) },
  },
];

// ---- Options ---------------------------------------------------------

function option(name: string): string | undefined {
  const index = Deno.args.indexOf(name);
  return index >= 0 ? Deno.args[index + 1] : undefined;
}

if (Deno.args.includes("--list")) {
  for (const s of SCENARIOS) console.log(`${s.id.padEnd(18)} ${s.title}`);
  Deno.exit(0);
}
const quick = Deno.args.includes("--quick");
const repeats = Number(option("--repeats") ?? (quick ? 1 : 3));
const only = option("--only")?.split(",");
const jsonPath = option("--json");
const oursNoDelay = Deno.args.includes("--ours-nodelay");
const WARMUP = quick ? 300 : 1000;
const DURATION = quick ? 1000 : 2500;
const IDLE_SETTLE = quick ? 500 : 1000;

const selected = only
  ? SCENARIOS.filter((s) => only.includes(s.id))
  : SCENARIOS;
if (only && selected.length !== only.length) {
  const known = new Set(SCENARIOS.map((s) => s.id));
  const unknown = only.filter((id) => !known.has(id));
  console.error(`Unknown scenario: ${unknown.join(", ")} (see --list)`);
  Deno.exit(2);
}

// ---- Processes -------------------------------------------------------

const here = new URL(".", import.meta.url);
const script = (path: string) => new URL(path, here).pathname;

// Children start through sh so that their descriptor limit can be raised
// (root may raise the hard limit too); the exec keeps the pid.
const RAISE_LIMIT =
  'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ';

async function fdLimit(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", RAISE_LIMIT + "ulimit -n"],
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

function denoCommand(
  args: string[],
  stdin: "piped" | "null",
): Deno.Command {
  return new Deno.Command("sh", {
    args: [
      "-c",
      RAISE_LIMIT + 'exec "$0" "$@"',
      Deno.execPath(),
      ...args,
    ],
    stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

interface Server {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startServer(path: string, args: string[]): Promise<Server> {
  const child = denoCommand(["run", "-A", script(path), ...args], "piped")
    .spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`Server ${path} exited early: ${await stderr}`);
    }
    buffered += value;
  }
  const { port } = JSON.parse(buffered.slice(0, buffered.indexOf("\n")));
  // Keep draining whatever else it prints.
  (async () => {
    while (!(await reader.read()).done) {
      // Discarded.
    }
  })().catch(() => {});
  return {
    pid: child.pid,
    port,
    async stop() {
      await stopByStdin(child);
      await stderr;
    },
  };
}

async function runDriver(
  path: string,
  config: object,
  limitMs: number,
): Promise<RunResult> {
  const child = denoCommand(
    ["run", "-A", script(path), JSON.stringify(config)],
    "null",
  ).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const { stdout, stderr, code } = await child.output();
  clearTimeout(timer);
  const out = new TextDecoder().decode(stdout).trim();
  if (code !== 0 || out === "") {
    throw new Error(
      `${path} failed (exit ${code}): ${new TextDecoder().decode(stderr)}`,
    );
  }
  return JSON.parse(out.split("\n").at(-1)!);
}

// ---- Running ---------------------------------------------------------

interface Run {
  scenario: string;
  side: Side;
  repeat: number;
  result: RunResult;
}

const limit = await fdLimit();
// The idle scenario needs a descriptor per connection in the server and in
// the generator (separate processes), plus some slack.
const idleConns = Math.min(10_000, Number.isFinite(limit) ? limit - 256 : 1e4);

async function runOnce(scenario: Scenario, side: Side): Promise<RunResult> {
  const timing = { warmup: WARMUP, duration: DURATION };
  const limitMs = 120_000;
  if (scenario.role === "server") {
    const path = side === "ours" ? "servers/ours.ts" : "servers/builtin.ts";
    const args = side === "ours"
      ? [...(scenario.oursArgs ?? []), ...(oursNoDelay ? ["--nodelay"] : [])]
      : [];
    const server = await startServer(path, args);
    try {
      const config: LoadConfig = {
        mode: "echo",
        port: server.port,
        serverPid: server.pid,
        conns: 1,
        size: 16,
        binary: false,
        window: 1,
        batch: 1,
        concurrency: 16,
        ...timing,
        ...scenario.config as Partial<LoadConfig>,
      };
      if (config.mode === "idle") {
        config.conns = idleConns;
        config.warmup = IDLE_SETTLE;
      }
      return await runDriver("load.ts", config, limitMs);
    } finally {
      await server.stop();
    }
  }
  const server = await startServer("servers/raw.ts", []);
  try {
    const config: ClientConfig = {
      port: server.port,
      serverPid: server.pid,
      conns: 1,
      size: 16,
      binary: false,
      window: 1,
      ...timing,
      ...scenario.config as Partial<ClientConfig>,
    };
    const path = side === "ours" ? "clients/ours.ts" : "clients/builtin.ts";
    return await runDriver(path, config, limitMs);
  } finally {
    await server.stop();
  }
}

const fmt = (n: number): string =>
  n >= 100
    ? Math.round(n).toLocaleString("en-US")
    : n >= 10
    ? n.toFixed(1)
    : n.toFixed(2);
const pct = (share: number): string => `${Math.round(share * 100)}%`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

const runs: Run[] = [];
const started = performance.now();
console.error(
  `Running ${selected.length} scenarios × 2 sides × ${repeats} repeats` +
    ` (warmup ${WARMUP} ms, window ${DURATION} ms, fd limit ${limit},` +
    ` idle connections ${idleConns})`,
);
for (const scenario of selected) {
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const side of ["ours", "builtin"] as const) {
      let result: RunResult;
      try {
        result = await runOnce(scenario, side);
      } catch (error) {
        console.error(
          `[${scenario.id} ${repeat}/${repeats}] ${side}: ${
            error instanceof Error ? error.message : error
          }`,
        );
        continue;
      }
      runs.push({ scenario: scenario.id, side, repeat, result });
      const figures = Object.entries(result.metrics)
        .map(([metric, value]) => `${fmt(value)} ${metric}`).join(", ");
      const { driver, server, other } = result.cpu;
      console.error(
        `[${scenario.id} ${repeat}/${repeats}] ${side.padEnd(7)} ${figures}` +
          ` (cpu: driver ${pct(driver)}, server ${pct(server)},` +
          ` other ${pct(other)})${result.note ? `; ${result.note}` : ""}`,
      );
    }
  }
}
const elapsed = (performance.now() - started) / 1000;

// ---- Report ----------------------------------------------------------

function summary(scenario: string, side: Side, metric: string) {
  const values = runs
    .filter((r) => r.scenario === scenario && r.side === side)
    .map((r) => r.result.metrics[metric])
    .filter((v) => v !== undefined);
  if (values.length === 0) return undefined;
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    count: values.length,
  };
}

function cpuMedian(scenario: string, side: Side): CpuShare | undefined {
  const shares = runs
    .filter((r) => r.scenario === scenario && r.side === side)
    .map((r) => r.result.cpu);
  if (shares.length === 0) return undefined;
  return {
    driver: median(shares.map((s) => s.driver)),
    server: median(shares.map((s) => s.server)),
    other: median(shares.map((s) => s.other)),
  };
}

const cell = (s: ReturnType<typeof summary>): string =>
  s === undefined
    ? "—"
    : s.count === 1
    ? fmt(s.median)
    : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;

const lines: string[] = [
  "| scenario | metric | ours | built-in | ratio | target | met? |",
  "| --- | --- | ---: | ---: | ---: | ---: | :---: |",
];
for (const scenario of selected) {
  const metrics = new Set(
    runs.filter((r) => r.scenario === scenario.id)
      .flatMap((r) => Object.keys(r.result.metrics)),
  );
  for (const metric of metrics) {
    const ours = summary(scenario.id, "ours", metric);
    const builtin = summary(scenario.id, "builtin", metric);
    const ratio = ours && builtin ? ours.median / builtin.median : NaN;
    const target = scenario.targets[metric];
    const met = target === undefined || Number.isNaN(ratio)
      ? "—"
      : (target.op === ">=" ? ratio >= target.ratio : ratio <= target.ratio)
      ? "yes"
      : "no";
    lines.push(
      `| ${scenario.title} | ${metric} | ${cell(ours)} | ${cell(builtin)} | ${
        Number.isNaN(ratio) ? "—" : ratio.toFixed(2) + "x"
      } | ${
        target ? `${target.op} ${target.ratio.toFixed(1)}x` : "—"
      } | ${met} |`,
    );
  }
}
lines.push(
  "",
  "CPU, median share of one core over the measured window (the machine has" +
    ` ${navigator.hardwareConcurrency} cores; "other" is every other process),` +
    " and the CPU time the side under test (the server, or the client) spent" +
    " per unit of work: a figure that contention from other processes" +
    " disturbs less than the rates:",
  "",
  "| scenario | ours: driver / server / other | built-in: driver / server / other | ours CPU/unit | built-in CPU/unit | ratio |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
);
const RATES: Record<string, string> = {
  "msg/s": "µs/msg",
  "deliveries/s": "µs/delivery",
  "handshakes/s": "µs/handshake",
  "MB/s": "ms/MB",
};
// CPU seconds of the side under test per unit of its first (rate) metric.
function costPerUnit(scenario: Scenario, side: Side): number | undefined {
  const costs = runs
    .filter((r) => r.scenario === scenario.id && r.side === side)
    .flatMap((r) => {
      const [metric, rate] = Object.entries(r.result.metrics)[0];
      if (!(metric in RATES) || !(rate > 0)) return [];
      const cpu = scenario.role === "server"
        ? r.result.cpu.server
        : r.result.cpu.driver;
      const scale = metric === "MB/s" ? 1e3 : 1e6;
      return [cpu / rate * scale];
    });
  return costs.length > 0 ? median(costs) : undefined;
}
for (const scenario of selected) {
  const show = (side: Side) => {
    const cpu = cpuMedian(scenario.id, side);
    return cpu
      ? `${pct(cpu.driver)} / ${pct(cpu.server)} / ${pct(cpu.other)}`
      : "—";
  };
  const metric = runs.find((r) => r.scenario === scenario.id)
    ?.result.metrics;
  const unit = metric ? RATES[Object.keys(metric)[0]] : undefined;
  const ours = costPerUnit(scenario, "ours");
  const builtin = costPerUnit(scenario, "builtin");
  const cost = (v: number | undefined) =>
    v === undefined || unit === undefined ? "—" : `${v.toFixed(2)} ${unit}`;
  const ratio = ours !== undefined && builtin !== undefined
    ? `${(ours / builtin).toFixed(2)}x`
    : "—";
  lines.push(
    `| ${scenario.title} | ${show("ours")} | ${show("builtin")} | ${
      cost(ours)
    } | ${cost(builtin)} | ${ratio} |`,
  );
}
const notes = runs.filter((r) => r.result.note);
if (notes.length > 0) {
  lines.push("", "Notes:", "");
  for (const r of notes) {
    lines.push(`- ${r.scenario} ${r.side} #${r.repeat}: ${r.result.note}`);
  }
}
lines.push(
  "",
  `${runs.length} runs in ${elapsed.toFixed(0)} s; ${repeats} repeat(s);` +
    ` warmup ${WARMUP} ms, window ${DURATION} ms; role "driver" is` +
    " bench/load.ts for the server role and the client itself for the" +
    ` client role${oursNoDelay ? "; our server with TCP_NODELAY" : ""}.`,
);
console.log(lines.join("\n"));
if (jsonPath) {
  await Deno.writeTextFile(
    jsonPath,
    JSON.stringify({ date: new Date().toISOString(), runs }, null, 2),
  );
}
