// permessage-deflate's parameters (RFC 7692 section 7): the options, their
// checks, the header element that states them, and the rules by which a
// server answers an offer and a client checks an answer. Pure functions; the
// negotiator in permessage_deflate.ts turns their results into extensions.

import type { ExtensionHeaderElement } from "./extension.ts";
import { answerError } from "./_header.ts";

/** The extension's registered name. */
export const NAME = "permessage-deflate";

/** Options of permessage-deflate, the same for a server and a client. */
export interface PerMessageDeflateOptions {
  /**
   * Whether the server resets its compression context after every message.
   * A server sets it on its own; a client asks for it in its offer and fails
   * the handshake if the server does not agree.
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Whether the client resets its compression context after every message.
   * A server asks for it in its answer; a client promises it in its offer.
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The largest LZ77 window, as a power of two (9 to 15), the server may
   * compress with. A client asks for it in its offer when below 15. zlib
   * cannot compress with a window of 8 bits, so 8 is not accepted here; as
   * an agreed parameter ({@linkcode PerMessageDeflateInit}) 8 makes the
   * server send every message uncompressed.
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * The largest LZ77 window, as a power of two (9 to 15), the client may
   * compress with. A server that sets it below 15 declines offers that do
   * not let it limit the client's window. As an agreed parameter
   * ({@linkcode PerMessageDeflateInit}) 8 makes the client send every
   * message uncompressed.
   * @default {15}
   */
  clientMaxWindowBits?: number;
  /**
   * The size in bytes under which messages are sent uncompressed. Below
   * about 1 KiB a message and its frame header fit in one TCP segment, so
   * compression saves bytes but no packets, saves little without context
   * takeover (a 350-byte JSON message shrinks by a third at best), and its
   * fixed cost of 5 to 10 us per message buys more on bigger messages. 0
   * compresses every message; `Infinity` compresses none (but still
   * restores what the peer compresses).
   * @default {1024}
   */
  threshold?: number;
  /**
   * The zlib compression level, 0 (store) to 9. Level 3 makes at most 12 %
   * more output than level 6 at 1.15 to 2.6 times its speed; level 1 is the
   * fastest but makes 28 to 63 % more output than level 6.
   * @default {3}
   */
  level?: number;
  /**
   * The zlib memory level, 1 to 9: the size of the compressor's hash table.
   * @default {8}
   */
  memLevel?: number;
}

/**
 * The agreed parameters of one permessage-deflate connection, its role and
 * its tuning. The negotiation functions build it; build it by hand only when
 * the handshake is done elsewhere. The window bits are the agreed ones, 8
 * to 15.
 */
export interface PerMessageDeflateInit extends PerMessageDeflateOptions {
  /** Which end of the connection this is. */
  role: "client" | "server";
  /**
   * The extension as it stands in `Sec-WebSocket-Extensions`.
   * @default {"permessage-deflate" and the agreed parameters that differ from the defaults}
   */
  header?: string;
}

/** Every parameter and tuning value, checked, with the defaults filled in. */
export type Resolved = Required<PerMessageDeflateOptions>;

/** The parameters an answer states; absent window bits mean 15. */
export interface Agreed {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}

