/**
 * The RFC 6455 opening handshake, sans-I/O: an incremental HTTP/1.1 head
 * reader, request and response parsers and builders, the key and
 * `Sec-WebSocket-Accept` computation, header token lists, and the checks
 * each side makes of the other's head. No sockets: bytes in, values out.
 *
 * @example Checking a client's upgrade request and answering it
 * ```ts
 * import {
 *   buildUpgradeResponse,
 *   DEFAULT_MAX_HEAD_SIZE,
 *   HeadReader,
 *   parseRequestHead,
 *   validateUpgradeRequest,
 * } from "@seed/websocket/handshake";
 *
 * const reader = new HeadReader(DEFAULT_MAX_HEAD_SIZE, { kind: "request" });
 * const done = reader.push(new TextEncoder().encode(
 *   "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n" +
 *     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
 *     "Sec-WebSocket-Version: 13\r\n\r\n",
 * ));
 * const request = parseRequestHead(done!.head);
 * const upgrade = validateUpgradeRequest(request);
 * const response = await buildUpgradeResponse({ key: upgrade.key });
 * console.log(new TextDecoder().decode(response).split("\r\n")[0]); // HTTP/1.1 101 Switching Protocols
 * ```
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";
import { sha1 } from "./_util/sha1.ts";

/** The GUID of RFC 6455 section 1.3, appended to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

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

// Byte classes of RFC 9110 section 5.6 and RFC 9112.
const TCHAR = 1; // token characters
const VCHAR = 2; // visible ASCII
const FIELD = 4; // field-value and reason-phrase: VCHAR, obs-text, SP, HTAB
const DIGIT = 8;
const CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const tokens = "!#$%&'*+-.^_`|~";
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    const alnum = /[0-9A-Za-z]/.test(c);
    if (alnum || tokens.includes(c)) table[b] |= TCHAR;
    if (b > 0x20 && b < 0x7f) table[b] |= VCHAR;
    if ((b > 0x20 && b !== 0x7f) || b === 0x20 || b === 0x09) {
      table[b] |= FIELD;
    }
    if (b >= 0x30 && b <= 0x39) table[b] |= DIGIT;
  }
  return table;
})();

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const HTTP_SLASH = [72, 84, 84, 80, 47, 0, 46, 0]; // "HTTP/" digit "." digit
// Empty lines skipped before a request line.
const MAX_LEADING_LINES = 2;

// States of the validating reader. Those before FIELD_START are in the
// request or status line.
const START = 0; // before the method: a token byte, or CR of an empty line
const START_LF = 1; // the LF of an empty line before the request line
const METHOD = 2;
const TARGET_FIRST = 3; // the request target's first byte
const TARGET = 4;
const VERSION = 5; // "HTTP/" digit "." digit, the position in `#pos`
const LINE_CR = 6; // the request line's CR
const STATUS_SP = 7; // the space after a response's version
const STATUS = 8; // three digits, counted in `#pos`
const AFTER_STATUS = 9; // a space and a reason phrase, or CR
const REASON = 10;
const FIRST_LF = 11; // the LF ending the request or status line
const FIELD_START = 12; // a header name's first byte, or CR of the blank line
const NAME = 13;
const VALUE = 14;
const LINE_LF = 15; // the LF ending a header line
const END_LF = 16; // the LF of the blank line

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
  #request: boolean;
  #any: boolean;
  // The validating reader's state: see the constants above.
  #state: number;
  #pos = 0; // within VERSION or STATUS
  #skipped = 0; // bytes of empty lines before the request line
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
    this.#request = kind === "request";
    this.#any = kind === "any";
    this.#state = this.#request ? START : VERSION;
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
    if (this.#any) return this.#pushAny(chunk);
    if (this.#error) throw this.#error;
    if (
      this.#state <= START_LF && this.#request &&
      (chunk[0] === CR || this.#state === START_LF)
    ) {
      const skipped = this.#skipEmptyLines(chunk);
      if (skipped > 0) chunk = chunk.subarray(skipped);
    }
    const length = this.#length;
    // Only as much as could still belong to the head is checked and
    // copied; whatever follows the blank line is handed on as a view.
    const taken = Math.min(this.#maxSize + 4 - length, chunk.length);
    const end = this.#scan(chunk, taken);
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
      this.#skipped = 0;
      this.#state = this.#request ? START : VERSION;
      return { head, rest: chunk.subarray(end) };
    }
    if (taken > 0) {
      this.#grow(length + taken);
      this.#buffer!.set(chunk.subarray(0, taken), length);
      this.#length += taken;
    }
    // Only once the blank line can no longer end within the limit: a head of
    // maxSize bytes before its blank line is accepted in any split.
    if (this.#length >= this.#maxSize + 4) throw tooLarge(this.#maxSize);
    return undefined;
  }

  // Skips the CRLFs allowed before a request line; returns how many bytes.
  #skipEmptyLines(chunk: Uint8Array): number {
    let i = 0;
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.#state === START) {
        if (b !== CR) break;
        if (this.#skipped === 2 * MAX_LEADING_LINES) {
          this.#fail(
            `Invalid HTTP request: more than ${MAX_LEADING_LINES} empty lines before the request line`,
          );
        }
        this.#state = START_LF;
      } else {
        if (b !== LF) this.#fail(this.#describe(b, this.#skipped));
        this.#state = START;
      }
      this.#skipped++;
    }
    return i;
  }

  // Checks bytes[0, end) against the grammar, from the current state;
  // returns the index just past the blank line, or -1 for more. Runs of
  // the same class are taken in tight loops: no byte is looked at twice.
  #scan(bytes: Uint8Array, end: number): number {
    let state = this.#state;
    let pos = this.#pos;
    let i = 0;
    while (i < end) {
      const b = bytes[i];
      switch (state) {
        case START:
          if (!(CLASS[b] & TCHAR)) break;
          state = METHOD;
          i++;
          continue;
        case METHOD:
          while (i < end && CLASS[bytes[i]] & TCHAR) i++;
          if (i === end) continue;
          if (bytes[i] !== SP) break;
          state = TARGET_FIRST;
          i++;
          continue;
        case TARGET_FIRST:
          if (!(CLASS[b] & VCHAR)) break;
          state = TARGET;
          i++;
          continue;
        case TARGET:
          while (i < end && CLASS[bytes[i]] & VCHAR) i++;
          if (i === end) continue;
          if (bytes[i] !== SP) break;
          // The usual version and line end, taken at once.
          if (
            i + 11 <= end && bytes[i + 1] === 72 && bytes[i + 2] === 84 &&
            bytes[i + 3] === 84 && bytes[i + 4] === 80 &&
            bytes[i + 5] === 47 && CLASS[bytes[i + 6]] & DIGIT &&
            bytes[i + 7] === 46 && CLASS[bytes[i + 8]] & DIGIT &&
            bytes[i + 9] === CR && bytes[i + 10] === LF
          ) {
            state = FIELD_START;
            i += 11;
            continue;
          }
          state = VERSION;
          pos = 0;
          i++;
          continue;
        case VERSION:
          if (
            pos === 5 || pos === 7 ? !(CLASS[b] & DIGIT) : b !== HTTP_SLASH[pos]
          ) break;
          i++;
          if (++pos === 8) {
            state = this.#request ? LINE_CR : STATUS_SP;
          }
          continue;
        case LINE_CR:
          if (b !== CR) break;
          state = FIRST_LF;
          i++;
          continue;
        case STATUS_SP:
          if (b !== SP) break;
          state = STATUS;
          pos = 0;
          i++;
          continue;
        case STATUS:
          if (!(CLASS[b] & DIGIT)) break;
          i++;
          if (++pos === 3) state = AFTER_STATUS;
          continue;
        case AFTER_STATUS:
          // The reason phrase's space is often left out with the phrase.
          if (b === SP) state = REASON;
          else if (b === CR) state = FIRST_LF;
          else break;
          i++;
          continue;
        case REASON:
          while (i < end && CLASS[bytes[i]] & FIELD) i++;
          if (i === end) continue;
          if (bytes[i] !== CR) break;
          state = FIRST_LF;
          i++;
          continue;
        case FIRST_LF:
        case LINE_LF:
          if (b !== LF) break;
          state = FIELD_START;
          i++;
          continue;
        case FIELD_START:
          if (CLASS[b] & TCHAR) state = NAME;
          else if (b === CR) state = END_LF;
          else break;
          i++;
          continue;
        case NAME:
          while (i < end && CLASS[bytes[i]] & TCHAR) i++;
          if (i === end) continue;
          if (bytes[i] !== COLON) break;
          state = VALUE;
          i++;
          continue;
        case VALUE:
          while (i < end && CLASS[bytes[i]] & FIELD) i++;
          if (i === end) continue;
          if (bytes[i] !== CR) break;
          // The usual line end, taken at once with the next name's first
          // byte.
          if (
            i + 2 < end && bytes[i + 1] === LF && CLASS[bytes[i + 2]] & TCHAR
          ) {
            state = NAME;
            i += 3;
            continue;
          }
          state = LINE_LF;
          i++;
          continue;
        case END_LF:
          if (b !== LF) break;
          return i + 1;
      }
      // Only a byte that fits nowhere gets here.
      this.#state = state;
      this.#fail(
        this.#describe(bytes[i], this.#skipped + this.#length + i),
      );
    }
    this.#state = state;
    this.#pos = pos;
    return -1;
  }

  // What is wrong with byte `b` at `offset` in the input.
  #describe(b: number, offset: number): string {
    const state = this.#state;
    const where = state >= FIELD_START
      ? "header line"
      : this.#request
      ? "request line"
      : "status line";
    if (state === FIELD_START && (b === SP || b === HTAB)) {
      return `Invalid HTTP head: line folding or whitespace before a header name at offset ${offset}`;
    }
    if (
      state === START_LF || state === FIRST_LF || state === LINE_LF ||
      state === END_LF
    ) {
      return `Invalid HTTP ${where}: bare CR at offset ${offset - 1}`;
    }
    if (b === LF) return `Invalid HTTP ${where}: bare LF at offset ${offset}`;
    const hex = b.toString(16).padStart(2, "0");
    return `Invalid HTTP ${where}: unexpected byte 0x${hex} at offset ${offset}`;
  }

  #fail(message: string): never {
    this.#error = badRequest(message);
    throw this.#error;
  }

  // Framing only: the first CRLFCRLF ends the head.
  #pushAny(chunk: Uint8Array): HeadResult | undefined {
    if (this.#length === 0) {
      // The common case: the whole head in one chunk, copied once.
      const limit = Math.min(chunk.length, this.#maxSize + 4);
      for (let i = 0; i + 3 < limit; i++) {
        if (
          chunk[i] === 13 && chunk[i + 1] === 10 && chunk[i + 2] === 13 &&
          chunk[i + 3] === 10
        ) {
          return { head: chunk.slice(0, i + 4), rest: chunk.subarray(i + 4) };
        }
      }
    }
    const start = Math.max(0, this.#length - 3);
    // Only as much as could still belong to the head is copied; whatever
    // follows the blank line is handed on as a view.
    const room = this.#maxSize + 4 - this.#length;
    const taken = chunk.subarray(0, Math.min(room, chunk.length));
    this.#grow(this.#length + taken.length);
    this.#buffer!.set(taken, this.#length);
    this.#length += taken.length;
    const buffer = this.#buffer!;
    for (let i = start; i + 3 < this.#length; i++) {
      if (
        buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 &&
        buffer[i + 3] === 10
      ) {
        const end = i + 4;
        if (end - 4 > this.#maxSize) break;
        const head = buffer.slice(0, end);
        const consumedFromChunk = end - (this.#length - taken.length);
        const rest = chunk.subarray(consumedFromChunk);
        this.#length = 0;
        return { head, rest };
      }
    }
    // Only once the blank line can no longer end within the limit: a head of
    // maxSize bytes before its blank line is accepted in any split.
    if (this.#length >= this.#maxSize + 4) throw tooLarge(this.#maxSize);
    return undefined;
  }

  #grow(size: number): void {
    const current = this.#buffer?.length ?? 0;
    if (size <= current && this.#buffer) return;
    const next = new Uint8Array(
      Math.min(Math.max(size, current * 2, 1024), this.#maxSize + 4),
    );
    if (this.#buffer) next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
  }
}

function tooLarge(maxSize: number): HandshakeError {
  return new HandshakeError(
    "HEADERS_TOO_LARGE",
    `HTTP head exceeds ${maxSize} bytes`,
    { status: 431 },
  );
}

/** A parsed HTTP request head. */
export interface RequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target, e.g. `/chat?room=1`. */
  target: string;
  /** The HTTP version, e.g. `1.1`. */
  version: string;
  /** The header fields; repeated fields are joined with ", ". */
  headers: Headers;
}

