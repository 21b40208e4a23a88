// The upgrade request as a fetch `Request`, for the hooks that take one and
// for `Conn.request`: made only on demand, since most handshakes need none.

import { HandshakeError } from "../errors.ts";
import { fieldsOf, type RequestHead } from "../handshake/_head.ts";
import { latin1 } from "../_util/http_head.ts";
import { parseFieldLine } from "../_util/http_syntax.ts";

/**
 * The request's URL, checked as `new Request` would need it: a 400
 * (`BAD_HOST`) for a missing Host or a target that makes no URL.
 */
export function requestUrl(head: RequestHead, secure: boolean): URL {
  const host = fieldsOf(head).get("host") ?? "";
  let url: URL;
  try {
    url = head.target.startsWith("/")
      ? new URL(head.target, `${secure ? "https" : "http"}://${host}`)
      : new URL(head.target);
    if (!host || url.host === "") throw new TypeError("Missing host");
  } catch (cause) {
    throw new HandshakeError(
      "BAD_HOST",
      "Invalid request: bad Host header or request target",
      { status: 400, cause },
    );
  }
  return url;
}

/**
 * The upgrade Request, from the bytes of a head that `parseRequestHead` has
 * accepted. Header lines are appended one by one: much cheaper than giving
 * `new Request` a Headers to copy, with the same result.
 */
export function makeRequest(
  head: Uint8Array,
  href: string,
  method: string,
): Request {
  const request = method === "GET"
    ? new Request(href)
    : new Request(href, { method });
  const headers = request.headers;
  const lines = latin1(head).split("\r\n");
  for (let n = 1; n < lines.length; n++) {
    const field = parseFieldLine(lines[n]);
    // The head was parsed already: only the empty last lines fail here.
    if (typeof field !== "string") headers.append(field[0], field[1]);
  }
  return request;
}

/**
 * Makes the upgrade Request on demand. A function of its own, so that the
 * closure holds only these three values and nothing else of the handshake.
 */
export function requestBuilder(
  head: Uint8Array,
  href: string,
  method: string,
): () => Request {
  return () => makeRequest(head, href, method);
}
