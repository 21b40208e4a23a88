/**
 * Measures the permessage-deflate engine: the figures quoted in the engine
 * notes of `permessage_deflate.ts`.
 *
 * - `deno bench -A bench/deflate_engine_bench.ts`: speed per message, by
 *   level, with and without context takeover, against node:zlib's stateless
 *   `deflateRawSync` / `inflateRawSync`.
 * - `deno run -A bench/deflate_engine_bench.ts table`: ratio and time per
 *   message by level and data (the engine notes' table).
 * - `deno run -A bench/deflate_engine_bench.ts memory`: RSS per zlib context
 *   by window bits and memLevel (each case in a fresh process).
 *
 * @module
 */

import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";
import { PerMessageDeflate } from "../extensions/permessage_deflate.ts";

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

/** Distinct chat-like JSON messages of about 350 bytes. */
function chat(count: number, seed: number): Uint8Array[] {
  const next = random(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)];
  const users = Array.from({ length: 50 }, (_, i) => ({
    id: 1000 + i,
    name: `${pick(WORDS)}_${pick(WORDS)}`,
  }));
  const message = (): string =>
    JSON.stringify({
      type: pick(["chat.message", "presence.update", "typing.start"]),
      ts: 1700000000000 + Math.floor(next() * 1e9),
      user: pick(users),
      room: `room-${Math.floor(next() * 20)}`,
      text: Array.from(
        { length: 5 + Math.floor(next() * 60) },
        () => pick(WORDS),
      ).join(" "),
      reactions: Array.from({ length: Math.floor(next() * 4) }, () => ({
        emoji: pick(["+1", "heart", "smile"]),
        count: Math.floor(next() * 9),
      })),
    });
  return Array.from({ length: count }, () => encoder.encode(message()));
}

/** Batches of 40 chat messages: about 14 KiB each. */
function batches(count: number, seed: number): Uint8Array[] {
  const messages = chat(count * 40, seed);
  const decoder = new TextDecoder();
  return Array.from(
    { length: count },
    (_, i) =>
      encoder.encode(
        `[${
          messages.slice(i * 40, i * 40 + 40).map((m) => decoder.decode(m))
            .join(",")
        }]`,
      ),
  );
}

function extension(
  role: "client" | "server",
  level: number,
  takeover: boolean,
  bits = 15,
): PerMessageDeflate {
  return new PerMessageDeflate({
    role,
    threshold: 0,
    level,
    serverMaxWindowBits: bits,
    clientMaxWindowBits: bits,
    clientNoContextTakeover: !takeover,
    serverNoContextTakeover: !takeover,
  });
}

// ---------------------------------------------------------------------------
// deno bench

const SMALL = chat(200, 1);
const BIG = batches(20, 2);
const KIB = chat(1200, 3).map((_, i, all) =>
  join([all[i], all[(i + 1) % 1200], all[(i + 2) % 1200], all[(i + 3) % 1200]])
    .slice(0, 1024)
);

for (
  const [name, data] of [["350 B", SMALL], ["1 KiB", KIB], [
    "14 KiB",
    BIG,
  ]] as const
) {
  for (const level of [1, 3, 6, 9]) {
    for (const takeover of [true, false]) {
      const client = extension("client", level, takeover);
      let i = 0;
      Deno.bench({
        name: `compress ${name}, level ${level}${
          takeover ? "" : ", no context takeover"
        }`,
        group: `compress ${name}`,
        baseline: level === 3 && takeover,
        fn: () => {
          client.compress(data[i++ % data.length]);
        },
      });
    }
  }
  let next = 0;
  Deno.bench({
    name: `deflateRawSync ${name}, level 3 (stateless)`,
    group: `compress ${name}`,
    fn: () => {
      deflateRawSync(data[next++ % data.length], {
        level: 3,
        finishFlush: constants.Z_SYNC_FLUSH,
      });
    },
  });
  for (const takeover of [true, false]) {
    const client = extension("client", 3, takeover);
    // With context takeover the messages must be restored in order, by the
    // same extension: a new one starts each round.
    const compressed = data.map((m) => client.compress(m)!);
    client.close();
    let server = extension("server", 3, takeover);
    let i = 0;
    Deno.bench({
      name: `decompress ${name}${takeover ? "" : ", no context takeover"}`,
      group: `decompress ${name}`,
      baseline: takeover,
      fn: () => {
        if (i === compressed.length) {
          i = 0;
          server.close();
          server = extension("server", 3, takeover);
        }
        server.decompress(compressed[i++], true, Infinity);
      },
    });
  }
  const stateless = data.map((m) =>
    deflateRawSync(m, { level: 3, finishFlush: constants.Z_SYNC_FLUSH })
  );
  let inflated = 0;
  Deno.bench({
    name: `inflateRawSync ${name} (stateless)`,
    group: `decompress ${name}`,
    fn: () => {
      inflateRawSync(stateless[inflated++ % stateless.length], {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: 1 << 20,
      });
    },
  });
}

