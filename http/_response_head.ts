// A response head as bytes (RFC 9112 section 4, RFC 9110 section 6.6.1):
// the status line, the application's own fields less those about framing
// and the connection (the server owns those), a `date`, and the framing
// fields, written into a reused buffer when they fit.

import { hasToken } from "../handshake.ts";

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
    let connection = false;
    // forEach walks the fields without the iterator protocol's objects.
    headers.forEach((value, name) => {
      if (OWN.has(name)) {
        if (name === "content-length") this.contentLength = value;
        else if (name === "connection") connection = true;
        return;
      }
      if (name === "date") this.date = true;
      this.lines += `${name}: ${value}\r\n`;
    });
    if (connection) this.close = hasToken(headers, "connection", "close");
  }
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
