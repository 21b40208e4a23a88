/**
 * Extension negotiation in the opening handshake (RFC 6455 section 9.1),
 * for any list of {@linkcode ExtensionNegotiator}s: a client sends
 * {@linkcode offerExtensions} and checks the answer with
 * {@linkcode acceptExtensions}; a server answers with
 * {@linkcode answerExtensions}. What each extension's parameters mean is
 * its negotiator's business; these functions parse the header, route each
 * element to the negotiator of its name and enforce the rules that hold for
 * every extension.
 *
 * A connection runs at most one extension, because every
 * {@linkcode PerMessageExtension} owns the RSV1 bit: the first negotiator
 * that agrees wins and the later ones are declined without being asked.
 *
 * @example Negotiating permessage-deflate on both sides
 * ```ts
 * import {
 *   acceptExtensions,
 *   answerExtensions,
 *   offerExtensions,
 * } from "@seed/websocket/extension-negotiation";
 * import { perMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const offer = offerExtensions([perMessageDeflate()]) ?? null;
 * const answer = answerExtensions(offer, [perMessageDeflate()]);
 * const client = acceptExtensions(answer.header, [perMessageDeflate()]);
 * console.log(answer.header, client?.name); // permessage-deflate permessage-deflate
 * ```
 *
 * @module
 */

import type { ExtensionNegotiator, PerMessageExtension } from "./extension.ts";
import { answerError, parseRawHeader, toElement } from "./_header.ts";

export type {
  ExtensionHeaderElement,
  ExtensionNegotiator,
  PerMessageExtension,
} from "./extension.ts";

/** The negotiators by name; two of one name would make answers ambiguous. */
function byName(
  negotiators: readonly ExtensionNegotiator[],
): Map<string, ExtensionNegotiator> {
  const names = new Map<string, ExtensionNegotiator>();
  for (const negotiator of negotiators) {
    const name = negotiator.name.toLowerCase();
    if (names.has(name)) {
      throw new TypeError(
        `Cannot negotiate extensions: ${name} is listed twice`,
      );
    }
    names.set(name, negotiator);
  }
  return names;
}

/**
 * A client's offer: every negotiator's offer, in the given order (the
 * client's preference), leaving out those that cannot be offered here.
 *
 * @param negotiators The extensions the client would run, preferred first.
 * @returns The `Sec-WebSocket-Extensions` value to send, or undefined for
 * none.
 * @throws {TypeError} When two negotiators have the same name.
 *
 * @example Offering permessage-deflate
 * ```ts
 * import { offerExtensions } from "@seed/websocket/extension-negotiation";
 * import { perMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * console.log(offerExtensions([perMessageDeflate()])); // permessage-deflate; client_max_window_bits
 * ```
 */
export function offerExtensions(
  negotiators: readonly ExtensionNegotiator[],
): string | undefined {
  byName(negotiators);
  const offers: string[] = [];
  for (const negotiator of negotiators) {
    const offer = negotiator.offer();
    if (offer !== undefined) offers.push(offer);
  }
  return offers.length > 0 ? offers.join(", ") : undefined;
}

/**
 * A client's check of the server's answer to {@linkcode offerExtensions}
 * made with the same negotiators. The answer may agree to one extension at
 * most (a connection runs one); the negotiator of its name checks its
 * parameters.
 *
 * @param answer The response's `Sec-WebSocket-Extensions`, or null.
 * @param negotiators The negotiators the offer was made with.
 * @returns The extension the server's answer agrees to (undefined for none).
 * @throws {HandshakeError} `BAD_EXTENSION` for an answer that names an
 * extension not offered, names one twice, names two, repeats a parameter,
 * cannot be parsed, or that the negotiator does not accept.
 * @throws {TypeError} When two negotiators have the same name.
 *
 * @example Accepting an answer
 * ```ts
 * import { acceptExtensions } from "@seed/websocket/extension-negotiation";
 * import { perMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const extension = acceptExtensions(
 *   "permessage-deflate; server_no_context_takeover",
 *   [perMessageDeflate()],
 * );
 * console.log(extension?.header); // permessage-deflate; server_no_context_takeover
 * ```
 */
export function acceptExtensions(
  answer: string | null,
  negotiators: readonly ExtensionNegotiator[],
): PerMessageExtension | undefined {
  const names = byName(negotiators);
  if (answer === null) return undefined;
  const elements = parseRawHeader(answer);
  if (elements.length === 0) return undefined;
  for (const { name } of elements) {
    if (names.get(name)?.offer() === undefined) {
      throw answerError(`${name} was not offered`);
    }
  }
  const [first, second] = elements;
  if (second !== undefined) {
    throw answerError(
      first.name === second.name
        ? `${first.name} answered more than once`
        : `${first.name} and ${second.name} both answered, but a connection runs one extension`,
    );
  }
  const element = toElement(first);
  if (typeof element === "string") {
    throw answerError(`repeated parameter ${element}`);
  }
  return names.get(first.name)!.accept(element);
}

/**
 * A server's answer: asks each negotiator in the given order (the server's
 * preference) about the client's offers of its name, in the client's
 * order, and agrees to the first extension a negotiator accepts; the later
 * negotiators are declined without being asked, since every extension
 * needs RSV1. Offers that repeat a parameter are declined before any
 * negotiator sees them.
 *
 * @param request The request's `Sec-WebSocket-Extensions`, or null.
 * @param negotiators The extensions the server would run, preferred first.
 * @returns The answer header and the extension to run (header "" and
 * undefined when none is agreed).
 * @throws {HandshakeError} `BAD_EXTENSION` (HTTP status 400) for a header
 * that cannot be parsed, or an offer its negotiator finds malformed.
 * @throws {TypeError} When two negotiators have the same name.
 *
 * @example Answering a browser's offer
 * ```ts
 * import { answerExtensions } from "@seed/websocket/extension-negotiation";
 * import { perMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const { header, extension } = answerExtensions(
 *   "permessage-deflate; client_max_window_bits",
 *   [perMessageDeflate()],
 * );
 * console.log(header, extension?.name); // permessage-deflate permessage-deflate
 * ```
 */
export function answerExtensions(
  request: string | null,
  negotiators: readonly ExtensionNegotiator[],
): { header: string; extension: PerMessageExtension | undefined } {
  byName(negotiators);
  if (request !== null) {
    const elements = parseRawHeader(request);
    for (const negotiator of negotiators) {
      const name = negotiator.name.toLowerCase();
      const offers = [];
      for (const raw of elements) {
        if (raw.name !== name) continue;
        const element = toElement(raw);
        if (typeof element !== "string") offers.push(element);
      }
      if (offers.length === 0) continue;
      const agreed = negotiator.answer(offers);
      if (agreed) {
        return { header: agreed.response, extension: agreed.extension };
      }
    }
  }
  return { header: "", extension: undefined };
}
