// Reading an HTTP/1.1 head off a stream of chunks: buffering across chunks,
// the size limit, and where the head ends. The grammar itself is checked by
// HeadScanner as the bytes arrive.

import { HandshakeError } from "../errors.ts";
import { HeadScanner } from "./_head_scanner.ts";

/** The default largest HTTP head accepted, 16 KiB. */
export const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

/** A complete HTTP head and the bytes that followed it. */
export interface HeadResult {
  /** The head's bytes, up to and including the blank line. */
  head: Uint8Array;
  /** The bytes received after the head: the start of the next protocol. */
  rest: Uint8Array;
}

/**
 * Which HTTP head a {@linkcode HeadReader} expects: `"request"` and
 * `"response"` are checked byte by byte as they arrive, `"any"` is only
 * framed (the parsers check it once it is complete).
 */
export type HeadKind = "request" | "response" | "any";

/** Options of {@linkcode HeadReader}. */
export interface HeadReaderOptions {
  /**
   * The head expected. `"request"` checks the RFC 9112 grammar as the bytes
   * arrive: a request line (a token method, a target of visible ASCII,
   * `HTTP/` digit `.` digit), then header lines (a token name, `:`, a value
   * of visible characters, spaces, tabs and obs-text), each ended by CRLF;
   * up to two empty lines before the request line are skipped (RFC 9112
   * section 2.2). `"response"` checks a status line (`HTTP/` digit `.`
   * digit, three digits, an optional reason phrase) and the same header
   * lines. Either fails at the first byte that cannot begin or continue a
   * valid head with `BAD_REQUEST` (HTTP 400): bare CR or LF, NUL and other
   * control bytes, line folding, a space in a header name, a missing colon.
   * `"any"` only looks for the blank line.
   * @default {"any"}
   */
  kind?: HeadKind;
}

/**
 * Reads an HTTP/1.1 head incrementally: push chunks as they arrive, in any
 * split, until it returns the head and the bytes after it. A head longer
 * than the limit fails with `HEADERS_TOO_LARGE` (HTTP 431) as soon as it
 * passes the limit. With `kind: "request"` (or `"response"`) the grammar is
 * checked as the bytes arrive, and a byte that cannot be part of a valid
 * head fails with `BAD_REQUEST` (HTTP 400) in the push that brings it, so
 * that garbage is refused at once instead of waiting for a blank line that
 * never comes.
 *
 * @example Reading a head that arrives in two pieces
 * ```ts
 * import { HeadReader } from "@seed/websocket/handshake";
 *
 * const reader = new HeadReader();
 * const encoder = new TextEncoder();
 * console.log(reader.push(encoder.encode("HTTP/1.1 101 OK\r\n"))); // undefined
 * const result = reader.push(encoder.encode("\r\n\x81\x00"));
 * console.log(result?.rest.length); // 2
 * ```
 *
 * @example Refusing a TLS ClientHello sent to a plain HTTP port
 * ```ts
 * import { HeadReader } from "@seed/websocket/handshake";
 *
 * const reader = new HeadReader(16384, { kind: "request" });
 * try {
 *   reader.push(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]));
 * } catch (error) {
 *   console.log((error as { status: number }).status); // 400
 * }
 * ```
 */
export class HeadReader {
  #buffer: Uint8Array | undefined; // made once a head spans chunks
  #length = 0;
  #maxSize: number;
  // The grammar's checker; none for `"any"`, which is only framed.
  #scanner: HeadScanner | undefined;
  #error: HandshakeError | undefined;

  /**
   * Creates a head reader.
   *
   * @param maxSize The largest head accepted, in bytes.
   * @param options The kind of head expected.
   */
  constructor(
    maxSize: number = DEFAULT_MAX_HEAD_SIZE,
    options: HeadReaderOptions = {},
  ) {
    this.#maxSize = maxSize;
    const kind = options.kind ?? "any";
    if (kind !== "request" && kind !== "response" && kind !== "any") {
      throw new TypeError(
        `Invalid head kind ${
          JSON.stringify(kind)
        }: not request, response or any`,
      );
    }
    if (kind !== "any") this.#scanner = new HeadScanner(kind === "request");
  }

