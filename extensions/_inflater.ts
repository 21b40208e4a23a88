// The receiving half of permessage-deflate: one inflate context, made on
// first use, that restores a message fragment by fragment and never holds
// more than the caller's limit (a deflate bomb costs at most `limit` bytes).

import { ProtocolError } from "../errors.ts";
import {
  errorMessage,
  joinChunks,
  ZlibContext,
  ZlibFailure,
} from "./_deflate_engine.ts";

/** What RFC 7692 strips from every message and the receiver appends. */
const TAIL: Uint8Array<ArrayBuffer> = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Restores incoming messages for one connection. */
export class Inflater {
  readonly #windowBits: number;
  readonly #takeover: boolean;
  #context: ZlibContext | undefined;
  /** Bytes restored so far of the incoming message. */
  #restored = 0;
  /** Whether the incoming message has fed any byte to the context. */
  #fed = false;
  /** Whether the context's stream ended (BFINAL) in the incoming message. */
  #ended = false;

  /**
   * `windowBits` is the peer's agreed window; `takeover` whether the peer
   * keeps it across messages (else the context is reset after each).
   */
  constructor(windowBits: number, takeover: boolean) {
    // A peer whose zlib turned 8 into 9 still works: inflate with at least 9.
    this.#windowBits = Math.max(windowBits, 9);
    this.#takeover = takeover;
  }

  /**
   * The bytes one fragment restores (often none before `fin`). Throws a
   * ProtocolError: MESSAGE_TOO_LARGE once the message would pass `limit`,
   * BAD_COMPRESSED_DATA for data that does not inflate.
   */
  decompress(
    fragment: Uint8Array,
    fin: boolean,
    limit: number,
  ): Uint8Array<ArrayBuffer> {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let produced = 0;
    try {
      if (!this.#ended && fragment.length > 0) {
        produced += this.#inflate(fragment, parts, limit, !this.#fed);
        this.#fed = true;
      }
      if (fin && this.#fed && !this.#ended) {
        produced += this.#inflate(TAIL, parts, limit, false);
      }
    } catch (error) {
      this.#endMessage(true);
      if (!(error instanceof ZlibFailure)) throw error;
      throw new ProtocolError(
        "BAD_COMPRESSED_DATA",
        `Cannot inflate message: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (fin) this.#endMessage(false);
    return joinChunks(parts, produced);
  }

  /**
   * Inflates `input`, pushing to `parts`; returns the bytes produced. At the
   * start of a message, a context that consumes nothing ended with the
   * previous message and is reset for this one.
   */
  #inflate(
    input: Uint8Array,
    parts: Uint8Array<ArrayBuffer>[],
    limit: number,
    start: boolean,
  ): number {
    const context = this.#context ??= new ZlibContext(
      "inflate",
      this.#windowBits,
      0,
      0,
    );
    // One byte past the limit is room enough to tell that it was passed.
    const room = limit - this.#restored + 1;
    const first = Math.max(input.length * 4, 1024);
    let result = context.pump(input, parts, first, room);
    if (start && result.ended && result.consumed === 0) {
      context.reset();
      result = context.pump(input, parts, first, room);
    }
    this.#restored += result.produced;
    if (this.#restored > limit) {
      throw new ProtocolError(
        "MESSAGE_TOO_LARGE",
        `Cannot inflate message: it is larger than ${limit} bytes`,
      );
    }
    if (result.ended) this.#ended = true;
    return result.produced;
  }

  /** Ends the incoming message: frees or resets the context as needed. */
  #endMessage(failed: boolean): void {
    if (failed) {
      this.close();
    } else if (this.#ended || !this.#takeover) {
      this.#context?.reset();
    }
    this.#restored = 0;
    this.#fed = false;
    this.#ended = false;
  }

  /** Frees the context; the next message makes a new one. */
  close(): void {
    this.#context?.close();
    this.#context = undefined;
  }
}
