// The plain HTTP path of serve() beside Deno.serve, with wrk, each server in
// its own process: small GETs over keep-alive connections, and a 1 MiB POST
// echoed back as it streams in.
//
//   deno run -A bench/http_bench.ts [--duration 5] [--connections 50]
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
  if (kind === "deno") {
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

async function wrk(
  url: string,
  duration: number,
  connections: number,
  script?: string,
): Promise<{ rps: number; mbps: number; errors: string }> {
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
  const output = await new Deno.Command("wrk", {
    args: wrkArgs,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(text);
  const unit = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 }[
    transfer?.[2] ?? "MB"
  ] ?? 1;
  const mbps = Number(transfer?.[1] ?? 0) * unit;
  const errors = /(Socket errors:.*|Non-2xx.*)/g.exec(text)?.[0] ?? "";
  return { rps, mbps, errors };
}

async function main(): Promise<void> {
  const duration = option("duration", 5);
  const connections = option("connections", 50);
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(
    script,
    'wrk.method = "POST"\n' +
      'wrk.body = string.rep("x", 1048576)\n' +
      'wrk.headers["Content-Type"] = "application/octet-stream"\n',
  );
  const rows: string[][] = [];
  try {
    const results: Record<string, Record<string, number>> = {};
    for (const kind of ["deno", "ours"]) {
      const { port, process } = await startServer(kind);
      const url = `http://127.0.0.1:${port}/`;
      try {
        await wrk(url, 1, connections); // warm-up
        const get = await wrk(url, duration, connections);
        const post = await wrk(
          url,
          duration,
          Math.min(connections, 10),
          script,
        );
        results[kind] = { get: get.rps, post: post.rps, mbps: post.mbps };
        if (get.errors || post.errors) {
          console.error(kind, get.errors, post.errors);
        }
      } finally {
        process.kill();
        await process.status;
      }
    }
    const ratio = (a: number, b: number) => (a / b).toFixed(2) + "x";
    rows.push(["", "Deno.serve", "serve() fallback", "ratio"]);
    rows.push([
      "small GET (req/s)",
      results.deno.get.toFixed(0),
      results.ours.get.toFixed(0),
      ratio(results.ours.get, results.deno.get),
    ]);
    rows.push([
      "1 MiB POST echo (req/s)",
      results.deno.post.toFixed(1),
      results.ours.post.toFixed(1),
      ratio(results.ours.post, results.deno.post),
    ]);
    for (const row of rows) {
      console.log(
        row.map((cell, i) => cell.padEnd(i === 0 ? 26 : 18)).join(""),
      );
    }
  } finally {
    await Deno.remove(script);
  }
}
