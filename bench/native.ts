// The native-load benchmark runner (`deno task bench:native`): the load
// comes from bench/loadgen, a Go program on gorilla/websocket, so that the
// code under test is never also the instrument. It builds the generator,
// then, for each scenario and repeat, runs every side in turn in fresh
// processes, the server pinned to one core and the generator to another
// (with `taskset`, when there is one):
//
// - server role: bench/servers/ours.ts with `--await` (the README's idiom,
//   `for await (const m of conn) await conn.send(m)`), bench/servers/ours.ts
//   without it (a send awaited only past a megabyte buffered), and
//   bench/servers/builtin.ts (`Deno.serve` + `Deno.upgradeWebSocket`);
// - client role: bench/clients/ours_native.ts (`dial()`) and
//   bench/clients/builtin_native.ts (`new WebSocket`) against the
//   generator's own echo server.
//
// Prints each run as it ends, then Markdown tables: medians (min–max) over
// the repeats, ratios against the built-in, and which process was
// saturated (its CPU share of one core, from /proc/<pid>/stat).
//
//   deno task bench:native [--quick] [--only <id>[,<id>...]] [--list]
//                          [--repeats <n>] [--warmup <ms>] [--duration <ms>]
//                          [--idle-conns <n>] [--no-pin] [--json <file>]
//                          [--at <commit>] [--report <file>] [--ceiling]
//
// --quick       one repeat, short windows, 1,000 idle connections (~1 min)
// --only        run only these scenarios (see --list)
// --repeats     repeats per scenario (default 3)
// --warmup      milliseconds of load before each measured window (400)
// --duration    milliseconds measured per run (1250; twice that for 16 MiB)
// --idle-conns  connections held by the idle scenarios (2,000)
// --at          measure a snapshot of this commit (git archive) instead of
//               the working tree, which may change while the runs go on
// --no-pin      do not pin processes to cores
// --json        also write every run's figures to a file
// --report      print the tables of a file --json wrote, without running
// --ceiling     also run a bare frame echo on Deno sockets and a native (Go)
//               server, and a bare client on Deno sockets: what is left
//               above us
//
// Needs Go and gorilla/websocket; on Debian or Ubuntu:
// `apt-get install golang-go golang-github-gorilla-websocket-dev`.

import {
  buildGenerator,
  canPinToCores,
  type CpuShare,
  extractCommit,
  type RunResult,
  stopByStdin,
} from "./_wire.ts";
import type { NativeClientConfig } from "./clients/_modes.ts";

/** A side of a comparison: a server, or a client, under test. */
type Side =
  | "await"
  | "nowait"
  | "builtin"
  | "raw"
  | "go"
  | "dial"
  | "websocket"
  | "rawclient";

interface Scenario {
  id: string;
  title: string;
  role: "server" | "client";
  /** Server role: the generator's flags. */
  flags?: string[];
  /** Client role: the client's configuration. */
  client?: Partial<NativeClientConfig>;
  /** Sides to run; the rest show "—". */
  sides: Side[];
  /** Run only when named with --only. */
  extra?: boolean;
  /**
   * The measured window as a multiple of --duration: clients count whole
   * messages, and a window should hold many of them.
   */
  windowScale?: number;
}

// --ceiling adds two servers and a client that are not libraries one would
// deploy, to show what is left above us: bench/servers/raw.ts (frames echoed
// straight off Deno's socket API, no checks), the generator's own Go echo
// server (gorilla/websocket, native code) and bench/clients/raw_native.ts
// (frames counted off Deno's socket API, each read's answers in one write).
const ceiling = Deno.args.includes("--ceiling");
const SERVER_SIDES: Side[] = ceiling
  ? ["await", "nowait", "builtin", "raw", "go"]
  : ["await", "nowait", "builtin"];
const BASE_CLIENT_SIDES: Side[] = ["dial", "websocket"];
// The bare client is a ceiling for small messages and handshakes only: for
// large ones it measures its own copies, and its 64 KiB read buffer is not
// the floor of an idle connection (bench/idle_memory.ts has that).
const CLIENT_SIDES: Side[] = ceiling
  ? [...BASE_CLIENT_SIDES, "rawclient"]
  : BASE_CLIENT_SIDES;
const SIDE_NAMES: Record<Side, string> = {
  await: "ours, `await conn.send()`",
  nowait: "ours, send not awaited",
  builtin: "built-in",
  raw: "raw Deno sockets",
  go: "Go gorilla",
  dial: "ours, `dial()`",
  websocket: "built-in `new WebSocket`",
  rawclient: "raw Deno sockets",
};