/** A parsed HTTP response head. */
export interface ResponseHead {
  /** The HTTP version, e.g. `1.1`. */
  version: string;
  /** The status code. */
  status: number;
  /** The reason phrase. */
  statusText: string;
  /** The header fields; repeated fields are joined with ", ". */
  headers: Headers;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible characters, spaces, tabs and obs-text.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const ascii = new TextDecoder();

function latin1(bytes: Uint8Array): string {
  // ASCII (every usual head) decodes the same as UTF-8, natively.
  let i = 0;
  while (i < bytes.length && bytes[i] < 0x80) i++;
  if (i === bytes.length) return ascii.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

function badRequest(message: string): HandshakeError {
  return new HandshakeError("BAD_REQUEST", message, { status: 400 });
}

function parseFields(lines: string[]): Headers {
  const headers = new Headers();
  for (const line of lines) {
    if (line === "") continue;
    if (line[0] === " " || line[0] === "\t") {
      throw badRequest("Invalid HTTP head: obsolete line folding");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw badRequest(`Invalid HTTP header line: ${JSON.stringify(line)}`);
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) {
      throw badRequest(`Invalid value in HTTP header ${name}`);
    }
    headers.append(name, value);
  }
  return headers;
}

function splitHead(head: Uint8Array): string[] {
  const text = latin1(head);
  if (!text.endsWith("\r\n\r\n")) {
    throw badRequest("Invalid HTTP head: missing blank line");
  }
  const lines = text.slice(0, -4).split("\r\n");
  for (const line of lines) {
    if (line.includes("\r") || line.includes("\n")) {
      throw badRequest("Invalid HTTP head: bare CR or LF");
    }
  }
  return lines;
}

/**
 * Parses an HTTP/1.x request head (as {@linkcode HeadReader} returns it).
 * Throws a {@linkcode HandshakeError} `BAD_REQUEST` (HTTP 400) for anything
 * malformed: request line, header names, values, or line folding.
 *
 * @param head The head's bytes, ending with the blank line.
 * @returns The method, target, version and headers.
 *
 * @example Parsing a request head
 * ```ts
 * import { parseRequestHead } from "@seed/websocket/handshake";
 *
 * const head = parseRequestHead(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
 * console.log(head.method, head.headers.get("host")); // GET a
 * ```
 */
export function parseRequestHead(head: Uint8Array): RequestHead {
  const lines = splitHead(head);
  const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d)\.(\d)$/
    .exec(lines[0]);
  if (!match) {
    throw badRequest(`Invalid HTTP request line: ${JSON.stringify(lines[0])}`);
  }
  return {
    method: match[1],
    target: match[2],
    version: `${match[3]}.${match[4]}`,
    headers: parseFields(lines.slice(1)),
  };
}

/**
 * Parses an HTTP/1.x response head. Throws a {@linkcode HandshakeError}
 * `BAD_REQUEST` for a malformed one.
 *
 * @param head The head's bytes, ending with the blank line.
 * @returns The version, status, reason phrase and headers.
 *
 * @example Parsing a response head
 * ```ts
 * import { parseResponseHead } from "@seed/websocket/handshake";
 *
 * const head = parseResponseHead(new TextEncoder().encode("HTTP/1.1 404 Not Found\r\n\r\n"));
 * console.log(head.status, head.statusText); // 404 Not Found
 * ```
 */
export function parseResponseHead(head: Uint8Array): ResponseHead {
  const lines = splitHead(head);
  const match = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!match) {
    throw badRequest(
      `Invalid HTTP status line: ${JSON.stringify(lines[0])}`,
    );
  }
  return {
    version: `${match[1]}.${match[2]}`,
    status: Number(match[3]),
    statusText: match[4] ?? "",
    headers: parseFields(lines.slice(1)),
  };
}

