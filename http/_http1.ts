// HTTP/1.1 message framing for the server's plain-request path (RFC 9112),
// with no I/O: how a request's body is delimited, decoders for
// Content-Length and chunked bodies, whether a connection persists, response
// heads and chunks, and the client address behind trusted proxies. Every
// fault is a HandshakeError with the HTTP status to answer; the caller closes
// the connection after answering one, since its framing can't be trusted.

import { HandshakeError } from "../errors.ts";
import { hasToken, type HeaderSource, headerTokens } from "../handshake.ts";

/** Header fields to look up: a `Headers`, or the {@linkcode Fields} of a head. */
export type FieldSource = HeaderSource;

/** What the framing rules read of a request head. */
export interface HeadInfo {
  /** The HTTP version, e.g. `1.1`. */
  version: string;
  /** The header fields. */
  headers: FieldSource;
}

/** A request head parsed for the plain HTTP path. */
export interface ParsedHead extends HeadInfo {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target, e.g. `/a?b`. */
  target: string;
  /** The header fields. */
  headers: Fields;
}

/**
 * The header fields of a head, in order, as names and values side by side,
 * with a lookup by lower-case name; cheaper than a `Headers` to build, and
 * appended to the Request's own headers once.
 */
export class Fields implements FieldSource {
  /** Names as received, and values, alternating. */
  readonly list: string[];
  #lower: string[];

  constructor(list: string[], lower: string[]) {
    this.list = list;
    this.#lower = lower;
  }

  get(name: string): string | null {
    let value: string | null = null;
    for (let i = 0; i < this.#lower.length; i++) {
      if (this.#lower[i] === name) {
        const v = this.list[2 * i + 1];
        value = value === null ? v : `${value}, ${v}`;
      }
    }
    return value;
  }
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d)\.(\d)$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const latin1Decoder = new TextDecoder();

function badHead(message: string): HandshakeError {
  return new HandshakeError("BAD_REQUEST", message, { status: 400 });
}

/**
 * Parses a request head as strictly as the upgrade path does (a token
 * method, `HTTP/` digit `.` digit, token field names, field values of
 * visible characters, spaces, tabs and obs-text; no bare CR or LF, no line
 * folding): each fault is a `BAD_REQUEST` (400).
 */
