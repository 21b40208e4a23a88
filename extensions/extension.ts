/**
 * The contract of a per-message extension (RFC 6455 section 9, RFC 7692):
 * {@linkcode ExtensionNegotiator}, its part in the opening handshake, and
 * {@linkcode PerMessageExtension}, what it does once agreed (it transforms
 * whole messages and owns the RSV1 bit). {@linkcode parseExtensionHeader}
 * reads a `Sec-WebSocket-Extensions` value.
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

import { parseRawHeader, toElement } from "./_header.ts";
import { HandshakeError } from "../errors.ts";

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
  /**
   * Frees what the extension holds (a compression context), once the
   * connection's transport is closed; absent when it holds nothing.
   */
  close?(): void;
}

/** One extension of a `Sec-WebSocket-Extensions` header. */
export interface ExtensionHeaderElement {
  /** The extension's name, in lower case. */
  name: string;
  /**
   * Its parameters: names in lower case, values unquoted; `true` for a
   * parameter without a value.
   */
  params: Map<string, string | true>;
}

/**
 * One extension's part in the opening handshake, for both roles; the
 * functions of `negotiation.ts` drive a list of them. `E` is the extension
 * it agrees to.
 *
 * @example A negotiator for an extension without parameters
 * ```ts
 * import type {
 *   ExtensionNegotiator,
 *   PerMessageExtension,
 * } from "@seed/websocket/extension";
 *
 * const identity: PerMessageExtension = {
 *   name: "x-identity",
 *   header: "x-identity",
 *   compress: () => undefined,
 *   decompress: (fragment) => fragment,
 * };
 * const negotiator: ExtensionNegotiator = {
 *   name: "x-identity",
 *   offer: () => "x-identity",
 *   accept: () => identity,
 *   answer: () => ({ response: "x-identity", extension: identity }),
 * };
 * console.log(negotiator.offer()); // x-identity
 * ```
 */
export interface ExtensionNegotiator<
  E extends PerMessageExtension = PerMessageExtension,
> {
  /** The registered name, e.g. "permessage-deflate". */
  readonly name: string;
  /**
   * Client: this extension's offer as it stands in Sec-WebSocket-Extensions
   * (one or more comma-separated elements of this name), or undefined when
   * it cannot be offered here (e.g. the runtime lacks what it needs).
   */
  offer(): string | undefined;
  /**
   * Client: the server's answer element for this name; the extension to
   * run, or a HandshakeError "BAD_EXTENSION" when the answer is not
   * acceptable.
   */
  accept(answer: ExtensionHeaderElement): E;
  /**
   * Server: the client's offers of this name, in its order of preference;
   * the answer element and the extension, or undefined to decline. Throws
   * HandshakeError "BAD_EXTENSION" (400) for an offer that is malformed.
   */
  answer(
    offers: readonly ExtensionHeaderElement[],
  ): { response: string; extension: E } | undefined;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 section 9.1): offers
 * separated by commas (as `Headers.get` joins repeated lines), parameters
 * after semicolons, values as tokens or quoted strings, whitespace around
 * every separator, names case-insensitive. Empty list elements are skipped.
 *
 * @param value The header value.
 * @returns The extensions in order, with lower-case names.
 * @throws {HandshakeError} `BAD_EXTENSION` (HTTP status 400) for a syntax
 * error, or for a parameter repeated within one extension (a `Map` cannot
 * hold both; the negotiation functions decline such an offer instead).
 *
 * @example Reading an offer with a quoted value
 * ```ts
 * import { parseExtensionHeader } from "@seed/websocket/extension";
 *
 * const [offer] = parseExtensionHeader(
 *   'permessage-deflate; client_max_window_bits="10", x-webkit-deflate-frame',
 * );
 * console.log(offer.name, offer.params.get("client_max_window_bits")); // permessage-deflate 10
 * ```
 */
export function parseExtensionHeader(value: string): ExtensionHeaderElement[] {
  return parseRawHeader(value).map((raw) => {
    const element = toElement(raw);
    if (typeof element === "string") {
      throw new HandshakeError(
        "BAD_EXTENSION",
        `Cannot parse Sec-WebSocket-Extensions: ${raw.name} repeats ${element}`,
      );
    }
    return element;
  });
}