const text16 = ["-size", "16"];
const bin1k = ["-size", "1024", "-binary"];
const MIB = 1 << 20;

const SCENARIOS: Scenario[] = [
  {
    id: "echo16x1",
    title: "16 B text echo, 1 conn × 16 in flight",
    role: "server",
    flags: ["-mode", "echo", "-conns", "1", "-inflight", "16", ...text16],
    sides: SERVER_SIDES,
  },
  {
    id: "echo16x16",
    title: "16 B text echo, 16 conns × 16 in flight",
    role: "server",
    flags: ["-mode", "echo", "-conns", "16", "-inflight", "16", ...text16],
    sides: SERVER_SIDES,
  },
  {
    id: "echo16x256",
    title: "16 B text echo, 256 conns × 4 in flight",
    role: "server",
    flags: ["-mode", "echo", "-conns", "256", "-inflight", "4", ...text16],
    sides: SERVER_SIDES,
  },
  {
    id: "echo1kx16",
    title: "1 KiB binary echo, 16 conns × 16 in flight",
    role: "server",
    flags: ["-mode", "echo", "-conns", "16", "-inflight", "16", ...bin1k],
    sides: SERVER_SIDES,
  },
  {
    id: "latency",
    title: "16 B round trip, 1 in flight",
    role: "server",
    flags: ["-mode", "latency", ...text16],
    sides: SERVER_SIDES,
  },
  {
    id: "echo1m",
    title: "1 MiB binary echo, 1 conn × 2 in flight",
    role: "server",
    flags: ["-mode", "echo", "-inflight", "2", "-size", `${MIB}`, "-binary"],
    sides: SERVER_SIDES,
  },
  {
    id: "echo16m",
    title: "16 MiB binary echo, 1 conn × 2 in flight",
    role: "server",
    flags: [
      "-mode",
      "echo",
      "-inflight",
      "2",
      "-size",
      `${16 * MIB}`,
      "-binary",
    ],
    sides: SERVER_SIDES,
    windowScale: 2,
  },
  {
    id: "handshake",
    title: "open + close, 16 at a time",
    role: "server",
    flags: ["-mode", "handshake", "-concurrency", "16"],
    // No message is echoed: both of our servers run the same code.
    sides: ["await", "builtin"],
  },
  {
    id: "idle",
    title: "memory per idle connection, one 16 B message each",
    role: "server",
    flags: ["-mode", "idle", ...text16],
    sides: SERVER_SIDES,
  },
  {
    id: "idlesilent",
    title: "memory per idle connection, no message",
    role: "server",
    flags: ["-mode", "idle", "-greet=false", ...text16],
    sides: ["await", "builtin"],
    extra: true,
  },
  {
    id: "broadcast",
    title: "broadcast of 16 B to 1,000 conns, 16 in flight",
    role: "server",
    flags: [
      "-mode",
      "broadcast",
      "-conns",
      "1000",
      "-inflight",
      "16",
      ...text16,
    ],
    // The broadcast endpoints do not depend on --await.
    sides: ["await", "builtin"],
  },
  {
    id: "client16x1",
    title: "client: 16 B text echo, 1 conn × 16 in flight",
    role: "client",
    client: { mode: "echo", conns: 1, window: 16, size: 16 },
    sides: CLIENT_SIDES,
  },
  {
    id: "client1kx16",
    title: "client: 1 KiB binary echo, 16 conns × 16 in flight",
    role: "client",
    client: { mode: "echo", conns: 16, window: 16, size: 1024, binary: true },
    sides: CLIENT_SIDES,
  },
  {
    id: "clientlatency",
    title: "client: 16 B round trip, 1 in flight",
    role: "client",
    client: { mode: "latency", conns: 1, window: 1, size: 16 },
    sides: CLIENT_SIDES,
  },
  {
    id: "client1m",
    title: "client: 1 MiB binary echo, 1 conn × 2 in flight",
    role: "client",
    client: { mode: "echo", conns: 1, window: 2, size: MIB, binary: true },
    sides: BASE_CLIENT_SIDES,
  },
  {
    id: "client16m",
    title: "client: 16 MiB binary echo, 1 conn × 2 in flight",
    role: "client",
    client: { mode: "echo", conns: 1, window: 2, size: 16 * MIB, binary: true },
    sides: BASE_CLIENT_SIDES,
    windowScale: 2,
  },
  {
    id: "clienthandshake",
    title: "client: open + close, 16 at a time",
    role: "client",
    client: { mode: "handshake", concurrency: 16 },
    sides: CLIENT_SIDES,
  },
  {
    id: "clientidle",
    title: "client: memory per idle connection, one 16 B message each",
    role: "client",
    client: { mode: "idle", size: 16 },
    sides: BASE_CLIENT_SIDES,
  },
];

