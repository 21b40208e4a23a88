// The server's response head of each draft: the same fields, with the
// `Sec-WebSocket-` prefix in draft 76 and `WebSocket-` in draft 75.

import { head } from "./_head.ts";

/** What a server's handshake response is built from. */
export interface HixieResponseOptions {
  /** The request's `Host` header, e.g. `example.com:8080`. */
  host: string;
  /** The request target (resource name), e.g. `/chat?room=1`. */
  resource: string;
  /** Whether the connection runs over TLS (`wss:`). */
  secure: boolean;
  /** The request's `Origin` header, echoed back; omitted when undefined. */
  origin?: string;
  /** The chosen subprotocol; omitted when undefined. */
  protocol?: string;
}

/** Builds a draft-75 or -76 response head with the given field prefix. */
function buildResponse(
  statusLine: string,
  prefix: string,
  options: HixieResponseOptions,
): Uint8Array<ArrayBuffer> {
  if (!options.resource.startsWith("/")) {
    throw new TypeError(
      `Cannot build the handshake: the resource must start with "/", got "${options.resource}"`,
    );
  }
  const scheme = options.secure ? "wss" : "ws";
  const fields: [string, string][] = [
    ["Upgrade", "WebSocket"],
    ["Connection", "Upgrade"],
  ];
  if (options.origin !== undefined) {
    fields.push([`${prefix}Origin`, options.origin]);
  }
  fields.push([
    `${prefix}Location`,
    `${scheme}://${options.host}${options.resource}`,
  ]);
  if (options.protocol !== undefined) {
    fields.push([`${prefix}Protocol`, options.protocol]);
  }
  return head(statusLine, fields);
}

/**
 * Builds a draft-76 server's response head, ending with CRLF CRLF. Write it
 * as soon as the request head is read; write the 16-byte
 * {@linkcode hixie76Answer} once the client's 8 key bytes arrive (a proxy
 * may hold them until it sees the response).
 *
 * @param options The request's host, resource, origin, TLS flag, and the
 * chosen subprotocol.
 * @returns The response head.
 * @throws {TypeError} When a value contains CR, LF or NUL, or the resource
 * does not start with `/`.
 *
 * @example Answering a request for /chat
 * ```ts
 * import { buildHixie76Response } from "@seed/websocket/hixie";
 *
 * const head = buildHixie76Response({
 *   host: "example.com",
 *   resource: "/chat",
 *   secure: false,
 *   origin: "http://example.com",
 * });
 * console.log(new TextDecoder().decode(head).split("\r\n")[0]);
 * // HTTP/1.1 101 WebSocket Protocol Handshake
 * ```
 */
export function buildHixie76Response(
  options: HixieResponseOptions,
): Uint8Array<ArrayBuffer> {
  return buildResponse(
    "HTTP/1.1 101 WebSocket Protocol Handshake",
    "Sec-WebSocket-",
    options,
  );
}

/**
 * Builds a draft-75 server's response head, ending with CRLF CRLF. Draft 75
 * has no challenge: messages may follow at once.
 *
 * @param options The request's host, resource, origin, TLS flag, and the
 * chosen subprotocol.
 * @returns The response head.
 * @throws {TypeError} When a value contains CR, LF or NUL, or the resource
 * does not start with `/`.
 *
 * @example Answering a request for /chat
 * ```ts
 * import { buildHixie75Response } from "@seed/websocket/hixie";
 *
 * const head = buildHixie75Response({
 *   host: "example.com",
 *   resource: "/chat",
 *   secure: false,
 *   origin: "http://example.com",
 * });
 * console.log(new TextDecoder().decode(head).split("\r\n")[0]);
 * // HTTP/1.1 101 Web Socket Protocol Handshake
 * ```
 */
export function buildHixie75Response(
  options: HixieResponseOptions,
): Uint8Array<ArrayBuffer> {
  return buildResponse(
    "HTTP/1.1 101 Web Socket Protocol Handshake",
    "WebSocket-",
    options,
  );
}