// ---------------------------------------------------------------------------
// deno run ... table

/** Joins messages into one. */
function join(messages: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
  let offset = 0;
  for (const message of messages) {
    joined.set(message, offset);
    offset += message.length;
  }
  return joined;
}

function table(): void {
  const sets: [string, Uint8Array[]][] = [
    ["350 B chat JSON", chat(4000, 4)],
    ["14 KiB JSON batch", batches(400, 5)],
    ["1 MiB JSON", [6, 7, 8].map((seed) => join(batches(75, seed)))],
  ];
  console.log("data, window bits, level, context takeover: us/msg, ratio");
  for (const [label, set] of sets) {
    const total = set.reduce((n, m) => n + m.length, 0);
    for (const bits of [15, 12, 9]) {
      for (const level of [1, 3, 6, 9]) {
        for (const takeover of [true, false]) {
          // Best of three rounds after a warm-up round.
          let elapsed = Infinity;
          let out = 0;
          for (let round = 0; round < 4; round++) {
            const client = extension("client", level, takeover, bits);
            out = 0;
            const started = performance.now();
            for (const message of set) {
              out += client.compress(message)?.length ?? message.length;
            }
            if (round > 0) {
              elapsed = Math.min(elapsed, performance.now() - started);
            }
            client.close();
          }
          console.log(
            `${label}, ${bits} bits, level ${level}, ${
              takeover ? "takeover" : "no takeover"
            }: ${(elapsed * 1000 / set.length).toFixed(1)} us, ${
              (out / total).toFixed(3)
            }`,
          );
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// deno run ... memory

const CASES: [kind: string, bits: number, memLevel: number, used: boolean][] = [
  ["deflate", 15, 8, true],
  ["deflate", 15, 8, false],
  ["deflate", 15, 1, true],
  ["deflate", 15, 9, true],
  ["deflate", 12, 5, true],
  ["deflate", 10, 8, true],
  ["deflate", 9, 1, true],
  ["inflate", 15, 8, true],
  ["inflate", 15, 8, false],
  ["inflate", 12, 8, true],
  ["inflate", 9, 8, true],
];

async function memory(): Promise<void> {
  for (const [kind, bits, memLevel, used] of CASES) {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        import.meta.filename!,
        "memory-one",
        kind,
        String(bits),
        String(memLevel),
        String(used),
      ],
      stderr: "inherit",
    }).output();
    console.log(new TextDecoder().decode(stdout).trim());
  }
}

/** RSS of 1000 contexts of one kind after a 64 KiB message, in a fresh process. */
function memoryOne(
  kind: string,
  bits: number,
  memLevel: number,
  used: boolean,
): void {
  const count = 1000;
  const gc = (globalThis as { gc?: () => void }).gc;
  // 64 KiB: enough to fill the largest window and touch every table.
  const message = join(batches(5, 7)).slice(0, 64 * 1024);
  const compressed = deflateRawSync(message, {
    windowBits: bits,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  const output = new Uint8Array(256 * 1024);
  const streams: { close(): void }[] = [];
  gc?.();
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < count; i++) {
    // The same private handle PerMessageDeflate drives, kept open.
    const stream = (kind === "deflate"
      ? createDeflateRaw({ windowBits: bits, memLevel, chunkSize: 64 })
      : createInflateRaw({ windowBits: bits, chunkSize: 64 })) as unknown as {
        _handle: {
          writeSync(...args: unknown[]): void;
          onerror: unknown;
        };
        close(): void;
      };
    stream._handle.onerror = () => {};
    if (used) {
      const input = kind === "deflate" ? message : compressed;
      stream._handle.writeSync(
        constants.Z_SYNC_FLUSH,
        input,
        0,
        input.length,
        output,
        0,
        output.length,
      );
    }
    streams.push(stream);
  }
  gc?.();
  const grown = Deno.memoryUsage().rss - before;
  console.log(
    `${kind} ${bits} bits, memLevel ${memLevel}${used ? "" : ", unused"}: ${
      (grown / count / 1024).toFixed(0)
    } KiB RSS per context`,
  );
  for (const stream of streams) stream.close();
}

if (Deno.args[0] === "table") table();
if (Deno.args[0] === "memory") await memory();
if (Deno.args[0] === "memory-one") {
  const [, kind, bits, memLevel, used] = Deno.args;
  memoryOne(kind, Number(bits), Number(memLevel), used === "true");
}
