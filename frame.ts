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

import {
  encodeFrameHeader,
  frameHeaderSize,
} from "./protocol/_frame_header.ts";
import { applyMask, fillMaskKey } from "./protocol/_mask.ts";

export { applyMask, fillMaskKey } from "./protocol/_mask.ts";
export {
  encodeFrameHeader,
  frameHeaderSize,
  MAX_HEADER_SIZE,
} from "./protocol/_frame_header.ts";
export {
  DEFAULT_MAX_FRAME_SIZE,
  FrameDecoder,
  type FrameDecoderOptions,
} from "./protocol/_frame_decoder.ts";

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

/** Whether an opcode is a control opcode (close, ping, pong). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
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