export function parseHead(head: Uint8Array): ParsedHead {
  let ascii = true;
  for (let i = 0; i < head.length; i++) {
    if (head[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  let text: string;
  if (ascii) text = latin1Decoder.decode(head);
  else {
    text = "";
    for (let i = 0; i < head.length; i += 4096) {
      text += String.fromCharCode(...head.subarray(i, i + 4096));
    }
  }
  if (!text.endsWith("\r\n\r\n")) {
    throw badHead("Invalid HTTP head: missing blank line");
  }
  const lines = text.slice(0, -4).split("\r\n");
  const match = REQUEST_LINE.exec(lines[0]);
  if (!match) {
    if (/[\r\n]/.test(lines[0])) {
      throw badHead("Invalid HTTP head: bare CR or LF");
    }
    throw badHead(`Invalid HTTP request line: ${JSON.stringify(lines[0])}`);
  }
  const list: string[] = [];
  const lower: string[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (line.includes("\r") || line.includes("\n")) {
      throw badHead("Invalid HTTP head: bare CR or LF");
    }
    if (line === "") continue;
    if (line[0] === " " || line[0] === "\t") {
      throw badHead("Invalid HTTP head: obsolete line folding");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw badHead(`Invalid HTTP header line: ${JSON.stringify(line)}`);
    }
    let start = colon + 1;
    let end = line.length;
    while (start < end && (line[start] === " " || line[start] === "\t")) {
      start++;
    }
    while (end > start && (line[end - 1] === " " || line[end - 1] === "\t")) {
      end--;
    }
    const value = line.slice(start, end);
    if (!FIELD_VALUE.test(value)) {
      throw badHead(`Invalid value in HTTP header ${name}`);
    }
    list.push(name, value);
    lower.push(name.toLowerCase());
  }
  return {
    method: match[1],
    target: match[2],
    version: `${match[3]}.${match[4]}`,
    headers: new Fields(list, lower),
  };
}

/** How a request's body is delimited. */
export type RequestFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

const NO_BODY: RequestFraming = { kind: "none" };

function fault(message: string, status = 400): HandshakeError {
  return new HandshakeError(
    status === 413 ? "BODY_TOO_LARGE" : "BAD_REQUEST",
    message,
    { status },
  );
}

const DIGITS = /^[0-9]+$/;

/**
 * The framing of a request body (RFC 9112 section 6.3), strictly: a request
 * with both `Transfer-Encoding` and `Content-Length`, a `Transfer-Encoding`
 * in HTTP/1.0, or `Content-Length` values that are not all the same number
 * get 400; a transfer coding other than a lone `chunked`, 501.
 */
export function requestFraming(head: HeadInfo): RequestFraming {
  const te = head.headers.get("transfer-encoding");
  const cl = head.headers.get("content-length");
  if (te !== null) {
    if (cl !== null) {
      throw fault(
        "Invalid request: both Transfer-Encoding and Content-Length",
      );
    }
    if (head.version === "1.0") {
      throw fault("Invalid request: Transfer-Encoding in HTTP/1.0");
    }
    const codings = headerTokens(head.headers, "transfer-encoding");
    if (codings.length === 1 && codings[0].toLowerCase() === "chunked") {
      return { kind: "chunked" };
    }
    if (codings.filter((c) => c.toLowerCase() === "chunked").length > 1) {
      throw fault("Invalid request: chunked applied more than once");
    }
    throw fault(
      `Unsupported transfer coding: ${JSON.stringify(te)}`,
      501,
    );
  }
  if (cl === null) return NO_BODY;
  // Repeated fields arrive joined with ", ": every value must be the same.
  let length = -1;
  for (const part of cl.split(",")) {
    const value = part.trim();
    if (!DIGITS.test(value)) {
      throw fault(`Invalid Content-Length: ${JSON.stringify(cl)}`);
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n) || (length !== -1 && n !== length)) {
      throw fault(`Invalid Content-Length: ${JSON.stringify(cl)}`);
    }
    length = n;
  }
  return length === 0 ? NO_BODY : { kind: "length", length };
}

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
const CHUNK_LINE =
  /^([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*[ \t]*$/;
const FIELD_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/;

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

/**
 * Whether the client lets the connection persist after this request
 * (RFC 9112 section 9.3): HTTP/1.1 unless `Connection: close`, HTTP/1.0
 * only with `Connection: keep-alive`.
 */
export function clientKeepsAlive(head: HeadInfo): boolean {
  if (head.version === "1.1") {
    return !hasToken(head.headers, "connection", "close");
  }
  if (head.version === "1.0") {
    return hasToken(head.headers, "connection", "keep-alive") &&
      !hasToken(head.headers, "connection", "close");
  }
  return false;
}

/** Whether a request asks for `100 Continue` before sending its body. */
export function expectsContinue(head: HeadInfo): boolean {
  const expect = head.headers.get("expect");
  return expect !== null && expect.toLowerCase() === "100-continue" &&
    head.version === "1.1";
}

/** The interim response that tells a client to send its body. */
export const CONTINUE: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  "HTTP/1.1 100 Continue\r\n\r\n",
);

/** Whether a response to `method` with `status` carries no body. */
export function responseHasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status < 200 || status === 204 ||
    status === 304;
}

/** The reason phrases used when a response has none. */
export const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

// Date headers change once a second: formatted once per second.
let dateSecond = -1;
let dateLine = "";

/** The `date: ...\r\n` line for now (RFC 9110 section 6.6.1). */
export function dateHeaderLine(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/** How a response's body is sent. */
export type ResponseFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

// Header fields the server owns: framing and connection management.
const OWN = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "proxy-connection",
  "upgrade",
]);

/**
 * A response's own header fields, read in one pass: the lines to send
 * (without the fields the server owns) and what the server needs to know
 * of the others.
 */
export class ResponseFields {
  /** The `name: value\r\n` lines to send, in the order `Headers` gives. */
  lines = "";
  /** The `content-length` value, if any. */
  contentLength: string | null = null;
  /** Whether `connection` holds `close`. */
  close = false;
  /** Whether a `date` field is present. */
  date = false;

  constructor(headers: Headers) {
    // forEach walks the fields without the iterator protocol's objects.
    headers.forEach((value, name) => {
      if (OWN.has(name)) {
        if (name === "content-length") this.contentLength = value;
        else if (name === "connection") {
          this.close = valueHasToken(value, "close");
        }
        return;
      }
      if (name === "date") this.date = true;
      this.lines += `${name}: ${value}\r\n`;
    });
  }
}

function valueHasToken(value: string, token: string): boolean {
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Encodes a response head: the status line, the response's own fields
 * except those about framing and the connection (the server sets those),
 * a `date` unless present, then `content-length` or
 * `transfer-encoding: chunked`, and `connection` when needed.
 *
 * @param status The status code.
 * @param statusText The reason phrase ("" picks the standard one).
 * @param headers The response's fields (or their {@linkcode ResponseFields}).
 * @param framing How the body is sent; `length` with "none" keeps the
 *   length for HEAD and 304 without a body.
 * @param connection `"close"`, `"keep-alive"` (for HTTP/1.0) or undefined.
 * @param body Bytes to put right after the head, for one write.
 * @param into A buffer to write them in when they fit (a view of it is
 *   returned), instead of a new one.
 * @returns The head's bytes (and the body's).
 */
export function encodeResponseHead(
  status: number,
  statusText: string,
  headers: Headers | ResponseFields,
  framing: ResponseFraming | { kind: "head"; length: number | undefined },
  connection: "close" | "keep-alive" | undefined,
  body?: Uint8Array,
  into?: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const fields = headers instanceof ResponseFields
    ? headers
    : new ResponseFields(headers);
  let text = `HTTP/1.1 ${status} ${
    statusText || STATUS_TEXT[status] || "Unknown"
  }\r\n${fields.lines}`;
  if (!fields.date) text += dateHeaderLine();
  if (framing.kind === "length") {
    text += `content-length: ${framing.length}\r\n`;
  } else if (framing.kind === "chunked") {
    text += "transfer-encoding: chunked\r\n";
  } else if (framing.kind === "head" && framing.length !== undefined) {
    text += `content-length: ${framing.length}\r\n`;
  }
  if (connection !== undefined) text += `connection: ${connection}\r\n`;
  text += "\r\n";
  return encodeLatin1(text, body, into);
}

const encoder = new TextEncoder();

// The head's bytes, and `body` after them in the same buffer if given.
function encodeLatin1(
  text: string,
  body?: Uint8Array,
  into?: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const total = text.length + (body?.length ?? 0);
  const bytes = into !== undefined && into.length >= total
    ? into.subarray(0, total)
    : new Uint8Array(total);
  // A character past ASCII takes two or more bytes in UTF-8, so the whole
  // text fits in `text.length` bytes only if it is all ASCII.
  const ascii =
    encoder.encodeInto(text, bytes.subarray(0, text.length)).read ===
      text.length;
  if (!ascii) {
    for (let i = 0; i < text.length; i++) {
      bytes[i] = text.charCodeAt(i) & 0xff;
    }
  }
  if (body) bytes.set(body, text.length);
  return bytes;
}

/** The last chunk and an empty trailer section. */
export const LAST_CHUNK: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  "0\r\n\r\n",
);

