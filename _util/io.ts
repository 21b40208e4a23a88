// Small I/O helpers shared by the client and the server handshakes.

import type { Transport } from "../conn.ts";
import { abortable, type Deadline } from "./deadline.ts";
import { type HeadKind, HeadReader, type HeadResult } from "../handshake.ts";
import { HandshakeError } from "../errors.ts";

// Read buffers for heads, reused: the head reader copies out what it keeps,
// so a buffer is free again once its read is consumed (never after an abort,
// when the read may still write into it).
const HEAD_READ_SIZE = 4096;
const POOL_LIMIT = 64;
const pool: Uint8Array<ArrayBuffer>[] = [];
// What follows most heads: nothing (a length-0 array nobody can write to).
const NOTHING = new Uint8Array(0);

/**
 * Reads an HTTP head from a transport, under a deadline or signal. A
 * `"request"` or `"response"` head is checked as it arrives (see
 * HeadReaderOptions.kind): garbage fails at its first bad byte.
 */
export async function readHead(
  transport: Transport,
  maxSize: number,
  signal: Deadline | AbortSignal,
  initial?: Uint8Array,
  kind: HeadKind = "any",
): Promise<HeadResult> {
  const reader = new HeadReader(maxSize, { kind });
  if (initial && initial.length > 0) {
    const done = reader.push(initial);
    if (done) return done;
  }
  while (true) {
    const buffer = pool.pop() ?? new Uint8Array(HEAD_READ_SIZE);
    const n = await abortable(transport.read(buffer), signal);
    if (n === null) {
      if (pool.length < POOL_LIMIT) pool.push(buffer);
      throw new HandshakeError(
        "UNEXPECTED_EOF",
        reader.bufferedBytes === 0
          ? "Connection closed before an HTTP head arrived"
          : "Connection closed in the middle of an HTTP head",
      );
    }
    let done: HeadResult | undefined;
    try {
      done = reader.push(buffer.subarray(0, n));
    } catch (error) {
      if (pool.length < POOL_LIMIT) pool.push(buffer);
      throw error;
    }
    if (done) {
      // What followed the head is a view of the buffer: copied, so that
      // the buffer goes back to the pool and nothing pins it.
      done = {
        head: done.head,
        rest: done.rest.length > 0 ? done.rest.slice() : NOTHING,
      };
    }
    if (pool.length < POOL_LIMIT) pool.push(buffer);
    if (done) return done;
  }
}

/** Writes all of `bytes`, under a deadline or signal. */
export async function writeAll(
  transport: Transport,
  bytes: Uint8Array,
  signal?: Deadline | AbortSignal,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const write = transport.write(bytes.subarray(offset));
    offset += signal ? await abortable(write, signal) : await write;
  }
}

/**
 * Reads exactly `n` bytes, starting with `initial` (bytes already read);
 * returns them and whatever came after.
 */
export async function readExact(
  transport: Transport,
  n: number,
  initial: Uint8Array,
  signal: Deadline | AbortSignal,
): Promise<{ bytes: Uint8Array; rest: Uint8Array }> {
  const bytes = new Uint8Array(n);
  let filled = Math.min(n, initial.length);
  bytes.set(initial.subarray(0, filled));
  let rest = initial.subarray(filled);
  while (filled < n) {
    const buffer = new Uint8Array(4096);
    const count = await abortable(transport.read(buffer), signal);
    if (count === null) {
      throw new HandshakeError(
        "UNEXPECTED_EOF",
        `Connection closed after ${filled} of ${n} handshake bytes`,
      );
    }
    const take = Math.min(n - filled, count);
    bytes.set(buffer.subarray(0, take), filled);
    filled += take;
    rest = buffer.subarray(take, count);
  }
  return { bytes, rest };
}

/**
 * Turns Nagle's algorithm off: frames are already batched per turn of the
 * event loop, and a small frame held back for an ACK costs a round trip.
 */
export function noDelay<T extends Transport>(transport: T): T {
  const socket = transport as { setNoDelay?: (on: boolean) => void };
  try {
    socket.setNoDelay?.(true);
  } catch {
    // Not a TCP socket.
  }
  return transport;
}
