// A request head read for the plain HTTP path: the request line and the
// header fields, checked as strictly as the upgrade path checks them (the
// grammar is _util/http_syntax.ts's), kept as a flat list of names and
// values that is cheaper to build than a `Headers`.

import type { HeaderSource } from "../handshake.ts";
import { REQUEST_LINE } from "../_util/http_syntax.ts";
import { badRequest, checkedField, latin1 } from "../_util/http_head.ts";

/** Header fields to look up: a `Headers`, or the {@linkcode Fields} of a head. */
export type FieldSource = HeaderSource;

/** What the framing rules read of a request head. */
export interface HeadInfo {
  /** The HTTP version, e.g. `1.1`. */
  version: string;
  /** The header fields. */
  headers: FieldSource;
}

/** A request head parsed for the plain HTTP path. */
export interface ParsedHead extends HeadInfo {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target, e.g. `/a?b`. */
  target: string;
  /** The header fields. */
  headers: Fields;
}

/**
 * The header fields of a head, in order, as names and values side by side,
 * with a lookup by lower-case name; cheaper than a `Headers` to build, and
 * appended to the Request's own headers once.
 */
export class Fields implements FieldSource {
  /** Names as received, and values, alternating. */
  readonly list: string[];
  #lower: string[];

  constructor(list: string[], lower: string[]) {
    this.list = list;
    this.#lower = lower;
  }

  get(name: string): string | null {
    let value: string | null = null;
    for (let i = 0; i < this.#lower.length; i++) {
      if (this.#lower[i] === name) {
        const v = this.list[2 * i + 1];
        value = value === null ? v : `${value}, ${v}`;
      }
    }
    return value;
  }
}

/**
 * Parses a request head as strictly as the upgrade path does (a token
 * method, `HTTP/` digit `.` digit, token field names, field values of
 * visible characters, spaces, tabs and obs-text; no bare CR or LF, no line
 * folding): each fault is a `BAD_REQUEST` (400).
 */
export function parseHead(head: Uint8Array): ParsedHead {
  const text = latin1(head);
  if (!text.endsWith("\r\n\r\n")) {
    throw badRequest("Invalid HTTP head: missing blank line");
  }
  const lines = text.slice(0, -4).split("\r\n");
  const match = REQUEST_LINE.exec(lines[0]);
  if (!match) {
    if (/[\r\n]/.test(lines[0])) {
      throw badRequest("Invalid HTTP head: bare CR or LF");
    }
    throw badRequest(`Invalid HTTP request line: ${JSON.stringify(lines[0])}`);
  }
  const list: string[] = [];
  const lower: string[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (line.includes("\r") || line.includes("\n")) {
      throw badRequest("Invalid HTTP head: bare CR or LF");
    }
    if (line === "") continue;
    const field = checkedField(line);
    list.push(field[0], field[1]);
    lower.push(field[0].toLowerCase());
  }
  return {
    method: match[1],
    target: match[2],
    version: `${match[3]}.${match[4]}`,
    headers: new Fields(list, lower),
  };
}
