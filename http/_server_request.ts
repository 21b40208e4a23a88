// The Request a fetch handler gets: its URL from the target and Host, its
// header fields from the parsed head, its body the socket's (as a stream),
// and a signal that aborts when the client leaves or the server stops,
// made only if the handler reads it.

import { HandshakeError } from "../errors.ts";
import type { ParsedHead } from "./_request_head.ts";
import type { RequestBody } from "./_request_body.ts";

function badTarget(cause: unknown): HandshakeError {
  return new HandshakeError(
    "BAD_HOST",
    "Invalid request: bad Host header or request target",
    { status: 400, cause },
  );
}

// The abort state of one request: its signal is made only if the handler
// asks for it (a Request's signal is costly to make and rarely read).
export class Aborter {
  aborted = false;
  reason: unknown = undefined;
  #controller: AbortController | undefined;
  #callbacks: (() => void)[] | undefined;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (callbacks) { for (const callback of callbacks) callback(); }
  }

  onAbort(callback: () => void): void {
    if (this.aborted) callback();
    else (this.#callbacks ??= []).push(callback);
  }
}

// A Request whose signal aborts when the client disconnects or the server
// stops.
class ServerRequest extends Request {
  #aborter: Aborter;

  constructor(url: string, init: RequestInit | undefined, aborter: Aborter) {
    super(url, init);
    this.#aborter = aborter;
  }

  override get signal(): AbortSignal {
    return this.#aborter.signal;
  }
}

const SIMPLE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

// The request's URL, as `new Request` needs it; 400 when it can't be made.
// An HTTP/1.0 request may lack a Host: the server's own address stands in.
export function requestUrl(
  head: ParsedHead,
  secure: boolean,
  local: Deno.Addr | undefined,
): string {
  let host = head.headers.get("host");
  if (host === null) {
    if (head.version !== "1.0") {
      throw new HandshakeError("BAD_HOST", "Invalid request: missing Host", {
        status: 400,
      });
    }
    host = local && "hostname" in local
      ? (local.hostname.includes(":")
        ? `[${local.hostname}]:${local.port}`
        : `${local.hostname}:${local.port}`)
      : "localhost";
  }
  if (head.target.startsWith("/") && SIMPLE_HOST.test(host)) {
    // The common case: `new Request` parses (and checks) it once.
    return `${secure ? "https" : "http"}://${host}${head.target}`;
  }
  try {
    const url = head.target.startsWith("/")
      ? new URL(head.target, `${secure ? "https" : "http"}://${host}`)
      : new URL(head.target);
    if (url.host === "") throw new TypeError("Missing host");
    return url.href;
  } catch (cause) {
    throw badTarget(cause);
  }
}

/**
 * The Request for a head: 400 when its URL can't be made. A GET without a
 * body needs no init (its conversion is costly); the header fields are
 * appended one by one, cheaper than as an init.
 */
export function makeRequest(
  parsed: ParsedHead,
  href: string,
  body: RequestBody | undefined,
  aborter: Aborter,
): Request {
  const method = parsed.method;
  let init: RequestInit | undefined;
  if (method !== "GET") {
    init = { method };
    if (body && method !== "HEAD") {
      init.body = body.stream;
      (init as { duplex?: string }).duplex = "half";
    }
  }
  let request: Request;
  try {
    request = new ServerRequest(href, init, aborter);
  } catch (cause) {
    throw badTarget(cause);
  }
  const headers = request.headers;
  const list = parsed.headers.list;
  for (let i = 0; i < list.length; i += 2) {
    headers.append(list[i], list[i + 1]);
  }
  return request;
}
