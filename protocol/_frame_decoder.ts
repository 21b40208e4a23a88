// The incremental RFC 6455 frame decoder: headers are checked before
// anything is allocated for a payload, and payloads are handed out as views
// of the received chunks where they can be.

import { ProtocolError } from "../errors.ts";
import type { Frame } from "../frame.ts";
import { ChunkQueue } from "./_chunk_queue.ts";
import { checkHeaderStart, readPayloadLength } from "./_frame_header.ts";
import { applyMask } from "./_mask.ts";

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * The role of the endpoint that decodes: a `server` rejects unmasked
   * frames, a `client` rejects masked ones; undefined checks neither.
   */
  role?: "client" | "server";
  /**
   * The largest payload accepted, in bytes; a larger frame fails with
   * `FRAME_TOO_LARGE` (close code 1009) before anything is allocated for it.
   * @default {67108864} (64 MiB)
   */
  maxFrameSize?: number;
  /**
   * The RSV bits a negotiated extension defines, as a mask of the first
   * header byte (0x40 for RSV1). Other set bits fail with `RESERVED_BITS`.
   * @default {0}
   */
  allowedRsv?: number;
  /**
   * Whether pushed chunks belong to the decoder, so that it may unmask them
   * in place and return views into them instead of copies.
   * @default {false}
   */
  ownsInput?: boolean;
}

/** The default largest frame payload, 64 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

const EMPTY = new Uint8Array(0);
// The mask key of the frame being unmasked, written from the decoder's key
// word for the length of one synchronous call: a buffer per decoder would
// be memory held by every idle connection.
const KEY = new Uint8Array(4);

function frameOf(first: number, payload: Uint8Array): Frame {
  return {
    fin: (first & 0x80) !== 0,
    rsv1: (first & 0x40) !== 0,
    rsv2: (first & 0x20) !== 0,
    rsv3: (first & 0x10) !== 0,
    opcode: first & 0x0f,
    payload,
  };
}

// Four key bytes from `at`, turned to start at key byte `from`, as one
// number (the first byte highest).
function keyWord(bytes: Uint8Array, at: number, from = 0): number {
  return ((bytes[at + (from & 3)] << 24) |
    (bytes[at + ((from + 1) & 3)] << 16) |
    (bytes[at + ((from + 2) & 3)] << 8) |
    bytes[at + ((from + 3) & 3)]) >>> 0;
}

/**
 * An incremental frame decoder over a queue of chunks. Push bytes as they
 * arrive, in any split; pull whole frames with {@linkcode FrameDecoder.next}.
 * Each header is validated in a fixed order (reserved bits, opcode, control
 * frame rules, masking, length, size limit) before anything is allocated for
 * its payload. A payload that lies in one chunk is returned as a view.
 *
 * @example Decoding frames split at any byte
 * ```ts
 * import { FrameDecoder } from "@seed/websocket/frame";
 *
 * const decoder = new FrameDecoder({ role: "client" });
 * decoder.push(new Uint8Array([0x81, 0x05, 0x48, 0x65]));
 * console.log(decoder.next()); // undefined: the payload is incomplete
 * decoder.push(new Uint8Array([0x6c, 0x6c, 0x6f]));
 * console.log(decoder.next()?.payload.length); // 5
 * ```
 */
export class FrameDecoder {
  #queue = new ChunkQueue();
  #role: "client" | "server" | undefined;
  #maxFrameSize: number;
  #continuationLimit = Infinity;
  #allowedRsv: number;
  #ownsInput: boolean;
  // The header being decoded, once complete; -1 length when none.
  #first = 0;
  #length = -1;
  // The frame's masking key, as its four bytes in one number.
  #masked = false;
  #maskWord = 0;
  #direct: Uint8Array | undefined;
  #directFilled = 0;

  /**
   * Creates a decoder.
   *
   * @param options Role, size limit, allowed RSV bits.
   */
  constructor(options: FrameDecoderOptions = {}) {
    this.#role = options.role;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#allowedRsv = options.allowedRsv ?? 0;
    this.#ownsInput = options.ownsInput ?? false;
  }

