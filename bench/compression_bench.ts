/**
 * What permessage-deflate buys and costs through `dial()` and `serve()`:
 * the figures quoted in the README.
 *
 * - `deno run -A bench/compression_bench.ts ratio`: compression ratio and
 *   speed per message of the engine at its default level (3), and at levels
 *   1 and 6, on 1,000 chat-like JSON messages of about 300 bytes and on
 *   100 KiB JSON documents, with and without context takeover.
 * - `deno run -A bench/compression_bench.ts throughput`: echoed messages per
 *   second between our client (this process) and our server (a child
 *   process running `upgrade()` on its own listener, to count the bytes on
 *   the wire) over loopback, compression off and on (median and range of 5
 *   rounds after a warm-up round), the CPU time each process spent per
 *   echo, the bytes each message costs on the wire, and the CPU the rest of
 *   the machine used meanwhile (other load skews the rates).
 * - `deno run -A bench/compression_bench.ts memory`: RSS growth of a server
 *   process and of a client process holding 500 connections that have each
 *   echoed one message, with compression off and on (each case in fresh
 *   processes).
 *
 * @module
 */

import { dial, type DialOptions } from "../client.ts";
import type { Conn, Transport } from "../conn.ts";
import {
  PerMessageDeflate,
  type PerMessageDeflateOptions,
} from "../extensions/permessage_deflate.ts";
import { serve, upgrade } from "../server.ts";
import { cpuTicks, machineBusyTicks, TICKS_PER_SECOND } from "./_wire.ts";

const encoder = new TextEncoder();

/** A seeded PRNG (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ("the of and to in is you that it he was for on are as with " +
  "his they at be this have from or one had by word but not what all were " +
  "we when your can said there use an each which she do how their if will " +
  "up other about out many then them these so some her would make like him " +
  "into time has look two more write go see number no way could people my " +
  "than first water been call who oil its now find long down day did get")
  .split(" ");

/** Distinct chat-like JSON messages of about 300 bytes. */
function chat(count: number, seed: number): string[] {
  const next = random(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)];
  const users = Array.from({ length: 50 }, (_, i) => ({
    id: 1000 + i,
    name: `${pick(WORDS)}_${pick(WORDS)}`,
  }));
  return Array.from({ length: count }, () =>
    JSON.stringify({
      type: pick(["chat.message", "presence.update", "typing.start"]),
      ts: 1700000000000 + Math.floor(next() * 1e9),
      user: pick(users),
      room: `room-${Math.floor(next() * 20)}`,
      text: Array.from(
        { length: 10 + Math.floor(next() * 45) },
        () => pick(WORDS),
      ).join(" "),
      reactions: Array.from({ length: Math.floor(next() * 3) }, () => ({
        emoji: pick(["+1", "heart", "smile"]),
        count: Math.floor(next() * 9),
      })),
    }));
}

/** A JSON document of about `size` bytes: an API page of records. */
function document(size: number, seed: number): string {
  const next = random(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)];
  const items: unknown[] = [];
  let length = 0;
  while (length < size - 400) {
    const item = {
      id: Math.floor(next() * 1e9),
      name: `${pick(WORDS)} ${pick(WORDS)}`,
      email: `${pick(WORDS)}.${pick(WORDS)}@example.com`,
      active: next() < 0.8,
      score: Math.round(next() * 10000) / 100,
      tags: Array.from({ length: Math.floor(next() * 4) }, () => pick(WORDS)),
      created: new Date(1.6e12 + Math.floor(next() * 1e11)).toISOString(),
      bio: Array.from(
        { length: 4 + Math.floor(next() * 16) },
        () => pick(WORDS),
      ).join(" "),
    };
    items.push(item);
    length += JSON.stringify(item).length + 1;
  }
  return JSON.stringify({ page: 1, total: items.length, items });
}

/** Measured rounds per throughput case, after one warm-up round. */
const ROUNDS = 5;

const CHAT = chat(1000, 1);
const CHAT_SIZE = Math.round(
  CHAT.reduce((n, m) => n + encoder.encode(m).length, 0) / CHAT.length,
);
const DOCS = Array.from({ length: 10 }, (_, i) => document(100 * 1024, 2 + i));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// ---------------------------------------------------------------------------
// ratio: the engine alone.

