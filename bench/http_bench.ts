// The plain HTTP path of serve() beside Deno.serve, with wrk, each server in
// its own process: small GETs over keep-alive connections, and a 1 MiB POST
// echoed back as it streams in. Beside requests per second, the CPU time
// each server process spent per request (from /proc, on Linux): steadier
// than rates on a busy machine, where wrk and other work take the cores.
//
//   deno run -A bench/http_bench.ts [--duration 3] [--rounds 3] [--connections 50]
//
// Needs `wrk` (apt-get install -y wrk).

import { serve } from "../server.ts";

const args = Deno.args;

function option(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

// Both servers answer the same app.
function app(request: Request): Response {
  if (request.method === "POST") return new Response(request.body);
  return new Response("Hello, world\n");
}

if (args[0] === "server") {
  const kind = args[1];
  const ready = (port: number) => console.log(`PORT ${port}`);
  if (kind === "floor") {
    // No HTTP at all: one fixed answer per read. The most any server
    // reading and writing sockets from JavaScript can do here.
    const answer = new TextEncoder().encode(
      "HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, world\n",
    );
    const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
    ready((listener.addr as Deno.NetAddr).port);
    for await (const socket of listener) {
      socket.setNoDelay(true);
      (async () => {
        const buffer = new Uint8Array(4096);
        try {
          while ((await socket.read(buffer)) !== null) {
            await socket.write(answer);
          }
        } catch {
          // Gone.
        }
        socket.close();
      })();
    }
  } else if (kind === "deno") {
    Deno.serve({
      port: 0,
      hostname: "127.0.0.1",
      onListen: ({ port }) => ready(port),
    }, app);
  } else {
    serve({
      port: 0,
      hostname: "127.0.0.1",
      onListen: ({ port }) => ready(port),
      fallback: app,
      maxBodySize: 64 * 1024 * 1024,
    }, () => {});
  }
} else {
  await main();
}

async function startServer(kind: string): Promise<
  { port: number; process: Deno.ChildProcess }
> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "server", kind],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!/PORT \d+\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Server ${kind} exited early`);
    text += value;
  }
  reader.releaseLock();
  process.stdout.cancel().catch(() => {});
  return { port: Number(/PORT (\d+)/.exec(text)![1]), process };
}

// The CPU time (user + system) of a process so far, in microseconds;
// undefined where /proc is not there.
function cpuTime(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of the line, in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

async function wrk(
  url: string,
  duration: number,
  connections: number,
  script?: string,
  pid?: number,
): Promise<{ rps: number; mbps: number; errors: string; cpu?: number }> {
  const wrkArgs = [
    "-t",
    "2",
    "-c",
    String(connections),
    "-d",
    `${duration}s`,
    "--latency",
    url,
  ];
  if (script) wrkArgs.push("-s", script);
  const before = pid === undefined ? undefined : cpuTime(pid);
  const output = await new Deno.Command("wrk", {
    args: wrkArgs,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const after = pid === undefined ? undefined : cpuTime(pid);
  const text = new TextDecoder().decode(output.stdout);
  const total = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const cpu = before !== undefined && after !== undefined && total > 0
    ? (after - before) / total
    : undefined;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(text);
  const unit = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 }[
    transfer?.[2] ?? "MB"
  ] ?? 1;
  const mbps = Number(transfer?.[1] ?? 0) * unit;
  const errors = /(Socket errors:.*|Non-2xx.*)/g.exec(text)?.[0] ?? "";
  return { rps, mbps, errors, cpu };
}

async function main(): Promise<void> {
  const duration = option("duration", 3);
  const rounds = option("rounds", 3);
  const connections = option("connections", 50);
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(
    script,
    'wrk.method = "POST"\n' +
      'wrk.body = string.rep("x", 1048576)\n' +
      'wrk.headers["Content-Type"] = "application/octet-stream"\n',
  );
  // Both servers run at once (the idle one costs nothing) and the runs
  // alternate, so that a busy machine weighs on both alike; medians of
  // the rounds are reported.
  const servers = [await startServer("deno"), await startServer("ours")];
  const floor = await startServer("floor");
  const floorRuns: number[] = [];
  try {
    const runs: Record<
      string,
      { get: number[]; post: number[]; getCpu: number[]; postCpu: number[] }
    > = {
      deno: { get: [], post: [], getCpu: [], postCpu: [] },
      ours: { get: [], post: [], getCpu: [], postCpu: [] },
    };
    const kinds = ["deno", "ours"] as const;
    for (const { port } of servers) {
      await wrk(`http://127.0.0.1:${port}/`, 1, connections);
    }
    for (let round = 0; round < rounds; round++) {
      for (const [i, kind] of kinds.entries()) {
        const url = `http://127.0.0.1:${servers[i].port}/`;
        const get = await wrk(
          url,
          duration,
          connections,
          undefined,
          servers[i].process.pid,
        );
        runs[kind].get.push(get.rps);
        if (get.cpu !== undefined) runs[kind].getCpu.push(get.cpu);
        if (get.errors) console.error(kind, get.errors);
      }
      floorRuns.push(
        (await wrk(`http://127.0.0.1:${floor.port}/`, duration, connections))
          .rps,
      );
      for (const [i, kind] of kinds.entries()) {
        const url = `http://127.0.0.1:${servers[i].port}/`;
        const post = await wrk(
          url,
          duration,
          10,
          script,
          servers[i].process.pid,
        );
        runs[kind].post.push(post.rps);
        if (post.cpu !== undefined) runs[kind].postCpu.push(post.cpu);
        if (post.errors) console.error(kind, post.errors);
      }
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const ratio = (a: number, b: number) => (a / b).toFixed(2) + "x";
    // The ratio of each round's runs (run back to back), as min-max.
    const spread = (ours: number[], deno: number[]) => {
      const ratios = ours.map((o, i) => o / deno[i]).sort((a, b) => a - b);
      return ratios.length === 0
        ? ""
        : ` (${ratios[0].toFixed(2)}-${ratios.at(-1)!.toFixed(2)})`;
    };
    const rows = [["", "Deno.serve", "serve() fallback", "ratio (range)"]];
    for (
      const [label, key, digits] of [
        ["small GET (req/s)", "get", 0],
        ["1 MiB POST echo (req/s)", "post", 1],
        ["small GET (CPU us/req)", "getCpu", 1],
        ["1 MiB POST (CPU us/req)", "postCpu", 0],
      ] as const
    ) {
      if (runs.deno[key].length === 0 || runs.ours[key].length === 0) continue;
      const deno = median(runs.deno[key]);
      const ours = median(runs.ours[key]);
      rows.push([
        label,
        deno.toFixed(digits),
        ours.toFixed(digits),
        ratio(ours, deno) + spread(runs.ours[key], runs.deno[key]),
      ]);
    }
    const bare = median(floorRuns);
    rows.push([
      "bare socket GET (req/s)",
      "",
      bare.toFixed(0),
      `${ratio(bare, median(runs.deno.get))} (no HTTP: the ceiling)`,
    ]);
    for (const row of rows) {
      console.log(
        row.map((cell, i) => cell.padEnd(i === 0 ? 26 : 18)).join(""),
      );
    }
  } finally {
    for (const { process } of [...servers, floor]) {
      process.kill();
      await process.status;
    }
    await Deno.remove(script);
  }
}
