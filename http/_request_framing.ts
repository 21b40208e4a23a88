// What a request head says about the exchange (RFC 9112 sections 6.3, 9.3
// and RFC 9110 section 10.1.1): how its body is delimited, whether the
// connection persists after it, and whether the client waits for a
// `100 Continue`. Every fault is a HandshakeError with the status to answer.

import { HandshakeError } from "../errors.ts";
import { hasToken, headerTokens } from "../handshake.ts";
import type { HeadInfo } from "./_request_head.ts";

/** How a request's body is delimited. */
export type RequestFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

const NO_BODY: RequestFraming = { kind: "none" };

/**
 * A request whose framing can't be trusted: `BODY_TOO_LARGE` for 413,
 * `BAD_REQUEST` for any other status.
 */
export function framingError(message: string, status = 400): HandshakeError {
  return new HandshakeError(
    status === 413 ? "BODY_TOO_LARGE" : "BAD_REQUEST",
    message,
    { status },
  );
}

/** A decimal length: digits only, no sign, no spaces. */
export const DIGITS: RegExp = /^[0-9]+$/;

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
      throw framingError(
        "Invalid request: both Transfer-Encoding and Content-Length",
      );
    }
    if (head.version === "1.0") {
      throw framingError("Invalid request: Transfer-Encoding in HTTP/1.0");
    }
    const codings = headerTokens(head.headers, "transfer-encoding");
    if (codings.length === 1 && codings[0].toLowerCase() === "chunked") {
      return { kind: "chunked" };
    }
    if (codings.filter((c) => c.toLowerCase() === "chunked").length > 1) {
      throw framingError("Invalid request: chunked applied more than once");
    }
    throw framingError(
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
      throw framingError(`Invalid Content-Length: ${JSON.stringify(cl)}`);
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n) || (length !== -1 && n !== length)) {
      throw framingError(`Invalid Content-Length: ${JSON.stringify(cl)}`);
    }
    length = n;
  }
  return length === 0 ? NO_BODY : { kind: "length", length };
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
