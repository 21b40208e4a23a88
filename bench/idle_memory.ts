// What an idle connection costs, ours against Deno's built-in and against
// the floor (bench/servers/floor.ts, bench/clients/floor_native.ts: a 101
// written by hand and one pending read per socket, what the runtime itself
// costs), in both roles, with the load from bench/loadgen as in
// `deno task bench:native --only idle,clientidle`. Two figures per side:
//
// - RSS: the idle scenario of bench/native.ts as it is (warm 100
//   connections, open N, one 16 B message each, hold, RSS growth / N; no
//   garbage collected on purpose);
// - heap: the same load, the process under test preloaded with
//   bench/_heap_probe.ts and sampled after a full collection before and
//   while the N connections idle: JS heap bytes per connection. (The RSS
//   around a forced collection says little: the collection before shrinks
//   the heap the connections then grow again.)
//
//   deno run -A bench/idle_memory.ts [--conns <n>] [--repeats <n>]
//                                    [--only rss|heap] [--sides a,b,...]
//
// Sides: ours, builtin, floor (server role); dial, websocket, cfloor
// (client role). Needs Go and gorilla/websocket, as bench/native.ts does.

import { buildGenerator, type RunResult } from "./_wire.ts";

const root = new URL("..", import.meta.url).pathname;
const args = Deno.args;
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const CONNS = Number(option("--conns") ?? 2000);
const REPEATS = Number(option("--repeats") ?? 3);
const ONLY = option("--only");
const SIDES = (option("--sides") ??
  "ours,builtin,floor,dial,websocket,cfloor").split(",");

const SERVERS: Record<string, string[]> = {
  ours: ["bench/servers/ours.ts", "--await"],
  builtin: ["bench/servers/builtin.ts"],
  floor: ["bench/servers/floor.ts"],
};
const CLIENTS: Record<string, string> = {
  dial: "bench/clients/ours_native.ts",
  websocket: "bench/clients/builtin_native.ts",
  cfloor: "bench/clients/floor_native.ts",
};
const PROBE = ["--v8-flags=--expose-gc", "--preload", "bench/_heap_probe.ts"];

function spawn(core: string, program: string, rest: string[]) {
  return new Deno.Command("sh", {
    args: [
      "-c",
      'ulimit -n 65536 2>/dev/null; exec taskset -c "$0" "$@"',
      core,
      program,
      ...rest,
    ],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { GOMAXPROCS: "1", PROBE_CONNS: String(CONNS) },
  }).spawn();
}

// Appends each line of `stream` to `lines`; resolves at its end.
async function collectLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
): Promise<void> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let at;
    while ((at = buffered.indexOf("\n")) >= 0) {
      lines.push(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
  }
}