/**
 * Header fields to read: a `Headers`, or any lighter map with the same
 * `get` (the HTTP path's own field list).
 */
export interface HeaderSource {
  /** The field's value, repeated lines joined with ", ", or null. */
  get(name: string): string | null;
}

/**
 * The elements of a comma-separated header list (RFC 9110 section 5.6.1),
 * across repeated header lines, trimmed, empty elements dropped. Case is
 * kept: compare tokens case-insensitively where the header says so.
 *
 * @param headers The headers.
 * @param name The header name.
 * @returns The list's elements, in order.
 *
 * @example Firefox's Connection header
 * ```ts
 * import { headerTokens } from "@seed/websocket/handshake";
 *
 * const headers = new Headers({ Connection: "keep-alive, Upgrade" });
 * console.log(headerTokens(headers, "connection")); // [ "keep-alive", "Upgrade" ]
 * ```
 */
export function headerTokens(headers: HeaderSource, name: string): string[] {
  const value = headers.get(name);
  if (value === null) return [];
  const tokens: string[] = [];
  for (const part of value.split(",")) {
    const token = part.trim();
    if (token !== "") tokens.push(token);
  }
  return tokens;
}

/**
 * Whether a header's list holds a token, compared case-insensitively.
 *
 * @param headers The headers.
 * @param name The header name.
 * @param token The token to look for.
 * @returns Whether it is there.
 *
 * @example Looking for "upgrade" in Connection
 * ```ts
 * import { hasToken } from "@seed/websocket/handshake";
 *
 * console.log(hasToken(new Headers({ Connection: "keep-alive,Upgrade" }), "connection", "upgrade")); // true
 * ```
 */
