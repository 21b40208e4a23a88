// The RFC 6455 frame header (section 5.2) both ways: written into a
// caller's buffer at any offset, so that small frames need no buffer of
// their own, and read and validated in a fixed order before anything is
// allocated for the payload.

import { ProtocolError } from "../errors.ts";
import type { FrameInit } from "../frame.ts";

/** The largest header: 2 bytes, an 8-byte length and a 4-byte mask key. */
export const MAX_HEADER_SIZE = 14;

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
 * Writes the first header byte `first` (FIN, RSV bits, opcode) and the
 * length, with the MASK bit when `masked`, into `target` at `at`; returns
 * where the masking key, or else the payload, goes.
 */
export function writeFrameHeader(
  target: Uint8Array,
  at: number,
  first: number,
  payloadLength: number,
  masked: boolean,
): number {
  target[at] = first;
  const maskBit = masked ? 0x80 : 0;
  if (payloadLength < 126) {
    target[at + 1] = maskBit | payloadLength;
    return at + 2;
  }
  if (payloadLength < 0x10000) {
    target[at + 1] = maskBit | 126;
    target[at + 2] = payloadLength >>> 8;
    target[at + 3] = payloadLength & 0xff;
    return at + 4;
  }
  target[at + 1] = maskBit | 127;
  writeLongLength(target, at + 2, payloadLength);
  return at + 10;
}

// The 64-bit length, apart: small frames are the hot path.
function writeLongLength(target: Uint8Array, at: number, length: number) {
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  target[at] = high >>> 24;
  target[at + 1] = (high >>> 16) & 0xff;
  target[at + 2] = (high >>> 8) & 0xff;
  target[at + 3] = high & 0xff;
  target[at + 4] = low >>> 24;
  target[at + 5] = (low >>> 16) & 0xff;
  target[at + 6] = (low >>> 8) & 0xff;
  target[at + 7] = low & 0xff;
}

/** The first header byte of a frame: FIN, the RSV bits and the opcode. */
export function firstHeaderByte(frame: Omit<FrameInit, "payload">): number {
  return (frame.fin === false ? 0 : 0x80) |
    (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) |
    (frame.rsv3 ? 0x10 : 0) | (frame.opcode & 0x0f);
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
  const first = firstHeaderByte(frame);
  const offset = writeFrameHeader(target, 0, first, payloadLength, !!maskKey);
  if (!maskKey) return offset;
  target[offset] = maskKey[0];
  target[offset + 1] = maskKey[1];
  target[offset + 2] = maskKey[2];
  target[offset + 3] = maskKey[3];
  return offset + 4;
}

/**
 * Checks the first two header bytes, in the RFC's order: reserved bits
 * (other than `allowedRsv`), opcode, the control frame rules, then the
 * masking a `role` demands; returns the size of the whole header.
 */
export function checkHeaderStart(
  first: number,
  second: number,
  allowedRsv: number,
  role: "client" | "server" | undefined,
): number {
  const opcode = first & 0x0f;
  const len7 = second & 0x7f;
  const masked = (second & 0x80) !== 0;
  // One test for the frames that break no rule; the rules one by one,
  // for the right error, only for the others.
  if (
    (first & 0x70 & ~allowedRsv) !== 0 || (opcode > 2 && opcode < 8) ||
    opcode > 10 || (opcode >= 8 && ((first & 0x80) === 0 || len7 > 125)) ||
    (role === "server" && !masked) || (role === "client" && masked)
  ) {
    throwHeaderError(first, second, allowedRsv, role);
  }
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (masked ? 4 : 0);
}

function throwHeaderError(
  first: number,
  second: number,
  allowedRsv: number,
  role: "client" | "server" | undefined,
): never {
  if ((first & 0x70 & ~allowedRsv) !== 0) {
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
  if (opcode >= 8 && (first & 0x80) === 0) {
    throw new ProtocolError(
      "FRAGMENTED_CONTROL_FRAME",
      "Received a fragmented control frame",
    );
  }
  if (opcode >= 8 && (second & 0x7f) > 125) {
    throw new ProtocolError(
      "CONTROL_FRAME_TOO_LONG",
      "Received a control frame longer than 125 bytes",
    );
  }
  throw role === "server"
    ? new ProtocolError(
      "UNMASKED_FRAME",
      "Received an unmasked frame from a client",
    )
    : new ProtocolError(
      "MASKED_FRAME",
      "Received a masked frame from a server",
    );
}

/** The payload length a whole header (from its first byte) states. */
export function readPayloadLength(header: Uint8Array): number {
  const len7 = header[1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (header[2] << 8) | header[3];
  return readLongLength(header);
}

// The 64-bit length, apart: it is rare, and the RFC forbids its top bit.
function readLongLength(header: Uint8Array): number {
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
  return high * 0x100000000 + low;
}
