import assert from "node:assert/strict";
import { constants, deflateRawSync } from "node:zlib";
import {
  isPerMessageDeflateSupported,
  joinChunks,
  ZlibContext,
  ZlibFailure,
} from "../extensions/_deflate_engine.ts";

const HELLO = new TextEncoder().encode("Hello");

function hex(data: Uint8Array): string {
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function total(parts: Uint8Array[]): number {
  return parts.reduce((n, part) => n + part.length, 0);
}

/** Compressible text of `length` bytes. */
function text(length: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = 0x61 + ((i * 7) % 13);
  return data;
}

Deno.test("isPerMessageDeflateSupported() finds the synchronous handle", () => {
  assert.equal(isPerMessageDeflateSupported(), true);
});

Deno.test("ZlibContext.write() sync-flushes Hello into f2 48 cd c9 c9 07 00 00 00 ff ff", () => {
  const deflater = new ZlibContext("deflate", 15, 6, 8);
  try {
    const out = new Uint8Array(64);
    const n = deflater.write(constants.Z_SYNC_FLUSH, HELLO, 0, 5, out);
    assert.equal(hex(out.subarray(0, n)), "f2 48 cd c9 c9 07 00 00 00 ff ff");
    assert.equal(deflater.consumed, 5);
    // The window is kept: Hello again is a back-reference.
    const again = deflater.write(constants.Z_SYNC_FLUSH, HELLO, 0, 5, out);
    assert.equal(hex(out.subarray(0, again)), "f2 00 11 00 00 00 00 ff ff");
    // reset() forgets it.
    deflater.reset();
    const fresh = deflater.write(constants.Z_SYNC_FLUSH, HELLO, 0, 5, out);
    assert.equal(hex(out.subarray(0, fresh)), hex(out.subarray(0, n)));
  } finally {
    deflater.close();
  }
});

Deno.test("ZlibContext.pump() starts at the first chunk size and doubles", () => {
  const inflater = new ZlibContext("inflate", 15, 0, 0);
  try {
    const original = text(20000);
    const input = deflateRawSync(original, {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const parts: Uint8Array<ArrayBuffer>[] = [];
    const result = inflater.pump(input, parts, 1024, Infinity);
    assert.deepEqual(
      parts.map((part) => part.length),
      [1024, 2048, 4096, 8192, 20000 - 15360],
    );
    assert.deepEqual(result, {
      produced: 20000,
      ended: false,
      consumed: input.length,
    });
    assert.deepEqual(joinChunks(parts, result.produced), original);
    // A first chunk asked bigger than 64 KiB starts at 64 KiB.
    const big = deflateRawSync(text(200000), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const bigParts: Uint8Array<ArrayBuffer>[] = [];
    inflater.pump(big, bigParts, 1 << 20, Infinity);
    assert.deepEqual(
      bigParts.map((part) => part.length),
      [65536, 131072, 200000 - 196608],
    );
  } finally {
    inflater.close();
  }
});

Deno.test("ZlibContext.pump() never holds more than its room", () => {
  const inflater = new ZlibContext("inflate", 15, 0, 0);
  try {
    const input = deflateRawSync(new Uint8Array(1 << 20), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    for (const room of [1, 1000, 4097]) {
      inflater.reset();
      const parts: Uint8Array<ArrayBuffer>[] = [];
      const result = inflater.pump(input, parts, 1024, room);
      assert.equal(result.produced, room);
      assert.equal(total(parts), room);
      assert.equal(result.ended, false);
      assert.ok(result.consumed < input.length);
    }
  } finally {
    inflater.close();
  }
});

Deno.test("ZlibContext.pump() reports a stream that ended with input left over", () => {
  const inflater = new ZlibContext("inflate", 15, 0, 0);
  try {
    // A final block holding Hello, then bytes the ended stream never reads.
    const input = new Uint8Array([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 1]);
    const parts: Uint8Array<ArrayBuffer>[] = [];
    const result = inflater.pump(input, parts, 1024, Infinity);
    assert.equal(new TextDecoder().decode(joinChunks(parts, 5)), "Hello");
    assert.deepEqual(result, { produced: 5, ended: true, consumed: 7 });
    // Ended: it consumes nothing more until reset.
    const after = inflater.pump(input, [], 1024, Infinity);
    assert.deepEqual(after, { produced: 0, ended: true, consumed: 0 });
    inflater.reset();
    assert.equal(inflater.pump(input, [], 1024, Infinity).produced, 5);
  } finally {
    inflater.close();
  }
});

Deno.test("ZlibContext.write() throws a ZlibFailure for data that does not inflate", () => {
  const inflater = new ZlibContext("inflate", 15, 0, 0);
  try {
    // Block type 3 is reserved.
    const input = new Uint8Array([0xff, 0xff, 0xff]);
    assert.throws(
      () => inflater.pump(input, [], 1024, Infinity),
      (error: unknown) => {
        assert.ok(error instanceof ZlibFailure);
        assert.equal(error.errno, constants.Z_DATA_ERROR);
        assert.match(error.message, /block type/);
        return true;
      },
    );
  } finally {
    inflater.close();
  }
});

Deno.test("joinChunks() joins, and copies a small chunk out of a big buffer", () => {
  assert.equal(joinChunks([], 0).length, 0);
  const small = new Uint8Array(100);
  assert.equal(joinChunks([small], 100), small);
  // 10 bytes at the start of 64 KiB: copied, so the 64 KiB can go.
  const big = new Uint8Array(65536).subarray(0, 10);
  const copied = joinChunks([big], 10);
  assert.notEqual(copied, big);
  assert.equal(copied.buffer.byteLength, 10);
  // Half used: kept as it is.
  const half = new Uint8Array(16384).subarray(0, 8192);
  assert.equal(joinChunks([half], 8192), half);
  const joined = joinChunks([new Uint8Array([1, 2]), new Uint8Array([3])], 3);
  assert.deepEqual(joined, new Uint8Array([1, 2, 3]));
});
