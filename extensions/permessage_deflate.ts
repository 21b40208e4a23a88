/**
 * The sans-I/O core of permessage-deflate (RFC 7692), for both roles: its
 * negotiation (RFC 7692 section 7) and {@linkcode PerMessageDeflate}, the
 * {@linkcode PerMessageExtension} that compresses and restores messages
 * synchronously, with or without context takeover, and never restores more
 * than the caller's size limit (a deflate bomb costs at most `limit` bytes).
 *
 * {@linkcode perMessageDeflate} is its {@linkcode ExtensionNegotiator}, for
 * the general negotiation beside other extensions. On its own, a server
 * answers the first offer it can accept with
 * {@linkcode negotiatePerMessageDeflate}; a client sends
 * {@linkcode perMessageDeflateOffer} and checks the answer with
 * {@linkcode acceptPerMessageDeflate}. Each connection owns one
 * {@linkcode PerMessageDeflate} and must {@linkcode PerMessageDeflate.close}
 * it to free its zlib contexts.
 *
 * @example Negotiating both sides and sending one message
 * ```ts
 * import {
 *   acceptPerMessageDeflate,
 *   negotiatePerMessageDeflate,
 *   perMessageDeflateOffer,
 * } from "@seed/websocket/permessage-deflate";
 *
 * const offer = perMessageDeflateOffer(); // "permessage-deflate; client_max_window_bits"
 * const answer = negotiatePerMessageDeflate(offer, { threshold: 0 });
 * if (answer) {
 *   using server = answer.extension;
 *   using client = acceptPerMessageDeflate(answer.header, { threshold: 0 });
 *   const compressed = client.compress(new TextEncoder().encode("Hello"))!;
 *   const restored = server.decompress(compressed, true, 1 << 20);
 *   console.log(new TextDecoder().decode(restored)); // Hello
 * }
 * ```
 *
 * @module
 */

import type {
  ExtensionHeaderElement,
  ExtensionNegotiator,
  PerMessageExtension,
} from "./extension.ts";
import { acceptExtensions, answerExtensions } from "./negotiation.ts";
import { answerError } from "./_header.ts";
import { isPerMessageDeflateSupported } from "./_deflate_engine.ts";
import { Deflater } from "./_deflater.ts";
import { Inflater } from "./_inflater.ts";
import {
  answerOffers,
  checkAnswer,
  formatHeader,
  formatOffer,
  NAME,
  type PerMessageDeflateInit,
  type PerMessageDeflateOptions,
  resolve,
  type Resolved,
} from "./_deflate_params.ts";

export type {
  ExtensionHeaderElement,
  ExtensionNegotiator,
  PerMessageExtension,
} from "./extension.ts";
export { parseExtensionHeader } from "./extension.ts";
export { isPerMessageDeflateSupported } from "./_deflate_engine.ts";
export type {
  PerMessageDeflateInit,
  PerMessageDeflateOptions,
} from "./_deflate_params.ts";

/** A server's acceptance of a permessage-deflate offer. */
export interface PerMessageDeflateNegotiation {
  /** The `Sec-WebSocket-Extensions` value to answer with. */
  header: string;
  /** The negotiated extension; close it with the connection. */
  extension: PerMessageDeflate;
}

/**
 * A negotiated permessage-deflate extension (RFC 7692) for one connection:
 * compresses outgoing messages and restores incoming ones, synchronously.
 *
 * Its zlib contexts are created on first use; a direction without context
 * takeover resets its context after every message. A connection holds about
 * 350 KiB of zlib state with the defaults (306 KiB to compress, 42 KiB to
 * restore), plus the message being restored, which never passes the `limit`
 * given to {@linkcode PerMessageDeflate.decompress}. Call
 * {@linkcode PerMessageDeflate.close} (or `using`) when the connection ends.
 *
 * @example Compressing and restoring with a shared window
 * ```ts
 * import { PerMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * using client = new PerMessageDeflate({ role: "client", threshold: 0 });
 * using server = new PerMessageDeflate({ role: "server", threshold: 0 });
 * const hello = new TextEncoder().encode("Hello");
 * const first = client.compress(hello)!; // f2 48 cd c9 c9 07 00
 * const second = client.compress(hello)!; // f2 00 11 00 00: refers back
 * server.decompress(first, true, 1024);
 * console.log(new TextDecoder().decode(server.decompress(second, true, 1024))); // Hello
 * ```
 */
