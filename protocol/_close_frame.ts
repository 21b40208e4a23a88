// The payload of an RFC 6455 close frame (section 5.5.1): which codes may
// be sent, how a received one is read, how ours is written.

import { ProtocolError } from "../errors.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Whether a close code may be sent in a close frame (RFC 6455 section 7.4):
 * 1000–1003, 1007–1014, and 3000–4999 for libraries and applications.
 *
 * @param code The close code.
 * @returns Whether it may appear on the wire.
 *
 * @example Codes that never go on the wire
 * ```ts
 * import { isValidCloseCode } from "@seed/websocket/protocol";
 *
 * console.log(isValidCloseCode(1000), isValidCloseCode(1005), isValidCloseCode(4000)); // true false true
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999));
}

/** The error for text that is not UTF-8, in a message or a close reason. */
export function invalidUtf8(cause?: unknown): ProtocolError {
  return new ProtocolError(
    "INVALID_UTF8",
    "Received invalid UTF-8 in a text message",
    { cause },
  );
}

/**
 * Reads a received close frame's payload: 1005 and "" when it is empty;
 * throws {@linkcode ProtocolError} for one byte, a code that may not be
 * sent, or a reason that is not UTF-8.
 */
export function parseClosePayload(
  payload: Uint8Array,
): { code: number; reason: string } {
  if (payload.length === 0) return { code: 1005, reason: "" };
  if (payload.length === 1) {
    throw new ProtocolError(
      "BAD_CLOSE_PAYLOAD",
      "Received a close frame with a 1-byte payload",
    );
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(
      "BAD_CLOSE_CODE",
      `Received a close frame with invalid code ${code}`,
    );
  }
  try {
    return { code, reason: strictDecoder.decode(payload.subarray(2)) };
  } catch (error) {
    throw invalidUtf8(error);
  }
}

/** A close frame's payload: the code, big-endian, then the reason. */
export function closePayload(code: number, reason: Uint8Array): Uint8Array {
  const payload = new Uint8Array(2 + reason.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reason, 2);
  return payload;
}

/**
 * The reason sent with a failure's close frame: the message, which names
 * the rule broken and never carries internals, or the error's code when
 * the message is over the 123 bytes a reason may have.
 */
export function failureReason(error: ProtocolError): Uint8Array {
  const reason = encoder.encode(error.message);
  return reason.length > 123 ? encoder.encode(error.code) : reason;
}
