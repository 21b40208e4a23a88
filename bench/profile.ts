// CPU profiles of our server and our client under load, summarised by
// function. The server (bench/servers/ours.ts) runs under `--cpu-prof`
// while bench/load.ts drives it; the client (bench/clients/ours.ts) runs
// under `--cpu-prof` against the lean echo server bench/servers/raw.ts.
// `clienthandshake` profiles `dial()` + `close()`, 16 at a time
// (bench/clients/ours_native.ts in its handshake mode), against Deno's
// built-in server (bench/servers/builtin.ts), so that the peer is none of
// our code. `upgrade` profiles the server's opening handshake alone, in
// this process over in-memory transports (no socket, no kernel: only our
// code and the runtime's), 16 at a time, and prints its CPU time per
// handshake. Each .cpuprofile (V8's JSON: nodes, samples, timeDeltas) is
// aggregated here into self and total time per function and per file.
//
//   deno run -A bench/profile.ts
//       [server|client|handshake|clienthandshake|upgrade ...]
//       [--seconds 5] [--conns 16] [--size 16] [--top 30] [--dir <dir>]
//       [--nodelay]
//   deno run -A bench/profile.ts --summarize <file.cpuprofile> [--top 30]
//
// With no target it profiles the server and then the client, 16 B text
// messages over 16 connections.

import type { LoadConfig } from "./load.ts";
import type { ClientConfig } from "./clients/_config.ts";
import type { NativeClientConfig } from "./clients/_modes.ts";
import process from "node:process";
import { handshake } from "../server/_handshake.ts";
import { handshakeSettings } from "../server/_options.ts";
import { Deadline } from "../_util/deadline.ts";
import { memoryPair } from "../tests/_util.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function option(name: string, fallback: string): string {
  const index = Deno.args.indexOf(name);
  return index >= 0 ? Deno.args[index + 1] : fallback;
}

const top = Number(option("--top", "30"));
const here = new URL(".", import.meta.url);
const root = new URL("..", here).href;

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const url = frame.url.startsWith(root)
    ? frame.url.slice(root.length)
    : frame.url.replace(/^ext:/, "ext:");
  return `${name} ${url}:${frame.lineNumber + 1}`;
}

function fileOf(frame: CallFrame): string {
  if (!frame.url) return frame.functionName || "(native)";
  if (frame.url.startsWith(root)) return frame.url.slice(root.length);
  return frame.url.replace(/^(ext:[^/]+).*$/, "$1/…");
}

/** Self and total milliseconds per function, and self per file. */
export function summarize(profile: CpuProfile): string {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  let all = 0;
  let idle = 0;
  // Sample k lasted until sample k + 1.
  for (let k = 0; k < profile.samples.length; k++) {
    const dt = (profile.timeDeltas[k + 1] ?? 0) / 1000;
    const node = byId.get(profile.samples[k])!;
    const key = label(node.callFrame);
    all += dt;
    if (node.callFrame.functionName === "(idle)") idle += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
    files.set(
      fileOf(node.callFrame),
      (files.get(fileOf(node.callFrame)) ?? 0) + dt,
    );
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined;) {
      const frame = byId.get(id)!.callFrame;
      const name = label(frame);
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  const busy = all - idle;
  const pct = (ms: number) => `${(100 * ms / busy).toFixed(1)}%`.padStart(6);
  const ms = (v: number) => v.toFixed(0).padStart(7);
  const lines = [
    `sampled ${all.toFixed(0)} ms, idle ${idle.toFixed(0)} ms, busy ${
      busy.toFixed(0)
    } ms (percentages are of busy time)`,
    "",
    `top ${top} functions by self time:`,
    "  self ms  self%  total%  function",
  ];
  const sorted = [...self].filter(([key]) => key !== "(idle)")
    .sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, value] of sorted) {
    lines.push(
      `  ${ms(value)} ${pct(value)} ${pct(total.get(key) ?? 0)}  ${key}`,
    );
  }
  lines.push("", `top ${top} functions by total (inclusive) time:`);
  const inclusive = [...total].filter(([key]) =>
    !key.startsWith("(root)") && key !== "(idle)"
  ).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, value] of inclusive) {
    lines.push(`  ${ms(value)} ${pct(value)}  ${key}`);
  }
  lines.push("", "self time by file:");
  for (
    const [file, value] of [...files].filter(([f]) => f !== "(idle)")
      .sort((a, b) => b[1] - a[1]).slice(0, 15)
  ) {
    lines.push(`  ${ms(value)} ${pct(value)}  ${file}`);
  }
  return lines.join("\n");
}

async function newestProfile(dir: string): Promise<string> {
  let newest = "";
  let time = -1;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${entry.name}`;
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (mtime > time) {
      time = mtime;
      newest = path;
    }
  }
  if (!newest) throw new Error(`No profile written in ${dir}`);
  return newest;
}

interface Child {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function start(args: string[]): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Exited early: ${args.join(" ")}`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    pid: child.pid,
    port: JSON.parse(text.slice(0, text.indexOf("\n"))).port,
    async stop() {
      await child.stdin.close();
      await child.status;
    },
  };
}

