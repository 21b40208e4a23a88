// HTTP CONNECT tunnels (RFC 9110 section 9.3.6), without I/O: the request
// a client sends to an HTTP proxy and the check of the proxy's answer.

import { parseResponseHead, type ResponseHead } from "../handshake.ts";
import { latin1 } from "../_util/http_head.ts";

const encoder = new TextEncoder();

/** The `host:port` authority of a CONNECT request (IPv6 in brackets). */
export function connectAuthority(hostname: string, port: number): string {
  const host = hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
  return `${host}:${port}`;
}

/** The `Proxy-Authorization` value for Basic credentials (RFC 7617). */
export function basicAuthorization(username: string, password: string): string {
  // btoa() takes one character per byte: the UTF-8 bytes as Latin-1.
  return `Basic ${btoa(latin1(encoder.encode(`${username}:${password}`)))}`;
}

/** Builds the CONNECT request head. */
export function buildConnectRequest(
  hostname: string,
  port: number,
  authorization?: string,
): Uint8Array {
  const authority = connectAuthority(hostname, port);
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (authorization) head += `Proxy-Authorization: ${authorization}\r\n`;
  return encoder.encode(`${head}\r\n`);
}

/**
 * Parses the proxy's answer to CONNECT; `ok` when it is 2xx (the tunnel is
 * open after the head).
 */
export function parseConnectResponse(
  head: Uint8Array,
): { ok: boolean; response: ResponseHead } {
  const response = parseResponseHead(head);
  return { ok: response.status >= 200 && response.status < 300, response };
}
