/**
 * The one door to the legacy drafts (draft-hixie-thewebsocketprotocol-76
 * and -75): the server asks {@linkcode legacyRequest} whether a request
 * speaks one, the client asks {@linkcode legacyDialer} how to dial one. The
 * rest of the library names no draft and knows nothing of their handshakes.
 *
 * @example Answering a request that may speak a draft
 * ```ts ignore
 * const legacy = legacyRequest(head, ["13", "hixie-76"]);
 * if (legacy) {
 *   const conn = await legacy.accept(init);
 * }
 * ```
 *
 * @module
 */

import type { Conn } from "../conn.ts";
import { HandshakeError } from "../errors.ts";
import { fieldsOf, type RequestHead } from "../handshake/_head.ts";
import type { ProtocolVersion } from "../protocol/machine.ts";
import { acceptHixie, type HixieAcceptInit } from "./_accept.ts";
import { dialHixie, type HixieDialInit } from "./_dial.ts";
import {
  detectVersion,
  hixieRequestedProtocols,
  validateHixieRequest,
} from "./_request.ts";

/** The legacy drafts: draft-hixie-thewebsocketprotocol-76 and -75. */
export type LegacyVersion = Extract<ProtocolVersion, "hixie-76" | "hixie-75">;

/** A request that speaks a legacy draft, checked and ready to answer. */
export interface LegacyRequest {
  /** The draft the request speaks. */
  readonly version: LegacyVersion;
  /** The subprotocols the request offers. */
  readonly protocols: string[];
  /**
   * Answers the request and returns the open connection.
   *
   * @param init The transport, the bytes after the head, the subprotocol
   * chosen and the connection's settings.
   * @returns The open connection.
   */
  accept(init: LegacyAcceptInit): Promise<Conn>;
}

/** What {@linkcode LegacyRequest.accept} needs besides the request. */
export type LegacyAcceptInit = Omit<HixieAcceptInit, "version" | "head">;

/** What a legacy dialer needs besides the version. */
export type LegacyDialInit = Omit<HixieDialInit, "version">;

function isLegacy(version: unknown): version is LegacyVersion {
  return version === "hixie-76" || version === "hixie-75";
}

/**
 * Server: the legacy draft a request speaks, checked, or undefined for an
 * RFC 6455 request. A request that has `Sec-WebSocket-Version` is RFC 6455
 * (or hybi), however broken; only the drafts leave it out.
 *
 * @param head The parsed request head.
 * @param enabled The versions the server speaks.
 * @returns The draft request, or undefined for RFC 6455.
 * @throws {HandshakeError} `BAD_VERSION` (HTTP 400, with the enabled
 * RFC 6455 versions in `Sec-WebSocket-Version`) for a draft that is not
 * enabled; the draft's own error for a request that breaks it (405 for a
 * method other than GET, 400 for a missing Host, a Connection without
 * upgrade or a bad draft-76 key).
 *
 * @example Telling a draft-76 request from an RFC 6455 one
 * ```ts ignore
 * const legacy = legacyRequest(head, ["13", "hixie-76"]);
 * console.log(legacy?.version); // hixie-76
 * ```
 */
export function legacyRequest(
  head: RequestHead,
  enabled: readonly ProtocolVersion[],
): LegacyRequest | undefined {
  // Read without making the head's Headers: most requests stop here.
  if (fieldsOf(head).get("sec-websocket-version") !== null) return undefined;
  const headers = head.headers;
  const version = detectVersion(headers);
  if (!isLegacy(version)) return undefined;
  if (!enabled.includes(version)) {
    throw new HandshakeError(
      "BAD_VERSION",
      `Invalid upgrade request: the ${version} protocol is not enabled`,
      {
        status: 400,
        headers: {
          "Sec-WebSocket-Version": enabled.filter((v) => !isLegacy(v))
            .join(", "),
        },
      },
    );
  }
  // A bad draft request gets its HTTP error before anything is written.
  validateHixieRequest(version, head);
  return {
    version,
    protocols: hixieRequestedProtocols(version, headers),
    accept: (init) => acceptHixie({ ...init, version, head }),
  };
}

/**
 * Client: how to dial a legacy version, or undefined for an RFC 6455 one.
 *
 * @param version The version to speak.
 * @returns The draft's dialer, or undefined.
 *
 * @example Dialling whatever the caller asked for
 * ```ts ignore
 * const dialLegacy = legacyDialer(version);
 * const conn = dialLegacy ? await dialLegacy(init) : await dialRfc6455();
 * ```
 */
export function legacyDialer(
  version: ProtocolVersion,
): ((init: LegacyDialInit) => Promise<Conn>) | undefined {
  if (!isLegacy(version)) return undefined;
  return (init) => dialHixie({ ...init, version });
}
