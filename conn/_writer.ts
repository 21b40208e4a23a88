// The write side of a connection: the queue of encoded frames, the one loop
// that writes them, and the send buffer's mark. Frames queued in one turn
// leave in one socket write (small chunks are coalesced); a send resolves at
// once while the buffer is at or under `sendBufferSize`, and waits above it.

import type { ProtocolMachine } from "../protocol/machine.ts";
import { withTimeout } from "./_timeouts.ts";
import type { Transport } from "./_transport.ts";
import { awaitTurn, noteQueued, type TurnWriter } from "./_write_turn.ts";

// Chunks smaller than this are coalesced into one write.
const COALESCE_LIMIT = 16 * 1024;

/** What a {@linkcode Writer} answers to: its connection. */
export interface WriterOwner {
  /** Longest wait for one socket write, in milliseconds (0 for none). */
  readonly writeTimeout: number;
  /** Drops the connection (a write failed). */
  abort(reason?: unknown): void;
}

/** Where the application's reading shows: the inbox. */
export interface Backlog {
  /** How many received messages wait to be read. */
  readonly pending: number;
}

/** Writes what a machine has to send, in order, with backpressure. */
export class Writer implements TurnWriter {
  #transport: Transport;
  #machine: ProtocolMachine;
  #owner: WriterOwner;
  #backlog: Backlog;
  #limit: number;
  #state = IDLE;
  // Chunks queued for the next socket write, and bytes in them and in the
  // write under way.
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #inflightBytes = 0;
  // The array of the last write, emptied, to queue into next time.
  #spare: Uint8Array[] | undefined = undefined;
  // Whoever waits for the queued chunks, or for those being written, to be
  // written: made only when someone asks (flush(), close()), since a send
  // under the mark never does and a broadcast queues on every connection.
  #queuedDone: PromiseWithResolvers<void> | undefined = undefined;
  #inflightDone: PromiseWithResolvers<void> | undefined = undefined;
  #writing: Promise<void> | undefined = undefined;
  // Senders waiting for the buffer to fall back to its mark.
  #room: PromiseWithResolvers<void> | undefined = undefined;
  /** Whether the writer stopped with accepted bytes not written. */
  lost = false;

  /**
   * @param transport Where the bytes go.
   * @param machine Where they come from.
   * @param owner The connection, for its write timeout and to drop it.
   * @param backlog The inbox: a write waits while it is being read.
   * @param limit The send buffer's high-water mark, in bytes.
   */
  constructor(
    transport: Transport,
    machine: ProtocolMachine,
    owner: WriterOwner,
    backlog: Backlog,
    limit: number,
  ) {
    this.#transport = transport;
    this.#machine = machine;
    this.#owner = owner;
    this.#backlog = backlog;
    this.#limit = limit;
  }

  /** Bytes queued or being written. */
  get buffered(): number {
    return this.#queuedBytes + this.#inflightBytes;
  }

  /** Whether someone waits for room or for a write. */
  get waiting(): boolean {
    return this.#room !== undefined || this.#queuedDone !== undefined ||
      this.#inflightDone !== undefined;
  }

  /** How many received messages wait to be read (for the write turn). */
  get backlog(): number {
    return this.#backlog.pending;
  }

