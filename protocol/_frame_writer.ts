// The outgoing side of the RFC 6455 machine: frames encoded with the frame
// codec's header writer and masking into memory chosen by size, so that
// neither small nor large frames cost an allocation each.

import { frameHeaderSize, writeFrameHeader } from "./_frame_header.ts";
import { xorMask } from "./_mask.ts";

const EMPTY = new Uint8Array(0);
// Payloads of our own at least this large are written after their header
// without being copied into one buffer with it.
const ZERO_COPY_THRESHOLD = 16 * 1024;
// Frames up to this size are encoded into the arena (see #queueSmall).
const ARENA_FRAME_LIMIT = 1024;
const ARENA_SIZE = 16 * 1024;
// The most a machine reserves in the arena ahead of its frames (see
// #reserve).
const SLOT_LIMIT = 4 * 1024;
let sharedArena = EMPTY;
let sharedArenaEnd = 0;
// Frames at least this large that are masked, or copied from the caller's
// bytes, are built in segments taken from a small process-wide pool, each
// given back once written (see release): a fresh buffer per message costs
// its allocation and page faults, several times the masking or the copy.
// At most POOL_LIMIT segments are kept.
const SEGMENTED_FRAME = 64 * 1024;
const SEGMENT_SIZE = 256 * 1024;
// A segment has room past SEGMENT_SIZE for a frame's last few bytes, which
// would otherwise leave as a write of their own.
const SEGMENT_SLACK = 1024;
const POOL_LIMIT = 16;
const segmentPool: Uint8Array[] = [];
// Chunks handed out by take() that are views of pooled segments.
const lentSegments = new WeakMap<Uint8Array, Uint8Array>();

/**
 * Encodes one machine's frames and keeps them until taken: masked with
 * fresh keys for a client, never modifying the caller's bytes.
 */
export class FrameWriter {
  #masked: boolean;
  #maskKey: (target: Uint8Array, offset: number) => void;
  #outgoing: Uint8Array[] = [];
  // Small frames are encoded straight into an append-only arena shared by
  // every machine of the process; the bytes a machine queued since its last
  // take leave as one chunk, so many frames cost one write and no
  // allocation each, and an idle connection holds no arena of its own.
  // A machine's region is [#arenaStart, #arenaEnd) of #arena, and its slot
  // runs on to #slotEnd: room reserved for its next frames, so that they
  // follow its last one even while other machines append to the arena.
  // Past its slot, its next frame starts a new region.
  #arena = EMPTY;
  #arenaStart = 0;
  #arenaEnd = 0;
  #slotEnd = 0;
  // Arena bytes reserved since everything taken was last written, and as
  // many in the batch before: what a new slot is sized by.
  #batch = 0;
  #lastBatch = 0;

  /**
   * @param masked Whether frames are masked (a client's are).
   * @param maskKey Writes a 4-byte masking key at an offset.
   */
  constructor(
    masked: boolean,
    maskKey: (target: Uint8Array, offset: number) => void,
  ) {
    this.#masked = masked;
    this.#maskKey = maskKey;
  }

  /** Whether there are bytes to take. */
  get hasOutgoing(): boolean {
    return this.#outgoing.length > 0 || this.#arenaEnd > this.#arenaStart;
  }

  /** Takes the bytes queued so far, in order. */
  take(): Uint8Array[] {
    const taken: Uint8Array[] = [];
    this.takeInto(taken);
    return taken;
  }

