// The received bytes a frame decoder has not consumed yet, as a queue of
// the chunks they arrived in: taking bytes that lie in one chunk returns a
// view, and only a run across chunks is copied.

import { xorMask } from "./_mask.ts";

const EMPTY = new Uint8Array(0);
// Scratch space every queue shares, used only within one synchronous call
// (a header split across chunks): per queue, it would be memory held by
// every idle connection.
const SCRATCH = new Uint8Array(14);

/** A queue of received chunks, read from the front. */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  #head = 0; // the first chunk in use: a shift per chunk would be quadratic
  #offset = 0; // into #chunks[#head]
  #buffered = 0;
  #copied = false;

  /** The number of bytes queued and not yet consumed. */
  get length(): number {
    return this.#buffered;
  }

  /** Whether the last {@linkcode ChunkQueue.take} returned a new copy. */
  get copied(): boolean {
    return this.#copied;
  }

  /** Adds a chunk, kept by reference until consumed. */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next `n` (at most 14) bytes without consuming them, in scratch space
   * valid until the next call: copied, not viewed, since a view is an
   * allocation per header.
   */
  peek(n: number): Uint8Array {
    const chunk = this.#chunks[this.#head];
    const scratch = SCRATCH;
    if (chunk.length - this.#offset >= n) {
      const o = this.#offset;
      for (let i = 0; i < n; i++) scratch[i] = chunk[o + i];
      return scratch;
    }
    let filled = 0;
    let offset = this.#offset;
    for (let i = 0; filled < n; i++) {
      const c = this.#chunks[this.#head + i];
      const count = Math.min(n - filled, c.length - offset);
      scratch.set(c.subarray(offset, offset + count), filled);
      filled += count;
      offset = 0;
    }
    return scratch;
  }

  /** Consumes `n` bytes unseen. */
  skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const chunk = this.#chunks[this.#head];
      const available = chunk.length - this.#offset;
      if (available > n) {
        this.#offset += n;
        return;
      }
      n -= available;
      this.#dropChunk();
    }
  }

  /**
   * Consumes `n` bytes: a view when they lie in one chunk, else a new copy,
   * unmasked while copying when a key is given ({@linkcode ChunkQueue.copied}
   * says which).
   */
  take(n: number, key: Uint8Array | undefined): Uint8Array {
    this.#buffered -= n;
    const chunk = this.#chunks[this.#head];
    const available = chunk.length - this.#offset;
    if (available >= n) {
      const bytes = chunk.subarray(this.#offset, this.#offset + n);
      if (available === n) this.#dropChunk();
      else this.#offset += n;
      this.#copied = false;
      return bytes;
    }
    const bytes = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#head];
      const count = Math.min(n - filled, c.length - this.#offset);
      if (key) {
        // The key continues where the previous piece left it.
        xorMask(c, this.#offset, bytes, filled, count, key, 0, filled);
      } else {
        bytes.set(c.subarray(this.#offset, this.#offset + count), filled);
      }
      filled += count;
      if (this.#offset + count === c.length) this.#dropChunk();
      else this.#offset += count;
    }
    this.#copied = true;
    return bytes;
  }

  /** Moves every queued byte into `target` from its start; returns how many. */
  drainInto(target: Uint8Array): number {
    let filled = 0;
    while (this.#buffered > 0) {
      const c = this.#chunks[this.#head];
      target.set(c.subarray(this.#offset), filled);
      filled += c.length - this.#offset;
      this.#buffered -= c.length - this.#offset;
      this.#dropChunk();
    }
    return filled;
  }

  #dropChunk(): void {
    this.#chunks[this.#head++] = EMPTY;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
