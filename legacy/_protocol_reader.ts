// The receiving half of the legacy drafts' machine: the byte stream parsed
// into text messages and the draft-76 closing handshake. A text frame is
// `0x00`, UTF-8 bytes, `0xFF`; other sentinel frames are discarded; a type
// byte with the high bit set is followed by a length and a body, which is
// skipped, except that `0xFF 0x00` is the draft-76 closing handshake.

import { ProtocolError } from "../errors.ts";
import type { ProtocolEvent } from "../protocol/machine.ts";

// Where the parser is within a frame.
const Mode = {
  /** Expecting a frame type byte. */
  Type: 0,
  /** Inside a `0x00` text frame, reading until `0xFF`. */
  Text: 1,
  /** Inside another sentinel frame, discarding until `0xFF`. */
  Discard: 2,
  /** Reading the length of a length-prefixed frame. */
  Length: 3,
  /** Skipping the body of a length-prefixed frame. */
  Skip: 4,
} as const;

// Length bytes carry 7 bits each; 7 of them (49 bits) stay exact in a
// double, far beyond any sane frame.
const MAX_LENGTH_BYTES = 7;

/**
 * Parses one connection's received bytes, in any split, into the text
 * messages they carry. Throws {@linkcode ProtocolError} for a violation.
 */
export class HixieReader {
  #closes: boolean;
  #maxMessageSize: number;
  #mode: number = Mode.Type;
  // The type byte of the current length-prefixed frame.
  #frameType = 0;
  // The length read so far, then the bytes left to skip.
  #length = 0;
  #lengthBytes = 0;
  // The bytes of the current sentinel frame seen so far.
  #size = 0;
  // The decoded pieces of a text frame that spans chunks.
  #parts: string[] = [];
  #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  /**
   * @param closes Whether `0xFF 0x00` is the closing handshake (draft 76).
   * @param maxMessageSize The largest text message, and skipped frame.
   */
  constructor(closes: boolean, maxMessageSize: number) {
    this.#closes = closes;
    this.#maxMessageSize = maxMessageSize;
  }

  /** Forgets a text frame under way (the stream ended or failed). */
  reset(): void {
    this.#parts = [];
  }

  /**
   * Parses `data`, pushing each message to `events`. Stops at the peer's
   * closing handshake: nothing after it belongs to the conversation.
   *
   * @returns Whether the closing handshake arrived.
   */
  read(data: Uint8Array, events: ProtocolEvent[]): boolean {
    const n = data.length;
    let i = 0;
    while (i < n) {
      switch (this.#mode) {
        case Mode.Type: {
          const type = data[i++];
          if (type & 0x80) {
            this.#mode = Mode.Length;
            this.#frameType = type;
            this.#length = 0;
            this.#lengthBytes = 0;
          } else {
            this.#mode = type === 0x00 ? Mode.Text : Mode.Discard;
            this.#size = 0;
          }
          break;
        }
        case Mode.Text:
          i = this.#readText(data, i, events);
          break;
        case Mode.Discard: {
          const end = data.indexOf(0xff, i);
          this.#size += (end === -1 ? n : end) - i;
          if (this.#size > this.#maxMessageSize) this.#tooLarge("frame");
          if (end === -1) return false;
          i = end + 1;
          this.#mode = Mode.Type;
          break;
        }
        case Mode.Length:
          if (this.#readLength(data[i++])) return true;
          break;
        case Mode.Skip: {
          const take = Math.min(this.#length, n - i);
          i += take;
          this.#length -= take;
          if (this.#length === 0) this.#mode = Mode.Type;
          break;
        }
      }
    }
    return false;
  }

  // Takes one length byte; true when it ends the closing handshake.
  #readLength(b: number): boolean {
    this.#length = this.#length * 128 + (b & 0x7f);
    this.#lengthBytes++;
    if (this.#length > this.#maxMessageSize) this.#tooLarge("frame");
    if (b & 0x80) {
      if (this.#lengthBytes >= MAX_LENGTH_BYTES) {
        throw new ProtocolError(
          "BAD_LENGTH",
          `Invalid frame length: more than ${MAX_LENGTH_BYTES} length bytes`,
        );
      }
      return false;
    }
    if (this.#length !== 0) {
      this.#mode = Mode.Skip;
      return false;
    }
    this.#mode = Mode.Type;
    return this.#closes && this.#frameType === 0xff;
  }

  // Reads text frame bytes from `data` at `start`; returns the new offset.
  #readText(data: Uint8Array, start: number, events: ProtocolEvent[]): number {
    const end = data.indexOf(0xff, start);
    const stop = end === -1 ? data.length : end;
    const size = this.#size + stop - start;
    if (size > this.#maxMessageSize) this.#tooLarge("message");
    try {
      if (end !== -1 && this.#size === 0) {
        // The whole frame sits in this chunk: decode the view, no copies.
        const text = this.#decoder.decode(data.subarray(start, end));
        events.push({ type: "message", data: text });
      } else {
        if (stop > start) {
          this.#parts.push(
            this.#decoder.decode(data.subarray(start, stop), { stream: true }),
          );
        }
        if (end !== -1) {
          this.#parts.push(this.#decoder.decode());
          const text = this.#parts.join("");
          this.#parts = [];
          events.push({ type: "message", data: text });
        }
      }
    } catch (cause) {
      throw new ProtocolError(
        "INVALID_UTF8",
        "Invalid UTF-8 in a text message",
        { cause },
      );
    }
    this.#size = size;
    if (end === -1) return data.length;
    this.#mode = Mode.Type;
    return end + 1;
  }

  #tooLarge(what: "message" | "frame"): never {
    throw new ProtocolError(
      what === "message" ? "MESSAGE_TOO_LARGE" : "FRAME_TOO_LARGE",
      `The ${what} exceeds the limit of ${this.#maxMessageSize} bytes`,
    );
  }
}