/**
 * Encodes one chunk (size line, data, CRLF), optionally after `prefix` (a
 * head) and before `suffix` (the last chunk), in one buffer for one write:
 * a view of `into` when it is large enough (a scratch buffer reused from
 * write to write), else a new one.
 */
export function encodeChunk(
  data: Uint8Array,
  prefix?: Uint8Array,
  suffix?: Uint8Array,
  into?: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const size = data.length.toString(16);
  const before = prefix?.length ?? 0;
  const after = suffix?.length ?? 0;
  const total = before + size.length + 2 + data.length + 2 + after;
  const out = into && into.length >= total
    ? into.subarray(0, total)
    : new Uint8Array(total);
  if (prefix) out.set(prefix);
  let o = before;
  for (let i = 0; i < size.length; i++) out[o++] = size.charCodeAt(i);
  out[o++] = 13;
  out[o++] = 10;
  out.set(data, o);
  o += data.length;
  out[o++] = 13;
  out[o++] = 10;
  if (suffix) out.set(suffix, o);
  return out;
}

/**
 * Which proxies may say who the client is: a count of proxy hops in front
 * of the server, a list of proxy addresses, or a function of an address.
 */
export type TrustProxy =
  | number
  | readonly string[]
  | ((address: string) => boolean);

// The addresses a request passed through, client first, from `Forwarded`
// (RFC 7239) if present, else `X-Forwarded-For`. Undefined entries are
// values that are not addresses (obfuscated or unknown).
function forwardedChain(headers: FieldSource): (string | undefined)[] {
  const forwarded = headers.get("forwarded");
  if (forwarded !== null) {
    const chain: (string | undefined)[] = [];
    for (const element of forwarded.split(",")) {
      let found: string | undefined;
      for (const pair of element.split(";")) {
        const eq = pair.indexOf("=");
        if (eq < 0) continue;
        if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
        found = forwardedNode(pair.slice(eq + 1).trim());
      }
      chain.push(found);
    }
    return chain;
  }
  const xff = headers.get("x-forwarded-for");
  if (xff === null) return [];
  return xff.split(",").map((part) => {
    const value = part.trim();
    return value === "" ? undefined : forwardedNode(value);
  });
}