export function hasToken(
  headers: HeaderSource,
  name: string,
  token: string,
): boolean {
  const value = headers.get(name);
  if (value === null) return false;
  // No list is made: this runs for every request on the HTTP path.
  const wanted = token.toLowerCase();
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === wanted) return true;
  }
  return false;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes.
 *
 * @returns The key.
 *
 * @example Making a key
 * ```ts
 * import { createClientKey } from "@seed/websocket/handshake";
 *
 * console.log(createClientKey().length); // 24
 * ```
 */
export function createClientKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Whether a `Sec-WebSocket-Key` is base64 of exactly 16 bytes.
 *
 * @param key The key as received.
 * @returns Whether it is well formed.
 *
 * @example Checking keys
 * ```ts
 * import { isValidClientKey } from "@seed/websocket/handshake";
 *
 * console.log(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ==")); // true
 * console.log(isValidClientKey("c2hvcnQ=")); // false
 * ```
 */
export function isValidClientKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key);
}

/**
 * The `Sec-WebSocket-Accept` for a key: base64 of the SHA-1 of the key and
 * the RFC's GUID. Computed at once; a promise for the signature it had when
 * it used Web Crypto.
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The accept value.
 *
 * @example The RFC 6455 section 1.3 example
 * ```ts
 * import { computeAccept } from "@seed/websocket/handshake";
 *
 * console.log(await computeAccept("dGhlIHNhbXBsZSBub25jZQ==")); // s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export function computeAccept(key: string): Promise<string> {
  return Promise.resolve(acceptFor(key));
}

// The accept value, synchronously: a 60-byte SHA-1 in JavaScript takes a
// microsecond, Web Crypto's digest a trip through a thread pool.
function acceptFor(key: string): string {
  const text = key + WEBSOCKET_GUID;
  // A valid key is printable ASCII: its bytes are its char codes.
  const data = /^[\x20-\x7e]*$/.test(text)
    ? encodeLatin1(text)
    : new TextEncoder().encode(text);
  return base64(sha1(data));
}

/** What a valid upgrade request asks for. */
export interface UpgradeRequestInfo {
  /** The `Sec-WebSocket-Key`. */
  key: string;
  /** The `Sec-WebSocket-Version` asked for. */
  version: number;
  /** The subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** The `Sec-WebSocket-Extensions` offer, or null. */
  extensions: string | null;
  /** The `Origin`, or null. */
  origin: string | null;
}

