// The write side of a connection: the queue of encoded frames, the one loop
// that writes them, and the send buffer's mark. Frames queued in one turn
// leave in one socket write (small chunks are coalesced); a send resolves at
// once while the buffer is at or under `sendBufferSize`, and waits above it.

import type { ProtocolMachine } from "../protocol/machine.ts";
import { concatBytes } from "../_util/bytes.ts";
import { withTimeout } from "./_timeouts.ts";
import type { Transport } from "./_transport.ts";

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
export class Writer {
  #transport: Transport;
  #machine: ProtocolMachine;
  #owner: WriterOwner;
  #backlog: Backlog;
  #limit: number;
  // Chunks queued for the next socket write, and its batch (defined
  // exactly while the queue is not empty).
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #inflightBytes = 0;
  #batch: Batch | undefined = undefined;
  #inflight: Batch | undefined = undefined; // the batch being written
  #writing: Promise<void> | undefined = undefined;
  // Senders waiting for the buffer to fall back to its mark.
  #room: PromiseWithResolvers<void> | undefined = undefined;
  #stopped = false;
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
    return this.#room !== undefined || this.#batch !== undefined ||
      this.#inflight !== undefined;
  }

  /**
   * Moves the machine's outgoing bytes to the queue now (so that
   * {@linkcode Writer.buffered} counts them) and starts the write loop.
   */
  enqueue(): void {
    if (this.#machine.hasOutgoing) this.#takeOutgoing();
    if (this.#batch !== undefined && this.#writing === undefined) {
      this.#writing = this.#loop();
    }
  }

  /**
   * The send path: {@linkcode Writer.enqueue}, then resolves at once under
   * the mark, or once the buffer is back at or under it.
   */
  queued(): Promise<void> {
    this.enqueue();
    if (this.#queuedBytes + this.#inflightBytes <= this.#limit) {
      return Promise.resolve();
    }
    return (this.#room ??= Promise.withResolvers<void>()).promise;
  }

  /** Resolves once everything queued so far is written. */
  flush(): Promise<void> {
    this.enqueue();
    const last = this.#batch ?? this.#inflight;
    return last ? last.promise : Promise.resolve();
  }

  /**
   * Resolves once what is queued now is written, or, with nothing queued,
   * once the write loop has ended.
   */
  settled(): Promise<void> {
    this.enqueue();
    return this.#batch?.promise ?? this.#writing ?? Promise.resolve();
  }

  /**
   * Stops for good: what is not written is dropped ({@linkcode Writer.lost}
   * says whether there was any), and whoever waits rejects with `error`.
   */
  stop(error: unknown): void {
    this.#stopped = true;
    if (this.#queuedBytes + this.#inflightBytes > 0) this.lost = true;
    this.#inflightBytes = 0;
    this.#queuedBytes = 0;
    const room = this.#room;
    const batch = this.#batch;
    // The batch on the socket settles too, whether its write then fails
    // (the transport is closed) or never returns.
    const inflight = this.#inflight;
    this.#room = this.#batch = this.#inflight = undefined;
    if (this.#queue.length > 0) this.#queue = [];
    room?.reject(error);
    batch?.reject(error);
    inflight?.reject(error);
  }

  #takeOutgoing(): void {
    const queue = this.#queue;
    for (const chunk of this.#machine.takeOutgoing()) {
      queue.push(chunk);
      this.#queuedBytes += chunk.length;
    }
    if (queue.length > 0) this.#batch ??= new Batch();
  }

  async #loop(): Promise<void> {
    // Let the rest of this turn queue its frames too, and while the
    // application keeps queuing (a loop of awaited sends, which resolve at
    // once under the mark) or taking messages from the inbox (answering a
    // read that brought many), let it go on: one write instead of many. A
    // bounded number of microtasks, never a timer; past the mark senders
    // wait for this write anyway.
    await Promise.resolve();
    const backlog = this.#backlog;
    let pending = backlog.pending;
    let queued = this.#queuedBytes;
    for (
      let spins = 0, still = 0;
      still < 4 && spins < 1024 && queued < this.#limit;
      spins++
    ) {
      await Promise.resolve();
      const now = backlog.pending;
      still = now === pending && this.#queuedBytes === queued ? still + 1 : 0;
      pending = now;
      queued = this.#queuedBytes;
    }
    try {
      this.#takeOutgoing();
      while (this.#queue.length > 0 && !this.#stopped) {
        const chunks = this.#queue;
        const batch = this.#batch!;
        this.#queue = [];
        this.#batch = undefined;
        this.#inflight = batch;
        this.#inflightBytes = this.#queuedBytes;
        this.#queuedBytes = 0;
        for (const buffer of coalesce(chunks)) {
          await this.#writeAll(buffer);
          if (this.#stopped) return;
          // Written: a large chunk (never a copy) may be reused.
          if (buffer.length >= COALESCE_LIMIT) this.#machine.release?.(buffer);
        }
        this.#inflight = undefined;
        batch.resolve();
        this.#takeOutgoing();
      }
    } catch (error) {
      if (!this.#stopped) this.#owner.abort(error);
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeAll(buffer: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < buffer.length) {
      const write = this.#transport.write(buffer.subarray(offset));
      const timeout = this.#owner.writeTimeout;
      const n = timeout > 0
        ? await withTimeout(write, timeout, "Write")
        : await write;
      if (this.#stopped) return;
      offset += n;
      this.#inflightBytes -= n;
      if (this.#room !== undefined) this.#checkRoom();
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

// How a batch nobody waited for ended, when it was written: one shared
// object, since this is every write turn of every connection.
const WRITTEN = { ok: true } as const;

/**
 * The completion of one batch of writes. Its promise is made only when
 * someone waits for it (flush(), close()): a send under the mark never does,
 * and a broadcast makes one batch per connection per turn.
 */
export class Batch {
  #deferred: PromiseWithResolvers<void> | undefined = undefined;
  #settled: { ok: boolean; error?: unknown } | undefined = undefined;

  /** Settles with the batch; made on first use. */
  get promise(): Promise<void> {
    if (this.#deferred === undefined) {
      const made = this.#deferred = Promise.withResolvers<void>();
      const settled = this.#settled;
      if (settled?.ok === true) made.resolve();
      else if (settled !== undefined) made.reject(settled.error);
    }
    return this.#deferred.promise;
  }

  /** The batch is written. */
  resolve(): void {
    if (this.#deferred !== undefined) this.#deferred.resolve();
    else this.#settled ??= WRITTEN;
  }

  /** The batch will never be written. */
  reject(error: unknown): void {
    const made = this.#deferred;
    if (made === undefined) {
      this.#settled ??= { ok: false, error };
      return;
    }
    made.reject(error);
    // Whoever asked for the promise may have let it go.
    made.promise.catch(() => {});
  }
}

/** Joins runs of small chunks so that many frames leave in one write. */
export function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  if (chunks.length === 1) return chunks;
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flushRun = () => {
    if (run.length > 0) out.push(concatBytes(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const chunk of chunks) {
    if (chunk.length >= COALESCE_LIMIT) {
      flushRun();
      out.push(chunk);
    } else {
      run.push(chunk);
      runBytes += chunk.length;
      if (runBytes >= COALESCE_LIMIT * 4) flushRun();
    }
  }
  flushRun();
  return out;
}
