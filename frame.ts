/**
 * The RFC 6455 frame codec, sans-I/O: constants, {@linkcode encodeFrame},
 * and the incremental {@linkcode FrameDecoder}. It knows nothing of sockets;
 * `frame_stream.ts` wraps it in `TransformStream`s.
 *
 * @example Encoding a frame and decoding it again
 * ```ts
 * import { encodeFrame, FrameDecoder, Opcode } from "@seed/websocket/frame";
 *
 * const bytes = encodeFrame({ opcode: Opcode.Text, payload: new TextEncoder().encode("Hello") }, { mask: true });
 * const decoder = new FrameDecoder({ role: "server" });
 * decoder.push(bytes);
 * const frame = decoder.next();
 * console.log(new TextDecoder().decode(frame?.payload)); // Hello
 * ```
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** The frame opcodes of RFC 6455 section 5.2. */
export const Opcode = {
  /** A continuation of a fragmented message. */
  Continuation: 0x0,
  /** The first frame of a text message. */
  Text: 0x1,
  /** The first frame of a binary message. */
  Binary: 0x2,
  /** A close frame. */
  Close: 0x8,
  /** A ping. */
  Ping: 0x9,
  /** A pong. */
  Pong: 0xa,
} as const;

/** The close codes of RFC 6455 section 7.4.1 and the IANA registry. */
export const CloseCode = {
  /** The purpose of the connection was fulfilled. */
  Normal: 1000,
  /** The endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** The endpoint cannot accept this type of data. */
  UnsupportedData: 1003,
  /** No code was present in the close frame; never sent on the wire. */
  NoStatus: 1005,
  /** The connection closed without a close frame; never sent on the wire. */
  Abnormal: 1006,
  /** A message's data was inconsistent with its type (e.g. invalid UTF-8). */
  InvalidPayload: 1007,
  /** A message violated the endpoint's policy. */
  PolicyViolation: 1008,
  /** A message was too big to process. */
  MessageTooBig: 1009,
  /** The client expected the server to negotiate an extension. */
  MandatoryExtension: 1010,
  /** The server met an unexpected condition. */
  InternalError: 1011,
  /** The service is restarting. */
  ServiceRestart: 1012,
  /** The service is overloaded; try again later. */
  TryAgainLater: 1013,
  /** A gateway received an invalid response. */
  BadGateway: 1014,
  /** The TLS handshake failed; never sent on the wire. */
  TlsHandshake: 1015,
} as const;

/** One decoded frame. `payload` is unmasked. */
export interface Frame {
  /** Whether this is the last frame of its message. */
  fin: boolean;
  /** The RSV1 bit (used by permessage-deflate). */
  rsv1: boolean;
  /** The RSV2 bit. */
  rsv2: boolean;
  /** The RSV3 bit. */
  rsv3: boolean;
  /** The opcode, one of {@linkcode Opcode}. */
  opcode: number;
  /** The unmasked payload. */
  payload: Uint8Array;
}

/** A frame to encode; `fin` defaults to true and the RSV bits to clear. */
export interface FrameInit {
  /** Whether this is the last frame of its message. @default {true} */
  fin?: boolean;
  /** The RSV1 bit. @default {false} */
  rsv1?: boolean;
  /** The RSV2 bit. @default {false} */
  rsv2?: boolean;
  /** The RSV3 bit. @default {false} */
  rsv3?: boolean;
  /** The opcode, one of {@linkcode Opcode}. */
  opcode: number;
  /** The payload, unmasked; it is never modified. */
  payload: Uint8Array;
}

/** Options of {@linkcode encodeFrame}. */
export interface EncodeOptions {
  /**
   * Whether to mask the payload, as a client must.
   * @default {false}
   */
  mask?: boolean;
  /**
   * The 4-byte masking key to use; by default one is drawn from a pool
   * filled by `crypto.getRandomValues`. For tests.
   */
  maskKey?: Uint8Array;
}

/** The largest header: 2 bytes, an 8-byte length and a 4-byte mask key. */
export const MAX_HEADER_SIZE = 14;

