// The client-role scenarios run against a native echo peer
// (bench/loadgen in server mode), written once over a small adapter so that
// `dial()` and `new WebSocket` run exactly the same load. Each client
// program prints one JSON line (a RunResult).

import {
  CpuMeter,
  measureRate,
  rssBytes,
  type RunResult,
  sleep,
} from "../_wire.ts";

/** What bench/native.ts asks of a client process. */
export interface NativeClientConfig {
  /** What to measure. */
  mode: "echo" | "latency" | "handshake" | "idle";
  /** The echo peer's port on 127.0.0.1. */
  port: number;
  /** The echo peer's process id, for its CPU time. */
  serverPid: number;
  /** Connections. */
  conns: number;
  /** Messages in flight per connection. */
  window: number;
  /** The message size in bytes. */
  size: number;
  /** Binary (true) or text (false) messages. */
  binary: boolean;
  /** Milliseconds of load before measuring. */
  warmup: number;
  /** Milliseconds measured. */
  duration: number;
  /** Handshakes run at once. */
  concurrency: number;
  /** Idle: milliseconds the connections are held before reading memory. */
  hold: number;
}

/** One open connection, as the scenarios use it. */
export interface Peer {
  /** Sends without waiting for the write. */
  send(message: string | Uint8Array<ArrayBuffer>): void;
  /** Closes with the closing handshake. */
  close(): Promise<void>;
}

/** Opens a connection whose every received message calls `onMessage`. */
export type Open = (url: string, onMessage: () => void) => Promise<Peer>;

function messageOf(
  config: NativeClientConfig,
): string | Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(config.size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + (i % 26);
  return config.binary ? bytes : new TextDecoder().decode(bytes);
}

async function echo(
  config: NativeClientConfig,
  open: Open,
): Promise<RunResult> {
  const url = `ws://127.0.0.1:${config.port}/`;
  const message = messageOf(config);
  let received = 0;
  let running = true;
  const peers: Peer[] = [];
  for (let i = 0; i < config.conns; i++) {
    const peer: Peer = await open(url, () => {
      received++;
      if (running) peer.send(message);
    });
    peers.push(peer);
  }
  for (const peer of peers) {
    for (let i = 0; i < config.window; i++) peer.send(message);
  }
  const { rate, cpu } = await measureRate(
    config.warmup,
    config.duration,
    config.serverPid,
    () => received,
  );
  running = false;
  return {
    metrics: { "msg/s": rate, "MB/s": rate * config.size / 1e6 },
    cpu,
  };
}

async function latency(
  config: NativeClientConfig,
  open: Open,
): Promise<RunResult> {
  const message = messageOf(config);
  let arrived: (() => void) | undefined;
  const peer = await open(`ws://127.0.0.1:${config.port}/`, () => arrived?.());
  const roundTrip = async () => {
    const start = performance.now();
    const echoed = new Promise<void>((resolve) => arrived = resolve);
    peer.send(message);
    await echoed;
    return performance.now() - start;
  };
  for (
    const end = performance.now() + config.warmup;
    performance.now() < end;
  ) {
    await roundTrip();
  }
  const meter = new CpuMeter(config.serverPid);
  meter.start();
  const samples: number[] = [];
  for (
    const end = performance.now() + config.duration;
    performance.now() < end;
  ) {
    samples.push(await roundTrip());
  }
  const cpu = meter.stop();
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return {
    metrics: { "p50 µs": at(0.5) * 1000, "p99 µs": at(0.99) * 1000 },
    cpu,
    note: `${samples.length} round trips`,
  };
}

async function handshakes(
  config: NativeClientConfig,
  open: Open,
): Promise<RunResult> {
  const url = `ws://127.0.0.1:${config.port}/`;
  const ignore = () => {};
  let done = 0;
  let running = true;
  const loops = Array.from({ length: config.concurrency }, async () => {
    while (running) {
      const peer = await open(url, ignore);
      await peer.close();
      done++;
    }
  });
  const { rate, cpu } = await measureRate(
    config.warmup,
    config.duration,
    config.serverPid,
    () => done,
  );
  running = false;
  await Promise.all(loops);
  return { metrics: { "handshakes/s": rate }, cpu };
}

// Opens `count` connections, 64 at a time, each sending one message and
// waiting for its echo.
async function openGreeted(
  config: NativeClientConfig,
  count: number,
  open: Open,
): Promise<Peer[]> {
  const url = `ws://127.0.0.1:${config.port}/`;
  const message = messageOf(config);
  const peers: Peer[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < count) {
      next++;
      let echoed!: () => void;
      const greeted = new Promise<void>((resolve) => echoed = resolve);
      const peer = await open(url, () => echoed());
      peer.send(message);
      await greeted;
      peers.push(peer);
    }
  }));
  return peers;
}

async function idle(
  config: NativeClientConfig,
  open: Open,
): Promise<RunResult> {
  // Warm the dial and echo paths first, so that what is measured is the
  // connections and not the first use of the code.
  const warm = await openGreeted(config, 100, open);
  await Promise.all(warm.map((peer) => peer.close()));
  await sleep(500);
  const meter = new CpuMeter(config.serverPid);
  meter.start();
  const before = rssBytes(Deno.pid);
  const start = performance.now();
  const peers = await openGreeted(config, config.conns, open);
  const openSeconds = (performance.now() - start) / 1000;
  await sleep(config.hold);
  const after = rssBytes(Deno.pid);
  const cpu = meter.stop();
  return {
    metrics: { "KiB/conn": (after - before) / peers.length / 1024 },
    cpu,
    note: `${peers.length} connections opened and greeted in ${
      openSeconds.toFixed(1)
    } s; client RSS ${(before / 2 ** 20).toFixed(1)} → ${
      (after / 2 ** 20).toFixed(1)
    } MiB`,
  };
}

/** Runs the scenario `Deno.args[0]` asks for with `open`, prints, exits. */
export async function runClient(open: Open): Promise<never> {
  const config: NativeClientConfig = JSON.parse(Deno.args[0]);
  const run = { echo, latency, handshake: handshakes, idle }[config.mode];
  const result = await run(config, open);
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