/** Options of {@linkcode validateUpgradeRequest}. */
export interface ValidateRequestOptions {
  /**
   * The `Sec-WebSocket-Version` values accepted. RFC 6455 is 13; 8 and 7 are
   * the hybi drafts of 2011 that frame the same way.
   * @default {[13]}
   */
  versions?: readonly number[];
}

/**
 * Whether a request asks to upgrade to WebSocket at all (its `Upgrade`
 * header lists `websocket`). Others go to a server's HTTP fallback.
 *
 * @param headers The request's headers.
 * @returns Whether it is a WebSocket upgrade attempt.
 *
 * @example Telling upgrades from page loads
 * ```ts
 * import { isUpgradeRequest } from "@seed/websocket/handshake";
 *
 * console.log(isUpgradeRequest(new Headers({ Upgrade: "WebSocket" }))); // true
 * console.log(isUpgradeRequest(new Headers())); // false
 * ```
 */
export function isUpgradeRequest(headers: Headers): boolean {
  return hasToken(headers, "upgrade", "websocket");
}

/**
 * Checks an upgrade request as RFC 6455 section 4.2.1 requires, in a fixed
 * order, each failure a {@linkcode HandshakeError} with its exact HTTP
 * status: method GET (405, `Allow: GET`), HTTP/1.1 or later (400), a `Host`
 * (400), `Upgrade: websocket` and `Connection: upgrade` (400), a supported
 * `Sec-WebSocket-Version` (400 with the supported versions in
 * `Sec-WebSocket-Version`), a key of 16 base64 bytes (400). The origin is
 * the server's business, not checked here.
 *
 * @param request The parsed request head.
 * @param options The versions accepted.
 * @returns The key, version, offered subprotocols, extensions and origin.
 *
 * @example Rejecting a POST
 * ```ts
 * import { validateUpgradeRequest } from "@seed/websocket/handshake";
 *
 * try {
 *   validateUpgradeRequest({ method: "POST", target: "/", version: "1.1", headers: new Headers() });
 * } catch (error) {
 *   console.log((error as { status: number }).status); // 405
 * }
 * ```
 */