/** Whether an opcode is a control opcode (close, ping, pong). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

// Mask keys come from one pooled buffer of random bytes rather than a
// crypto call per frame.
const keyPool = new Uint8Array(4096);
let keyPoolOffset = keyPool.length;

/**
 * Writes a fresh random 4-byte masking key into `target` at `offset`.
 *
 * @param target Where to write the key.
 * @param offset The index of its first byte.
 *
 * @example Drawing a masking key
 * ```ts
 * import { fillMaskKey } from "@seed/websocket/frame";
 *
 * const key = new Uint8Array(4);
 * fillMaskKey(key, 0);
 * ```
 */
export function fillMaskKey(target: Uint8Array, offset: number): void {
  if (keyPoolOffset + 4 > keyPool.length) {
    crypto.getRandomValues(keyPool);
    keyPoolOffset = 0;
  }
  target[offset] = keyPool[keyPoolOffset];
  target[offset + 1] = keyPool[keyPoolOffset + 1];
  target[offset + 2] = keyPool[keyPoolOffset + 2];
  target[offset + 3] = keyPool[keyPoolOffset + 3];
  keyPoolOffset += 4;
}

/**
 * XORs `source` with a 4-byte key into `target` (which may be `source`
 * itself). Masking and unmasking are the same operation.
 *
 * @param source The bytes to mask.
 * @param key The 4-byte masking key.
 * @param target Where to write; must be at least as long as `source`.
 *
 * @example Masking and unmasking
 * ```ts
 * import { applyMask } from "@seed/websocket/frame";
 *
 * const key = new Uint8Array([1, 2, 3, 4]);
 * const masked = new Uint8Array(3);
 * applyMask(new Uint8Array([10, 20, 30]), key, masked);
 * applyMask(masked, key, masked);
 * console.log(masked); // Uint8Array(3) [ 10, 20, 30 ]
 * ```
 */
export function applyMask(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
): void {
  const length = source.length;
  const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
  let i = 0;
  if (length >= 64 && (source.byteOffset & 3) === (target.byteOffset & 3)) {
    // 32 bits at a time through aligned views (every platform Deno runs on
    // is little-endian, which the key word below assumes).
    for (; ((source.byteOffset + i) & 3) !== 0; i++) {
      target[i] = source[i] ^ key[i & 3];
    }
    const words = (length - i) >>> 2;
    const k = ((key[(i + 3) & 3] << 24) | (key[(i + 2) & 3] << 16) |
      (key[(i + 1) & 3] << 8) | key[i & 3]) >>> 0;
    const from = new Uint32Array(source.buffer, source.byteOffset + i, words);
    const to = new Uint32Array(target.buffer, target.byteOffset + i, words);
    for (let w = 0; w < words; w++) to[w] = from[w] ^ k;
    i += words * 4;
    for (; i < length; i++) target[i] = source[i] ^ key[i & 3];
    return;
  }
  for (const end = length - 3; i < end; i += 4) {
    target[i] = source[i] ^ k0;
    target[i + 1] = source[i + 1] ^ k1;
    target[i + 2] = source[i + 2] ^ k2;
    target[i + 3] = source[i + 3] ^ k3;
  }
  for (; i < length; i++) target[i] = source[i] ^ key[i & 3];
}

/**
 * The size of the header {@linkcode encodeFrameHeader} writes.
 *
 * @param payloadLength The payload's length in bytes.
 * @param masked Whether the frame carries a masking key.
 * @returns The header size in bytes (2 to 14).
 *
 * @example Header sizes
 * ```ts
 * import { frameHeaderSize } from "@seed/websocket/frame";
 *
 * console.log(frameHeaderSize(125, false), frameHeaderSize(126, true)); // 2 8
 * ```
 */
