// The load generator for the server role: raw `Deno.connect` sockets, the
// upgrade done by hand, pre-encoded masked frames written in large batches,
// echoes counted by reading frame headers only. Run by bench/run.ts as a
// subprocess with one JSON argument; prints one JSON line (a RunResult).
//
//   deno run -A bench/load.ts '{"mode":"echo","port":8080,"serverPid":1234,...}'

import {
  CpuMeter,
  FrameCounter,
  maskedClose,
  maskedFrames,
  measureRate,
  openRaw,
  rssBytes,
  type RunResult,
  sleep,
  writeAll,
} from "./_wire.ts";

/** What the runner asks of a load process. */
export interface LoadConfig {
  /** What to measure. */
  mode: "echo" | "latency" | "bytes" | "handshake" | "idle" | "broadcast";
  /** The server's port on 127.0.0.1. */
  port: number;
  /** The server's process id, for its CPU time and memory. */
  serverPid: number;
  /** Connections (sinks, for broadcast). */
  conns: number;
  /** The message size in bytes. */
  size: number;
  /** Binary (true) or text (false) messages. */
  binary: boolean;
  /** Messages in flight per connection (the source's, for broadcast). */
  window: number;
  /** Frames per socket write. */
  batch: number;
  /** Milliseconds of load before measuring. */
  warmup: number;
  /** Milliseconds measured. */
  duration: number;
  /** Handshakes run at once. */
  concurrency: number;
}

const READ_SIZE = 256 * 1024;

function payloadOf(config: LoadConfig): Uint8Array {
  const payload = new Uint8Array(config.size);
  // ASCII, so that text frames are valid UTF-8.
  for (let i = 0; i < payload.length; i++) payload[i] = 97 + (i % 26);
  return payload;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

// Many connections, each keeping `window` messages in flight, written
// `batch` frames at a time. Counts echoed messages, or payload bytes.
async function echo(config: LoadConfig): Promise<RunResult> {
  const frames = maskedFrames(
    payloadOf(config),
    config.binary ? 0x2 : 0x1,
    config.batch,
  );
  let messages = 0;
  let bytes = 0;
  let running = true;
  const sockets = await Promise.all(
    Array.from({ length: config.conns }, () => openRaw(config.port, "/")),
  );
  const loops = sockets.map(async ({ conn, rest }) => {
    const counter = new FrameCounter();
    let sent = 0;
    let received = counter.push(rest, rest.length);
    let wake: (() => void) | undefined;
    const limit = config.window - config.batch;
    const reader = (async () => {
      const buffer = new Uint8Array(READ_SIZE);
      while (running) {
        const n = await conn.read(buffer);
        if (n === null) break;
        const before = counter.payloadBytes;
        const done = counter.push(buffer, n);
        received += done;
        messages += done;
        bytes += counter.payloadBytes - before;
        if (wake && sent - received <= limit) {
          const w = wake;
          wake = undefined;
          w();
        }
      }
    })();
    const writer = (async () => {
      while (running) {
        while (running && sent - received > limit) {
          await new Promise<void>((resolve) => wake = resolve);
        }
        if (!running) break;
        sent += config.batch;
        await writeAll(conn, frames);
      }
    })();
    await Promise.race([reader, writer]).catch(() => {});
  });
  const counted = config.mode === "bytes" ? () => bytes : () => messages;
  const { rate, cpu } = await measureRate(
    config.warmup,
    config.duration,
    config.serverPid,
    counted,
  );
  running = false;
  for (const { conn } of sockets) closeQuietly(conn);
  await Promise.allSettled(loops);
  return config.mode === "bytes"
    ? { metrics: { "MB/s": rate / 1e6 }, cpu }
    : { metrics: { "msg/s": rate }, cpu };
}

// One connection, one message in flight: round-trip times.
async function latency(config: LoadConfig): Promise<RunResult> {
  const frame = maskedFrames(payloadOf(config), config.binary ? 0x2 : 0x1, 1);
  const { conn, rest } = await openRaw(config.port, "/");
  const counter = new FrameCounter();
  counter.push(rest, rest.length);
  const buffer = new Uint8Array(READ_SIZE);
  const samples: number[] = [];
  let recording = false;
  let running = true;
  const meter = new CpuMeter(config.serverPid);
  const warmupEnd = performance.now() + config.warmup;
  setTimeout(() => {
    recording = true;
    meter.start();
    setTimeout(() => running = false, config.duration);
  }, config.warmup);
  while (running) {
    const start = performance.now();
    await writeAll(conn, frame);
    let got = 0;
    while (got === 0) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("Connection closed");
      got = counter.push(buffer, n);
    }
    if (recording && start >= warmupEnd) {
      samples.push(performance.now() - start);
    }
  }
  const cpu = meter.stop();
  closeQuietly(conn);
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return {
    metrics: { "p50 µs": at(0.5) * 1000, "p99 µs": at(0.99) * 1000 },
    cpu,
    note: `${samples.length} round trips`,
  };
}

