// The read side of one HTTP connection: bytes read but not yet consumed,
// at most one read in flight, read buffers reused from read to read (and
// large ones pooled), and reads under a timeout and the server's stop.

import type { Transport } from "../conn.ts";
import { abortable, Deadline } from "../_util/deadline.ts";
import { giveLargeBuffer, takeLargeBuffer } from "./_buffer_pools.ts";

/** No bytes. */
export const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);
/** A read between requests. */
export const SMALL_READ = 16 * 1024;
/**
 * Body reads: large, as a body of known size asks for (a 1 MiB upload comes
 * in a few reads, not dozens); the buffer is given up after the body.
 */
export const LARGE_READ = 256 * 1024;
// Bytes kept free before and after what a read brings, so that a chunk's
// size line (and a head) and its CRLF (and the last chunk) can be written
// around body bytes in place (see frameInPlace).
const ROOM_BEFORE = 16;
const ROOM_AFTER = 8;
// Bytes and time given to a closing connection to take what the peer was
// still sending, so that our last response is not lost to a reset.
const LINGER_BYTES = 256 * 1024;
const LINGER_MS = 2_000;

// The socket's read side, with bytes read but not yet consumed, and at most
// one read in flight, shared by whoever waits for more. The bytes of a read
// buffer before `buffered` are consumed: nothing else refers to them (heads
// and whatever is kept are copied out).
export class Source {
  readonly transport: Transport;
  buffered: Uint8Array = EMPTY;
  ended = false;
  #pending: Promise<void> | undefined;
  // The last read's buffer, reused for the next read once its bytes are
  // consumed, and the window of it that reads fill.
  #buffer: Uint8Array<ArrayBuffer> | undefined;
  #window: Uint8Array<ArrayBuffer> | undefined;

  constructor(transport: Transport, initial: Uint8Array) {
    this.transport = transport;
    this.buffered = initial;
  }

  get reading(): boolean {
    return this.#pending !== undefined;
  }

  // The memory of the last read's buffer, which no one else refers to.
  get memory(): ArrayBufferLike | undefined {
    return this.#buffer?.buffer;
  }

  // Whether `data` lies in the last read's buffer with nothing unconsumed
  // after it: the bytes around it are free to frame it in place.
  surrounds(data: Uint8Array): boolean {
    return this.buffered.length === 0 && data.buffer === this.#buffer?.buffer;
  }

  // Hands the last read's buffer over, for a write from it still in
  // flight: the next read takes another.
  detach(): Uint8Array<ArrayBuffer> | undefined {
    const buffer = this.#buffer;
    this.#buffer = this.#window = undefined;
    return buffer;
  }

  // Takes back a buffer handed over by detach() once it is written: pooled
  // when it has a pool's size and no unconsumed bytes lie in it.
  giveBack(buffer: Uint8Array<ArrayBuffer> | undefined): void {
    if (
      buffer !== undefined &&
      buffer.length === LARGE_READ + ROOM_BEFORE + ROOM_AFTER &&
      this.buffered.buffer !== buffer.buffer
    ) {
      giveLargeBuffer(buffer);
    }
  }

  // Gives up a large read buffer once a body has been read, so that an
  // idle connection keeps only a small one; it goes to the pool unless
  // unconsumed bytes still lie in it.
  shrink(): void {
    const buffer = this.#buffer;
    if (buffer === undefined || buffer.length <= SMALL_READ + ROOM_BEFORE) {
      return;
    }
    this.#buffer = this.#window = undefined;
    this.giveBack(buffer);
  }

  // Reads once more (or joins the read in flight); never rejects: an error
  // ends the stream.
  fill(size = SMALL_READ): Promise<void> {
    return this.#pending ??= this.#read(size);
  }

  async #read(size: number): Promise<void> {
    let buffer = this.#buffer;
    let window = this.#window;
    if (
      buffer === undefined || window === undefined || window.length < size ||
      this.buffered.length > 0
    ) {
      buffer = size > SMALL_READ ? takeLargeBuffer() : undefined;
      buffer ??= new Uint8Array(size + ROOM_BEFORE + ROOM_AFTER);
      window = buffer.subarray(ROOM_BEFORE, buffer.length - ROOM_AFTER);
    }
    this.#buffer = this.#window = undefined; // not reusable while a read fills it
    try {
      const n = await this.transport.read(window);
      if (n === null) this.ended = true;
      else if (this.buffered.length === 0) {
        this.buffered = window.subarray(0, n);
        this.#buffer = buffer;
        this.#window = window;
      } else {
        const joined = new Uint8Array(this.buffered.length + n);
        joined.set(this.buffered);
        joined.set(window.subarray(0, n), this.buffered.length);
        this.buffered = joined;
      }
    } catch {
      this.ended = true;
    } finally {
      this.#pending = undefined;
    }
  }
}

// Waits for more bytes under a timeout of `ms` (0 for none) and the stop
// deadline; rejects with a TimeoutError or the stop reason.
export async function fillWithin(
  source: Source,
  ms: number,
  what: string,
  stop: Deadline | undefined,
  size?: number,
): Promise<void> {
  if (ms <= 0 && stop === undefined) return await source.fill(size);
  using deadline = new Deadline(ms, what);
  const onStop = () => deadline.abort(stop!.reason);
  stop?.onAbort(onStop);
  if (stop?.aborted) deadline.abort(stop.reason);
  try {
    await abortable(source.fill(size), deadline);
  } finally {
    stop?.offAbort(onStop);
  }
}

/**
 * Reads and drops what the peer still sends (bounded in bytes and time), so
 * that closing with unread bytes does not reset the connection before the
 * peer has read the last response. Rejects on timeout or stop.
 */
export async function discardInput(
  source: Source,
  stop: Deadline | undefined,
): Promise<void> {
  let dropped = source.buffered.length;
  source.buffered = EMPTY;
  while (!source.ended && dropped < LINGER_BYTES) {
    await fillWithin(source, LINGER_MS, "Closing", stop, LARGE_READ);
    dropped += source.buffered.length;
    source.buffered = EMPTY;
  }
}
