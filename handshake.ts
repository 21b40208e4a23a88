/**
 * The RFC 6455 opening handshake, sans-I/O: an incremental HTTP/1.1 head
 * reader, request and response parsers and builders, the key and
 * `Sec-WebSocket-Accept` computation, header token lists, and the checks
 * each side makes of the other's head. No sockets: bytes in, values out.
 *
 * @example Checking a client's upgrade request and answering it
 * ```ts
 * import {
 *   buildUpgradeResponse,
 *   DEFAULT_MAX_HEAD_SIZE,
 *   HeadReader,
 *   parseRequestHead,
 *   validateUpgradeRequest,
 * } from "@seed/websocket/handshake";
 *
 * const reader = new HeadReader(DEFAULT_MAX_HEAD_SIZE, { kind: "request" });
 * const done = reader.push(new TextEncoder().encode(
 *   "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n" +
 *     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
 *     "Sec-WebSocket-Version: 13\r\n\r\n",
 * ));
 * const request = parseRequestHead(done!.head);
 * const upgrade = validateUpgradeRequest(request);
 * const response = await buildUpgradeResponse({ key: upgrade.key });
 * console.log(new TextDecoder().decode(response).split("\r\n")[0]); // HTTP/1.1 101 Switching Protocols
 * ```
 *
 * @module
 */

export {
  DEFAULT_MAX_HEAD_SIZE,
  type HeadKind,
  HeadReader,
  type HeadReaderOptions,
  type HeadResult,
} from "./handshake/_head_reader.ts";
export {
  buildResponseHead,
  hasToken,
  type HeaderSource,
  headerTokens,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "./handshake/_head.ts";
export {
  computeAccept,
  createClientKey,
  isValidClientKey,
  WEBSOCKET_GUID,
} from "./handshake/_key.ts";
export {
  buildUpgradeResponse,
  isUpgradeRequest,
  selectProtocol,
  type UpgradeRequestInfo,
  type UpgradeResponseInit,
  type ValidateRequestOptions,
  validateUpgradeRequest,
} from "./handshake/_server.ts";
export {
  buildUpgradeRequest,
  hostHeader,
  type UpgradeRequestInit,
  type UpgradeResponseInfo,
  type ValidateResponseOptions,
  validateUpgradeResponse,
} from "./handshake/_client.ts";