// A node of `Forwarded: for=` or X-Forwarded-For: an IPv4 address with an
// optional port, or an IPv6 address, bracketed (with a port) or bare.
function forwardedNode(raw: string): string | undefined {
  let value = raw;
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
    value = value.slice(1, -1);
  }
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) return undefined;
    value = value.slice(1, end);
    return /^[0-9A-Fa-f:.]+$/.test(value) && value.includes(":")
      ? value.toLowerCase()
      : undefined;
  }
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?$/.exec(value);
  if (v4) {
    return v4[1].split(".").every((n) => Number(n) <= 255) ? v4[1] : undefined;
  }
  if (/^[0-9A-Fa-f:.]+$/.test(value) && value.includes(":")) {
    return value.toLowerCase();
  }
  return undefined;
}

function trusts(policy: TrustProxy, address: string): boolean {
  if (typeof policy === "function") return policy(address);
  if (typeof policy === "number") return false;
  return policy.includes(address);
}

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy,
 * the nearest address in `Forwarded` / `X-Forwarded-For` that is not a
 * trusted proxy. With a count `n`, the address `n` hops before the peer.
 * A value that is not an address stops the walk at the last good one.
 *
 * @param peer The socket's remote address, if any.
 * @param headers The request's fields.
 * @param policy Which proxies to trust; undefined trusts none.
 * @returns The client's address, or undefined when unknown.
 */
export function clientAddress(
  peer: string | undefined,
  headers: FieldSource,
  policy: TrustProxy | undefined,
): string | undefined {
  if (policy === undefined || peer === undefined) return peer;
  if (typeof policy === "number" && policy <= 0) return peer;
  if (typeof policy !== "number" && !trusts(policy, peer)) return peer;
  const chain = forwardedChain(headers);
  let client = peer;
  let hops = 0;
  for (let i = chain.length - 1; i >= 0; i--) {
    const node = chain[i];
    if (node === undefined) break;
    client = node;
    hops++;
    if (typeof policy === "number") {
      if (hops >= policy) break;
    } else if (!trusts(policy, node)) break;
  }
  return client;
}