export class PerMessageDeflate implements PerMessageExtension, Disposable {
  /** The extension's registered name, `permessage-deflate`. */
  readonly name: string = NAME;
  /** The negotiated extension as it stands in `Sec-WebSocket-Extensions`. */
  readonly header: string;

  readonly #deflater: Deflater;
  readonly #inflater: Inflater;
  #closed = false;

  /**
   * Creates the extension from agreed parameters.
   *
   * @param init The role, the agreed parameters and the tuning.
   * @throws {TypeError} For a role other than "client" or "server".
   * @throws {RangeError} For a parameter out of range.
   * @throws {Error} When `node:zlib` lacks the synchronous engine.
   */
  constructor(init: PerMessageDeflateInit) {
    if (init.role !== "client" && init.role !== "server") {
      throw new TypeError(
        `Invalid role: expected "client" or "server", got ${init.role}`,
      );
    }
    const agreed = resolve(init, 8);
    if (!isPerMessageDeflateSupported()) {
      throw new Error(
        "Cannot use permessage-deflate: node:zlib has no synchronous engine here",
      );
    }
    const serverBits = agreed.serverMaxWindowBits;
    const clientBits = agreed.clientMaxWindowBits;
    const server = init.role === "server";
    this.#deflater = new Deflater({
      windowBits: server ? serverBits : clientBits,
      takeover: !(server
        ? agreed.serverNoContextTakeover
        : agreed.clientNoContextTakeover),
      threshold: agreed.threshold,
      level: agreed.level,
      memLevel: agreed.memLevel,
    });
    this.#inflater = new Inflater(
      server ? clientBits : serverBits,
      !(server
        ? agreed.clientNoContextTakeover
        : agreed.serverNoContextTakeover),
    );
    this.header = init.header ?? formatHeader({
      serverNoContextTakeover: agreed.serverNoContextTakeover,
      clientNoContextTakeover: agreed.clientNoContextTakeover,
      serverMaxWindowBits: serverBits === 15 ? undefined : serverBits,
      clientMaxWindowBits: clientBits === 15 ? undefined : clientBits,
    });
  }

  /**
   * Compresses one whole outgoing message, or returns undefined to send it
   * uncompressed: when empty or under the threshold, when this end may only
   * use an 8-bit window, or (without context takeover) when compression
   * would not make it smaller.
   *
   * @param payload The message payload; never modified.
   * @returns The compressed payload, or undefined.
   */
  compress(payload: Uint8Array): Uint8Array<ArrayBuffer> | undefined {
    this.#check("compress message");
    return this.#deflater.compress(payload);
  }

  /**
   * Compresses one part of a message sent in pieces, flushed so that the
   * peer can inflate it as it arrives: each part's output ends on a byte
   * boundary (a sync flush), and the last part's trailing `00 00 ff ff` is
   * removed as RFC 7692 asks. Context takeover rules hold across messages
   * as for {@linkcode PerMessageDeflate.compress}.
   *
   * @param payload The part's bytes; never modified.
   * @param first Whether this part starts the message.
   * @param fin Whether this part ends the message.
   * @returns The compressed part; undefined (first part only) when this
   * extension cannot compress (an 8-bit window): send the message as is.
   *
   * @example Compressing a message in two parts
   * ```ts
   * import { PerMessageDeflate } from "@seed/websocket/permessage-deflate";
   *
   * const client = new PerMessageDeflate({ role: "client" });
   * const server = new PerMessageDeflate({ role: "server" });
   * const hello = new TextEncoder().encode("Hello");
   * const a = client.compressPart(hello, true, false)!;
   * const b = client.compressPart(hello, false, true)!;
   * const out = [server.decompress(a, false, 1024), server.decompress(b, true, 1024)];
   * console.log(new TextDecoder().decode(new Uint8Array([...out[0], ...out[1]]))); // HelloHello
   * ```
   */
  compressPart(
    payload: Uint8Array,
    first: boolean,
    fin: boolean,
  ): Uint8Array<ArrayBuffer> | undefined {
    this.#check("compress message");
    return this.#deflater.compressPart(payload, first, fin);
  }

  /**
   * Restores one fragment of an incoming compressed message; call it for
   * each fragment in order, `fin` marking the last. Never holds more than
   * `limit` + 1 restored bytes of a message.
   *
   * @param fragment The fragment's payload; never modified.
   * @param fin Whether this is the message's last fragment.
   * @param limit The most bytes the whole restored message may have.
   * @returns The bytes this fragment restored (often empty before `fin`).
   * @throws {ProtocolError} `MESSAGE_TOO_LARGE` (close code 1009) once the
   * message would pass `limit`; `BAD_COMPRESSED_DATA` (close code 1007) for data
   * that does not inflate.
   */
  decompress(
    fragment: Uint8Array,
    fin: boolean,
    limit: number,
  ): Uint8Array<ArrayBuffer> {
    this.#check("decompress message");
    return this.#inflater.decompress(fragment, fin, limit);
  }

  #check(what: string): void {
    if (this.#closed) {
      throw new TypeError(`Cannot ${what}: extension is closed`);
    }
  }

  /** Frees the zlib contexts; later calls to compress or decompress throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deflater.close();
    this.#inflater.close();
  }

  /** Same as {@linkcode PerMessageDeflate.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** permessage-deflate's negotiator, with checked options. */
