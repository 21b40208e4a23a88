// The answers a server gives instead of a 101: each is written whole, with
// `Connection: close`, and the socket is closed after it.

import type { Transport } from "../conn.ts";
import type { HandshakeError } from "../errors.ts";
import { buildResponseHead } from "../handshake.ts";
import { STATUS_TEXT } from "../http/_http1.ts";
import { writeAll } from "../_util/io.ts";

/** Writes an HTTP response and closes the socket. */
export async function respond(
  transport: Transport,
  response: Response,
  method: string,
): Promise<void> {
  const body = method === "HEAD" || response.body === null
    ? new Uint8Array(0)
    : new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  headers.set("Content-Length", String(body.length));
  headers.set("Connection", "close");
  const head = buildResponseHead(
    response.status,
    response.statusText || STATUS_TEXT[response.status] || "Unknown",
    headers,
  );
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  try {
    await writeAll(transport, bytes);
    await transport.closeWrite?.();
  } finally {
    transport.close();
  }
}

/** The response for a failed handshake: its status, headers and message. */
export function errorResponse(error: HandshakeError): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "text/plain; charset=utf-8");
  return new Response(error.message + "\n", {
    status: error.status,
    headers,
  });
}

/** The answer to a request that is not an upgrade, without a fallback. */
export function upgradeRequired(): Response {
  return new Response("Upgrade Required: this is a WebSocket endpoint\n", {
    status: 426,
    headers: {
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Content-Type": "text/plain; charset=utf-8",
    },
  });
}

/** The answer past `maxConnections`: the client may retry in a second. */
export function serverBusy(): Response {
  return new Response("Server busy: try again later\n", {
    status: 503,
    headers: { "Retry-After": "1" },
  });
}
