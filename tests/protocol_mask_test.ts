import assert from "node:assert/strict";
import { applyMask, fillMaskKey, xorMask } from "../protocol/_mask.ts";
import { randomBytes } from "./_util.ts";

// The definition: byte i of the payload is XORed with key byte i mod 4.
function reference(
  payload: Uint8Array,
  key: Uint8Array,
  phase: number,
): Uint8Array {
  return payload.map((b, i) => b ^ key[(phase + i) & 3]);
}

const LENGTHS = [0, 1, 3, 4, 5, 63, 64, 65, 255, 256, 257, 1024, 70001];

Deno.test("xorMask() matches the definition for every length, offset and phase", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  for (const length of LENGTHS) {
    const payload = randomBytes(length, length + 1);
    for (const sourceStart of [0, 1, 2, 3]) {
      for (const targetStart of [0, 1, 2, 3, 6]) {
        for (const phase of [0, 1, 2, 3, 5]) {
          const source = new Uint8Array(length + sourceStart);
          source.set(payload, sourceStart);
          const target = new Uint8Array(length + targetStart + 2);
          xorMask(
            source,
            sourceStart,
            target,
            targetStart,
            length,
            key,
            0,
            phase,
          );
          const what = `${length} ${sourceStart}→${targetStart} phase ${phase}`;
          assert.deepEqual(
            target.subarray(targetStart, targetStart + length),
            reference(payload, key, phase),
            what,
          );
          // Nothing outside the run is written; the source is untouched.
          assert.deepEqual(
            target.subarray(0, targetStart),
            new Uint8Array(targetStart),
            what,
          );
          assert.deepEqual(
            target.subarray(targetStart + length),
            new Uint8Array(2),
            what,
          );
          assert.deepEqual(source.subarray(sourceStart), payload, what);
        }
      }
    }
  }
});

Deno.test("xorMask() masks in place, with the key inside the buffer written", () => {
  for (const length of LENGTHS) {
    const payload = randomBytes(length, 7 * length + 3);
    // A frame: 2 header bytes, the key at 2, the payload at 6.
    const frame = new Uint8Array(6 + length);
    frame.set([1, 2, 3, 4], 2);
    frame.set(payload, 6);
    xorMask(frame, 6, frame, 6, length, frame, 2, 0);
    assert.deepEqual(
      frame.subarray(6),
      reference(payload, new Uint8Array([1, 2, 3, 4]), 0),
      `${length}`,
    );
    assert.deepEqual(frame.subarray(2, 6), new Uint8Array([1, 2, 3, 4]));
  }
});

Deno.test("xorMask() in pieces with their phases equals one pass", () => {
  const key = new Uint8Array([9, 8, 7, 6]);
  const payload = randomBytes(5000, 11);
  const whole = reference(payload, key, 0);
  const out = new Uint8Array(payload.length);
  for (
    const [from, to] of [[0, 3], [3, 70], [70, 71], [71, 4999], [4999, 5000]]
  ) {
    xorMask(payload, from, out, from, to - from, key, 0, from);
  }
  assert.deepEqual(out, whole);
});

Deno.test("applyMask() is its own inverse and leaves the source alone", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  for (const length of LENGTHS) {
    const payload = randomBytes(length, length);
    const masked = new Uint8Array(length);
    applyMask(payload, key, masked);
    assert.deepEqual(masked, reference(payload, key, 0));
    applyMask(masked, key, masked);
    assert.deepEqual(masked, payload);
  }
});

Deno.test("fillMaskKey() writes four bytes at the offset, fresh each time", () => {
  const target = new Uint8Array(10);
  const keys = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    target.fill(0);
    fillMaskKey(target, 3);
    assert.deepEqual(target.subarray(0, 3), new Uint8Array(3));
    assert.deepEqual(target.subarray(7), new Uint8Array(3));
    keys.add(target.subarray(3, 7).join());
  }
  // Across a refill of the pool, keys keep coming from random bytes.
  assert.ok(keys.size > 1990, `${keys.size} distinct keys`);
});
