// The grammar of `Sec-WebSocket-Extensions` (RFC 6455 section 9.1, with the
// list rules of RFC 9110 section 5.6.1), apart from what any extension's
// parameters mean. Elements keep their parameters in order with repeats,
// because what a repeat means depends on the side: a server declines such
// an offer, a client fails such an answer.

import { HandshakeError } from "../errors.ts";
import { OWS_AT, TOKEN, TOKEN_AT } from "../_util/http_syntax.ts";
import type { ExtensionHeaderElement } from "./extension.ts";

/** An element as written: its lower-case name and its parameters in order. */
export interface RawElement {
  name: string;
  params: [string, string | true][];
}

function syntaxError(what: string, offset: number): HandshakeError {
  return new HandshakeError(
    "BAD_EXTENSION",
    `Cannot parse Sec-WebSocket-Extensions: expected ${what} at offset ${offset}`,
  );
}

/** A client's error for an answer it cannot accept. */
export function answerError(why: string): HandshakeError {
  return new HandshakeError(
    "BAD_EXTENSION",
    `Cannot accept Sec-WebSocket-Extensions: ${why}`,
  );
}

// A quoted value is a quoted-string whose content must itself be a token
// (RFC 6455 section 9.1); escapes may hide nothing else.
function isQuotable(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
}

/**
 * Parses a header value into its elements; empty list elements are skipped.
 * Throws `BAD_EXTENSION` for a syntax error, naming the offset.
 */
export function parseRawHeader(value: string): RawElement[] {
  const elements: RawElement[] = [];
  let i = 0;
  const skip = (): void => {
    OWS_AT.lastIndex = i;
    OWS_AT.exec(value);
    i = OWS_AT.lastIndex;
  };
  const token = (what: string): string => {
    TOKEN_AT.lastIndex = i;
    const match = TOKEN_AT.exec(value);
    if (!match) throw syntaxError(what, i);
    i = TOKEN_AT.lastIndex;
    return match[0];
  };
  const quoted = (): string => {
    const begin = i;
    let text = "";
    for (i++; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x22) {
        i++;
        if (!TOKEN.test(text)) throw syntaxError("a token", begin);
        return text;
      }
      if (c === 0x5c) {
        i++;
        if (!isQuotable(value.charCodeAt(i))) {
          throw syntaxError("an escaped character", i);
        }
      } else if (!isQuotable(c)) {
        throw syntaxError("a quoted character", i);
      }
      text += value[i];
    }
    throw syntaxError('a closing "', i);
  };
  for (;;) {
    skip();
    if (i === value.length) return elements;
    if (value[i] === ",") {
      i++;
      continue;
    }
    const name = token("an extension name").toLowerCase();
    const params: [string, string | true][] = [];
    skip();
    while (value[i] === ";") {
      i++;
      skip();
      const param = token("a parameter name").toLowerCase();
      skip();
      if (value[i] === "=") {
        i++;
        skip();
        params.push([
          param,
          value[i] === '"' ? quoted() : token("a parameter value"),
        ]);
        skip();
      } else {
        params.push([param, true]);
      }
    }
    elements.push({ name, params });
    if (i === value.length) return elements;
    if (value[i] !== ",") throw syntaxError('"," or ";"', i);
    i++;
  }
}

/**
 * The element with its parameters in a map, or the name of the first
 * parameter it repeats (a map cannot hold both values).
 */
export function toElement(raw: RawElement): ExtensionHeaderElement | string {
  const params = new Map<string, string | true>();
  for (const [param, value] of raw.params) {
    if (params.has(param)) return param;
    params.set(param, value);
  }
  return { name: raw.name, params };
}