  /**
   * Moves the machine's outgoing bytes to the queue now (so that
   * {@linkcode Writer.buffered} counts them) and, if idle, puts the writer
   * on the next write turn.
   */
  enqueue(): void {
    if (this.#machine.hasOutgoing) this.#takeOutgoing();
    if (this.#state === IDLE && this.#queue.length > 0) {
      this.#state = TURN;
      awaitTurn(this);
    }
  }

  /**
   * The send path: {@linkcode Writer.enqueue}, then resolves at once under
   * the mark, or once the buffer is back at or under it.
   */
  queued(): Promise<void> {
    this.enqueue();
    if (this.buffered <= this.#limit) return QUEUED;
    // Over the mark waiting for the turn is no use: the sender waits for
    // this write anyway.
    if (this.#state === TURN) this.startTurn();
    return (this.#room ??= Promise.withResolvers<void>()).promise;
  }

  /** Resolves once everything queued so far is written. */
  flush(): Promise<void> {
    this.enqueue();
    if (this.#queue.length > 0) {
      return (this.#queuedDone ??= Promise.withResolvers<void>()).promise;
    }
    if (this.#inflightBytes > 0 || this.#inflightDone !== undefined) {
      return (this.#inflightDone ??= Promise.withResolvers<void>()).promise;
    }
    return QUEUED;
  }

  /**
   * Resolves once what is queued now is written, or, with nothing queued,
   * once the writing under way has ended.
   */
  settled(): Promise<void> {
    this.enqueue();
    if (this.#queue.length > 0) {
      return (this.#queuedDone ??= Promise.withResolvers<void>()).promise;
    }
    return this.#writing ?? QUEUED;
  }

  /**
   * Stops for good: what is not written is dropped ({@linkcode Writer.lost}
   * says whether there was any), and whoever waits rejects with `error`.
   */
  stop(error: unknown): void {
    this.#state = STOPPED;
    if (this.#queuedBytes + this.#inflightBytes > 0) this.lost = true;
    this.#inflightBytes = 0;
    this.#queuedBytes = 0;
    const room = this.#room;
    const queued = this.#queuedDone;
    // Those waiting for the write on the socket settle too, whether it
    // then fails (the transport is closed) or never returns.
    const inflight = this.#inflightDone;
    this.#room = this.#queuedDone = this.#inflightDone = undefined;
    if (this.#queue.length > 0) this.#queue = [];
    reject(room, error);
    reject(queued, error);
    reject(inflight, error);
  }

  /** Starts writing, if the writer waits for its turn (else nothing). */
  startTurn(): void {
    if (this.#state !== TURN) return;
    this.#state = WRITING;
    this.#writing = this.#write();
  }

  #takeOutgoing(): void {
    const machine = this.#machine;
    const queue = this.#queue;
    if (machine.takeOutgoingInto !== undefined) {
      this.#queuedBytes += machine.takeOutgoingInto(queue);
    } else {
      for (const chunk of machine.takeOutgoing()) {
        queue.push(chunk);
        this.#queuedBytes += chunk.length;
      }
    }
    noteQueued();
  }

  async #write(): Promise<void> {
    const transport = this.#transport;
    try {
      while (this.#state === WRITING) {
        if (this.#machine.hasOutgoing) this.#takeOutgoing();
        const chunks = this.#queue;
        if (chunks.length === 0) {
          this.#machine.written?.();
          break;
        }
        this.#queue = this.#spare ?? [];
        this.#spare = undefined;
        this.#inflightDone = this.#queuedDone;
        this.#queuedDone = undefined;
        this.#inflightBytes = this.#queuedBytes;
        this.#queuedBytes = 0;
        // Rewritten in place into the buffers to write.
        coalesce(chunks);
        for (let i = 0; i < chunks.length; i++) {
          const buffer = chunks[i];
          for (let offset = 0; offset < buffer.length;) {
            const write = transport.write(
              offset === 0 ? buffer : buffer.subarray(offset),
            );
            const timeout = this.#owner.writeTimeout;
            const n = timeout > 0
              ? await withTimeout(write, timeout, "Write")
              : await write;
            if (this.#state !== WRITING) return;
            offset += n;
            this.#inflightBytes -= n;
            if (this.#room !== undefined) this.#checkRoom();
          }
          // Written: a large chunk (never a copy) may be reused.
          if (buffer.length >= COALESCE_LIMIT) this.#machine.release?.(buffer);
        }
        chunks.length = 0;
        this.#spare = chunks;
        const done = this.#inflightDone;
        this.#inflightDone = undefined;
        done?.resolve();
      }
    } catch (error) {
      if (this.#state === WRITING) this.#owner.abort(error);
    } finally {
      this.#writing = undefined;
      if (this.#state === WRITING) this.#state = IDLE;
    }
  }

  // Wakes the senders waiting for room once the buffer is back at its mark.
  #checkRoom(): void {
    const room = this.#room;
    if (
      room !== undefined &&
      this.#queuedBytes + this.#inflightBytes <= this.#limit
    ) {
      this.#room = undefined;
      room.resolve();
    }
  }
}

// What a writer is doing: nothing; waiting for the write turn; writing;
// stopped for good.
const IDLE = 0;
const TURN = 1;
const WRITING = 2;
const STOPPED = 3;

/**
 * What a send queued under the mark returns (and anything with nothing to
 * wait for): one resolved promise for all of them, which never rejects, so
 * a caller sending to many connections (a broadcast) can tell it apart and
 * skip guarding it.
 */
export const QUEUED: Promise<void> = Promise.resolve();

// Rejects a wait someone may have let go of.
function reject(
  waiter: PromiseWithResolvers<void> | undefined,
  error: unknown,
): void {
  if (waiter === undefined) return;
  waiter.reject(error);
  waiter.promise.catch(() => {});
}

/**
 * Joins runs of small chunks so that many frames leave in one write. The
 * array is rewritten in place (no array per write) and returned.
 */
export function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  const count = chunks.length;
  if (count === 1) return chunks;
  // What is to be written goes to chunks[0, out): never past the chunks it
  // was made of.
  let out = 0;
  let start = 0;
  let runBytes = 0;
  for (let i = 0; i < count; i++) {
    const chunk = chunks[i];
    if (chunk.length >= COALESCE_LIMIT) {
      if (i > start) chunks[out++] = joinRun(chunks, start, i, runBytes);
      chunks[out++] = chunk;
      start = i + 1;
      runBytes = 0;
    } else {
      runBytes += chunk.length;
      if (runBytes >= COALESCE_LIMIT * 4) {
        chunks[out++] = joinRun(chunks, start, i + 1, runBytes);
        start = i + 1;
        runBytes = 0;
      }
    }
  }
  if (count > start) {
    chunks[out++] = joinRun(chunks, start, count, runBytes);
  }
  chunks.length = out;
  return chunks;
}

// The last run joined and what it became. A broadcast queues the same frames
// on every subscriber in a turn, so every subscriber after the first finds
// its run here and writes the same joined bytes: one copy per turn, not one
// per subscriber. (Chunks are never changed once queued.)
const lastRun: Uint8Array[] = [];
const MAX_KEPT_RUN = 256;
let lastJoined: Uint8Array = new Uint8Array(0);

function joinRun(
  chunks: Uint8Array[],
  start: number,
  end: number,
  bytes: number,
): Uint8Array {
  if (end - start === 1) return chunks[start];
  if (sameRun(chunks, start, end)) return lastJoined;
  // Frames encoded one after another into the same arena (one connection
  // sending while no other did) are already one run of bytes: a view of
  // them costs no copy.
  const adjacent = adjacentView(chunks, start, end, bytes);
  if (adjacent !== undefined) return adjacent;
  const joined = new Uint8Array(bytes);
  for (let i = start, offset = 0; i < end; i++) {
    joined.set(chunks[i], offset);
    offset += chunks[i].length;
  }
  // Refilled in place, no array per join; a run of very many chunks is not
  // kept (what it would hold stays bounded).
  lastRun.length = 0;
  if (end - start <= MAX_KEPT_RUN) {
    for (let i = start; i < end; i++) lastRun.push(chunks[i]);
  }
  lastJoined = joined;
  return joined;
}

// One view of chunks[start, end) when each begins where the one before it
// ends, in the same buffer.
function adjacentView(
  chunks: Uint8Array[],
  start: number,
  end: number,
  bytes: number,
): Uint8Array | undefined {
  const first = chunks[start];
  const buffer = first.buffer;
  let next = first.byteOffset + first.length;
  for (let i = start + 1; i < end; i++) {
    const chunk = chunks[i];
    if (chunk.buffer !== buffer || chunk.byteOffset !== next) return undefined;
    next += chunk.length;
  }
  return new Uint8Array(buffer, first.byteOffset, bytes);
}

function sameRun(chunks: Uint8Array[], start: number, end: number): boolean {
  const run = lastRun;
  if (run.length !== end - start) return false;
  for (let i = start; i < end; i++) {
    if (chunks[i] !== run[i - start]) return false;
  }
  return true;
}
