import assert from "node:assert/strict";
import {
  giveHeadBuffer,
  giveLargeBuffer,
  giveScratch,
  takeHeadBuffer,
  takeLargeBuffer,
  takeScratch,
} from "../http/_buffer_pools.ts";

Deno.test("takeScratch() reuses a buffer given back, and refuses large needs", () => {
  const scratch = takeScratch(100)!;
  assert.ok(scratch.length >= 256 * 1024);
  giveScratch(scratch);
  assert.equal(takeScratch(10), scratch);
  assert.equal(takeScratch(scratch.length + 1), undefined);
  giveScratch(undefined); // a chunk framed outside the pool: nothing to give
});

Deno.test("the pools keep a bounded number of buffers", () => {
  const heads = Array.from({ length: 100 }, () => takeHeadBuffer());
  assert.equal(new Set(heads).size, 100);
  for (const buffer of heads) giveHeadBuffer(buffer);
  const again = new Set(Array.from({ length: 100 }, () => takeHeadBuffer()));
  const reused = heads.filter((buffer) => again.has(buffer)).length;
  assert.ok(reused > 0 && reused < 100, `reused ${reused}`);

  while (takeLargeBuffer() !== undefined) { /* empty the pool */ }
  const large = Array.from({ length: 20 }, () => new Uint8Array(8));
  for (const buffer of large) giveLargeBuffer(buffer);
  let count = 0;
  while (takeLargeBuffer() !== undefined) count++;
  assert.ok(count > 0 && count < 20, `kept ${count}`);
});
