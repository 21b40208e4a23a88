// Request body decoders (RFC 9112 sections 6 and 7.1), with no I/O: bytes in
// any split go in, views of the body's bytes come out, and what is left over
// belongs to the next request. Faults are HandshakeErrors (400, 431).

import { FIELD_LINE, TOKEN_AT } from "../_util/http_syntax.ts";
import {
  framingError as fault,
  type RequestFraming,
} from "./_request_framing.ts";

/** What one call of a body decoder produced. */
export interface DecodeResult {
  /** The body's bytes found in the input: views of it, not copies. */
  data: Uint8Array[];
  /** How many input bytes belong to the body (the rest is the next request). */
  consumed: number;
  /** Whether the body has ended. */
  done: boolean;
}

/** Decodes a request body, in any split of the input. */
export interface BodyDecoder {
  /** Feeds bytes; see {@linkcode DecodeResult}. */
  decode(input: Uint8Array): DecodeResult;
  /** Whether the body has ended. */
  readonly done: boolean;
  /** Body bytes decoded so far. */
  readonly received: number;
}

/** A body of `Content-Length` bytes. */
export class LengthDecoder implements BodyDecoder {
  #remaining: number;
  received = 0;

  constructor(length: number) {
    this.#remaining = length;
  }

  get done(): boolean {
    return this.#remaining === 0;
  }

  /** The bytes still to come. */
  get remaining(): number {
    return this.#remaining;
  }

  decode(input: Uint8Array): DecodeResult {
    const n = Math.min(this.#remaining, input.length);
    this.#remaining -= n;
    this.received += n;
    return {
      data: n > 0 ? [input.subarray(0, n)] : [],
      consumed: n,
      done: this.#remaining === 0,
    };
  }
}

/** The longest chunk-size line accepted, extensions included. */
export const MAX_CHUNK_LINE = 4096;
/** The most bytes of trailer fields accepted (they are read and dropped). */
export const MAX_TRAILER_SIZE = 16 * 1024;

// The chunked decoder's states.
const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;
const DONE = 4;

// A chunk-size line: hex size, then extensions (RFC 9112 section 7.1.1):
// `;` name [ `=` token / quoted-string ], with optional whitespace around.
const TOKEN = TOKEN_AT.source;
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|' +
  '\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const CHUNK_LINE = new RegExp(
  `^([0-9A-Fa-f]{1,16})(?:[ \\t]*;[ \\t]*${TOKEN}` +
    `(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?)*[ \\t]*$`,
);

/**
 * A chunked body (RFC 9112 section 7.1): sizes in hex with optional
 * extensions (validated, ignored), each line ended by CRLF (a bare CR or LF
 * is an error), then trailer fields (validated, bounded, dropped).
 */
export class ChunkedDecoder implements BodyDecoder {
  #state = SIZE;
  #line = ""; // the size or trailer line so far
  #remaining = 0; // bytes of the current chunk's data
  #trailer = 0; // trailer bytes so far
  #crlf = 0; // bytes of a CRLF seen so far (after data)
  received = 0;

  get done(): boolean {
    return this.#state === DONE;
  }

  decode(input: Uint8Array): DecodeResult {
    const data: Uint8Array[] = [];
    let i = 0;
    while (i < input.length && this.#state !== DONE) {
      switch (this.#state) {
        case DATA: {
          const n = Math.min(this.#remaining, input.length - i);
          data.push(input.subarray(i, i + n));
          i += n;
          this.#remaining -= n;
          this.received += n;
          if (this.#remaining === 0) this.#state = DATA_END;
          break;
        }
        case DATA_END: {
          const expected = this.#crlf === 0 ? 13 : 10;
          if (input[i] !== expected) {
            throw fault(
              "Invalid chunked body: chunk data not followed by CRLF",
            );
          }
          i++;
          if (++this.#crlf === 2) {
            this.#crlf = 0;
            this.#state = SIZE;
          }
          break;
        }
        case SIZE:
        case TRAILER: {
          const line = this.#takeLine(input, i);
          if (line === undefined) {
            return { data, consumed: input.length, done: false };
          }
          i = line.next;
          if (this.#state === SIZE) this.#sizeLine(line.text);
          else this.#trailerLine(line.text);
          break;
        }
      }
    }
    return { data, consumed: i, done: this.#state === DONE };
  }

  // Collects a line up to CRLF; undefined when the input ran out first.
  #takeLine(
    input: Uint8Array,
    start: number,
  ): { text: string; next: number } | undefined {
    let i = start;
    const limit = this.#state === SIZE
      ? MAX_CHUNK_LINE
      : MAX_TRAILER_SIZE - this.#trailer;
    while (i < input.length) {
      const byte = input[i++];
      if (byte === 10) {
        if (!this.#line.endsWith("\r")) {
          throw fault("Invalid chunked body: bare LF");
        }
        const text = this.#line.slice(0, -1);
        this.#line = "";
        return { text, next: i };
      }
      if (this.#line.endsWith("\r")) {
        throw fault("Invalid chunked body: bare CR");
      }
      this.#line += String.fromCharCode(byte);
      if (this.#line.length > limit) {
        throw this.#state === SIZE
          ? fault("Invalid chunked body: chunk-size line too long")
          : fault("Chunked trailer fields too large", 431);
      }
    }
    return undefined;
  }

  #sizeLine(text: string): void {
    const match = CHUNK_LINE.exec(text);
    if (!match) {
      throw fault(`Invalid chunk size line: ${JSON.stringify(text)}`);
    }
    const size = parseInt(match[1], 16);
    if (!Number.isSafeInteger(size)) {
      throw fault("Invalid chunked body: chunk size too large");
    }
    if (size === 0) this.#state = TRAILER;
    else {
      this.#remaining = size;
      this.#state = DATA;
    }
  }

  #trailerLine(text: string): void {
    this.#trailer += text.length + 2;
    if (this.#trailer > MAX_TRAILER_SIZE) {
      throw fault("Chunked trailer fields too large", 431);
    }
    if (text === "") {
      this.#state = DONE;
      return;
    }
    if (!FIELD_LINE.test(text)) {
      throw fault(`Invalid chunked trailer line: ${JSON.stringify(text)}`);
    }
  }
}

/** Makes the decoder for a framing (undefined for no body). */
export function bodyDecoder(framing: RequestFraming): BodyDecoder | undefined {
  if (framing.kind === "length") return new LengthDecoder(framing.length);
  if (framing.kind === "chunked") return new ChunkedDecoder();
  return undefined;
}
