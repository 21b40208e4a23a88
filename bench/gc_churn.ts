// Young-generation collections under connection churn: our server
// (bench/servers/ours.ts --await, the README idiom) under bench/loadgen's
// handshake mode, and our client (bench/clients/ours_native.ts, `dial()` +
// `close()` 16 at a time) against bench/loadgen's echo server, each run
// with V8's --trace-gc-nvp. Prints, per side, the handshakes per second, the
// scavenges, what each promoted (objects that survived two: under churn
// they should be few) and the collection pauses per handshake. A structure
// that keeps closed connections reachable from old objects shows here as
// megabytes promoted per scavenge.
//
//   deno run -A bench/gc_churn.ts [--at <commit>] [--seconds 3]
//
// --at       measure a snapshot of this commit (git archive)
// --seconds  the measured load per side (after 400 ms of warmup)

import {
  buildGenerator,
  canPinToCores,
  extractCommit,
  stopByStdin,
} from "./_wire.ts";

const args = Deno.args;
const option = (name: string) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const seconds = Number(option("--seconds") ?? 3);
const at = option("--at");
const WARMUP_MS = 400;
const root = new URL("..", import.meta.url).pathname;

// The side under load on core 0 and its load on core 1, when `taskset` can
// pin them (taskset execs, so a pid stays the program's); GOMAXPROCS=1.
const canPin = await canPinToCores();
function pinned(core: number, program: string, rest: string[]) {
  return canPin
    ? { program: "taskset", args: ["-c", String(core), program, ...rest] }
    : { program, args: rest };
}

/** One collection, as --trace-gc-nvp reports it. */
interface Collection {
  kind: string;
  pauseMs: number;
  promoted: number;
  /** Heap objects' bytes before and after it. */
  before: number;
  after: number;
}

// The collections in a child's output. V8 prints them with C's stdio while
// the program writes through the runtime, so a line may hold the end of one
// and the start of another: each record is read field by field.
function collections(text: string): Collection[] {
  const found: Collection[] = [];
  for (const record of text.split("GC: {").slice(1)) {
    const kind = /"gc":"(\w+)"/.exec(record)?.[1];
    const pause = /"pause":([\d.]+)/.exec(record)?.[1];
    const promoted = /"promoted":(\d+)/.exec(record)?.[1];
    const before = /"start_object_size":(\d+)/.exec(record)?.[1];
    const after = /"end_object_size":(\d+)/.exec(record)?.[1];
    if (kind === undefined || pause === undefined) continue;
    found.push({
      kind,
      pauseMs: Number(pause),
      promoted: Number(promoted ?? 0),
      before: Number(before ?? 0),
      after: Number(after ?? 0),
    });
  }
  return found;
}

// Runs a child with its output collected; resolves once its first line
// (the port it listens on) has arrived.
async function start(
  core: number,
  command: string,
  commandArgs: string[],
  cwd: string,
): Promise<{ child: Deno.ChildProcess; port: number; output: () => string }> {
  const { program, args } = pinned(core, command, commandArgs);
  const child = new Deno.Command(program, {
    args,
    cwd,
    env: { GOMAXPROCS: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  const port = Promise.withResolvers<number>();
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      const match = /"port":\s*(\d+)/.exec(text);
      if (match) port.resolve(Number(match[1]));
    }
  })();
  return { child, port: await port.promise, output: () => text };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[sorted.length >> 1];
}

function summary(
  side: string,
  rate: number,
  found: Collection[],
): string {
  const scavenges = found.filter((c) => c.kind === "s");
  const pause = found.reduce((sum, c) => sum + c.pauseMs, 0);
  const handshakes = rate * (seconds + WARMUP_MS / 1000);
  const promoted = median(scavenges.map((c) => c.promoted));
  // Allocated between collections: what each found minus what the one
  // before it left.
  let allocated = 0;
  for (let i = 1; i < found.length; i++) {
    allocated += Math.max(0, found[i].before - found[i - 1].after);
  }
  return `${side.padEnd(7)} ${Math.round(rate).toLocaleString("en-US")} ` +
    `handshakes/s; ${scavenges.length} scavenges, ` +
    `${found.length - scavenges.length} full; ` +
    `${Math.round(promoted / 1024).toLocaleString("en-US")} KiB promoted ` +
    `by the median one; GC pauses ${Math.round(pause)} ms, ` +
    `${(pause * 1000 / handshakes).toFixed(1)} µs per handshake; ` +
    `${(allocated / 1024 / handshakes).toFixed(1)} KiB allocated per ` +
    `handshake`;
}

const tmp = await Deno.makeTempDir({ prefix: "ws-gc-churn-" });
try {
  let tree = root;
  if (at !== undefined) {
    tree = `${tmp}/src`;
    await extractCommit(root, at, tree);
  }
  const generator = await buildGenerator(tmp);
  const gcFlags = "--v8-flags=--trace-gc-nvp";

  // The server under the generator's handshakes.
  const server = await start(0, "deno", [
    "run",
    "-A",
    gcFlags,
    "bench/servers/ours.ts",
    "--await",
  ], tree);
  const loadCommand = pinned(1, generator, [
    "-mode",
    "handshake",
    "-url",
    `ws://127.0.0.1:${server.port}/`,
    "-concurrency",
    "16",
    "-warmup",
    `${WARMUP_MS}ms`,
    "-duration",
    `${seconds}s`,
    "-pid",
    String(server.child.pid),
  ]);
  const load = await new Deno.Command(loadCommand.program, {
    args: loadCommand.args,
    env: { GOMAXPROCS: "1" },
    stdout: "piped",
  }).output();
  await stopByStdin(server.child);
  const serverRate = JSON.parse(new TextDecoder().decode(load.stdout))
    .metrics["handshakes/s"];
  console.log(summary("server", serverRate, collections(server.output())));

  // The client against the generator's echo server.
  const peer = await start(0, generator, ["-mode", "server"], tree);
  const config = {
    mode: "handshake",
    port: peer.port,
    serverPid: peer.child.pid,
    conns: 1,
    window: 1,
    size: 16,
    binary: false,
    warmup: WARMUP_MS,
    duration: seconds * 1000,
    concurrency: 16,
    hold: 0,
  };
  const clientCommand = pinned(1, "deno", [
    "run",
    "-A",
    gcFlags,
    "bench/clients/ours_native.ts",
    JSON.stringify(config),
  ]);
  const client = await new Deno.Command(clientCommand.program, {
    args: clientCommand.args,
    cwd: tree,
    stdout: "piped",
  }).output();
  await stopByStdin(peer.child);
  const output = new TextDecoder().decode(client.stdout);
  const result = /\{"metrics":\{"handshakes\/s":([\d.]+)/.exec(output);
  if (result === null) throw new Error("The client reported no rate");
  console.log(summary("client", Number(result[1]), collections(output)));
} finally {
  await Deno.remove(tmp, { recursive: true });
}
