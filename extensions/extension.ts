/**
 * The contract of a negotiated per-message extension (RFC 6455 section 9,
 * RFC 7692): it transforms whole messages and owns the RSV1 bit.
 *
 * @example An identity extension, to show the shape
 * ```ts
 * import type { PerMessageExtension } from "@seed/websocket/extension";
 *
 * const identity: PerMessageExtension = {
 *   name: "x-identity",
 *   header: "x-identity",
 *   compress: () => undefined,
 *   decompress: (fragment) => fragment,
 * };
 * console.log(identity.name);
 * ```
 *
 * @module
 */

/**
 * A negotiated per-message extension. A message sent with RSV1 set on its
 * first frame was transformed by it; the protocol hands each of that
 * message's fragments to {@linkcode PerMessageExtension.decompress}.
 */
export interface PerMessageExtension {
  /** The extension's registered name, e.g. `permessage-deflate`. */
  readonly name: string;
  /** The negotiated extension as it stands in `Sec-WebSocket-Extensions`. */
  readonly header: string;
  /**
   * Transforms one whole outgoing message payload. Returns undefined to send
   * the message untransformed (RSV1 clear), e.g. under a size threshold.
   */
  compress(payload: Uint8Array): Uint8Array | undefined;
  /**
   * Transforms one part of an outgoing message sent in pieces, so that the
   * peer can restore each part as it arrives; `first` and `fin` mark the
   * first and last. Called for every part of a message whose first part it
   * transformed (RSV1 is set on the first frame only). Returns undefined,
   * for a first part only, to send the whole message untransformed; absent
   * when the extension never transforms such messages.
   */
  compressPart?(
    payload: Uint8Array,
    first: boolean,
    fin: boolean,
  ): Uint8Array | undefined;
  /**
   * Restores one fragment of an incoming transformed message; `fin` marks the
   * last. Throws a `ProtocolError` (`MESSAGE_TOO_LARGE`, close code 1009) as
   * soon as the message's restored size would pass `limit` bytes, before
   * holding the excess, and a `ProtocolError` (close code 1007 or 1002) for
   * data it cannot restore.
   */
  decompress(fragment: Uint8Array, fin: boolean, limit: number): Uint8Array;
}