// ---- Options ---------------------------------------------------------

function option(name: string): string | undefined {
  const index = Deno.args.indexOf(name);
  return index >= 0 ? Deno.args[index + 1] : undefined;
}

if (Deno.args.includes("--list")) {
  for (const s of SCENARIOS) {
    const extra = s.extra ? " (only with --only)" : "";
    console.log(`${s.id.padEnd(16)} ${s.title}${extra}`);
  }
  Deno.exit(0);
}
const quick = Deno.args.includes("--quick");
const repeats = Number(option("--repeats") ?? (quick ? 1 : 3));
const WARMUP = Number(option("--warmup") ?? (quick ? 200 : 400));
const DURATION = Number(option("--duration") ?? (quick ? 700 : 1250));
const IDLE_CONNS = Number(option("--idle-conns") ?? (quick ? 1000 : 2000));
const IDLE_HOLD = quick ? 300 : 1000;
const pin = !Deno.args.includes("--no-pin");
const jsonPath = option("--json");
const at = option("--at");
const only = option("--only")?.split(",");
const selected = only
  ? SCENARIOS.filter((s) => only.includes(s.id))
  : SCENARIOS.filter((s) => !s.extra);
if (only && selected.length !== only.length) {
  const known = new Set(SCENARIOS.map((s) => s.id));
  const unknown = only.filter((id) => !known.has(id));
  console.error(`Unknown scenario: ${unknown.join(", ")} (see --list)`);
  Deno.exit(2);
}

// ---- Processes -------------------------------------------------------

const root = new URL("..", import.meta.url).pathname;
// The bench/ directory whose servers and clients run: this one, or that of
// a snapshot of a commit (--at).
let benchDir = new URL(".", import.meta.url).pathname;
const script = (path: string) => benchDir + path;

// Children start through sh so that their descriptor limit can be raised,
// and through taskset when pinned; both exec, so the pid stays the child's.
const RAISE_LIMIT =
  'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ';

const cores = navigator.hardwareConcurrency;
const canPin = pin && await canPinToCores();
// The server (or the peer) on core 0, the generator (or the client under
// test) on core 1.
const SERVER_CORE = "0";
const DRIVER_CORE = "1";

function command(
  core: string,
  program: string,
  args: string[],
  stdin: "piped" | "null",
): Deno.Command {
  const prefix = canPin
    ? `exec taskset -c ${core} "$0" "$@"`
    : 'exec "$0" "$@"';
  return new Deno.Command("sh", {
    args: ["-c", RAISE_LIMIT + prefix, program, ...args],
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { GOMAXPROCS: canPin ? "1" : String(cores) },
  });
}

