/**
 * The opening handshake of the legacy WebSocket drafts
 * draft-hixie-thewebsocketprotocol-75 and -76 (the latter is also
 * draft-ietf-hybi-thewebsocketprotocol-00), as pure functions with no I/O.
 *
 * - Server side: {@linkcode detectVersion} tells the drafts from RFC 6455,
 *   {@linkcode buildHixie76Response} / {@linkcode buildHixie75Response} build
 *   the response head, and {@linkcode hixie76Answer} computes the 16 bytes a
 *   draft-76 server writes once the client's 8 key bytes arrive.
 * - Client side: {@linkcode createHixie76Challenge} (or
 *   {@linkcode generateHixie76Key}) makes the keys,
 *   {@linkcode buildHixieRequest} builds the request,
 *   {@linkcode validateHixieResponse} checks the response head and
 *   {@linkcode verifyHixie76Answer} checks the 16 bytes after it.
 *
 * Faults of the peer throw a {@linkcode HandshakeError} with a stable code;
 * a bad argument throws `TypeError` or `RangeError`.
 *
 * @example Answering the draft-76 worked example
 * ```ts
 * import { hixie76Answer } from "@seed/websocket/hixie";
 *
 * const answer = hixie76Answer(
 *   "4 @1  46546xW%0l 1 5",
 *   "12998 5 Y3 1  .P00",
 *   new TextEncoder().encode("^n:ds[4U"),
 * );
 * console.log(new TextDecoder().decode(answer)); // 8jKS'y:G*Co,Wxa-
 * ```
 *
 * @module
 */

import type { LegacyVersion } from "./mod.ts";

export type { LegacyVersion } from "./mod.ts";
export type { ProtocolVersion } from "../protocol/machine.ts";

/** The two legacy drafts: the older name of {@linkcode LegacyVersion}. */
export type HixieVersion = LegacyVersion;

export {
  createHixie76Challenge,
  generateHixie76Key,
  hixie76Answer,
  type Hixie76Challenge,
  parseHixie76Key,
  verifyHixie76Answer,
} from "./_key.ts";
export {
  buildHixie75Response,
  buildHixie76Response,
  type HixieResponseOptions,
} from "./_response.ts";
export {
  buildHixieRequest,
  type HixieRequestOptions,
  type HixieResponseCheck,
  validateHixieResponse,
} from "./_client.ts";
export { detectVersion } from "./_request.ts";