export function frameHeaderSize(
  payloadLength: number,
  masked: boolean,
): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at offset 0. When `maskKey` is given,
 * it follows the length and the MASK bit is set.
 *
 * @param target At least {@linkcode frameHeaderSize} bytes.
 * @param frame The frame's bits and opcode; its payload only lends its length.
 * @param payloadLength The payload's length in bytes.
 * @param maskKey The masking key, or undefined for an unmasked frame.
 * @returns The number of bytes written.
 *
 * @example Writing the header of an unmasked "Hello"
 * ```ts
 * import { encodeFrameHeader, Opcode } from "@seed/websocket/frame";
 *
 * const header = new Uint8Array(14);
 * const size = encodeFrameHeader(header, { opcode: Opcode.Text }, 5);
 * console.log(header.subarray(0, size)); // Uint8Array(2) [ 129, 5 ]
 * ```
 */
export function encodeFrameHeader(
  target: Uint8Array,
  frame: Omit<FrameInit, "payload">,
  payloadLength: number,
  maskKey?: Uint8Array,
): number {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new RangeError(`Cannot encode frame: bad length ${payloadLength}`);
  }
  target[0] = (frame.fin === false ? 0 : 0x80) |
    (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) |
    (frame.rsv3 ? 0x10 : 0) | (frame.opcode & 0x0f);
  const maskBit = maskKey ? 0x80 : 0;
  let offset: number;
  if (payloadLength < 126) {
    target[1] = maskBit | payloadLength;
    offset = 2;
  } else if (payloadLength < 0x10000) {
    target[1] = maskBit | 126;
    target[2] = payloadLength >>> 8;
    target[3] = payloadLength & 0xff;
    offset = 4;
  } else {
    target[1] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[2] = high >>> 24;
    target[3] = (high >>> 16) & 0xff;
    target[4] = (high >>> 8) & 0xff;
    target[5] = high & 0xff;
    target[6] = low >>> 24;
    target[7] = (low >>> 16) & 0xff;
    target[8] = (low >>> 8) & 0xff;
    target[9] = low & 0xff;
    offset = 10;
  }
  if (maskKey) {
    target[offset] = maskKey[0];
    target[offset + 1] = maskKey[1];
    target[offset + 2] = maskKey[2];
    target[offset + 3] = maskKey[3];
    offset += 4;
  }
  return offset;
}

/**
 * Encodes a frame, header and payload, into one new buffer. A masked frame
 * is masked into that buffer; the caller's payload is never modified.
 *
 * @param frame The frame to encode.
 * @param options Whether to mask, and with which key.
 * @returns The frame's bytes.
 *
 * @example The RFC 6455 section 5.7 unmasked "Hello"
 * ```ts
 * import { encodeFrame, Opcode } from "@seed/websocket/frame";
 *
 * const bytes = encodeFrame({ opcode: Opcode.Text, payload: new TextEncoder().encode("Hello") });
 * console.log(bytes); // Uint8Array(7) [ 129, 5, 72, 101, 108, 108, 111 ]
 * ```
 */