export function validateUpgradeRequest(
  request: RequestHead,
  options: ValidateRequestOptions = {},
): UpgradeRequestInfo {
  const { headers } = request;
  if (request.method !== "GET") {
    throw new HandshakeError(
      "BAD_METHOD",
      `Invalid upgrade request: method ${request.method} is not GET`,
      { status: 405, headers: { Allow: "GET" } },
    );
  }
  const [major, minor] = request.version.split(".").map(Number);
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new HandshakeError(
      "BAD_HTTP_VERSION",
      `Invalid upgrade request: HTTP/${request.version} is older than 1.1`,
      { status: 400 },
    );
  }
  const host = headers.get("host");
  if (host === null || host === "" || host.includes(",")) {
    throw new HandshakeError(
      "BAD_HOST",
      "Invalid upgrade request: missing or repeated Host header",
      { status: 400 },
    );
  }
  if (!hasToken(headers, "upgrade", "websocket")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade request: Upgrade header does not list websocket",
      { status: 400 },
    );
  }
  if (!hasToken(headers, "connection", "upgrade")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade request: Connection header does not list upgrade",
      { status: 400 },
    );
  }
  const versions = options.versions ?? [13];
  const versionText = headers.get("sec-websocket-version");
  const version = versionText !== null && /^\d{1,3}$/.test(versionText)
    ? Number(versionText)
    : NaN;
  if (!versions.includes(version)) {
    throw new HandshakeError(
      "BAD_VERSION",
      `Invalid upgrade request: unsupported Sec-WebSocket-Version ${
        JSON.stringify(versionText)
      }`,
      {
        status: 400,
        headers: { "Sec-WebSocket-Version": versions.join(", ") },
      },
    );
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !isValidClientKey(key)) {
    throw new HandshakeError(
      "BAD_KEY",
      "Invalid upgrade request: Sec-WebSocket-Key is not base64 of 16 bytes",
      { status: 400 },
    );
  }
  const protocols = headerTokens(headers, "sec-websocket-protocol");
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw badRequest(
        `Invalid upgrade request: subprotocol ${
          JSON.stringify(protocol)
        } is not a token`,
      );
    }
  }
  return {
    key,
    version,
    protocols,
    extensions: headers.get("sec-websocket-extensions"),
    origin: headers.get("origin"),
  };
}

/** What {@linkcode buildUpgradeResponse} puts in the 101 response. */
export interface UpgradeResponseInit {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The subprotocol selected, if any. */
  protocol?: string;
  /** The negotiated `Sec-WebSocket-Extensions` value, if any. */
  extensions?: string;
  /** More headers (e.g. `Set-Cookie`). */
  headers?: HeadersInit;
}

// A header value Headers would keep as it is: no surrounding whitespace,
// no CR, LF or NUL, nothing past Latin-1.
const PLAIN_VALUE =
  /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

function headLines(first: string, headers: Headers): string {
  let text = first + "\r\n";
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}

function encodeLatin1(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Builds the `101 Switching Protocols` response head for an upgrade.
 *
 * @param init The key, the selected subprotocol and extensions, more headers.
 * @returns The response head's bytes.
 *
 * @example The RFC 6455 section 1.3 response
 * ```ts
 * import { buildUpgradeResponse } from "@seed/websocket/handshake";
 *
 * const bytes = await buildUpgradeResponse({ key: "dGhlIHNhbXBsZSBub25jZQ==", protocol: "chat" });
 * console.log(new TextDecoder().decode(bytes).includes("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")); // true
 * ```
 */
export function buildUpgradeResponse(
  init: UpgradeResponseInit,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return Promise.resolve(upgradeResponseBytes(init));
  } catch (error) {
    return Promise.reject(error);
  }
}

// buildUpgradeResponse, synchronously.
function upgradeResponseBytes(
  init: UpgradeResponseInit,
): Uint8Array<ArrayBuffer> {
  if (
    init.headers === undefined &&
    (init.protocol === undefined || PLAIN_VALUE.test(init.protocol)) &&
    (!init.extensions || PLAIN_VALUE.test(init.extensions))
  ) {
    // The usual response, written directly: the same bytes as through
    // Headers (lower-case names, sorted), without its validation and sort.
    const accept = acceptFor(init.key);
    let text = "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\n" +
      `sec-websocket-accept: ${accept}\r\n`;
    if (init.extensions) {
      text += `sec-websocket-extensions: ${init.extensions}\r\n`;
    }
    if (init.protocol !== undefined) {
      text += `sec-websocket-protocol: ${init.protocol}\r\n`;
    }
    return encodeLatin1(text + "upgrade: websocket\r\n\r\n");
  }
  const headers = new Headers(init.headers);
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Accept", acceptFor(init.key));
  if (init.protocol !== undefined) {
    headers.set("Sec-WebSocket-Protocol", init.protocol);
  }
  if (init.extensions) headers.set("Sec-WebSocket-Extensions", init.extensions);
  return encodeLatin1(headLines("HTTP/1.1 101 Switching Protocols", headers));
}