  /** The RSV bits an extension defines (see {@linkcode FrameDecoderOptions}). */
  get allowedRsv(): number {
    return this.#allowedRsv;
  }
  set allowedRsv(value: number) {
    this.#allowedRsv = value;
  }

  /**
   * The largest payload accepted in a continuation frame: the protocol sets
   * it to what is left of a message's size allowance, so that an oversized
   * fragment fails on its header (`MESSAGE_TOO_LARGE`, 1009) before its
   * payload is buffered.
   * @default {Infinity}
   */
  get continuationLimit(): number {
    return this.#continuationLimit;
  }
  set continuationLimit(value: number) {
    this.#continuationLimit = value;
  }

  /** The number of bytes pushed and not yet returned in a frame. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /** Whether a frame has begun and not yet been returned whole. */
  get inFrame(): boolean {
    return this.#length >= 0 || this.#queue.length > 0;
  }

  /**
   * Adds received bytes. They are kept by reference until returned in a
   * frame: do not modify them meanwhile.
   *
   * @param chunk The bytes.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#direct) {
      throw new TypeError(
        "Cannot push: the rest of the payload goes to payloadTarget()",
      );
    }
    this.#queue.push(chunk);
  }

  /**
   * For a large payload already well under way (at least a quarter of it
   * received, and at least `minimum` bytes still to come): the buffer the
   * transport may read the rest of it into directly, sparing one copy of
   * every byte; report what was read with
   * {@linkcode FrameDecoder.receivedDirect}. Once it has returned a buffer,
   * it returns the rest of that buffer until the payload is complete, and
   * {@linkcode FrameDecoder.push} may not be used meanwhile. Memory stays
   * within four times what the peer has actually sent.
   *
   * @param minimum The least number of bytes to come that pays.
   * @returns The buffer to read into, or undefined to use `push()`.
   */
  payloadTarget(minimum: number): Uint8Array | undefined {
    const length = this.#length;
    if (length < 0) return undefined;
    if (this.#direct) return this.#direct.subarray(this.#directFilled);
    const buffered = this.#queue.length;
    if (length - buffered < minimum || buffered * 4 < length) {
      return undefined;
    }
    // The payload's own buffer: what arrived so far goes in first (still
    // masked; it is unmasked in place once complete).
    const direct = new Uint8Array(length);
    this.#directFilled = this.#queue.drainInto(direct);
    this.#direct = direct;
    return direct.subarray(this.#directFilled);
  }

  /**
   * Reports `n` bytes read into the buffer from
   * {@linkcode FrameDecoder.payloadTarget}.
   *
   * @param n The number of bytes read.
   */
  receivedDirect(n: number): void {
    this.#directFilled += n;
  }

  /**
   * The first header byte (FIN, RSV bits, opcode) of the frame whose header
   * is decoded and whose payload is not yet complete, or -1 when there is
   * none: a consumer uses it to decide whether to take the payload in pieces
   * with {@linkcode FrameDecoder.takePartial}.
   */
  get pendingHeader(): number {
    return this.#length < 0 ? -1 : this.#first;
  }

  /**
   * Takes, unmasked, the payload bytes that have arrived so far of the frame
   * under way (see {@linkcode FrameDecoder.pendingHeader}), so that a
   * consumer can look at them before the frame is complete (text is
   * validated as it arrives); the frame {@linkcode FrameDecoder.next} later
   * returns carries only the rest. Each byte is handed out once.
   *
   * Throws a {@linkcode ProtocolError} for a header that breaks RFC 6455,
   * as {@linkcode FrameDecoder.next} does.
   *
   * @returns The frame's header fields, with the bytes so far as its
   * payload; undefined when no frame header is whole, no payload byte is
   * waiting, or the payload goes to `payloadTarget()`.
   *
   * @example Taking a text frame's payload as it arrives
   * ```ts
   * import { FrameDecoder } from "@seed/websocket/frame";
   *
   * const decoder = new FrameDecoder({ role: "client" });
   * decoder.push(new Uint8Array([0x81, 0x05, 0x48, 0x65]));
   * console.log(decoder.takePartial()?.payload); // Uint8Array(2) [ 72, 101 ]
   * decoder.push(new Uint8Array([0x6c, 0x6c, 0x6f]));
   * console.log(decoder.next()?.payload.length); // 3: the rest
   * ```
   */
  takePartial(): Frame | undefined {
    if (this.#length < 0 && !this.#readHeader()) return undefined;
    const length = this.#length;
    const n = Math.min(this.#queue.length, length);
    if (n <= 0 || this.#direct) return undefined;
    const key = this.#key();
    const payload = this.#takePayload(n, key);
    if (key) {
      // The rest of the payload is masked from key byte n mod 4 on.
      this.#maskWord = keyWord(key, 0, n & 3);
    }
    this.#length = length - n;
    return frameOf(this.#first, payload);
  }

  /**
   * Returns the next whole frame, or undefined when more bytes are needed.
   * Throws a {@linkcode ProtocolError} for a frame that breaks RFC 6455; the
   * decoder must not be used after that.
   *
   * @returns The next frame, if complete.
   */
  next(): Frame | undefined {
    if (this.#length < 0 && !this.#readHeader()) return undefined;
    const length = this.#length;
    const key = this.#key();
    let payload: Uint8Array;
    if (this.#direct) {
      if (this.#directFilled < length) return undefined;
      payload = this.#direct;
      this.#direct = undefined;
      this.#directFilled = 0;
      if (key) applyMask(payload, key, payload);
    } else if (this.#queue.length < length) {
      return undefined;
    } else if (length === 0) {
      payload = EMPTY;
    } else {
      payload = this.#takePayload(length, key);
    }
    this.#length = -1;
    this.#masked = false;
    return frameOf(this.#first, payload);
  }

  // The frame's key as bytes, valid until the call that asked returns.
  #key(): Uint8Array | undefined {
    if (!this.#masked) return undefined;
    const word = this.#maskWord;
    KEY[0] = word >>> 24;
    KEY[1] = (word >>> 16) & 0xff;
    KEY[2] = (word >>> 8) & 0xff;
    KEY[3] = word & 0xff;
    return KEY;
  }

  // Takes n payload bytes, unmasked: a view into input we do not own is
  // unmasked into a copy.
  #takePayload(n: number, key: Uint8Array | undefined): Uint8Array {
    const bytes = this.#queue.take(n, key);
    if (!key || this.#queue.copied) return bytes;
    const payload = this.#ownsInput ? bytes : new Uint8Array(n);
    applyMask(bytes, key, payload);
    return payload;
  }

  // Parses and validates the next header; false when more bytes are needed.
  #readHeader(): boolean {
    const queue = this.#queue;
    if (queue.length < 2) return false;
    const start = queue.peek(2);
    const first = start[0];
    const headerSize = checkHeaderStart(
      first,
      start[1],
      this.#allowedRsv,
      this.#role,
    );
    if (queue.length < headerSize) return false;
    const header = headerSize === 2 ? start : queue.peek(headerSize);
    const length = readPayloadLength(header);
    if (length > this.#maxFrameSize) {
      throw new ProtocolError(
        "FRAME_TOO_LARGE",
        `Received a frame of ${length} bytes, over the limit of ${this.#maxFrameSize}`,
      );
    }
    if ((first & 0x0f) === 0 && length > this.#continuationLimit) {
      throw new ProtocolError(
        "MESSAGE_TOO_LARGE",
        "Received a message fragment past the message size limit",
      );
    }
    if ((header[1] & 0x80) !== 0) {
      this.#masked = true;
      this.#maskWord = keyWord(header, headerSize - 4);
    }
    queue.skip(headerSize);
    this.#first = first;
    this.#length = length;
    return true;
  }
}