export function encodeFrame(
  frame: FrameInit,
  options: EncodeOptions = {},
): Uint8Array<ArrayBuffer> {
  const { payload } = frame;
  const masked = options.mask === true;
  const headerSize = frameHeaderSize(payload.length, masked);
  const out = new Uint8Array(headerSize + payload.length);
  if (masked) {
    let key = options.maskKey;
    if (!key) {
      key = out.subarray(headerSize - 4, headerSize);
      fillMaskKey(key, 0);
    }
    encodeFrameHeader(out, frame, payload.length, key);
    applyMask(payload, key, out.subarray(headerSize));
  } else {
    encodeFrameHeader(out, frame, payload.length);
    out.set(payload, headerSize);
  }
  return out;
}

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
// Scratch space every decoder shares, used only within one synchronous
// call: a header split across chunks, a mask key turned to an offset. Per
// decoder, they would be memory held by every idle connection.
const SCRATCH = new Uint8Array(MAX_HEADER_SIZE);
const ROTATED_KEY = new Uint8Array(4);

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
  #chunks: Uint8Array[] = [];
  #head = 0; // the first chunk in use: a shift per chunk would be quadratic
  #offset = 0; // into #chunks[#head]
  #buffered = 0;
  #role: "client" | "server" | undefined;
  #maxFrameSize: number;
  #continuationLimit = Infinity;
  #allowedRsv: number;
  #ownsInput: boolean;
  // The header being decoded, once complete; -1 length when none.
  #first = 0;
  #length = -1;
  #maskKey: Uint8Array | undefined;
  #keyBuffer: Uint8Array | undefined; // made for the first masked frame
  #copied = false;
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
    return this.#buffered;
  }

  /** Whether a frame has begun and not yet been returned whole. */
  get inFrame(): boolean {
    return this.#length >= 0 || this.#buffered > 0;
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
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
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
    const buffered = this.#buffered;
    if (length - buffered < minimum || buffered * 4 < length) {
      return undefined;
    }
    // The payload's own buffer: what arrived so far goes in first (still
    // masked; it is unmasked in place once complete).
    const direct = new Uint8Array(length);
    let filled = 0;
    while (this.#buffered > 0) {
      const c = this.#chunks[this.#head];
      direct.set(c.subarray(this.#offset), filled);
      filled += c.length - this.#offset;
      this.#buffered -= c.length - this.#offset;
      this.#dropChunk();
      this.#offset = 0;
    }
    this.#direct = direct;
    this.#directFilled = filled;
    return direct.subarray(filled);
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
    const n = Math.min(this.#buffered, length);
    if (n <= 0 || this.#direct) return undefined;
    const key = this.#maskKey;
    const bytes = this.#take(n, key);
    let payload = bytes;
    if (key) {
      if (!this.#copied) {
        payload = this.#ownsInput ? bytes : new Uint8Array(n);
        applyMask(bytes, key, payload);
      }
      // The rest of the payload is masked from key byte n mod 4 on.
      const rotated = ROTATED_KEY;
      for (let i = 0; i < 4; i++) rotated[i] = key[(n + i) & 3];
      key.set(rotated);
    }
    this.#length = length - n;
    const first = this.#first;
    return {
      fin: (first & 0x80) !== 0,
      rsv1: (first & 0x40) !== 0,
      rsv2: (first & 0x20) !== 0,
      rsv3: (first & 0x10) !== 0,
      opcode: first & 0x0f,
      payload,
    };
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
    const first = this.#first;
    const key = this.#maskKey;
    let payload: Uint8Array;
    if (this.#direct) {
      if (this.#directFilled < length) return undefined;
      payload = this.#direct;
      this.#direct = undefined;
      this.#directFilled = 0;
      if (key) applyMask(payload, key, payload);
    } else if (this.#buffered < length) {
      return undefined;
    } else if (length === 0) {
      payload = EMPTY;
    } else {
      const bytes = this.#take(length, key);
      if (key && !this.#copied) {
        // A view into input we do not own is unmasked into a copy.
        payload = this.#ownsInput ? bytes : new Uint8Array(length);
        applyMask(bytes, key, payload);
      } else {
        payload = bytes;
      }
    }
    this.#length = -1;
    this.#maskKey = undefined;
    return {
      fin: (first & 0x80) !== 0,
      rsv1: (first & 0x40) !== 0,
      rsv2: (first & 0x20) !== 0,
      rsv3: (first & 0x10) !== 0,
      opcode: first & 0x0f,
      payload,
    };
  }

  // Parses and validates the next header; false when more bytes are needed.
  #readHeader(): boolean {
    if (this.#buffered < 2) return false;
    const head = this.#peek(2);
    const first = head[0];
    const second = head[1];
    if ((first & 0x70 & ~this.#allowedRsv) !== 0) {
      throw new ProtocolError(
        "RESERVED_BITS",
        "Received a frame with reserved bits set",
      );
    }
    const opcode = first & 0x0f;
    if ((opcode > 2 && opcode < 8) || opcode > 10) {
      throw new ProtocolError(
        "RESERVED_OPCODE",
        `Received a frame with reserved opcode ${opcode}`,
      );
    }
    const len7 = second & 0x7f;
    if (opcode >= 8) {
      if ((first & 0x80) === 0) {
        throw new ProtocolError(
          "FRAGMENTED_CONTROL_FRAME",
          "Received a fragmented control frame",
        );
      }
      if (len7 > 125) {
        throw new ProtocolError(
          "CONTROL_FRAME_TOO_LONG",
          "Received a control frame longer than 125 bytes",
        );
      }
    }
    const masked = (second & 0x80) !== 0;
    if (this.#role === "server" && !masked) {
      throw new ProtocolError(
        "UNMASKED_FRAME",
        "Received an unmasked frame from a client",
      );
    }
    if (this.#role === "client" && masked) {
      throw new ProtocolError(
        "MASKED_FRAME",
        "Received a masked frame from a server",
      );
    }
    const headerSize = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) +
      (masked ? 4 : 0);
    if (this.#buffered < headerSize) return false;
    const header = this.#peek(headerSize);
    let length: number;
    if (len7 < 126) {
      length = len7;
    } else if (len7 === 126) {
      length = (header[2] << 8) | header[3];
    } else {
      if (header[2] & 0x80) {
        throw new ProtocolError(
          "BAD_LENGTH",
          "Received a frame length with the most significant bit set",
        );
      }
      const high = (header[2] << 24 | header[3] << 16 | header[4] << 8 |
        header[5]) >>> 0;
      const low = (header[6] << 24 | header[7] << 16 | header[8] << 8 |
        header[9]) >>> 0;
      length = high * 0x100000000 + low;
    }
    if (length > this.#maxFrameSize) {
      throw new ProtocolError(
        "FRAME_TOO_LARGE",
        `Received a frame of ${length} bytes, over the limit of ${this.#maxFrameSize}`,
      );
    }
    if (opcode === 0 && length > this.#continuationLimit) {
      throw new ProtocolError(
        "MESSAGE_TOO_LARGE",
        "Received a message fragment past the message size limit",
      );
    }
    if (masked) {
      const k = headerSize - 4;
      // One key buffer, reused: a small allocation per frame costs more
      // than decoding the frame.
      const key = this.#keyBuffer ??= new Uint8Array(4);
      key[0] = header[k];
      key[1] = header[k + 1];
      key[2] = header[k + 2];
      key[3] = header[k + 3];
      this.#maskKey = key;
    }
    this.#skip(headerSize);
    this.#first = first;
    this.#length = length;
    return true;
  }

  #dropChunk(): void {
    this.#chunks[this.#head++] = EMPTY;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  // The next n (≤ 14) bytes without consuming them.
  #peek(n: number): Uint8Array {
    const chunk = this.#chunks[this.#head];
    const scratch = SCRATCH;
    if (chunk.length - this.#offset >= n) {
      // Copied, not viewed: a view is an allocation per header.
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

  #skip(n: number): void {
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
      this.#offset = 0;
    }
  }

  // Consumes n bytes: a view when they lie in one chunk, else a new copy,
  // unmasked while copying when a key is given (#copied says which).
  #take(n: number, key: Uint8Array | undefined): Uint8Array {
    this.#buffered -= n;
    const chunk = this.#chunks[this.#head];
    const available = chunk.length - this.#offset;
    if (available >= n) {
      const bytes = chunk.subarray(this.#offset, this.#offset + n);
      if (available === n) {
        this.#dropChunk();
        this.#offset = 0;
      } else {
        this.#offset += n;
      }
      this.#copied = false;
      return bytes;
    }
    const bytes = new Uint8Array(n);
    const rotated = ROTATED_KEY;
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#head];
      const count = Math.min(n - filled, c.length - this.#offset);
      const piece = c.subarray(this.#offset, this.#offset + count);
      if (key) {
        // The key continues where the previous piece left it.
        for (let i = 0; i < 4; i++) rotated[i] = key[(filled + i) & 3];
        applyMask(piece, rotated, bytes.subarray(filled, filled + count));
      } else {
        bytes.set(piece, filled);
      }
      filled += count;
      if (this.#offset + count === c.length) {
        this.#dropChunk();
        this.#offset = 0;
      } else {
        this.#offset += count;
      }
    }
    this.#copied = true;
    return bytes;
  }
}