/**
 * Builds an HTTP/1.1 response head (for rejections and fallback pages).
 *
 * @param status The status code.
 * @param statusText The reason phrase.
 * @param headers The header fields.
 * @returns The head's bytes.
 *
 * @example A 403 head
 * ```ts
 * import { buildResponseHead } from "@seed/websocket/handshake";
 *
 * const head = buildResponseHead(403, "Forbidden", new Headers({ "Content-Length": "0" }));
 * console.log(new TextDecoder().decode(head).split("\r\n")[0]); // HTTP/1.1 403 Forbidden
 * ```
 */
export function buildResponseHead(
  status: number,
  statusText: string,
  headers: Headers,
): Uint8Array<ArrayBuffer> {
  return encodeLatin1(headLines(`HTTP/1.1 ${status} ${statusText}`, headers));
}

/** What {@linkcode buildUpgradeRequest} puts in the request. */
export interface UpgradeRequestInit {
  /** The `ws:` or `wss:` URL. */
  url: URL;
  /** The `Sec-WebSocket-Key` (see {@linkcode createClientKey}). */
  key: string;
  /** The subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** The `Origin` to send, if any. */
  origin?: string;
  /** The `Sec-WebSocket-Extensions` offer, if any. */
  extensions?: string;
  /** More headers (e.g. `Authorization`). */
  headers?: HeadersInit;
}

/**
 * The `Host` header value for a URL: the default port is left out.
 *
 * @param url A `ws:`, `wss:`, `http:` or `https:` URL.
 * @returns The host, with a port when not the scheme's default.
 *
 * @example Default ports
 * ```ts
 * import { hostHeader } from "@seed/websocket/handshake";
 *
 * console.log(hostHeader(new URL("wss://example.com:443/x"))); // example.com
 * console.log(hostHeader(new URL("ws://example.com:8080/x"))); // example.com:8080
 * ```
 */
export function hostHeader(url: URL): string {
  // URL already drops a port that is the scheme's default.
  return url.host;
}

/**
 * Builds a client's upgrade request head.
 *
 * @param init The URL, key, subprotocols, origin, extensions, more headers.
 * @returns The request head's bytes.
 *
 * @example A request offering two subprotocols
 * ```ts
 * import { buildUpgradeRequest, createClientKey } from "@seed/websocket/handshake";
 *
 * const bytes = buildUpgradeRequest({
 *   url: new URL("ws://example.com/chat"),
 *   key: createClientKey(),
 *   protocols: ["chat.v2", "chat.v1"],
 * });
 * console.log(new TextDecoder().decode(bytes).split("\r\n")[0]); // GET /chat HTTP/1.1
 * ```
 */
export function buildUpgradeRequest(
  init: UpgradeRequestInit,
): Uint8Array<ArrayBuffer> {
  const protocols = init.protocols ?? [];
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw new TypeError(
        `Invalid subprotocol ${JSON.stringify(protocol)}: not a token`,
      );
    }
  }
  const target = (init.url.pathname || "/") + init.url.search;
  const { origin, extensions, key } = init;
  if (
    init.headers === undefined && PLAIN_VALUE.test(key) &&
    (origin === undefined || PLAIN_VALUE.test(origin)) &&
    (!extensions || PLAIN_VALUE.test(extensions))
  ) {
    // The usual request, written directly: the same bytes as through
    // Headers (lower-case names, sorted), without its validation and sort.
    let text = `GET ${target} HTTP/1.1\r\nconnection: Upgrade\r\n` +
      `host: ${hostHeader(init.url)}\r\n`;
    if (origin !== undefined) text += `origin: ${origin}\r\n`;
    if (extensions) text += `sec-websocket-extensions: ${extensions}\r\n`;
    text += `sec-websocket-key: ${key}\r\n`;
    if (protocols.length > 0) {
      text += `sec-websocket-protocol: ${protocols.join(", ")}\r\n`;
    }
    return encodeLatin1(
      text + "sec-websocket-version: 13\r\nupgrade: websocket\r\n\r\n",
    );
  }
  const headers = new Headers(init.headers);
  headers.set("Host", hostHeader(init.url));
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Key", key);
  headers.set("Sec-WebSocket-Version", "13");
  if (protocols.length > 0) {
    headers.set("Sec-WebSocket-Protocol", protocols.join(", "));
  }
  if (origin !== undefined) headers.set("Origin", origin);
  if (extensions) headers.set("Sec-WebSocket-Extensions", extensions);
  return encodeLatin1(headLines(`GET ${target} HTTP/1.1`, headers));
}