// `concurrency` loops, each opening a connection, closing it with a close
// frame, and closing the socket once the server's close frame arrives.
async function handshakes(config: LoadConfig): Promise<RunResult> {
  const close = maskedClose();
  let done = 0;
  let running = true;
  const one = async () => {
    const { conn, rest } = await openRaw(config.port, "/");
    try {
      const counter = new FrameCounter();
      counter.push(rest, rest.length);
      await writeAll(conn, close);
      const buffer = new Uint8Array(256);
      while (!counter.closed) {
        const n = await conn.read(buffer);
        if (n === null) break;
        counter.push(buffer, n);
      }
    } finally {
      closeQuietly(conn);
    }
    done++;
  };
  const loops = Array.from({ length: config.concurrency }, async () => {
    while (running) await one();
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

// Opens `conns` idle connections and reports the server's RSS growth per
// connection.
async function idle(config: LoadConfig): Promise<RunResult> {
  // Warm the server's accept path first, so that what is measured is the
  // connections and not the first use of the code.
  const warm = await Promise.all(
    Array.from({ length: 100 }, () => openRaw(config.port, "/")),
  );
  for (const { conn } of warm) closeQuietly(conn);
  await sleep(500);
  const meter = new CpuMeter(config.serverPid);
  meter.start();
  const before = rssBytes(config.serverPid);
  const sockets: Deno.Conn[] = [];
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < config.conns) {
      next++;
      sockets.push((await openRaw(config.port, "/")).conn);
    }
  }));
  const openSeconds = (performance.now() - start) / 1000;
  await sleep(config.warmup);
  const after = rssBytes(config.serverPid);
  const cpu = meter.stop();
  for (const conn of sockets) closeQuietly(conn);
  return {
    metrics: { "KiB/conn": (after - before) / sockets.length / 1024 },
    cpu,
    note: `${sockets.length} connections opened in ${
      openSeconds.toFixed(1)
    } s; server RSS ${(before / 2 ** 20).toFixed(1)} → ${
      (after / 2 ** 20).toFixed(1)
    } MiB`,
  };
}

// One source keeping `window` messages in flight, each delivered to
// `conns` sinks. Counts deliveries.
async function broadcast(config: LoadConfig): Promise<RunResult> {
  const sinks = await Promise.all(
    Array.from(
      { length: config.conns },
      () => openRaw(config.port, "/broadcast-sink"),
    ),
  );
  const source = await openRaw(config.port, "/broadcast-source");
  const frames = maskedFrames(payloadOf(config), 0x1, config.batch);
  const probe = maskedFrames(payloadOf(config), 0x1, 1);
  let deliveries = 0;
  let reached = 0; // sinks that received anything
  let running = true;
  let wake: (() => void) | undefined;
  let sent = 0;
  const limit = config.window - config.batch;
  const inFlight = () => sent - Math.floor(deliveries / config.conns);
  const readers = sinks.map(async ({ conn, rest }) => {
    const counter = new FrameCounter();
    counter.push(rest, rest.length);
    const buffer = new Uint8Array(64 * 1024);
    let seen = false;
    while (running) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      deliveries += counter.push(buffer, n);
      if (!seen && counter.messages > 0) {
        seen = true;
        reached++;
      }
      if (wake && inFlight() <= limit) {
        const w = wake;
        wake = undefined;
        w();
      }
    }
  });
  // Every sink must be registered before counting starts: probe until one
  // message reaches them all.
  const probeDeadline = performance.now() + 10_000;
  while (reached < config.conns) {
    if (performance.now() > probeDeadline) {
      throw new Error(`Only ${reached} of ${config.conns} sinks registered`);
    }
    await writeAll(source.conn, probe);
    await sleep(50);
  }
  await sleep(100);
  sent = Math.ceil(deliveries / config.conns);
  const writer = (async () => {
    while (running) {
      while (running && inFlight() > limit) {
        await new Promise<void>((resolve) => wake = resolve);
      }
      if (!running) break;
      sent += config.batch;
      await writeAll(source.conn, frames);
    }
  })().catch(() => {});
  const { rate, cpu } = await measureRate(
    config.warmup,
    config.duration,
    config.serverPid,
    () => deliveries,
  );
  running = false;
  wake?.();
  closeQuietly(source.conn);
  for (const { conn } of sinks) closeQuietly(conn);
  await Promise.allSettled([writer, ...readers]);
  return { metrics: { "deliveries/s": rate }, cpu };
}

const config: LoadConfig = JSON.parse(Deno.args[0]);
const run = {
  echo,
  bytes: echo,
  latency,
  handshake: handshakes,
  idle,
  broadcast,
}[config.mode];
const result = await run(config);
console.log(JSON.stringify(result));
Deno.exit(0);
