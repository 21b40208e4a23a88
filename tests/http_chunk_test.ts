import assert from "node:assert/strict";
import {
  encodeChunk,
  frameChunk,
  frameInPlace,
  LAST_CHUNK,
} from "../http/_chunk.ts";
import { giveScratch } from "../http/_buffer_pools.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

Deno.test("encodeChunk() frames data between a prefix and a suffix", () => {
  const data = encoder.encode("x".repeat(26));
  assert.equal(text(encodeChunk(data)), `1a\r\n${"x".repeat(26)}\r\n`);
  assert.equal(
    text(
      encodeChunk(
        encoder.encode("hi"),
        encoder.encode("H\r\n\r\n"),
        LAST_CHUNK,
      ),
    ),
    "H\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
  );
});

Deno.test("encodeChunk() writes into a given buffer only when it fits", () => {
  const into = new Uint8Array(16);
  const small = encodeChunk(encoder.encode("abc"), undefined, undefined, into);
  assert.equal(small.buffer, into.buffer);
  assert.equal(text(small), "3\r\nabc\r\n");
  const large = encodeChunk(new Uint8Array(20), undefined, undefined, into);
  assert.notEqual(large.buffer, into.buffer);
  assert.equal(large.length, 2 + 2 + 20 + 2);
});

Deno.test("frameChunk() joins parts into one chunk, or none when empty", () => {
  const parts = [encoder.encode("ab"), encoder.encode("cde")];
  const head = encoder.encode("HEAD\r\n\r\n");
  const one = frameChunk(parts, head, false);
  assert.equal(text(one.bytes), "HEAD\r\n\r\n5\r\nabcde\r\n");
  assert.ok(one.scratch, "a small chunk is framed in a pooled buffer");
  giveScratch(one.scratch);
  assert.equal(
    text(frameChunk(parts, undefined, true).bytes),
    "5\r\nabcde\r\n0\r\n\r\n",
  );
  assert.equal(text(frameChunk([], head, true).bytes), "HEAD\r\n\r\n0\r\n\r\n");
  assert.equal(frameChunk([], undefined, false).bytes.length, 0);
});

Deno.test("frameChunk() takes a new buffer for a chunk too large to pool", () => {
  const big = new Uint8Array(300 * 1024);
  const out = frameChunk([big], undefined, false);
  assert.equal(out.scratch, undefined);
  assert.equal(out.bytes.length, big.length + "4b000".length + 4);
});

Deno.test("frameInPlace() frames bytes where they lie, given room around them", () => {
  const buffer = new Uint8Array(64);
  const data = buffer.subarray(20, 25);
  data.set(encoder.encode("hello"));
  const head = encoder.encode("H\r\n\r\n");
  const out = frameInPlace(data, head, true)!;
  assert.equal(out.bytes.buffer, buffer.buffer);
  assert.equal(text(out.bytes), "H\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  assert.equal(out.scratch, undefined);
  // No room before (a head too long) or after (the end of the buffer).
  assert.equal(frameInPlace(data, new Uint8Array(20), false), undefined);
  assert.equal(
    frameInPlace(buffer.subarray(60, 63), undefined, false),
    undefined,
  );
  assert.equal(
    frameInPlace(buffer.subarray(4, 60), undefined, true),
    undefined,
  );
});
