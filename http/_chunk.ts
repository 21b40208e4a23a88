// Chunked response framing (RFC 9112 section 7.1), with no I/O: a chunk's
// size line, data and CRLF, optionally after a response head and before the
// last chunk, so that each goes out in one write. Three ways to lay one
// out: in a given buffer, across several parts, or around bytes where they
// already lie (in a read buffer with room on both sides).

import { takeScratch } from "./_buffer_pools.ts";

/** The last chunk and an empty trailer section. */
export const LAST_CHUNK: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  "0\r\n\r\n",
);

/** A chunk's bytes, and the pooled buffer they lie in (to give back). */
export interface FramedChunk {
  /** The bytes to write. */
  bytes: Uint8Array;
  /** The scratch buffer holding them, if one was taken from the pool. */
  scratch: Uint8Array<ArrayBuffer> | undefined;
}

// Writes `head` (if any), then a size line of `size` in hex, at the start
// of `out`; returns where the data goes.
function putSizeLine(
  out: Uint8Array,
  head: Uint8Array | undefined,
  line: string,
): number {
  let o = 0;
  if (head) {
    out.set(head);
    o = head.length;
  }
  for (let i = 0; i < line.length; i++) out[o++] = line.charCodeAt(i);
  out[o++] = 13;
  out[o++] = 10;
  return o;
}

// Writes the CRLF after data at `o`, then `tail` (if any).
function putDataEnd(out: Uint8Array, o: number, tail?: Uint8Array): void {
  out[o++] = 13;
  out[o++] = 10;
  if (tail) out.set(tail, o);
}

/**
 * Encodes one chunk (size line, data, CRLF), optionally after `prefix` (a
 * head) and before `suffix` (the last chunk), in one buffer for one write:
 * a view of `into` when it is large enough (a scratch buffer reused from
 * write to write), else a new one.
 */
export function encodeChunk(
  data: Uint8Array,
  prefix?: Uint8Array,
  suffix?: Uint8Array,
  into?: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const size = data.length.toString(16);
  const before = prefix?.length ?? 0;
  const after = suffix?.length ?? 0;
  const total = before + size.length + 2 + data.length + 2 + after;
  const out = into && into.length >= total
    ? into.subarray(0, total)
    : new Uint8Array(total);
  const o = putSizeLine(out, prefix, size);
  out.set(data, o);
  putDataEnd(out, o + data.length, suffix);
  return out;
}

/**
 * One chunk of the parts' bytes (none if they are empty), after `head` and
 * before the last chunk if `last`: in a pooled scratch buffer when it fits
 * (given back by the caller once written).
 */
export function frameChunk(
  parts: Uint8Array[],
  head: Uint8Array | undefined,
  last: boolean,
): FramedChunk {
  let size = 0;
  for (const part of parts) size += part.length;
  const sizeLine = size > 0 ? size.toString(16) : "";
  const total = (head?.length ?? 0) + (size > 0 ? sizeLine.length + 4 : 0) +
    size + (last ? LAST_CHUNK.length : 0);
  const scratch = takeScratch(total);
  const out = scratch ? scratch.subarray(0, total) : new Uint8Array(total);
  if (size > 0) {
    let o = putSizeLine(out, head, sizeLine);
    for (const part of parts) {
      out.set(part, o);
      o += part.length;
    }
    putDataEnd(out, o, last ? LAST_CHUNK : undefined);
  } else {
    if (head) out.set(head);
    if (last) out.set(LAST_CHUNK, head?.length ?? 0);
  }
  return { bytes: out, scratch };
}

/**
 * One chunk framed around `data` where it lies in its buffer: the size line
 * (after `head`) goes in the bytes before it, the CRLF (and the last chunk)
 * in the bytes after it, which the caller must own (consumed bytes of a
 * read buffer, and its free room). Undefined when there is no room.
 */
export function frameInPlace(
  data: Uint8Array,
  head: Uint8Array | undefined,
  last: boolean,
): FramedChunk | undefined {
  const line = data.length.toString(16);
  const before = (head?.length ?? 0) + line.length + 2;
  const after = 2 + (last ? LAST_CHUNK.length : 0);
  const start = data.byteOffset - before;
  const end = data.byteOffset + data.length + after;
  if (start < 0 || end > data.buffer.byteLength) return undefined;
  const out = new Uint8Array(data.buffer, start, end - start);
  putSizeLine(out, head, line);
  putDataEnd(out, before + data.length, last ? LAST_CHUNK : undefined);
  return { bytes: out, scratch: undefined };
}