/** What the client offered, to check the server's response against. */
export interface ValidateResponseOptions {
  /** The key the client sent. */
  key: string;
  /** The subprotocols the client offered. */
  protocols?: readonly string[];
  /** Whether the client offered any extension. */
  extensionsOffered?: boolean;
}

/** What a valid 101 response agreed to. */
export interface UpgradeResponseInfo {
  /** The subprotocol the server selected ("" for none). */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` value ("" for none). */
  extensions: string;
}

/**
 * Checks a server's response as RFC 6455 section 4.1 requires: status 101
 * (`BAD_STATUS`, keeping the response), `Upgrade: websocket` and
 * `Connection: upgrade` (`BAD_UPGRADE`), the accept value (`BAD_ACCEPT`), a
 * subprotocol that was offered (`BAD_PROTOCOL`), no extension that was not
 * (`BAD_EXTENSION`).
 *
 * @param response The parsed response head.
 * @param options What the client sent.
 * @returns The agreed subprotocol and extensions.
 *
 * @example Failing on a 403
 * ```ts
 * import { validateUpgradeResponse } from "@seed/websocket/handshake";
 *
 * try {
 *   await validateUpgradeResponse(
 *     { version: "1.1", status: 403, statusText: "Forbidden", headers: new Headers() },
 *     { key: "dGhlIHNhbXBsZSBub25jZQ==" },
 *   );
 * } catch (error) {
 *   console.log((error as { code: string }).code); // BAD_STATUS
 * }
 * ```
 */
export function validateUpgradeResponse(
  response: ResponseHead,
  options: ValidateResponseOptions,
): Promise<UpgradeResponseInfo> {
  try {
    return Promise.resolve(checkUpgradeResponse(response, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

// validateUpgradeResponse, synchronously.
function checkUpgradeResponse(
  response: ResponseHead,
  options: ValidateResponseOptions,
): UpgradeResponseInfo {
  const { headers } = response;
  const snapshot = {
    status: response.status,
    statusText: response.statusText,
    headers,
  };
  if (response.status !== 101) {
    throw new HandshakeError(
      "BAD_STATUS",
      `Unexpected HTTP status ${response.status} ${response.statusText}`.trim(),
      { response: snapshot },
    );
  }
  if (!hasToken(headers, "upgrade", "websocket")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade response: Upgrade header is not websocket",
      { response: snapshot },
    );
  }
  if (!hasToken(headers, "connection", "upgrade")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade response: Connection header does not list upgrade",
      { response: snapshot },
    );
  }
  const accept = headers.get("sec-websocket-accept");
  if (accept !== acceptFor(options.key)) {
    throw new HandshakeError(
      "BAD_ACCEPT",
      "Invalid upgrade response: Sec-WebSocket-Accept does not match the key",
      { response: snapshot },
    );
  }
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !(options.protocols ?? []).includes(protocol)) {
    throw new HandshakeError(
      "BAD_PROTOCOL",
      `Invalid upgrade response: subprotocol ${
        JSON.stringify(protocol)
      } was not offered`,
      { response: snapshot },
    );
  }
  const extensions = headers.get("sec-websocket-extensions") ?? "";
  if (extensions !== "" && !options.extensionsOffered) {
    throw new HandshakeError(
      "BAD_EXTENSION",
      `Invalid upgrade response: extension ${
        JSON.stringify(extensions)
      } was not offered`,
      { response: snapshot },
    );
  }
  return { protocol, extensions };
}

/**
 * Picks a subprotocol: the first of the server's, in its order of
 * preference, that the client offered.
 *
 * @param offered The client's offer.
 * @param supported The server's subprotocols, most preferred first.
 * @returns The selection, or undefined for none.
 *
 * @example Server preference wins
 * ```ts
 * import { selectProtocol } from "@seed/websocket/handshake";
 *
 * console.log(selectProtocol(["chat.v1", "chat.v2"], ["chat.v2", "chat.v1"])); // chat.v2
 * ```
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string | undefined {
  return supported.find((protocol) => offered.includes(protocol));
}