function ratio(): void {
  console.log(
    "| data | level | context takeover | compressed / original | compress | restore |",
  );
  console.log("|---|---|---|---|---|---|");
  const sets: [string, Uint8Array[], number][] = [
    [
      `1,000 chat messages, ${CHAT_SIZE} B on average`,
      CHAT.map((m) => encoder.encode(m)),
      30,
    ],
    ["10 JSON documents, 100 KiB", DOCS.map((m) => encoder.encode(m)), 20],
  ];
  for (const [name, messages, rounds] of sets) {
    const original = messages.reduce((n, m) => n + m.length, 0);
    for (const level of [1, 3, 6]) {
      for (const takeover of [true, false]) {
        const options = {
          threshold: 0,
          level,
          clientNoContextTakeover: !takeover,
          serverNoContextTakeover: !takeover,
        };
        const compressTimes: number[] = [];
        const restoreTimes: number[] = [];
        let compressed = 0;
        for (let round = 0; round < rounds; round++) {
          using client = new PerMessageDeflate({ role: "client", ...options });
          using server = new PerMessageDeflate({ role: "server", ...options });
          const out: Uint8Array[] = [];
          let started = performance.now();
          for (const message of messages) {
            out.push(client.compress(message) ?? message);
          }
          compressTimes.push(performance.now() - started);
          started = performance.now();
          for (const payload of out) server.decompress(payload, true, Infinity);
          restoreTimes.push(performance.now() - started);
          compressed = out.reduce((n, m) => n + m.length, 0);
        }
        const perMessage = (ms: number) => (ms * 1000) / messages.length;
        const rate = (ms: number) => (original / 1e6 / (ms / 1000)).toFixed(0);
        const c = Math.min(...compressTimes);
        const r = Math.min(...restoreTimes);
        console.log(
          `| ${name} | ${level} | ${takeover ? "yes" : "no"} | ${
            (compressed / original).toFixed(3)
          } | ${perMessage(c).toFixed(1)} us/msg (${rate(c)} MB/s) | ${
            perMessage(r).toFixed(1)
          } us/msg (${rate(r)} MB/s) |`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------
// throughput: dial() to serve() over loopback.

/** Counts the bytes a socket reads and writes. */
class CountingTransport implements Transport {
  bytesRead = 0;
  bytesWritten = 0;
  readonly #socket: Deno.Conn;
  constructor(socket: Deno.Conn) {
    this.#socket = socket;
  }
  get localAddr(): Deno.Addr {
    return this.#socket.localAddr;
  }
  get remoteAddr(): Deno.Addr {
    return this.#socket.remoteAddr;
  }
  async read(p: Uint8Array): Promise<number | null> {
    const n = await this.#socket.read(p);
    if (n !== null) this.bytesRead += n;
    return n;
  }
  async write(p: Uint8Array): Promise<number> {
    const n = await this.#socket.write(p);
    this.bytesWritten += n;
    return n;
  }
  close(): void {
    this.#socket.close();
  }
  closeWrite(): Promise<void> {
    return this.#socket.closeWrite();
  }
}

/**
 * The echo server for `throughput`: one connection at a time on its own
 * listener, with the compression options given; prints the port, then one
 * JSON line of wire bytes per connection.
 */
async function echoServer(compression: string): Promise<void> {
  const options = JSON.parse(compression) as boolean | PerMessageDeflateOptions;
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port }));
  for await (const socket of listener) {
    socket.setNoDelay(true);
    const counting = new CountingTransport(socket);
    const conn = await upgrade(counting, {
      compression: options,
      pingInterval: 0,
      maxMessageSize: 1 << 30,
    });
    const wire = { read: 0, written: 0 };
    (async () => {
      try {
        for await (const message of conn) conn.send(message).catch(() => {});
      } catch {
        // The client went away.
      }
      await conn.closed;
      wire.read = counting.bytesRead;
      wire.written = counting.bytesWritten;
      console.log(JSON.stringify(wire));
    })();
  }
}

/** Spawns a child running `role` with `args`; reads its JSON lines. */
function child(role: string, args: string[]): {
  process: Deno.ChildProcess;
  lines: AsyncIterator<string>;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
} {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      import.meta.filename!,
      role,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let buffered = "";
  const reader = process.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const lines = (async function* () {
    while (true) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        yield line;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
    }
  })();
  return { process, lines, stdin: process.stdin.getWriter() };
}

async function nextJson<T>(lines: AsyncIterator<string>): Promise<T> {
  const { value, done } = await lines.next();
  if (done) throw new Error("The child process ended early");
  return JSON.parse(value) as T;
}

/** Echoes `messages` `count` times over with `window` in flight. */
async function pump(
  conn: Conn,
  messages: string[],
  count: number,
  window: number,
): Promise<number> {
  const reader = conn.readable.getReader();
  const started = performance.now();
  let sent = 0;
  let received = 0;
  const sendOne = () => {
    conn.send(messages[sent % messages.length]).catch(() => {});
    sent++;
  };
  while (sent < Math.min(window, count)) sendOne();
  while (received < count) {
    const { done } = await reader.read();
    if (done) throw new Error("Connection ended early");
    received++;
    if (sent < count) sendOne();
  }
  const elapsed = performance.now() - started;
  reader.releaseLock();
  return elapsed;
}

interface ThroughputCase {
  name: string;
  server: boolean | PerMessageDeflateOptions;
  client: DialOptions["compression"];
}

async function throughput(): Promise<void> {
  const noTakeover = {
    threshold: 0,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  };
  const sets: [string, string[], number, number, ThroughputCase[]][] = [
    [`chat, ${CHAT_SIZE} B`, CHAT, 50_000, 64, [
      { name: "off", server: false, client: false },
      {
        name: "on, default threshold (1 KiB: not compressed)",
        server: true,
        client: true,
      },
      {
        name: "on, threshold 0, context takeover",
        server: { threshold: 0 },
        client: { threshold: 0 },
      },
      {
        name: "on, threshold 0, no context takeover",
        server: noTakeover,
        client: noTakeover,
      },
    ]],
    ["JSON document 100 KiB", DOCS, 1000, 8, [
      { name: "off", server: false, client: false },
      { name: "on, context takeover", server: true, client: true },
      {
        name: "on, no context takeover",
        server: noTakeover,
        client: noTakeover,
      },
    ]],
  ];
  console.log(
    "| messages | compression | echoes/s | CPU per echo: client, server | wire bytes per message: client to server, server to client | other load |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const [name, messages, count, window, cases] of sets) {
    for (const c of cases) {
      const server = child("echo-server", [JSON.stringify(c.server)]);
      try {
        const { port } = await nextJson<{ port: number }>(server.lines);
        const rates: number[] = [];
        const clientCpu: number[] = [];
        const serverCpu: number[] = [];
        const other: number[] = [];
        let wire = { read: 0, written: 0 };
        for (let round = 0; round <= ROUNDS; round++) {
          const conn = await dial(`ws://127.0.0.1:${port}/`, {
            compression: c.client,
            pingInterval: 0,
            maxMessageSize: 1 << 30,
          });
          const self = cpuTicks(Deno.pid);
          const peer = cpuTicks(server.process.pid);
          const machine = machineBusyTicks();
          const elapsed = await pump(conn, messages, count, window);
          const selfTicks = cpuTicks(Deno.pid) - self;
          const peerTicks = cpuTicks(server.process.pid) - peer;
          const otherTicks = machineBusyTicks() - machine - selfTicks -
            peerTicks;
          await conn.close();
          wire = await nextJson(server.lines);
          // The first round warms up the JIT.
          if (round === 0) continue;
          rates.push(count / (elapsed / 1000));
          const us = (ticks: number) => ticks / TICKS_PER_SECOND * 1e6 / count;
          clientCpu.push(us(selfTicks));
          serverCpu.push(us(peerTicks));
          other.push(
            Math.max(0, otherTicks) / TICKS_PER_SECOND / (elapsed / 1000),
          );
        }
        const fixed = (n: number) => n.toFixed(n < 100 ? 1 : 0);
        console.log(
          `| ${name} | ${c.name} | ${median(rates).toFixed(0)} (${
            Math.min(...rates).toFixed(0)
          }–${Math.max(...rates).toFixed(0)}) | ${
            fixed(median(clientCpu))
          } us, ${fixed(median(serverCpu))} us | ${
            (wire.read / count).toFixed(0)
          }, ${(wire.written / count).toFixed(0)} | ${
            median(other).toFixed(2)
          } cores |`,
        );
      } finally {
        server.process.kill();
        await server.process.status;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// memory: RSS per connection.

const CONNECTIONS = 500;

interface MemoryCase {
  name: string;
  compression: boolean | PerMessageDeflateOptions;
  message: string;
}

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss;
}

/** The server of `memory`: echoes, holds every connection, reports RSS. */
async function memoryServer(compression: string): Promise<void> {
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    compression: JSON.parse(compression),
    pingInterval: 0,
  }, async (conn) => {
    for await (const message of conn) await conn.send(message);
  });
  console.log(JSON.stringify({ port: server.addr.port }));
  const input = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const chunk of input) {
    for (const command of chunk.split("\n").filter(Boolean)) {
      if (command === "rss") console.log(JSON.stringify({ rss: rss() }));
      if (command === "quit") {
        await server.shutdown();
        return;
      }
    }
  }
}

/** The client of `memory`: opens connections on command, reports RSS. */
async function memoryClient(
  port: string,
  compression: string,
  message: string,
): Promise<void> {
  const conns: Conn[] = [];
  const open = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const conn = await dial(`ws://127.0.0.1:${port}/`, {
        compression: JSON.parse(compression),
        pingInterval: 0,
      });
      await conn.send(message);
      const reader = conn.readable.getReader();
      const { value } = await reader.read();
      reader.releaseLock();
      if (value !== message) throw new Error("Bad echo");
      conns.push(conn);
    }
  };
  const input = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const chunk of input) {
    for (const command of chunk.split("\n").filter(Boolean)) {
      if (command.startsWith("open ")) {
        await open(Number(command.slice(5)));
        console.log(JSON.stringify({ rss: rss() }));
      }
      if (command === "rss") console.log(JSON.stringify({ rss: rss() }));
      if (command === "quit") {
        await Promise.all(conns.map((conn) => conn.close()));
        return;
      }
    }
  }
}