  /**
   * Moves the bytes queued so far onto the end of `into`, in order; returns
   * how many bytes they are.
   */
  takeInto(into: Uint8Array[]): number {
    let bytes = 0;
    const outgoing = this.#outgoing;
    if (outgoing.length > 0) {
      for (let i = 0; i < outgoing.length; i++) {
        into.push(outgoing[i]);
        bytes += outgoing[i].length;
      }
      outgoing.length = 0;
    }
    // The frames since the last large one: after every queued chunk.
    const start = this.#arenaStart;
    const end = this.#arenaEnd;
    if (end > start) {
      into.push(this.#arena.subarray(start, end));
      bytes += end - start;
      this.#arenaStart = end;
    }
    return bytes;
  }

  /**
   * Says that everything taken so far is written: a slot in an arena that
   * new frames no longer go to is let go, so that an idle connection does
   * not keep that arena alive.
   */
  written(): void {
    // Frames queued and not yet taken keep their region.
    if (this.#arena !== sharedArena && this.#arenaEnd === this.#arenaStart) {
      this.#arena = EMPTY;
      this.#arenaStart = this.#arenaEnd = this.#slotEnd = 0;
    }
    this.#lastBatch = this.#batch;
    this.#batch = 0;
  }

  /** Gives back the memory of a taken chunk that will not be read again. */
  release(chunk: Uint8Array): void {
    const segment = lentSegments.get(chunk);
    if (segment === undefined) return;
    lentSegments.delete(chunk);
    if (segmentPool.length < POOL_LIMIT) segmentPool.push(segment);
  }

  /** Queues bytes that are already a frame (a prepared message's). */
  queueEncoded(frame: Uint8Array): void {
    this.#cutArena();
    this.#outgoing.push(frame);
  }

  /**
   * Queues a short ASCII string as one text frame, encoding it on the way;
   * false, with nothing queued, for a long or non-ASCII one.
   */
  queueAsciiText(text: string): boolean {
    const length = text.length;
    if (length > ARENA_FRAME_LIMIT) return false;
    const o = this.#startSmall(0x81, length);
    const a = this.#arena;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        this.#unreserve(o - frameHeaderSize(length, this.#masked));
        return false;
      }
      a[o + i] = c;
    }
    if (this.#masked) xorMask(a, o, a, o, length, a, o - 4, 0);
    return true;
  }

  /**
   * Queues a frame. `owned` says the payload is ours (encoded text, a
   * compressed payload), so it may be written as it is; the caller's bytes
   * may change once the call has returned.
   */
  queueFrame(
    opcode: number,
    payload: Uint8Array,
    rsv1: boolean,
    owned = false,
    fin = true,
  ): void {
    const length = payload.length;
    const first = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
    if (length <= ARENA_FRAME_LIMIT) {
      this.#queueSmall(first, payload);
    } else {
      this.#queueLarge(first, payload, owned);
    }
  }

