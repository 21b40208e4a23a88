// A response body sent from its stream: first probed (a body whose bytes
// are all there within a few microtasks has a known size, and goes out with
// a Content-Length), else streamed chunk by chunk as it is produced, and
// cancelled when the client leaves or the server stops.

import { concatBytes } from "../_util/bytes.ts";
import { giveScratch, takeScratch } from "./_buffer_pools.ts";
import { encodeChunk, LAST_CHUNK } from "./_chunk.ts";
import type { RequestBody } from "./_request_body.ts";
import type { Aborter } from "./_server_request.ts";
import { EMPTY } from "./_source.ts";
import { internalError, type ResponseWriter } from "./_response_writer.ts";

type ReadResult = ReadableStreamReadResult<unknown>;

const SENTINEL = Symbol("pending");

// What `promise` settled with within a few microtask turns, or SENTINEL:
// long enough for the body stream of a Response made from a string or
// bytes to report its end, not long enough to hold back a stream that is
// still producing. Cheaper than a race with a timer of microtasks.
async function settledSoon<T>(
  promise: Promise<T>,
): Promise<T | typeof SENTINEL> {
  let value: T | typeof SENTINEL = SENTINEL;
  let failed = false;
  let error: unknown;
  promise.then((v) => value = v, (e) => {
    failed = true;
    error = e;
  });
  await undefined;
  if (value === SENTINEL && !failed) {
    await undefined;
    await undefined;
  }
  if (failed) throw error;
  return value;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("Response body chunk is not bytes");
}

/** What a probe of a body's first reads found. */
export interface Probe {
  /** The first chunk, if it came at once. */
  ready: Uint8Array | undefined;
  /** A read still in flight, to await before reading again. */
  next: Promise<ReadResult> | undefined;
  /** The whole body's length, when it ended within the probe. */
  length: number | undefined;
}

/**
 * Reads up to two chunks, each given a few microtasks: a body made from a
 * string, bytes or JSON ends within them, a stream still producing does not.
 */
export async function probeBody(
  reader: ReadableStreamDefaultReader<unknown>,
): Promise<Probe> {
  const first = reader.read();
  const quick = await settledSoon(first);
  if (quick === SENTINEL) {
    return { ready: undefined, next: first, length: undefined };
  }
  if (quick.done) return { ready: undefined, next: undefined, length: 0 };
  const ready = toBytes(quick.value);
  const second = reader.read();
  const then = await settledSoon(second);
  if (then !== SENTINEL && then.done) {
    return { ready, next: undefined, length: ready.length };
  }
  return { ready, next: second, length: undefined };
}

/** A response whose body is still being produced, ready to stream. */
export interface Streaming {
  /** The body's reader. */
  reader: ReadableStreamDefaultReader<unknown>;
  /** The response head, not yet written. */
  head: Uint8Array;
  /** What the probe found (nothing read if the size was declared). */
  probe: Probe | undefined;
  /** The declared length, if any: bytes past it are dropped. */
  known: number | undefined;
  /** Whether each piece is sent as a chunk. */
  chunked: boolean;
  /** The request method, for an error answered before anything was sent. */
  method: string;
}

/**
 * Writes the head, then the body as it is produced (each piece as one
 * chunk, or as is up to a known length), watching the socket for the client
 * leaving once the request body has been read. Whether the body was sent
 * whole (its length as declared).
 */
export async function streamBody(
  writer: ResponseWriter,
  response: Streaming,
  body: RequestBody | undefined,
  aborter: Aborter,
): Promise<boolean> {
  const { reader, head, known, chunked } = response;
  let ready = response.probe?.ready;
  let next = response.probe?.next;
  const source = writer.source;
  // The client leaving, or the server stopping, cancels the body.
  let gone = false;
  aborter.onAbort(() => {
    gone = true;
    reader.cancel(aborter.reason).catch(() => {});
  });
  const onGone = () => {
    aborter.abort(new DOMException("Client disconnected", "AbortError"));
  };
  // Watch for the peer leaving while the body streams (once the request
  // body has been read, reading the socket can only find the next request
  // or the end).
  const watch = () => {
    if (body && !body.done) return;
    if (source.buffered.length > 0 || source.ended || source.reading) return;
    source.fill().then(() => {
      if (source.ended && source.buffered.length === 0) onGone();
    });
  };
  watch();
  let sent = 0;
  let pendingHead: Uint8Array | undefined = head;
  if (ready === undefined) {
    // Nothing to send yet: the head goes now (an event stream's client
    // learns at once that it is connected).
    if (!(await writer.write(head))) {
      onGone();
      return false;
    }
    pendingHead = undefined;
  }
  try {
    while (true) {
      let chunk: Uint8Array;
      if (ready) {
        chunk = ready;
        ready = undefined;
      } else {
        const result = await (next ?? reader.read());
        next = undefined;
        if (gone) return false;
        if (result.done) break;
        chunk = toBytes(result.value);
      }
      if (chunk.length === 0) continue;
      let out: Uint8Array;
      let scratch: Uint8Array<ArrayBuffer> | undefined;
      if (chunked) {
        scratch = takeScratch(chunk.length + (pendingHead?.length ?? 0) + 24);
        out = encodeChunk(chunk, pendingHead, undefined, scratch);
      } else {
        if (known !== undefined && sent + chunk.length > known) {
          chunk = chunk.subarray(0, known - sent);
        }
        out = pendingHead ? concatBytes([pendingHead, chunk]) : chunk;
      }
      pendingHead = undefined;
      sent += chunk.length;
      const written = await writer.write(out);
      giveScratch(scratch);
      if (!written) {
        onGone();
        return false;
      }
      if (known !== undefined && sent >= known) {
        reader.cancel().catch(() => {});
        break;
      }
      watch();
    }
  } catch (error) {
    if (!gone) writer.onError(error);
    if (pendingHead) {
      // Nothing was sent yet: the failure can still be answered.
      reader.cancel(error).catch(() => {});
      return await writer.writeError(internalError(), response.method);
    }
    return false;
  }
  if (gone) return false;
  const tail = chunked ? LAST_CHUNK : EMPTY;
  const last = pendingHead ? concatBytes([pendingHead, tail]) : tail;
  if (last.length > 0 && !(await writer.write(last))) return false;
  return known === undefined || sent === known;
}