async function memory(): Promise<void> {
  const small = CHAT[0];
  const big = DOCS[0].slice(0, 2048);
  const cases: MemoryCase[] = [
    { name: "off, 2 KiB message", compression: false, message: big },
    {
      name: "on, 2 KiB message (compressed both ways)",
      compression: true,
      message: big,
    },
    {
      name: "off, 64 KiB message",
      compression: false,
      message: DOCS[1].slice(0, 64 * 1024),
    },
    {
      name: "on, 64 KiB message (compressed both ways)",
      compression: true,
      message: DOCS[1].slice(0, 64 * 1024),
    },
    { name: "off, 300 B message", compression: false, message: small },
    {
      name: "on, 300 B message (under the threshold: not compressed)",
      compression: true,
      message: small,
    },
    {
      name: "on, no context takeover, 2 KiB message",
      compression: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      },
      message: big,
    },
    {
      name: "on, 10-bit windows, memLevel 4, 2 KiB message",
      compression: {
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 10,
        memLevel: 4,
      },
      message: big,
    },
  ];
  console.log(
    `| case | server RSS per connection | client RSS per connection |`,
  );
  console.log("|---|---|---|");
  const send = (to: WritableStreamDefaultWriter<Uint8Array>, line: string) =>
    to.write(encoder.encode(line + "\n"));
  for (const c of cases) {
    const compression = JSON.stringify(c.compression);
    const server = child("memory-server", [compression]);
    const { port } = await nextJson<{ port: number }>(server.lines);
    const client = child("memory-client", [
      String(port),
      compression,
      c.message,
    ]);
    // Warm up: code paths, JIT, zlib's first context.
    await send(client.stdin, "open 5");
    await nextJson(client.lines);
    await send(server.stdin, "rss");
    const serverBefore = (await nextJson<{ rss: number }>(server.lines)).rss;
    await send(client.stdin, "rss");
    const clientBefore = (await nextJson<{ rss: number }>(client.lines)).rss;
    await send(client.stdin, `open ${CONNECTIONS}`);
    const clientAfter = (await nextJson<{ rss: number }>(client.lines)).rss;
    await send(server.stdin, "rss");
    const serverAfter = (await nextJson<{ rss: number }>(server.lines)).rss;
    const kib = (bytes: number) =>
      `${(bytes / CONNECTIONS / 1024).toFixed(0)} KiB`;
    console.log(
      `| ${c.name} | ${kib(serverAfter - serverBefore)} | ${
        kib(clientAfter - clientBefore)
      } |`,
    );
    await send(client.stdin, "quit");
    await client.process.status;
    await send(server.stdin, "quit");
    await server.process.status;
  }
}

// ---------------------------------------------------------------------------

const [mode, ...rest] = Deno.args;
if (mode === "ratio") ratio();
else if (mode === "throughput") await throughput();
else if (mode === "memory") await memory();
else if (mode === "echo-server") await echoServer(rest[0]);
else if (mode === "memory-server") await memoryServer(rest[0]);
else if (mode === "memory-client") {
  await memoryClient(rest[0], rest[1], rest[2]);
} else {
  console.error(
    "Usage: deno run -A bench/compression_bench.ts ratio|throughput|memory",
  );
  Deno.exit(2);
}
