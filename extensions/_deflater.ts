// The sending half of permessage-deflate: one deflate context, made on
// first use, that compresses whole messages or messages sent in parts, and
// keeps its window across messages or resets it after each (context
// takeover, RFC 7692 section 7.1.1).

import { errorMessage, joinChunks, ZlibContext } from "./_deflate_engine.ts";

/** What the sending half was agreed and tuned to. */
export interface DeflaterInit {
  /** The agreed window bits; below 9 nothing is compressed. */
  windowBits: number;
  /** Whether the window is kept across messages. */
  takeover: boolean;
  /** The size in bytes under which whole messages go uncompressed. */
  threshold: number;
  level: number;
  memLevel: number;
}

/** Compresses outgoing messages for one connection. */
export class Deflater {
  readonly #init: DeflaterInit;
  #context: ZlibContext | undefined;

  constructor(init: DeflaterInit) {
    this.#init = init;
  }

  /**
   * One whole message compressed, or undefined to send it as it is: when
   * empty or under the threshold, when the window may only have 8 bits, or
   * (without context takeover) when compression would not make it smaller.
   */
  compress(payload: Uint8Array): Uint8Array<ArrayBuffer> | undefined {
    const { threshold, windowBits, takeover } = this.#init;
    // An empty message is smallest uncompressed (compressed it is 0x00).
    if (
      payload.length === 0 || payload.length < threshold || windowBits < 9
    ) {
      return undefined;
    }
    const output = this.#deflate(payload);
    if (!takeover) this.#context!.reset();
    const length = output.length - 4;
    if (
      length < 0 || output[length] !== 0 || output[length + 1] !== 0 ||
      output[length + 2] !== 0xff || output[length + 3] !== 0xff
    ) {
      this.close();
      throw new Error("Cannot compress message: zlib did not sync-flush");
    }
    if (!takeover && length >= payload.length) return undefined;
    return output.subarray(0, length);
  }

  /**
   * One part of a message sent in parts, ending on a byte boundary so the
   * peer can restore it as it arrives; the last part loses the trailing
   * `00 00 ff ff`. Undefined (first part only): send the message as it is.
   */
  compressPart(
    payload: Uint8Array,
    first: boolean,
    fin: boolean,
  ): Uint8Array<ArrayBuffer> | undefined {
    const { windowBits, takeover } = this.#init;
    if (first && windowBits < 9) return undefined;
    if (payload.length === 0) {
      // An empty first part: the message may be empty, smallest as it is.
      if (first) return undefined;
      if (!fin) return new Uint8Array(0);
      // Every earlier part ended on a sync flush, on a byte boundary: the
      // last is one empty stored block's header byte, which the peer's
      // appended 00 00 ff ff completes.
      if (!takeover) this.#context?.reset();
      return new Uint8Array(1);
    }
    const output = this.#deflate(payload);
    if (!fin) return output;
    if (!takeover) this.#context!.reset();
    return output.subarray(0, Math.max(0, output.length - 4));
  }

  // Deflates `payload` with a sync flush on the context (made on first
  // use); a zlib failure frees the context and throws.
  #deflate(payload: Uint8Array): Uint8Array<ArrayBuffer> {
    const { windowBits, level, memLevel } = this.#init;
    const context = this.#context ??= new ZlibContext(
      "deflate",
      windowBits,
      level,
      memLevel,
    );
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let produced: number;
    try {
      // Room for incompressible data on the first try.
      const first = payload.length + (payload.length >> 3) + 64;
      produced = context.pump(payload, parts, first, Infinity).produced;
    } catch (error) {
      this.close();
      throw new Error(`Cannot compress message: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    return joinChunks(parts, produced);
  }

  /** Frees the context; the next message makes a new one. */
  close(): void {
    this.#context?.close();
    this.#context = undefined;
  }
}
