// HTTP/1.1 heads as values: parsing a complete request or response head
// (checked against the grammar of _util/http_syntax.ts), reading header
// lists, and writing heads as Latin-1 bytes.

import { REQUEST_LINE } from "../_util/http_syntax.ts";
import { badRequest, checkedField, latin1 } from "../_util/http_head.ts";

export { badRequest };

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

/**
 * Header fields to read: a `Headers`, or any lighter map with the same
 * `get` (the HTTP path's own field list).
 */
export interface HeaderSource {
  /** The field's value, repeated lines joined with ", ", or null. */
  get(name: string): string | null;
}

/**
 * The header fields of a parsed head, read without a `Headers`: names are
 * compared in lower case and repeated lines joined with ", ", as
 * `Headers.get` does, for a fraction of its cost (a `Headers` checks every
 * line again, and lower-cases every name on each lookup). A `Headers` is
 * made from the same lines only when someone asks for one.
 */
export class HeaderFields implements HeaderSource {
  // Each line's name and value, in order, for toHeaders().
  readonly #lines: string[] = [];
  readonly #values = new Map<string, string>();

  /** Adds a line, its name a token and its value trimmed. */
  add(name: string, value: string): void {
    this.#lines.push(name, value);
    const key = name.toLowerCase();
    const held = this.#values.get(key);
    this.#values.set(key, held === undefined ? value : `${held}, ${value}`);
  }

  /** The field's value, repeated lines joined with ", ", or null. */
  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  /** Whether the field is present. */
  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  /** The same fields as a `Headers`, line by line. */
  toHeaders(): Headers {
    const headers = new Headers();
    const lines = this.#lines;
    for (let i = 0; i < lines.length; i += 2) {
      headers.append(lines[i], lines[i + 1]);
    }
    return headers;
  }
}

/** Header fields that can also say whether one is present. */
export type FieldReader = HeaderSource & { has(name: string): boolean };

/**
 * A parsed request head whose `headers` is made on first use: the
 * handshake reads `fields`, and only a hook, the legacy seam or the HTTP
 * path asks for a `Headers`.
 */
export class ParsedRequestHead implements RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** The header fields, without a `Headers` (or the one given). */
  readonly fields: FieldReader;
  #headers: Headers | undefined;

  constructor(
    method: string,
    target: string,
    version: string,
    fields: HeaderFields | Headers,
  ) {
    this.method = method;
    this.target = target;
    this.version = version;
    this.fields = fields;
    if (fields instanceof Headers) this.#headers = fields;
  }

  /** The header fields as a `Headers`, made on first use. */
  get headers(): Headers {
    return this.#headers ??= (this.fields as HeaderFields).toHeaders();
  }
}

/**
 * A parsed response head whose `headers` is made on first use (see
 * {@linkcode ParsedRequestHead}).
 */
export class ParsedResponseHead implements ResponseHead {
  readonly version: string;
  readonly status: number;
  readonly statusText: string;
  /** The header fields, without a `Headers`. */
  readonly fields: HeaderFields;
  #headers: Headers | undefined;

  constructor(
    version: string,
    status: number,
    statusText: string,
    fields: HeaderFields,
  ) {
    this.version = version;
    this.status = status;
    this.statusText = statusText;
    this.fields = fields;
  }

  /** The header fields as a `Headers`, made on first use. */
  get headers(): Headers {
    return this.#headers ??= this.fields.toHeaders();
  }
}

/**
 * The fields of a head to read: those of a {@linkcode ParsedRequestHead} or
 * {@linkcode ParsedResponseHead} without making its `Headers`, or the
 * `Headers` of any other head.
 */
export function fieldsOf(head: RequestHead | ResponseHead): HeaderSource {
  return head instanceof ParsedRequestHead ||
      head instanceof ParsedResponseHead
    ? head.fields
    : head.headers;
}

function parseFields(lines: string[]): HeaderFields {
  const fields = new HeaderFields();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const [name, value] = checkedField(line);
    fields.add(name, value);
  }
  return fields;
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
 * Parses a request head as {@linkcode parseRequestHead} does, with the
 * same checks and errors, into a head whose `Headers` is made on first use.
 */
export function readRequestHead(head: Uint8Array): ParsedRequestHead {
  const lines = splitHead(head);
  const match = REQUEST_LINE.exec(lines[0]);
  if (!match) {
    throw badRequest(`Invalid HTTP request line: ${JSON.stringify(lines[0])}`);
  }
  return new ParsedRequestHead(
    match[1],
    match[2],
    `${match[3]}.${match[4]}`,
    parseFields(lines),
  );
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
  const { method, target, version, headers } = readRequestHead(head);
  return { method, target, version, headers };
}

/**
 * Parses a response head as {@linkcode parseResponseHead} does, with the
 * same checks and errors, into a head whose `Headers` is made on first use.
 */
export function readResponseHead(head: Uint8Array): ParsedResponseHead {
  const lines = splitHead(head);
  const match = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!match) {
    throw badRequest(
      `Invalid HTTP status line: ${JSON.stringify(lines[0])}`,
    );
  }
  return new ParsedResponseHead(
    `${match[1]}.${match[2]}`,
    Number(match[3]),
    match[4] ?? "",
    parseFields(lines),
  );
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
  const { version, status, statusText, headers } = readResponseHead(head);
  return { version, status, statusText, headers };
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

/** Latin-1 text as bytes, one byte per character. */
export function encodeLatin1(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// Heads that are written once and then dropped (the 101, a client's
// request) are carved from a shared slab rather than made one by one: a
// typed array costs more to make than to fill. A slab is never written
// twice; once used up, the views still being written keep it alive.
const SLAB_SIZE = 16 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * Latin-1 text as bytes, as {@linkcode encodeLatin1} gives them, for a
 * head to be written and then dropped: a view of a shared buffer, never
 * written again, that the caller must not write to either.
 */
export function encodeForWrite(text: string): Uint8Array<ArrayBuffer> {
  const length = text.length;
  if (length > SLAB_SIZE >> 2) return encodeLatin1(text);
  if (slabUsed + length > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const start = slabUsed;
  const bytes = slab;
  for (let i = 0; i < length; i++) bytes[start + i] = text.charCodeAt(i);
  slabUsed += length;
  return bytes.subarray(start, slabUsed);
}

/** A head's text: the start line, the fields, the blank line. */
export function headLines(first: string, headers: Headers): string {
  let text = first + "\r\n";
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}

// A header value Headers would keep as it is: no surrounding whitespace,
// no CR, LF or NUL, nothing past Latin-1.
export const PLAIN_VALUE: RegExp =
  /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

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