async function run(args: string[]): Promise<string> {
  const { stdout, code } = await new Deno.Command(Deno.execPath(), {
    args,
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`Failed: ${args.join(" ")}`);
  return new TextDecoder().decode(stdout).trim();
}

const seconds = Number(option("--seconds", "5"));
const conns = Number(option("--conns", "16"));
const size = Number(option("--size", "16"));
const dir = Deno.args.includes("--dir")
  ? option("--dir", "")
  : await Deno.makeTempDir({ prefix: "ws-prof-" });
const script = (path: string) => new URL(path, here).pathname;

async function profileServer(mode: "echo" | "handshake"): Promise<string> {
  const out = `${dir}/server-${mode}`;
  const server = await start([
    "run",
    "-A",
    "--cpu-prof",
    `--cpu-prof-dir=${out}`,
    script("servers/ours.ts"),
    ...(Deno.args.includes("--nodelay") ? ["--nodelay"] : []),
  ]);
  const config: LoadConfig = {
    mode,
    port: server.port,
    serverPid: server.pid,
    conns,
    size,
    binary: false,
    window: 256,
    batch: 64,
    warmup: 1000,
    duration: seconds * 1000,
    concurrency: 16,
  };
  const result = await run([
    "run",
    "-A",
    script("load.ts"),
    JSON.stringify(config),
  ]);
  await server.stop();
  const path = await newestProfile(out);
  return `our server, ${mode} (${
    mode === "echo" ? `${size} B × ${conns} conns` : "16 at a time"
  }): ${result}\n${path}\n\n${
    summarize(JSON.parse(await Deno.readTextFile(path)))
  }`;
}

// Runs one of our clients under the profiler against a peer server.
async function profileClient(
  mode: "echo" | "handshake",
): Promise<string> {
  const out = `${dir}/client-${mode}`;
  const server = await start([
    "run",
    "-A",
    script(mode === "echo" ? "servers/raw.ts" : "servers/builtin.ts"),
  ]);
  const common = {
    port: server.port,
    serverPid: server.pid,
    conns,
    size,
    binary: false,
    warmup: 1000,
    duration: seconds * 1000,
  };
  const [client, config] = mode === "echo"
    ? ["clients/ours.ts", { ...common, window: 256 } satisfies ClientConfig]
    : [
      "clients/ours_native.ts",
      {
        ...common,
        mode,
        window: 1,
        concurrency: 16,
        hold: 0,
      } satisfies NativeClientConfig,
    ];
  const result = await run([
    "run",
    "-A",
    "--cpu-prof",
    `--cpu-prof-dir=${out}`,
    script(client),
    JSON.stringify(config),
  ]);
  await server.stop();
  const path = await newestProfile(out);
  const what = mode === "echo"
    ? `echo (${size} B × ${conns} conns)`
    : "handshake (16 at a time, against the built-in server)";
  return `our client, ${what}: ${result}\n${path}\n\n${
    summarize(JSON.parse(await Deno.readTextFile(path)))
  }`;
}

// The server's handshake over in-memory transports, 16 at a time, until
// `seconds` have passed: each client writes the request a browser would,
// the server answers, the client reads the 101 and the connection is
// dropped. Returns the CPU time per handshake, in microseconds.
async function upgradeLoop(): Promise<string> {
  const settings = handshakeSettings({});
  const request = new TextEncoder().encode(
    "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: Upgrade\r\n" +
      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  );
  const buffer = new Uint8Array(1024);
  const one = async () => {
    const [client, server] = memoryPair();
    await client.write(request);
    const timer = new Deadline(10_000, "Opening handshake");
    const conn = await handshake(server, settings, timer);
    await client.read(buffer);
    conn.abort();
    await conn.closed;
  };
  const run = async (ms: number) => {
    let count = 0;
    const end = performance.now() + ms;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        await one();
        count++;
      }
    }));
    return count;
  };
  await run(1000);
  const before = process.cpuUsage();
  const count = await run(seconds * 1000);
  const { user, system } = process.cpuUsage(before);
  return JSON.stringify({
    "µs/handshake": (user + system) / count,
    handshakes: count,
  });
}

async function profileUpgrade(): Promise<string> {
  const out = `${dir}/upgrade`;
  const result = await run([
    "run",
    "-A",
    "--cpu-prof",
    `--cpu-prof-dir=${out}`,
    script("profile.ts"),
    "--upgrade-loop",
    "--seconds",
    String(seconds),
  ]);
  const path = await newestProfile(out);
  return `our server's handshake in process, 16 at a time: ${result}\n${path}\n\n${
    summarize(JSON.parse(await Deno.readTextFile(path)))
  }`;
}

if (import.meta.main && Deno.args.includes("--upgrade-loop")) {
  console.log(await upgradeLoop());
} else if (import.meta.main) {
  const file = Deno.args.indexOf("--summarize");
  if (file >= 0) {
    const path = Deno.args[file + 1];
    console.log(summarize(JSON.parse(await Deno.readTextFile(path))));
  } else {
    const runs: Record<string, () => Promise<string>> = {
      server: () => profileServer("echo"),
      handshake: () => profileServer("handshake"),
      client: () => profileClient("echo"),
      clienthandshake: () => profileClient("handshake"),
      upgrade: profileUpgrade,
    };
    const targets = Deno.args.filter((a) => a in runs);
    for (const target of targets.length > 0 ? targets : ["server", "client"]) {
      console.log(`==== ${await runs[target]()}\n`);
    }
  }
}
