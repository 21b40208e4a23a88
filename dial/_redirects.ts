// The redirects a dial follows (301, 302, 303, 307, 308 answering the
// upgrade): where each leads, which are refused (wss: to ws:, a loop, one
// too many), and which request headers may follow to another host.

import { HandshakeError } from "../errors.ts";
import type { ResponseHead } from "../handshake.ts";
import { endpoint } from "./_open.ts";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Resolves `ws://` or `wss://` URLs; anything else fails with BAD_SCHEME. */
export function parseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new HandshakeError("BAD_SCHEME", `Invalid URL ${String(url)}`, {
      cause,
    });
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new HandshakeError(
      "BAD_SCHEME",
      `Unsupported URL scheme ${parsed.protocol} (use ws: or wss:)`,
    );
  }
  if (parsed.hash !== "") parsed.hash = "";
  return parsed;
}

/**
 * Where a redirect leads: `Location` resolved against the current URL, with
 * `http:`/`https:` mapped to `ws:`/`wss:`.
 */
export function redirectTarget(current: URL, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, current.href.replace(/^ws/, "http"));
  } catch (cause) {
    throw new HandshakeError(
      "BAD_REDIRECT",
      `Invalid redirect location ${JSON.stringify(location)}`,
      { cause },
    );
  }
  const scheme =
    { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[
      next.protocol
    ];
  if (scheme === undefined) {
    throw new HandshakeError(
      "BAD_REDIRECT",
      `Unsupported redirect scheme ${next.protocol}`,
    );
  }
  next = new URL(next.href.replace(/^[a-z]+:/, scheme));
  next.hash = "";
  return next;
}

/** Whether two URLs name the same host and port (credentials may follow). */
export function sameHost(a: URL, b: URL): boolean {
  const x = endpoint(a), y = endpoint(b);
  if (x.hostname.toLowerCase() !== y.hostname.toLowerCase()) return false;
  // ws://host to wss://host on the default ports is the same server upgraded.
  return x.port === y.port ||
    (!a.port && !b.port && !x.tls && y.tls);
}

/** The headers without those that must not follow a redirect to another host. */
export function withoutCredentials(headers: HeadersInit | undefined): Headers {
  const copy = new Headers(headers);
  copy.delete("authorization");
  copy.delete("cookie");
  return copy;
}

/** The chain of redirects of one dial, from its first URL. */
export class RedirectChain {
  /** The URLs redirected to, in order, for the error that ends the chain. */
  readonly followed: string[] = [];
  /** The URL the next request goes to. */
  url: URL;
  /** The request headers for it: credentials stay with the first host. */
  headers: HeadersInit | undefined;
  readonly #start: string;
  readonly #max: number;

  /**
   * @param start The URL dialled.
   * @param max How many redirects to follow (0 follows none).
   * @param headers The caller's request headers.
   */
  constructor(start: URL, max: number, headers: HeadersInit | undefined) {
    if (!Number.isInteger(max) || max < 0) {
      throw new RangeError(
        `Invalid maxRedirects ${max} (use an integer from 0)`,
      );
    }
    this.url = start;
    this.#start = start.href;
    this.#max = max;
    this.headers = headers;
  }

  /**
   * Follows a response that redirects: moves {@linkcode RedirectChain.url}
   * on and returns true. False for a response to check as the answer (not
   * a redirect, or redirects off). Throws `INSECURE_REDIRECT`,
   * `REDIRECT_LOOP`, `TOO_MANY_REDIRECTS` or `BAD_REDIRECT`.
   */
  follow(response: ResponseHead): boolean {
    const location = response.headers.get("location");
    if (
      this.#max === 0 || !REDIRECT_STATUSES.has(response.status) ||
      location === null
    ) {
      return false;
    }
    const current = this.url;
    const next = redirectTarget(current, location);
    if (current.protocol === "wss:" && next.protocol === "ws:") {
      throw new HandshakeError(
        "INSECURE_REDIRECT",
        `Refused a redirect from wss: to ws: (${current.href} -> ${next.href})`,
        { response },
      );
    }
    const visited = [this.#start, ...this.followed];
    const chain = () => [...visited, next.href].join(" -> ");
    if (visited.includes(next.href)) {
      throw new HandshakeError("REDIRECT_LOOP", `Redirect loop: ${chain()}`, {
        response,
      });
    }
    if (this.followed.length >= this.#max) {
      throw new HandshakeError(
        "TOO_MANY_REDIRECTS",
        `More than ${this.#max} redirects: ${chain()}`,
        { response },
      );
    }
    this.followed.push(next.href);
    if (!sameHost(current, next)) {
      this.headers = withoutCredentials(this.headers);
    }
    this.url = next;
    return true;
  }
}