interface Server {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startServer(program: string, args: string[]): Promise<Server> {
  const child = command(SERVER_CORE, program, args, "piped").spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Server exited early: ${await stderr}`);
    buffered += value;
  }
  const { port } = JSON.parse(buffered.slice(0, buffered.indexOf("\n")));
  (async () => {
    while (!(await reader.read()).done) {
      // Whatever else it prints is discarded.
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
  program: string,
  args: string[],
  limitMs: number,
): Promise<RunResult> {
  const child = command(DRIVER_CORE, program, args, "null").spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const { stdout, stderr, code } = await child.output();
  clearTimeout(timer);
  const out = new TextDecoder().decode(stdout).trim();
  if (code !== 0 || out === "") {
    throw new Error(
      `exit ${code}: ${new TextDecoder().decode(stderr).trim().slice(-500)}`,
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

const deno = Deno.execPath();

async function runOnce(
  scenario: Scenario,
  side: Side,
  generator: string,
): Promise<RunResult> {
  const limitMs = 120_000;
  const duration = DURATION * (scenario.windowScale ?? 1);
  if (scenario.role === "server") {
    const server = side === "builtin"
      ? await startServer(deno, ["run", "-A", script("servers/builtin.ts")])
      : side === "raw"
      ? await startServer(deno, ["run", "-A", script("servers/raw.ts")])
      : side === "go"
      ? await startServer(generator, ["-mode", "server"])
      : await startServer(deno, [
        "run",
        "-A",
        script("servers/ours.ts"),
        ...(side === "await" ? ["--await"] : []),
      ]);
    try {
      const flags = [
        ...scenario.flags!,
        "-url",
        `ws://127.0.0.1:${server.port}/`,
        "-pid",
        String(server.pid),
        "-warmup",
        `${WARMUP}ms`,
        "-duration",
        `${duration}ms`,
      ];
      if (scenario.flags!.includes("idle")) {
        flags.push("-conns", String(IDLE_CONNS), "-hold", `${IDLE_HOLD}ms`);
      }
      return await runDriver(generator, flags, limitMs);
    } finally {
      await server.stop();
    }
  }
  const peer = await startServer(generator, ["-mode", "server"]);
  try {
    const config: NativeClientConfig = {
      mode: "echo",
      port: peer.port,
      serverPid: peer.pid,
      conns: 1,
      window: 1,
      size: 16,
      binary: false,
      warmup: WARMUP,
      duration,
      concurrency: 16,
      hold: IDLE_HOLD,
      ...scenario.client,
    };
    if (config.mode === "idle") config.conns = IDLE_CONNS;
    const path = side === "dial"
      ? "clients/ours_native.ts"
      : side === "rawclient"
      ? "clients/raw_native.ts"
      : "clients/builtin_native.ts";
    return await runDriver(
      deno,
      ["run", "-A", script(path), JSON.stringify(config)],
      limitMs,
    );
  } finally {
    await peer.stop();
  }
}

