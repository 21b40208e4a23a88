// The bus envelope: how a message travels between nodes, with its origin
// (so that a node drops its own messages) and its sequence number (so that
// receivers detect gaps, duplicates and reordering).

import type { BusMeta } from "./bus.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const VERSION = 1;

/**
 * Encodes a bus envelope: a version byte, a kind byte (0 text, 1 binary),
 * the origin's length and UTF-8 bytes, the sequence number as a 64-bit
 * float, then the payload.
 *
 * @param origin The publishing node's id (at most 255 bytes of UTF-8).
 * @param seq The sequence number.
 * @param payload The message.
 * @returns The envelope.
 *
 * @example Round trip
 * ```ts
 * import { decodeEnvelope, encodeEnvelope } from "@seed/websocket/bus";
 *
 * const envelope = encodeEnvelope("node-a", 7, "hi");
 * console.log(decodeEnvelope(envelope)); // { origin: "node-a", seq: 7, payload: "hi" }
 * ```
 */
export function encodeEnvelope(
  origin: string,
  seq: number,
  payload: Uint8Array | string,
): Uint8Array<ArrayBuffer> {
  const id = encoder.encode(origin);
  if (id.length > 255) {
    throw new RangeError("Cannot encode envelope: origin too long");
  }
  const text = typeof payload === "string";
  const body = text ? encoder.encode(payload) : payload;
  const out = new Uint8Array(3 + id.length + 8 + body.length);
  out[0] = VERSION;
  out[1] = text ? 0 : 1;
  out[2] = id.length;
  out.set(id, 3);
  new DataView(out.buffer).setFloat64(3 + id.length, seq);
  out.set(body, 11 + id.length);
  return out;
}

/** A decoded bus envelope. */
export interface Envelope extends BusMeta {
  /** The message: a string for text, bytes for binary. */
  payload: Uint8Array | string;
}

/**
 * Decodes a bus envelope; `undefined` if it is not one.
 *
 * @param bytes The envelope.
 * @returns Its origin, sequence number and payload.
 *
 * @example Something that is not an envelope
 * ```ts
 * import { decodeEnvelope } from "@seed/websocket/bus";
 *
 * console.log(decodeEnvelope(new Uint8Array([9]))); // undefined
 * ```
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (bytes.length < 11 || bytes[0] !== VERSION || bytes[1] > 1) {
    return undefined;
  }
  const idEnd = 3 + bytes[2];
  if (bytes.length < idEnd + 8) return undefined;
  const origin = decoder.decode(bytes.subarray(3, idEnd));
  const seq = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .getFloat64(idEnd);
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  const body = bytes.subarray(idEnd + 8);
  const payload = bytes[1] === 0 ? decoder.decode(body) : body.slice();
  return { origin, seq, payload };
}