class DeflateNegotiator implements ExtensionNegotiator<PerMessageDeflate> {
  readonly name: string = NAME;
  readonly #wanted: Resolved;

  constructor(options: PerMessageDeflateOptions) {
    this.#wanted = resolve(options, 9);
  }

  offer(): string | undefined {
    return isPerMessageDeflateSupported()
      ? formatOffer(this.#wanted)
      : undefined;
  }

  accept(answer: ExtensionHeaderElement): PerMessageDeflate {
    const wanted = this.#wanted;
    const agreed = checkAnswer(answer, wanted);
    const { threshold, level, memLevel } = wanted;
    return new PerMessageDeflate({
      role: "client",
      serverNoContextTakeover: agreed.serverNoContextTakeover,
      // A client that promised to reset its context keeps the promise.
      clientNoContextTakeover: agreed.clientNoContextTakeover ||
        wanted.clientNoContextTakeover,
      serverMaxWindowBits: agreed.serverMaxWindowBits,
      clientMaxWindowBits: agreed.clientMaxWindowBits ??
        wanted.clientMaxWindowBits,
      threshold,
      level,
      memLevel,
      header: formatHeader(agreed),
    });
  }

  answer(
    offers: readonly ExtensionHeaderElement[],
  ): { response: string; extension: PerMessageDeflate } | undefined {
    if (!isPerMessageDeflateSupported()) return undefined;
    const agreed = answerOffers(offers, this.#wanted);
    if (agreed === undefined) return undefined;
    const response = formatHeader(agreed);
    const { threshold, level, memLevel } = this.#wanted;
    const extension = new PerMessageDeflate({
      role: "server",
      ...agreed,
      threshold,
      level,
      memLevel,
      header: response,
    });
    return { response, extension };
  }
}

/**
 * permessage-deflate (RFC 7692) as an {@linkcode ExtensionNegotiator}, for
 * either role: a client offers it (when this runtime can run it; see
 * {@linkcode isPerMessageDeflateSupported}) and checks the answer as
 * {@linkcode acceptPerMessageDeflate} does; a server answers the first
 * offer it can accept as {@linkcode negotiatePerMessageDeflate} does.
 *
 * @param options The side's wishes.
 * @returns The negotiator.
 * @throws {RangeError} For an option out of range.
 *
 * @example Negotiating both sides with the generic functions
 * ```ts
 * import {
 *   acceptExtensions,
 *   answerExtensions,
 *   offerExtensions,
 * } from "@seed/websocket/extension-negotiation";
 * import { perMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const client = [perMessageDeflate({ serverNoContextTakeover: true })];
 * const request = offerExtensions(client) ?? null;
 * const { header } = answerExtensions(request, [perMessageDeflate()]);
 * console.log(header); // permessage-deflate; server_no_context_takeover
 * console.log(acceptExtensions(header, client)?.name); // permessage-deflate
 * ```
 */
export function perMessageDeflate(
  options: PerMessageDeflateOptions = {},
): ExtensionNegotiator {
  return new DeflateNegotiator(options);
}

/**
 * A server's side of the negotiation (RFC 7692 section 7.1): answers the
 * first permessage-deflate offer it can accept, or returns undefined to go
 * without compression. An offer is declined when it has an unknown,
 * repeated or invalid parameter, when it limits the server's window to 8
 * bits (zlib cannot compress with 8), or when `clientMaxWindowBits` is below
 * 15 and the offer does not let the server limit the client's window.
 *
 * The answer honours `server_no_context_takeover` and
 * `server_max_window_bits` from the offer, echoes `client_no_context_takeover`
 * (so the server frees its inflater between messages), adds what the
 * options ask for, and sends `client_max_window_bits` only when the offer
 * had it.
 *
 * @param headerValue The request's `Sec-WebSocket-Extensions`, or null.
 * @param options The server's wishes.
 * @returns The answer header and the extension, or undefined.
 * @throws {HandshakeError} `BAD_EXTENSION` (HTTP status 400) when the header
 * is not valid syntax.
 * @throws {RangeError} For an option out of range.
 *
 * @example Answering a browser's offer
 * ```ts
 * import { negotiatePerMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const answer = negotiatePerMessageDeflate(
 *   "permessage-deflate; client_max_window_bits",
 *   { clientMaxWindowBits: 12 },
 * );
 * console.log(answer?.header); // permessage-deflate; client_max_window_bits=12
 * answer?.extension.close();
 * ```
 */
export function negotiatePerMessageDeflate(
  headerValue: string | null,
  options: PerMessageDeflateOptions = {},
): PerMessageDeflateNegotiation | undefined {
  const negotiator = new DeflateNegotiator(options);
  const { header, extension } = answerExtensions(headerValue, [negotiator]);
  // The one negotiator's extensions are PerMessageDeflate.
  return extension && { header, extension: extension as PerMessageDeflate };
}

/**
 * A client's permessage-deflate offer (RFC 7692 section 7.1). It always
 * says `client_max_window_bits`, so the server may limit the client's
 * window.
 *
 * @param options The client's wishes.
 * @returns The `Sec-WebSocket-Extensions` value to send.
 * @throws {RangeError} For an option out of range.
 *
 * @example Asking for a small server window
 * ```ts
 * import { perMessageDeflateOffer } from "@seed/websocket/permessage-deflate";
 *
 * console.log(perMessageDeflateOffer({ serverMaxWindowBits: 10 }));
 * // permessage-deflate; server_max_window_bits=10; client_max_window_bits
 * ```
 */
export function perMessageDeflateOffer(
  options: PerMessageDeflateOptions = {},
): string {
  return formatOffer(resolve(options, 9));
}

/**
 * A client's check of the server's answer to
 * {@linkcode perMessageDeflateOffer} made with the same options (RFC 7692
 * section 7.1). Call it only when the response has the header.
 *
 * It fails when the answer has an extension other than permessage-deflate,
 * more than one, an unknown, repeated or invalid parameter, a window larger
 * than the offer allowed, or lacks `server_no_context_takeover` or
 * `server_max_window_bits` the offer asked for. A `client_max_window_bits`
 * of 8 is accepted: the client then sends every message uncompressed.
 *
 * @param responseHeaderValue The response's `Sec-WebSocket-Extensions`.
 * @param options The options the offer was made with.
 * @returns The negotiated extension; close it with the connection.
 * @throws {HandshakeError} `BAD_EXTENSION` when the answer is not acceptable.
 * @throws {RangeError} For an option out of range.
 *
 * @example Accepting an answer
 * ```ts
 * import { acceptPerMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * using extension = acceptPerMessageDeflate(
 *   "permessage-deflate; server_no_context_takeover",
 * );
 * console.log(extension.header); // permessage-deflate; server_no_context_takeover
 * ```
 */
export function acceptPerMessageDeflate(
  responseHeaderValue: string,
  options: PerMessageDeflateOptions = {},
): PerMessageDeflate {
  const negotiator = new DeflateNegotiator(options);
  const extension = acceptExtensions(responseHeaderValue, [negotiator]);
  if (extension === undefined) throw answerError("no extension");
  // The one negotiator's extensions are PerMessageDeflate.
  return extension as PerMessageDeflate;
}