function checkInteger(
  name: string,
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid ${name}: expected an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

function checkThreshold(value: number): number {
  if (typeof value !== "number" || !(value >= 0)) {
    throw new RangeError(
      `Invalid threshold: expected a number of bytes from 0, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks `options` and fills in the defaults. `minBits` is 9 for wishes
 * (zlib cannot compress with 8) and 8 for agreed parameters (the peer may
 * agree to 8; that end then sends uncompressed). Throws a RangeError naming
 * the first value out of range.
 */
export function resolve(
  options: PerMessageDeflateOptions,
  minBits: 8 | 9,
): Resolved {
  return {
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
    serverMaxWindowBits: checkInteger(
      "serverMaxWindowBits",
      options.serverMaxWindowBits ?? 15,
      minBits,
      15,
    ),
    clientMaxWindowBits: checkInteger(
      "clientMaxWindowBits",
      options.clientMaxWindowBits ?? 15,
      minBits,
      15,
    ),
    threshold: checkThreshold(options.threshold ?? 1024),
    level: checkInteger("level", options.level ?? 3, 0, 9),
    memLevel: checkInteger("memLevel", options.memLevel ?? 8, 1, 9),
  };
}

/** Formats a permessage-deflate element in the canonical parameter order. */
export function formatHeader(params: Agreed): string {
  let header = NAME;
  if (params.serverNoContextTakeover) header += "; server_no_context_takeover";
  if (params.clientNoContextTakeover) header += "; client_no_context_takeover";
  if (params.serverMaxWindowBits !== undefined) {
    header += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  }
  if (params.clientMaxWindowBits !== undefined) {
    header += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  }
  return header;
}

/**
 * A client's offer. It always says `client_max_window_bits`, so the server
 * may limit the client's window.
 */
export function formatOffer(wanted: Resolved): string {
  const offer = formatHeader({
    serverNoContextTakeover: wanted.serverNoContextTakeover,
    clientNoContextTakeover: wanted.clientNoContextTakeover,
    serverMaxWindowBits: wanted.serverMaxWindowBits < 15
      ? wanted.serverMaxWindowBits
      : undefined,
  });
  return wanted.clientMaxWindowBits < 15
    ? `${offer}; client_max_window_bits=${wanted.clientMaxWindowBits}`
    : `${offer}; client_max_window_bits`;
}

/** Validated parameters of one offer or answer. */
interface Stated {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (only valid in an offer). */
  clientMaxWindowBits: number | true | undefined;
}

const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * Validates the parameters of an offer or (`answer`) an answer; returns a
 * reason for an unknown or invalid parameter.
 */
function readParams(
  element: ExtensionHeaderElement,
  answer: boolean,
): Stated | string {
  const result: Stated = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of element.params) {
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `value on parameter ${name}`;
        if (name === "server_no_context_takeover") {
          result.serverNoContextTakeover = true;
        } else {
          result.clientNoContextTakeover = true;
        }
        break;
      case "server_max_window_bits":
        if (value === true || !WINDOW_BITS.test(value)) {
          return `invalid ${name}`;
        }
        result.serverMaxWindowBits = Number(value);
        break;
      case "client_max_window_bits":
        if (value === true && !answer) {
          result.clientMaxWindowBits = true;
        } else if (value === true || !WINDOW_BITS.test(value)) {
          return `invalid ${name}`;
        } else {
          result.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return result;
}

/**
 * A server's choice (RFC 7692 section 7.1): the parameters to answer the
 * first offer it can accept with, or undefined to decline them all. See
 * `negotiatePerMessageDeflate` for which offers are declined and what the
 * answer says.
 */
export function answerOffers(
  offers: readonly ExtensionHeaderElement[],
  wanted: Resolved,
): Agreed | undefined {
  for (const element of offers) {
    const offer = readParams(element, false);
    if (typeof offer === "string") continue;
    let serverBits: number | undefined;
    if (offer.serverMaxWindowBits !== undefined) {
      // zlib cannot compress with 8 bits: never promise it.
      if (offer.serverMaxWindowBits < 9) continue;
      serverBits = Math.min(
        offer.serverMaxWindowBits,
        wanted.serverMaxWindowBits,
      );
    } else if (wanted.serverMaxWindowBits < 15) {
      serverBits = wanted.serverMaxWindowBits;
    }
    let clientBits: number | undefined;
    if (offer.clientMaxWindowBits === undefined) {
      if (wanted.clientMaxWindowBits < 15) continue;
    } else {
      const limit = Math.min(
        offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits,
        wanted.clientMaxWindowBits,
      );
      if (limit < 15) clientBits = limit;
    }
    return {
      serverNoContextTakeover: offer.serverNoContextTakeover ||
        wanted.serverNoContextTakeover,
      clientNoContextTakeover: offer.clientNoContextTakeover ||
        wanted.clientNoContextTakeover,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits,
    };
  }
  return undefined;
}

/**
 * A client's check of the server's answer (RFC 7692 section 7.1) against
 * its offer: the parameters the answer states. Throws `BAD_EXTENSION` for
 * an unknown or invalid parameter, a window larger than the offer allowed,
 * or a missing `server_no_context_takeover` or `server_max_window_bits`
 * the offer asked for.
 */
export function checkAnswer(
  element: ExtensionHeaderElement,
  wanted: Resolved,
): Agreed {
  const answer = readParams(element, true);
  if (typeof answer === "string") throw answerError(answer);
  const serverBits = answer.serverMaxWindowBits;
  if (wanted.serverMaxWindowBits < 15) {
    if (serverBits === undefined) {
      throw answerError(
        "server_max_window_bits was asked for but not answered",
      );
    }
    if (serverBits > wanted.serverMaxWindowBits) {
      throw answerError(
        `server_max_window_bits=${serverBits} is larger than the ${wanted.serverMaxWindowBits} asked for`,
      );
    }
  }
  if (wanted.serverNoContextTakeover && !answer.serverNoContextTakeover) {
    throw answerError(
      "server_no_context_takeover was asked for but not answered",
    );
  }
  // Present without a value only in an offer: readParams refused it here.
  const clientBits = typeof answer.clientMaxWindowBits === "number"
    ? answer.clientMaxWindowBits
    : undefined;
  if (clientBits !== undefined && clientBits > wanted.clientMaxWindowBits) {
    throw answerError(
      `client_max_window_bits=${clientBits} is larger than the ${wanted.clientMaxWindowBits} offered`,
    );
  }
  return {
    serverNoContextTakeover: answer.serverNoContextTakeover,
    clientNoContextTakeover: answer.clientNoContextTakeover,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: clientBits,
  };
}