  // A frame too large for the arena: in pooled segments, after its header
  // without a copy, or in a buffer of its own.
  #queueLarge(first: number, payload: Uint8Array, owned: boolean): void {
    this.#cutArena();
    const length = payload.length;
    const masked = this.#masked;
    const headerSize = frameHeaderSize(length, masked);
    if (length >= SEGMENTED_FRAME && (masked || !owned)) {
      this.#queueSegmented(first, payload, headerSize);
    } else if (!masked && owned && length >= ZERO_COPY_THRESHOLD) {
      const header = new Uint8Array(headerSize);
      writeFrameHeader(header, 0, first, length, false);
      this.#outgoing.push(header, payload);
    } else {
      const out = new Uint8Array(headerSize + length);
      const o = writeFrameHeader(out, 0, first, length, masked);
      // A native copy, then for a client the key XORed in place a 32-bit
      // word at a time (source and target share their alignment): several
      // times faster than masking byte by byte from the caller's buffer.
      out.set(payload, headerSize);
      if (masked) {
        this.#maskKey(out, o);
        xorMask(out, headerSize, out, headerSize, length, out, o, 0);
      }
      this.#outgoing.push(out);
    }
  }

  // A frame of at most ARENA_FRAME_LIMIT bytes, encoded into the arena.
  #queueSmall(first: number, payload: Uint8Array): void {
    const length = payload.length;
    const o = this.#startSmall(first, length);
    const a = this.#arena;
    if (this.#masked) xorMask(payload, 0, a, o, length, a, o - 4, 0);
    else a.set(payload, o);
  }

  // Reserves a small frame in the arena and writes its header and masking
  // key; returns where its payload goes.
  #startSmall(first: number, length: number): number {
    const masked = this.#masked;
    const at = this.#reserve(frameHeaderSize(length, masked) + length);
    const o = writeFrameHeader(this.#arena, at, first, length, masked);
    if (!masked) return o;
    this.#maskKey(this.#arena, o);
    return o + 4;
  }

  // A large frame copied into pooled segments: the header and the start of
  // the payload in the first, the rest after it, each payload part copied
  // natively then, for a client, masked in place from its offset on.
  #queueSegmented(first: number, payload: Uint8Array, headerSize: number) {
    const length = payload.length;
    let segment = segmentPool.pop() ??
      new Uint8Array(SEGMENT_SIZE + SEGMENT_SLACK);
    const o = writeFrameHeader(segment, 0, first, length, this.#masked);
    let key: Uint8Array | undefined;
    if (this.#masked) {
      this.#maskKey(segment, o);
      key = segment.slice(o, o + 4);
    }
    let offset = headerSize;
    for (let i = 0; i < length;) {
      let n = Math.min(SEGMENT_SIZE - offset, length - i);
      if (length - i - n <= SEGMENT_SLACK) n = length - i;
      segment.set(payload.subarray(i, i + n), offset);
      if (key) xorMask(segment, offset, segment, offset, n, key, 0, i);
      const chunk = segment.subarray(0, offset + n);
      lentSegments.set(chunk, segment);
      this.#outgoing.push(chunk);
      i += n;
      if (i < length) {
        segment = segmentPool.pop() ??
          new Uint8Array(SEGMENT_SIZE + SEGMENT_SLACK);
        offset = 0;
      }
    }
  }

  #cutArena(): void {
    if (this.#arenaEnd > this.#arenaStart) {
      this.#outgoing.push(
        this.#arena.subarray(this.#arenaStart, this.#arenaEnd),
      );
      this.#arenaStart = this.#arenaEnd;
    }
  }

  #reserve(n: number): number {
    const at = this.#arenaEnd;
    this.#batch += n;
    if (at + n <= this.#slotEnd) {
      this.#arenaEnd = at + n;
      return at;
    }
    if (
      this.#arena === sharedArena && this.#slotEnd === sharedArenaEnd &&
      at + n <= sharedArena.length
    ) {
      // Nobody has written after us: the region grows.
      this.#arenaEnd = this.#slotEnd = sharedArenaEnd = at + n;
      return at;
    }
    // A new region, after everyone's, with a slot for twice the batch this
    // machine is sending (or sent last): when many connections answer in
    // the same turn, one message each at a time, each one's frames still lie
    // one after another and leave as one view, rather than be copied
    // together for each write (see coalesce() in conn/_writer.ts).
    const batch = Math.max(this.#batch, this.#lastBatch);
    const room = Math.max(n, Math.min(2 * batch, SLOT_LIMIT));
    if (sharedArena.length - sharedArenaEnd < room) {
      // Taken chunks keep the old arena alive; the new one starts empty.
      sharedArena = new Uint8Array(ARENA_SIZE);
      sharedArenaEnd = 0;
    }
    this.#cutArena();
    const start = sharedArenaEnd;
    this.#arena = sharedArena;
    this.#arenaStart = start;
    this.#arenaEnd = start + n;
    this.#slotEnd = sharedArenaEnd = start + room;
    return start;
  }

  // Gives back the end of the region reserved last (by this machine, in the
  // same synchronous step).
  #unreserve(at: number): void {
    this.#batch -= this.#arenaEnd - at;
    if (this.#arena === sharedArena && this.#slotEnd === sharedArenaEnd) {
      this.#slotEnd = sharedArenaEnd = at;
    }
    this.#arenaEnd = at;
  }
}
