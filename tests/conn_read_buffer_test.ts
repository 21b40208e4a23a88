import assert from "node:assert/strict";
import { ReadBuffer } from "../conn/_read_buffer.ts";

Deno.test("ReadBuffer copies small reads out and keeps its buffer", () => {
  const reads = new ReadBuffer();
  const buffer = reads.buffer;
  assert.equal(buffer.length, 256);
  buffer.set([1, 2, 3]);
  const bytes = reads.take(3);
  assert.deepEqual(bytes, new Uint8Array([1, 2, 3]));
  assert.notEqual(bytes.buffer, buffer.buffer, "a copy");
  assert.equal(reads.buffer, buffer, "reused");
});

Deno.test("ReadBuffer doubles while reads fill it, up to 64 KiB, handing the full ones over", () => {
  const reads = new ReadBuffer();
  const sizes = [];
  for (let i = 0; i < 10; i++) {
    const buffer = reads.buffer;
    const bytes = reads.take(buffer.length);
    assert.equal(bytes.buffer, buffer.buffer, "no copy of a full read");
    sizes.push(reads.buffer.length);
  }
  assert.deepEqual(sizes, [
    512,
    1024,
    2048,
    4096,
    8192,
    16384,
    32768,
    65536,
    65536,
    65536,
  ]);
});

Deno.test("ReadBuffer halves while reads use under a quarter of it, down to 256 bytes", () => {
  const reads = new ReadBuffer();
  while (reads.buffer.length < 65536) reads.take(reads.buffer.length);
  const sizes = [];
  while (reads.buffer.length > 256) {
    reads.take(10);
    sizes.push(reads.buffer.length);
  }
  assert.deepEqual(sizes, [32768, 16384, 8192, 4096, 2048, 1024, 512, 256]);
  const kept = reads.buffer;
  reads.take(10);
  assert.equal(reads.buffer, kept, "no smaller than 256 bytes");
});

Deno.test("ReadBuffer hands over a large read that does not resize it", () => {
  const reads = new ReadBuffer();
  while (reads.buffer.length < 65536) reads.take(reads.buffer.length);
  const buffer = reads.buffer;
  const bytes = reads.take(20_000); // over the copy limit, over a quarter
  assert.equal(bytes.buffer, buffer.buffer);
  assert.notEqual(reads.buffer, buffer, "a fresh buffer for the next read");
  assert.equal(reads.buffer.length, 65536);
});