  /** The number of bytes held so far. */
  get bufferedBytes(): number {
    return this.#length;
  }

  /**
   * Adds bytes; returns the head once its blank line has arrived.
   *
   * @param chunk The received bytes.
   * @returns The head and the bytes after it, or undefined for more.
   */
  push(chunk: Uint8Array): HeadResult | undefined {
    const scanner = this.#scanner;
    if (scanner === undefined) return this.#pushAny(chunk);
    if (this.#error) throw this.#error;
    const length = this.#length;
    let end: number;
    let taken: number;
    try {
      if (scanner.atStart) {
        const skipped = scanner.skipEmptyLines(chunk);
        if (skipped > 0) chunk = chunk.subarray(skipped);
      }
      // Only as much as could still belong to the head is checked and
      // copied; whatever follows the blank line is handed on as a view.
      taken = Math.min(this.#maxSize + 4 - length, chunk.length);
      end = scanner.scan(chunk, taken, length);
    } catch (error) {
      // A head that broke the grammar stays broken.
      this.#error = error as HandshakeError;
      throw error;
    }
    if (end >= 0) {
      let head: Uint8Array;
      if (length === 0) {
        // The common case: the whole head in one chunk, copied once.
        head = chunk.slice(0, end);
      } else {
        head = new Uint8Array(length + end);
        head.set(this.#buffer!.subarray(0, length));
        head.set(chunk.subarray(0, end), length);
      }
      this.#length = 0;
      scanner.reset();
      return { head, rest: chunk.subarray(end) };
    }
    if (taken > 0) this.#append(chunk.subarray(0, taken));
    // Only once the blank line can no longer end within the limit: a head of
    // maxSize bytes before its blank line is accepted in any split.
    if (this.#length >= this.#maxSize + 4) throw tooLarge(this.#maxSize);
    return undefined;
  }

  // Framing only: the first CRLFCRLF ends the head.
  #pushAny(chunk: Uint8Array): HeadResult | undefined {
    if (this.#length === 0) {
      // The common case: the whole head in one chunk, copied once.
      const end = blankLineEnd(chunk, 0, chunk.length, this.#maxSize + 4);
      if (end >= 0) {
        return { head: chunk.slice(0, end), rest: chunk.subarray(end) };
      }
    }
    const held = this.#length;
    // Only as much as could still belong to the head is copied; whatever
    // follows the blank line is handed on as a view.
    const room = this.#maxSize + 4 - held;
    this.#append(chunk.subarray(0, Math.min(room, chunk.length)));
    const buffer = this.#buffer!;
    const end = blankLineEnd(
      buffer,
      Math.max(0, held - 3),
      this.#length,
      this.#maxSize + 4,
    );
    if (end >= 0) {
      this.#length = 0;
      return { head: buffer.slice(0, end), rest: chunk.subarray(end - held) };
    }
    // Only once the blank line can no longer end within the limit: a head of
    // maxSize bytes before its blank line is accepted in any split.
    if (this.#length >= this.#maxSize + 4) throw tooLarge(this.#maxSize);
    return undefined;
  }

  #append(bytes: Uint8Array): void {
    const size = this.#length + bytes.length;
    let buffer = this.#buffer;
    if (buffer === undefined || size > buffer.length) {
      const current = buffer?.length ?? 0;
      const next = new Uint8Array(
        Math.min(Math.max(size, current * 2, 1024), this.#maxSize + 4),
      );
      if (buffer) next.set(buffer.subarray(0, this.#length));
      this.#buffer = buffer = next;
    }
    buffer.set(bytes, this.#length);
    this.#length = size;
  }
}

// The index just past the first CRLFCRLF that starts in [from, to) and ends
// within `limit`, or -1.
function blankLineEnd(
  bytes: Uint8Array,
  from: number,
  to: number,
  limit: number,
): number {
  const last = Math.min(to, limit) - 3;
  for (let i = from; i < last; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) {
      return i + 4;
    }
  }
  return -1;
}

function tooLarge(maxSize: number): HandshakeError {
  return new HandshakeError(
    "HEADERS_TOO_LARGE",
    `HTTP head exceeds ${maxSize} bytes`,
    { status: 431 },
  );
}
