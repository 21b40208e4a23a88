// The read loop's buffer, which adapts to the peer: small while the peer
// sends little (an idle connection holds only this), doubling while reads
// fill it, halving while they use less than a quarter of it.

// Each connection's pending read holds a buffer of its own (reads that
// complete in the same turn would overwrite a shared one), so the smallest
// size is what every idle connection pays. It still takes a few small
// frames at once: with less, a peer that keeps four 16 B messages in flight
// has each batch cut in two reads.
const MIN_READ_SIZE = 256;
const MAX_READ_SIZE = 64 * 1024;
// Reads smaller than this are copied out of the reusable buffer.
const COPY_LIMIT = 16 * 1024;

/** A reusable read buffer whose size follows the reads. */
export class ReadBuffer {
  #size = MIN_READ_SIZE;
  /** Where the next read goes. */
  buffer: Uint8Array = new Uint8Array(MIN_READ_SIZE);

  /**
   * The `n` bytes just read into {@linkcode ReadBuffer.buffer}, for the
   * machine, which may keep views of them (a partial frame, a binary
   * message). A small read is copied out, so that the buffer is reused and
   * a view never pins a large buffer; otherwise the bytes are handed over
   * and the next read gets a new buffer, of the size the reads call for.
   */
  take(n: number): Uint8Array {
    const size = this.#size;
    const resize = n === size && size < MAX_READ_SIZE
      ? size * 2
      : n < size >> 2 && size > MIN_READ_SIZE
      ? size >> 1
      : size;
    if (n < COPY_LIMIT && resize === size) return this.buffer.slice(0, n);
    const bytes = this.buffer.subarray(0, n);
    this.#size = resize;
    this.buffer = new Uint8Array(resize);
    return bytes;
  }
}
