import assert from "node:assert/strict";
import { ChunkQueue } from "../protocol/_chunk_queue.ts";
import { concat, everySplit, randomBytes } from "./_util.ts";

function queueOf(...chunks: Uint8Array[]): ChunkQueue {
  const queue = new ChunkQueue();
  for (const chunk of chunks) queue.push(chunk);
  return queue;
}

Deno.test("ChunkQueue.take() returns a view within one chunk and a copy across chunks", () => {
  const a = new Uint8Array([1, 2, 3, 4]);
  const b = new Uint8Array([5, 6, 7]);
  const queue = queueOf(a, b);
  assert.equal(queue.length, 7);
  const view = queue.take(2, undefined);
  assert.equal(queue.copied, false);
  assert.equal(view.buffer, a.buffer);
  assert.deepEqual(view, new Uint8Array([1, 2]));
  const copy = queue.take(3, undefined);
  assert.equal(queue.copied, true);
  assert.notEqual(copy.buffer, a.buffer);
  assert.deepEqual(copy, new Uint8Array([3, 4, 5]));
  assert.equal(queue.length, 2);
  assert.deepEqual(queue.take(2, undefined), new Uint8Array([6, 7]));
  assert.equal(queue.length, 0);
});

Deno.test("ChunkQueue.take() unmasks a run across chunks at every split", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const payload = randomBytes(23, 5);
  const masked = payload.map((b, i) => b ^ key[i & 3]);
  for (const pieces of everySplit(masked)) {
    const queue = queueOf(...pieces);
    const bytes = queue.take(23, key);
    // A view is returned still masked, for the caller to unmask.
    const expected = queue.copied ? payload : masked;
    assert.deepEqual(bytes, expected, `${pieces.map((p) => p.length)}`);
    assert.deepEqual(masked, payload.map((b, i) => b ^ key[i & 3]));
  }
});

Deno.test("ChunkQueue.peek() looks ahead across chunks without consuming", () => {
  const bytes = randomBytes(20, 3);
  for (const pieces of everySplit(bytes)) {
    const queue = queueOf(...pieces);
    assert.deepEqual(queue.peek(14).subarray(0, 14), bytes.subarray(0, 14));
    assert.equal(queue.length, 20);
    queue.skip(5);
    assert.deepEqual(queue.peek(2).subarray(0, 2), bytes.subarray(5, 7));
    assert.deepEqual(queue.take(15, undefined), bytes.subarray(5));
  }
});

Deno.test("ChunkQueue.drainInto() moves every queued byte, in order", () => {
  const queue = queueOf(
    new Uint8Array([1, 2, 3]),
    new Uint8Array([4]),
    new Uint8Array([5, 6]),
  );
  queue.skip(1);
  const target = new Uint8Array(8);
  assert.equal(queue.drainInto(target), 5);
  assert.deepEqual(target, new Uint8Array([2, 3, 4, 5, 6, 0, 0, 0]));
  assert.equal(queue.length, 0);
});

Deno.test("ChunkQueue keeps its order over many small chunks", () => {
  const queue = new ChunkQueue();
  const all: Uint8Array[] = [];
  let taken = 0;
  const out: Uint8Array[] = [];
  for (let i = 0; i < 1000; i++) {
    const chunk = randomBytes(1 + (i % 3), i);
    all.push(chunk);
    queue.push(chunk);
    // Consume more slowly than chunks arrive, so that the queue compacts
    // while chunks are still waiting.
    if (i % 2 === 1) {
      out.push(queue.take(2, undefined).slice());
      taken += 2;
    }
  }
  out.push(queue.take(queue.length, undefined));
  assert.deepEqual(concat(...out), concat(...all));
  assert.ok(taken > 0);
});
