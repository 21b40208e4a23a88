// The server's reading of a draft request, before anything is written:
// which protocol it speaks, whether it keeps its draft's rules, and the
// subprotocol it asks for.

import { HandshakeError } from "../errors.ts";
import type { RequestHead } from "../handshake/_head.ts";
import { requireConnectionUpgrade, requireGet } from "../handshake/_server.ts";
import { parseHixie76Key } from "./_key.ts";
import type { LegacyVersion } from "./mod.ts";

/**
 * Tells which protocol a WebSocket upgrade request speaks, from its headers.
 *
 * @param headers The request's header fields.
 * @returns `"13"` when `Sec-WebSocket-Key` is present (RFC 6455 and hybi 7
 * and 8, handled elsewhere), `"hixie-76"` when `Sec-WebSocket-Key1` and
 * `-Key2` are, `"hixie-75"` for a bare `Upgrade: WebSocket`
 * (case-insensitive), and undefined for anything else.
 *
 * @example Detecting a draft-76 request
 * ```ts
 * import { detectVersion } from "@seed/websocket/hixie";
 *
 * const version = detectVersion(new Headers({
 *   "Upgrade": "WebSocket",
 *   "Sec-WebSocket-Key1": "4 @1  46546xW%0l 1 5",
 *   "Sec-WebSocket-Key2": "12998 5 Y3 1  .P00",
 * }));
 * console.log(version); // hixie-76
 * ```
 */
export function detectVersion(
  headers: Headers,
): "13" | LegacyVersion | undefined {
  if (headers.has("sec-websocket-key")) return "13";
  if (headers.has("sec-websocket-key1") && headers.has("sec-websocket-key2")) {
    return "hixie-76";
  }
  if (headers.get("upgrade")?.trim().toLowerCase() === "websocket") {
    return "hixie-75";
  }
  return undefined;
}

/** The subprotocol a draft request asks for (one name, not a list). */
export function hixieRequestedProtocols(
  version: LegacyVersion,
  headers: Headers,
): string[] {
  const name = version === "hixie-76"
    ? "sec-websocket-protocol"
    : "websocket-protocol";
  const value = headers.get(name)?.trim();
  return value ? [value] : [];
}

/**
 * Checks a draft request before anything is written, so that a bad one gets
 * its HTTP error: 405 for a method other than GET, 400 for a missing Host,
 * a Connection header without upgrade, or a bad draft-76 key.
 */
export function validateHixieRequest(
  version: LegacyVersion,
  head: RequestHead,
): void {
  const headers = head.headers;
  requireGet(head);
  if (!headers.get("host")) {
    throw new HandshakeError("BAD_HOST", "Invalid upgrade request: no Host", {
      status: 400,
    });
  }
  requireConnectionUpgrade(headers);
  if (version === "hixie-76") {
    parseHixie76Key(headers.get("sec-websocket-key1") ?? "");
    parseHixie76Key(headers.get("sec-websocket-key2") ?? "");
  }
}