async function git(args: string[]): Promise<string> {
  const { stdout } = await new Deno.Command("git", { args, cwd: root })
    .output();
  return new TextDecoder().decode(stdout);
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

/** A whole run of the benchmark, as --json writes it and --report reads it. */
interface Session {
  date: string;
  commit: string;
  /** Library sources with uncommitted changes, measured as they were. */
  dirty: string[];
  repeats: number;
  warmup: number;
  duration: number;
  idleConns: number;
  pinned: boolean;
  /** Seconds the runs took. */
  elapsed: number;
  runs: Run[];
}

async function measure(): Promise<Session> {
  const tmp = await Deno.makeTempDir({ prefix: "ws-native-bench-" });
  let commit: string;
  let dirty: string[] = [];
  if (at !== undefined) {
    // A snapshot of the commit, so that edits to the working tree while
    // the benchmark runs change nothing measured.
    commit = (await git(["rev-parse", "--short", at])).trim();
    if (commit === "") throw new Error(`Unknown revision ${at}`);
    await extractCommit(root, commit, `${tmp}/src`);
    benchDir = `${tmp}/src/bench/`;
  } else {
    commit = (await git(["rev-parse", "--short", "HEAD"])).trim();
    // Library sources changed but not committed are measured too: say
    // which.
    dirty = (await git(["status", "--porcelain", "--", "*.ts"]))
      .split("\n")
      .map((line) => line.slice(3))
      .filter((path) =>
        path && !path.startsWith("bench/") && !path.includes("/")
      );
  }
  const runs: Run[] = [];
  const started = performance.now();
  try {
    const generator = await buildGenerator(tmp);
    const total = selected.reduce((n, s) => n + s.sides.length, 0) * repeats;
    console.error(
      `Running ${total} runs: ${selected.length} scenarios, ${repeats}` +
        ` repeat(s) (warmup ${WARMUP} ms, window ${DURATION} ms, idle` +
        ` connections ${IDLE_CONNS}; ${
          canPin
            ? `server on core ${SERVER_CORE}, generator on core ${DRIVER_CORE}`
            : "not pinned"
        }; commit ${commit}${
          dirty.length > 0 ? ` + uncommitted ${dirty.join(", ")}` : ""
        })`,
    );
    for (const scenario of selected) {
      for (let repeat = 1; repeat <= repeats; repeat++) {
        for (const side of scenario.sides) {
          const tag = `[${scenario.id} ${repeat}/${repeats}] ${side.padEnd(9)}`;
          let result: RunResult;
          try {
            result = await runOnce(scenario, side, generator);
          } catch (error) {
            console.error(
              `${tag} failed: ${
                error instanceof Error ? error.message : error
              }`,
            );
            continue;
          }
          runs.push({ scenario: scenario.id, side, repeat, result });
          const figures = Object.entries(result.metrics)
            .map(([metric, value]) => `${fmt(value)} ${metric}`).join(", ");
          const { driver, server, other } = result.cpu;
          const [d, s] = scenario.role === "server"
            ? ["generator", "server"]
            : ["client", "peer"];
          console.error(
            `${tag} ${figures} (cpu: ${d} ${pct(driver)}, ${s}` +
              ` ${pct(server)}, other ${pct(other)})${
                result.note ? `; ${result.note}` : ""
              }`,
          );
        }
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  return {
    date: new Date().toISOString(),
    commit,
    dirty,
    repeats,
    warmup: WARMUP,
    duration: DURATION,
    idleConns: IDLE_CONNS,
    pinned: canPin,
    elapsed: (performance.now() - started) / 1000,
    runs,
  };
}

const reportPath = option("--report");
const session: Session = reportPath
  ? JSON.parse(await Deno.readTextFile(reportPath))
  : await measure();
const runs = session.runs;
const shown = selected.filter((s) => runs.some((r) => r.scenario === s.id));

// ---- Report ----------------------------------------------------------

/** The metrics reported per scenario, the first being the headline. */
function metricsOf(scenario: Scenario): string[] {
  const seen = runs.filter((r) => r.scenario === scenario.id)
    .flatMap((r) => Object.keys(r.result.metrics));
  const order = [
    "msg/s",
    "MB/s",
    "p50 µs",
    "p99 µs",
    "handshakes/s",
    "KiB/conn",
    "deliveries/s",
  ];
  const metrics = order.filter((m) => seen.includes(m));
  // Large messages: MB/s is the headline, msg/s is the same figure.
  if (scenario.id.includes("1m") || scenario.id.includes("16m")) {
    return ["MB/s"];
  }
  // Small messages: MB/s adds nothing to msg/s.
  return metrics.filter((m) => m !== "MB/s" || !seen.includes("msg/s"));
}

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

// A process pinned to one core that used 85% of it or more was the limit.
const SATURATED = 0.85;

function saturation(scenario: Scenario, side: Side): string {
  const cpu = cpuMedian(scenario.id, side);
  if (!cpu) return "—";
  const [driverName, serverName] = scenario.role === "server"
    ? ["generator", "server"]
    : ["client", "peer"];
  const driver = cpu.driver >= SATURATED;
  const server = cpu.server >= SATURATED;
  // Neither at its limit while other processes held half a core or more:
  // the machine's load, not either process, set the pace.
  const label = driver && server
    ? "both"
    : driver
    ? driverName
    : server
    ? serverName
    : cpu.other >= 0.5
    ? "machine busy"
    : "neither";
  const [d, s] = scenario.role === "server" ? ["G", "S"] : ["C", "P"];
  return `${label} (${d} ${pct(cpu.driver)}, ${s} ${pct(cpu.server)}, o ${
    pct(cpu.other)
  })`;
}

const cell = (s: ReturnType<typeof summary>): string =>
  s === undefined
    ? "—"
    : s.count === 1
    ? fmt(s.median)
    : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;

// Ratios read "better when above 1": ours / built-in for rates, built-in /
// ours for memory and latency.
function ratio(metric: string, ours?: number, builtin?: number): string {
  if (ours === undefined || builtin === undefined) return "—";
  const lowerIsBetter = metric === "KiB/conn" || metric.endsWith("µs");
  const value = lowerIsBetter ? builtin / ours : ours / builtin;
  return `${value.toFixed(2)}x`;
}

function table(role: "server" | "client"): string[] {
  const sides = role === "server" ? SERVER_SIDES : CLIENT_SIDES;
  const builtinSide: Side = role === "server" ? "builtin" : "websocket";
  const ourSides = sides.filter((s) => s !== builtinSide);
  const lines = [
    `| scenario | metric | ${sides.map((s) => SIDE_NAMES[s]).join(" | ")} | ${
      ourSides.map((s) => `ratio ${s}`).join(" | ")
    } | saturated: ${sides.join(" / ")} |`,
    `| --- | --- | ${sides.map(() => "---:").join(" | ")} | ${
      ourSides.map(() => "---:").join(" | ")
    } | --- |`,
  ];
  for (const scenario of shown.filter((s) => s.role === role)) {
    for (const metric of metricsOf(scenario)) {
      const figures = sides.map((side) => summary(scenario.id, side, metric));
      const builtin = figures[sides.indexOf(builtinSide)]?.median;
      const ratios = ourSides.map((side) =>
        ratio(metric, figures[sides.indexOf(side)]?.median, builtin)
      );
      lines.push(
        `| ${scenario.title} | ${metric} | ${figures.map(cell).join(" | ")} | ${
          ratios.join(" | ")
        } | ${sides.map((side) => saturation(scenario, side)).join("; ")} |`,
      );
    }
  }
  return lines;
}

const UNITS: Record<string, string> = {
  "msg/s": "µs/msg",
  "MB/s": "ms/MB",
  "handshakes/s": "µs/handshake",
  "deliveries/s": "µs/delivery",
};

// CPU time the side under test (the server, or the client) spent per unit
// of work, run by run: a figure that contention from other processes on
// the machine disturbs far less than the rates.
function costs(scenario: Scenario, side: Side, metric: string): number[] {
  return runs
    .filter((r) => r.scenario === scenario.id && r.side === side)
    .flatMap((r) => {
      const rate = r.result.metrics[metric];
      if (!(rate > 0)) return [];
      const cpu = scenario.role === "server"
        ? r.result.cpu.server
        : r.result.cpu.driver;
      return [cpu / rate * (metric === "MB/s" ? 1e3 : 1e6)];
    });
}

function costTable(role: "server" | "client"): string[] {
  const sides = role === "server" ? SERVER_SIDES : CLIENT_SIDES;
  const builtinSide: Side = role === "server" ? "builtin" : "websocket";
  const ourSides = sides.filter((s) => s !== builtinSide);
  const lines = [
    `| scenario | unit | ${sides.map((s) => SIDE_NAMES[s]).join(" | ")} | ${
      ourSides.map((s) => `ratio ${s}`).join(" | ")
    } |`,
    `| --- | --- | ${sides.map(() => "---:").join(" | ")} | ${
      ourSides.map(() => "---:").join(" | ")
    } |`,
  ];
  for (const scenario of shown.filter((s) => s.role === role)) {
    const metric = metricsOf(scenario).find((m) => m in UNITS);
    if (metric === undefined) continue;
    const figures = sides.map((side) => {
      const values = costs(scenario, side, metric);
      return values.length === 0 ? undefined : {
        median: median(values),
        min: Math.min(...values),
        max: Math.max(...values),
        count: values.length,
      };
    });
    const builtin = figures[sides.indexOf(builtinSide)]?.median;
    const ratios = ourSides.map((side) => {
      const ours = figures[sides.indexOf(side)]?.median;
      return ours === undefined || builtin === undefined
        ? "—"
        : `${(builtin / ours).toFixed(2)}x`;
    });
    lines.push(
      `| ${scenario.title} | ${UNITS[metric]} | ${
        figures.map(cell).join(" | ")
      } | ${ratios.join(" | ")} |`,
    );
  }
  return lines;
}

const lines: string[] = [];
if (shown.some((s) => s.role === "server")) {
  lines.push(
    "Servers under load from bench/loadgen:",
    "",
    ...table("server"),
    "",
    "Server CPU time per unit of work:",
    "",
    ...costTable("server"),
  );
}
if (shown.some((s) => s.role === "client")) {
  lines.push(
    "",
    "Clients against the bench/loadgen echo server:",
    "",
    ...table("client"),
    "",
    "Client CPU time per unit of work:",
    "",
    ...costTable("client"),
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
  `${runs.length} runs in ${session.elapsed.toFixed(0)} s;` +
    ` ${session.repeats} repeat(s); warmup ${session.warmup} ms, window` +
    ` ${session.duration} ms; ${session.idleConns} idle connections; ${
      session.pinned
        ? "server and generator pinned to one core each"
        : "not pinned"
    }; commit ${session.commit}${
      session.dirty.length > 0
        ? ` with uncommitted changes to ${session.dirty.join(", ")}`
        : ""
    }. Ratios read better above 1: ours / built-in for rates, built-in /` +
    " ours for latency, memory and CPU per unit. Saturated: the process that" +
    ` used at least ${pct(SATURATED)} of its core (G generator, S server,` +
    " C client, P peer, o everything else on the machine, in shares of one" +
    ' core); "machine busy" when neither did while other processes held half' +
    " a core or more.",
);
console.log(lines.join("\n"));
if (jsonPath && !reportPath) {
  await Deno.writeTextFile(jsonPath, JSON.stringify(session, null, 2));
}