// A process whose first stdout line is {"port": n}; its stderr is kept
// line by line for the probe's samples.
async function start(core: string, program: string, rest: string[]) {
  const child = spawn(core, program, rest);
  const lines: string[] = [];
  const drained = collectLines(child.stderr, lines);
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Exited early: ${lines.join("\n")}`);
    out += value;
  }
  (async () => {
    while (!(await reader.read()).done) {
      // Discarded.
    }
  })();
  return {
    pid: child.pid,
    port: JSON.parse(out.slice(0, out.indexOf("\n"))).port as number,
    lines,
    async stop() {
      await child.stdin.close().catch(() => {});
      await child.status;
      await drained;
    },
  };
}

/** One sample of bench/_heap_probe.ts. */
interface Probe {
  heapUsed: number;
  external: number;
  rss: number;
}

// The probe's two samples, from the lines the process printed on stderr.
function probed(lines: string[]): [Probe, Probe] {
  const samples = lines.filter((line) => line.startsWith('{"probe"'))
    .map((line) => JSON.parse(line));
  const before = samples.find((s) => s.probe === "before");
  const after = samples.find((s) => s.probe === "after");
  if (!before || !after) throw new Error(`No samples: ${lines.join("\n")}`);
  return [before, after];
}

function perConn(before: Probe, after: Probe) {
  return {
    heap: (after.heapUsed - before.heapUsed) / CONNS,
    external: (after.external - before.external) / CONNS,
  };
}

async function lastJson(stdout: Uint8Array): Promise<RunResult> {
  const out = new TextDecoder().decode(stdout).trim();
  return await JSON.parse(out.split("\n").at(-1)!);
}

async function serverRun(generator: string, side: string, heap: boolean) {
  const deno = Deno.execPath();
  const server = await start("0", deno, [
    "run",
    "-A",
    ...(heap ? PROBE : []),
    ...SERVERS[side],
  ]);
  try {
    const hold = heap ? 6000 : 1000;
    const gen = spawn("1", generator, [
      ...["-mode", "idle", "-size", "16", "-url"],
      `ws://127.0.0.1:${server.port}/`,
      ...["-pid", String(server.pid), "-conns", String(CONNS)],
      ...["-hold", `${hold}ms`],
    ]);
    const { stdout } = await gen.output();
    const result = await lastJson(stdout);
    await server.stop(); // its stderr read to the end
    return {
      rss: result.metrics["KiB/conn"],
      probe: heap ? probed(server.lines) : undefined,
    };
  } finally {
    await server.stop();
  }
}

async function clientRun(generator: string, side: string, heap: boolean) {
  const deno = Deno.execPath();
  const peer = await start("0", generator, ["-mode", "server"]);
  try {
    const config = {
      mode: "idle",
      port: peer.port,
      serverPid: peer.pid,
      conns: CONNS,
      window: 1,
      size: 16,
      binary: false,
      warmup: 400,
      duration: 1250,
      concurrency: 16,
      hold: heap ? 6000 : 1000,
    };
    const child = spawn("1", deno, [
      "run",
      "-A",
      ...(heap ? PROBE : []),
      CLIENTS[side],
      JSON.stringify(config),
    ]);
    const lines: string[] = [];
    const stderr = collectLines(child.stderr, lines);
    const stdout = new Response(child.stdout).arrayBuffer();
    await child.stdin.close();
    const [result] = await Promise.all([
      lastJson(new Uint8Array(await stdout)),
      child.status,
      stderr,
    ]);
    return {
      rss: result.metrics["KiB/conn"],
      probe: heap ? probed(lines) : undefined,
    };
  } finally {
    await peer.stop();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const generator = await buildGenerator(
  await Deno.makeTempDir({ prefix: "ws-idle-" }),
);
const rows: string[] = [];
for (const side of SIDES) {
  const run = side in SERVERS ? serverRun : clientRun;
  const rss: number[] = [];
  const heap: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    if (ONLY !== "heap") rss.push((await run(generator, side, false)).rss);
    if (ONLY !== "rss") {
      const { probe } = await run(generator, side, true);
      const figures = perConn(...probe!);
      heap.push(figures.heap);
    }
    console.error(
      `${side} #${r + 1}: RSS ${rss.at(-1)?.toFixed(1)} KiB/conn; heap ${
        heap.at(-1)?.toFixed(0)
      } B/conn`,
    );
  }
  const fmt = (values: number[], digits: number) =>
    values.length === 0
      ? "—"
      : `${median(values).toFixed(digits)} (${
        Math.min(...values).toFixed(digits)
      }–${Math.max(...values).toFixed(digits)})`;
  rows.push(
    `| ${side} | ${fmt(rss, 1)} | ${fmt(heap, 0)} |`,
  );
}
console.log(
  `${CONNS} idle connections, one 16 B message each; medians (min–max) of ${REPEATS}\n`,
);
console.log(
  "| side | RSS KiB/conn (no gc) | JS heap B/conn (after gc) |",
);
console.log("| --- | ---: | ---: |");
for (const row of rows) console.log(row);
