// Codec-only benchmarks of frame.ts: encoding, decoding and masking, for
// small and large frames, with no sockets involved.
//
//   deno bench bench/frame_bench.ts

import {
  applyMask,
  encodeFrame,
  encodeFrameHeader,
  fillMaskKey,
  FrameDecoder,
  Opcode,
} from "../frame.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const FRAMES_PER_CHUNK = 1000;

function payload(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = 97 + (i % 26);
  return bytes;
}

function chunkOf(size: number, count: number, mask: boolean): Uint8Array {
  const one = encodeFrame({ opcode: Opcode.Binary, payload: payload(size) }, {
    mask,
    maskKey: mask ? KEY : undefined,
  });
  const out = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) out.set(one, i * one.length);
  return out;
}

function decodeAll(decoder: FrameDecoder, chunk: Uint8Array): number {
  decoder.push(chunk);
  let frames = 0;
  while (decoder.next()) frames++;
  return frames;
}

// ---- Encoding --------------------------------------------------------

const small = payload(16);
const medium = payload(1024);
const large = payload(1 << 20);
const header = new Uint8Array(14);

Deno.bench(
  "encodeFrame 16 B unmasked (server)",
  { group: "encode 16 B" },
  () => {
    encodeFrame({ opcode: Opcode.Text, payload: small });
  },
);

Deno.bench(
  "encodeFrame 16 B masked, pooled key (client)",
  { group: "encode 16 B", baseline: true },
  () => {
    encodeFrame({ opcode: Opcode.Text, payload: small }, { mask: true });
  },
);

// For scale: what one small allocation costs.
Deno.bench("new Uint8Array(22) alone", { group: "encode 16 B" }, () => {
  new Uint8Array(22);
});

Deno.bench("encodeFrameHeader 16 B masked", { group: "encode 16 B" }, () => {
  fillMaskKey(header, 2);
  encodeFrameHeader(header, { opcode: Opcode.Text }, 16, header.subarray(2, 6));
});

Deno.bench("encodeFrame 1 KiB masked", { group: "encode 1 KiB" }, () => {
  encodeFrame({ opcode: Opcode.Binary, payload: medium }, { mask: true });
});

Deno.bench("encodeFrame 1 KiB unmasked", { group: "encode 1 KiB" }, () => {
  encodeFrame({ opcode: Opcode.Binary, payload: medium });
});

Deno.bench("encodeFrame 1 MiB masked", { group: "encode 1 MiB" }, () => {
  encodeFrame({ opcode: Opcode.Binary, payload: large }, { mask: true });
});

Deno.bench("encodeFrame 1 MiB unmasked", { group: "encode 1 MiB" }, () => {
  encodeFrame({ opcode: Opcode.Binary, payload: large });
});

// ---- Decoding --------------------------------------------------------

const masked16 = chunkOf(16, FRAMES_PER_CHUNK, true);
const unmasked16 = chunkOf(16, FRAMES_PER_CHUNK, false);
const masked1m = chunkOf(1 << 20, 1, true);

Deno.bench(
  "decode 1000 × 16 B masked frames, copies (server)",
  { group: "decode 16 B", baseline: true },
  () => {
    decodeAll(new FrameDecoder({ role: "server" }), masked16);
  },
);

Deno.bench(
  "decode 1000 × 16 B masked frames, in place (ownsInput)",
  { group: "decode 16 B" },
  (b) => {
    const chunk = masked16.slice();
    b.start();
    decodeAll(new FrameDecoder({ role: "server", ownsInput: true }), chunk);
    b.end();
  },
);

Deno.bench(
  "decode 1000 × 16 B unmasked frames, views (client)",
  { group: "decode 16 B" },
  () => {
    decodeAll(new FrameDecoder({ role: "client" }), unmasked16);
  },
);

Deno.bench(
  "decode 50 × 16 B masked frames, one byte per push",
  { group: "decode 16 B split" },
  (b) => {
    const pieces = Array.from(
      { length: 22 * 50 },
      (_, i) => masked16.subarray(i, i + 1),
    );
    b.start();
    const decoder = new FrameDecoder({ role: "server" });
    for (const piece of pieces) {
      decoder.push(piece);
      while (decoder.next()) {
        // Drained.
      }
    }
    b.end();
  },
);

Deno.bench(
  "decode 1 MiB masked frame, copy",
  { group: "decode 1 MiB", baseline: true },
  () => {
    decodeAll(new FrameDecoder({ role: "server" }), masked1m);
  },
);

Deno.bench(
  "decode 1 MiB masked frame, in place (ownsInput)",
  { group: "decode 1 MiB" },
  (b) => {
    const chunk = masked1m.slice();
    b.start();
    decodeAll(new FrameDecoder({ role: "server", ownsInput: true }), chunk);
    b.end();
  },
);

Deno.bench(
  "decode 1 MiB masked frame in 16 chunks of 64 KiB",
  { group: "decode 1 MiB" },
  (b) => {
    const pieces = Array.from(
      { length: Math.ceil(masked1m.length / 65536) },
      (_, i) => masked1m.slice(i * 65536, (i + 1) * 65536),
    );
    b.start();
    const decoder = new FrameDecoder({ role: "server", ownsInput: true });
    for (const piece of pieces) decoder.push(piece);
    decoder.next();
    b.end();
  },
);

// ---- Masking ---------------------------------------------------------

const maskOut16 = new Uint8Array(16);
const maskOut1m = new Uint8Array(1 << 20);

Deno.bench("applyMask 16 B", { group: "mask 16 B" }, () => {
  applyMask(small, KEY, maskOut16);
});

Deno.bench("applyMask 1 MiB into another buffer", {
  group: "mask 1 MiB",
  baseline: true,
}, () => {
  applyMask(large, KEY, maskOut1m);
});

Deno.bench("applyMask 1 MiB in place", { group: "mask 1 MiB" }, () => {
  applyMask(maskOut1m, KEY, maskOut1m);
});

// The lever under evaluation: XOR 32 bits at a time through a Uint32Array
// view (little-endian key word), bytes only at the unaligned edges.
function applyMask32(bytes: Uint8Array, key: Uint8Array): void {
  const length = bytes.length;
  let i = 0;
  // Align to 4 bytes within the buffer.
  const misalign = (4 - (bytes.byteOffset & 3)) & 3;
  for (; i < misalign && i < length; i++) bytes[i] ^= key[i & 3];
  const words = (length - i) >>> 2;
  if (words > 0) {
    const k = ((key[(i + 3) & 3] << 24) | (key[(i + 2) & 3] << 16) |
      (key[(i + 1) & 3] << 8) | key[i & 3]) | 0;
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= k;
    i += words * 4;
  }
  for (; i < length; i++) bytes[i] ^= key[i & 3];
}

Deno.bench(
  "32-bit XOR in place, 1 MiB (proposed applyMask)",
  { group: "mask 1 MiB" },
  () => {
    applyMask32(maskOut1m, KEY);
  },
);

Deno.bench("fillMaskKey (pooled)", { group: "mask key" }, () => {
  fillMaskKey(header, 0);
});

Deno.bench(
  "crypto.getRandomValues, 4 bytes",
  { group: "mask key", baseline: true },
  () => {
    crypto.getRandomValues(header.subarray(0, 4));
  },
);
