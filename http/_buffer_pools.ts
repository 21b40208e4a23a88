// Buffers shared by every connection of the process, so that a response or
// a large read takes no new memory: one is taken for a write (or a read) and
// given back once it is done. Each pool keeps a few; past that, buffers go
// to the garbage collector.

// The largest chunk framed in a pooled scratch buffer.
const MAX_SCRATCH = 256 * 1024;
const SCRATCH_SIZE = MAX_SCRATCH + 1024;
const SCRATCH_POOL_LIMIT = 16;
const scratchPool: Uint8Array<ArrayBuffer>[] = [];

/** A scratch buffer for `need` bytes of chunk framing, if one that large is pooled. */
export function takeScratch(need: number): Uint8Array<ArrayBuffer> | undefined {
  if (need > SCRATCH_SIZE) return undefined;
  return scratchPool.pop() ?? new Uint8Array(SCRATCH_SIZE);
}

/** Gives a scratch buffer back once what was framed in it is written. */
export function giveScratch(
  scratch: Uint8Array<ArrayBuffer> | undefined,
): void {
  if (scratch && scratchPool.length < SCRATCH_POOL_LIMIT) {
    scratchPool.push(scratch);
  }
}

// Buffers for a response head (with a small body).
const HEAD_BUFFER_SIZE = 4096;
const HEAD_POOL_LIMIT = 64;
const headBuffers: Uint8Array<ArrayBuffer>[] = [];

/** A buffer to make a response head in (with a small body after it). */
export function takeHeadBuffer(): Uint8Array<ArrayBuffer> {
  return headBuffers.pop() ?? new Uint8Array(HEAD_BUFFER_SIZE);
}

/** Gives a head buffer back once its head is written. */
export function giveHeadBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  if (headBuffers.length < HEAD_POOL_LIMIT) headBuffers.push(buffer);
}

// Large read buffers given up after a body, for the next large body of any
// connection.
const LARGE_POOL_LIMIT = 8;
const largeBuffers: Uint8Array<ArrayBuffer>[] = [];

/** A large read buffer given up earlier, if any. */
export function takeLargeBuffer(): Uint8Array<ArrayBuffer> | undefined {
  return largeBuffers.pop();
}

/** Gives a large read buffer back; the caller checks its size. */
export function giveLargeBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  if (largeBuffers.length < LARGE_POOL_LIMIT) largeBuffers.push(buffer);
}
