// The upgrade request as a fetch `Request`, for the hooks that take one and
// for `Conn.request`: made only on demand, since most handshakes need none.

import { HandshakeError } from "../errors.ts";
import { fieldsOf, type RequestHead } from "../handshake/_head.ts";
import { latin1 } from "../_util/http_head.ts";
import { parseFieldLine } from "../_util/http_syntax.ts";

/** Where an upgrade request goes. */
export interface RequestLocation {
  /** The request's URL (`http:` or `https:`), as the Request has it. */
  readonly href: string;
  /** The URL's host, for the same-origin check. */
  readonly host: string;
  /** The connection's URL: `ws:` or `wss:`. */
  readonly socketUrl: string;
}

// The locations of recent requests: a server sees the same few hosts and
// paths over and over, and parsing a URL costs more than all the checks of
// a request head together. Bounded in number and in key length, so that a
// client sending endless new targets only keeps the cache turning over.
const locations = new Map<string, RequestLocation>();
const MAX_LOCATIONS = 256;
const MAX_KEY_LENGTH = 512;

/**
 * The request's URL, checked as `new Request` would need it: a 400
 * (`BAD_HOST`) for a missing Host or a target that makes no URL.
 */
export function requestUrl(
  head: RequestHead,
  secure: boolean,
): RequestLocation {
  const host = fieldsOf(head).get("host") ?? "";
  // The target has no space: the last one ends the host.
  const key = `${secure ? "s" : "-"}${host} ${head.target}`;
  let location = locations.get(key);
  if (location === undefined) {
    location = parseLocation(host, head.target, secure);
    if (key.length <= MAX_KEY_LENGTH) {
      if (locations.size >= MAX_LOCATIONS) locations.clear();
      locations.set(key, location);
    }
  }
  return location;
}

function parseLocation(
  host: string,
  target: string,
  secure: boolean,
): RequestLocation {
  let url: URL;
  try {
    url = target.startsWith("/")
      ? new URL(target, `${secure ? "https" : "http"}://${host}`)
      : new URL(target);
    if (!host || url.host === "") throw new TypeError("Missing host");
  } catch (cause) {
    throw new HandshakeError(
      "BAD_HOST",
      "Invalid request: bad Host header or request target",
      { status: 400, cause },
    );
  }
  const href = url.href;
  return { href, host: url.host, socketUrl: href.replace(/^http/, "ws") };
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
