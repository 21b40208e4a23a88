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

import { createHash } from "node:crypto";
import { HandshakeError, type HandshakeErrorCode } from "../errors.ts";
import { hasToken } from "../handshake.ts";

/** The two legacy drafts: draft-hixie-thewebsocketprotocol-76 and -75. */
export type HixieVersion = "hixie-76" | "hixie-75";

/** The largest key number of draft-76: a 32-bit unsigned integer. */
const MAX_KEY_NUMBER = 4294967295;

const encoder = new TextEncoder();

/**
 * Parses a draft-76 `Sec-WebSocket-Key1` or `-Key2` value: the number its
 * digits form, divided by the number of spaces in it (section 5.2).
 *
 * @param key The header value.
 * @returns The key's 32-bit number.
 * @throws {HandshakeError} `BAD_KEY` (HTTP 400) when the key has no spaces,
 * its number is not a multiple of the spaces, or the quotient exceeds
 * 2^32 - 1.
 *
 * @example Parsing the first key of the draft's example
 * ```ts
 * import { parseHixie76Key } from "@seed/websocket/hixie";
 *
 * console.log(parseHixie76Key("4 @1  46546xW%0l 1 5")); // 829309203
 * ```
 */
export function parseHixie76Key(key: string): number {
  let digits = "";
  let spaces = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits += key[i];
    else if (c === 0x20) spaces++;
  }
  if (spaces === 0) {
    throw new HandshakeError(
      "BAD_KEY",
      "Invalid Sec-WebSocket-Key: the key has no spaces",
      { status: 400 },
    );
  }
  // BigInt keeps a long run of digits exact; the header size bounds it.
  const number = BigInt(digits === "" ? "0" : digits);
  const divisor = BigInt(spaces);
  if (number % divisor !== 0n) {
    throw new HandshakeError(
      "BAD_KEY",
      "Invalid Sec-WebSocket-Key: the key number is not a multiple of its spaces",
      { status: 400 },
    );
  }
  const quotient = number / divisor;
  if (quotient > BigInt(MAX_KEY_NUMBER)) {
    throw new HandshakeError(
      "BAD_KEY",
      "Invalid Sec-WebSocket-Key: the key number exceeds 32 bits",
      { status: 400 },
    );
  }
  return Number(quotient);
}

/**
 * Computes the draft-76 challenge answer: the MD5 digest of the two key
 * numbers as 32-bit big-endian integers followed by the 8 bytes of key3.
 *
 * @param key1 The `Sec-WebSocket-Key1` value.
 * @param key2 The `Sec-WebSocket-Key2` value.
 * @param key3 The 8 bytes that follow the request head.
 * @returns The 16 bytes the server writes after its response head.
 * @throws {HandshakeError} `BAD_KEY` for a key {@linkcode parseHixie76Key}
 * rejects.
 * @throws {RangeError} When `key3` is not 8 bytes long.
 *
 * @example Answering the draft's worked example
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
 */
export function hixie76Answer(
  key1: string,
  key2: string,
  key3: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (key3.length !== 8) {
    throw new RangeError(
      `Cannot compute the challenge answer: key3 must be 8 bytes, got ${key3.length}`,
    );
  }
  const challenge = new Uint8Array(16);
  const view = new DataView(challenge.buffer);
  view.setUint32(0, parseHixie76Key(key1));
  view.setUint32(4, parseHixie76Key(key2));
  challenge.set(key3, 8);
  return new Uint8Array(createHash("md5").update(challenge).digest());
}

/**
 * Returns a float in [0, 1) with 53 random bits from `crypto.getRandomValues`.
 */
function cryptoRandom(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return ((words[0] >>> 5) * 67108864 + (words[1] >>> 6)) /
    9007199254740992;
}

/** A random integer from `min` to `max` inclusive. */
function randomInt(random: () => number, min: number, max: number): number {
  const value = min + Math.floor(random() * (max - min + 1));
  return Math.min(max, Math.max(min, value));
}

/** Inserts `insert` into `text` before index `at`. */
function insertAt(text: string, at: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at);
}

/**
 * Generates a draft-76 `Sec-WebSocket-Key1` or `-Key2` value as the draft's
 * section 4.1 says: a random number times a random count of spaces (1 to
 * 12), with 1 to 12 random characters from U+0021-U+002F and U+003A-U+007E
 * inserted at random positions, then the spaces inserted at random
 * positions other than the start or the end.
 *
 * @param random Returns floats in [0, 1); inject a seeded one in tests.
 * @default {random} 53 bits from `crypto.getRandomValues`
 * @returns The key.
 *
 * @example Generating a key and reading its number back
 * ```ts
 * import { generateHixie76Key, parseHixie76Key } from "@seed/websocket/hixie";
 *
 * const key = generateHixie76Key();
 * console.log(parseHixie76Key(key) <= 4294967295); // true
 * ```
 */
export function generateHixie76Key(
  random: () => number = cryptoRandom,
): string {
  const spaces = randomInt(random, 1, 12);
  const max = Math.floor(MAX_KEY_NUMBER / spaces);
  const number = randomInt(random, 0, max);
  let key = String(number * spaces);
  const extras = randomInt(random, 1, 12);
  for (let i = 0; i < extras; i++) {
    // 15 characters in U+0021-U+002F, then 69 in U+003A-U+007E.
    const pick = randomInt(random, 0, 83);
    const code = pick < 15 ? 0x21 + pick : 0x3a + pick - 15;
    key = insertAt(
      key,
      randomInt(random, 0, key.length),
      String.fromCharCode(code),
    );
  }
  for (let i = 0; i < spaces; i++) {
    key = insertAt(key, randomInt(random, 1, key.length - 1), " ");
  }
  return key;
}

/** The keys a draft-76 client sends and the answer it expects. */
export interface Hixie76Challenge {
  /** The `Sec-WebSocket-Key1` value. */
  key1: string;
  /** The `Sec-WebSocket-Key2` value. */
  key2: string;
  /** The 8 bytes sent after the request head. */
  key3: Uint8Array<ArrayBuffer>;
  /** The 16 bytes the server must answer with. */
  answer: Uint8Array<ArrayBuffer>;
}

/**
 * Makes everything a draft-76 client needs for its challenge: two keys, the
 * 8 key bytes and the answer to expect.
 *
 * @param random Returns floats in [0, 1); inject a seeded one in tests.
 * @default {random} `crypto.getRandomValues`
 * @returns The keys and the expected answer.
 *
 * @example Building a request and checking the answer
 * ```ts
 * import {
 *   buildHixieRequest,
 *   createHixie76Challenge,
 *   verifyHixie76Answer,
 * } from "@seed/websocket/hixie";
 *
 * const challenge = createHixie76Challenge();
 * const request = buildHixieRequest({
 *   version: "hixie-76",
 *   url: new URL("ws://example.com/chat"),
 *   origin: "http://example.com",
 *   ...challenge,
 * });
 * // ...write `request`, read the response head and 16 bytes, then:
 * verifyHixie76Answer(challenge.answer, challenge.answer);
 * console.log(request.length > 0); // true
 * ```
 */
export function createHixie76Challenge(
  random?: () => number,
): Hixie76Challenge {
  const key1 = generateHixie76Key(random);
  const key2 = generateHixie76Key(random);
  const key3 = new Uint8Array(8);
  if (random === undefined) crypto.getRandomValues(key3);
  else for (let i = 0; i < 8; i++) key3[i] = randomInt(random, 0, 255);
  return { key1, key2, key3, answer: hixie76Answer(key1, key2, key3) };
}

/** What a server's handshake response is built from. */
export interface HixieResponseOptions {
  /** The request's `Host` header, e.g. `example.com:8080`. */
  host: string;
  /** The request target (resource name), e.g. `/chat?room=1`. */
  resource: string;
  /** Whether the connection runs over TLS (`wss:`). */
  secure: boolean;
  /** The request's `Origin` header, echoed back; omitted when undefined. */
  origin?: string;
  /** The chosen subprotocol; omitted when undefined. */
  protocol?: string;
}

/** Throws `TypeError` for a value that would break the HTTP head. */
function assertFieldValue(name: string, value: string): void {
  if (/[\0\r\n]/.test(value)) {
    throw new TypeError(
      `Cannot build the handshake: the ${name} value contains a control character`,
    );
  }
}

/** Joins a status line and fields into a head that ends with CRLF CRLF. */
function head(
  start: string,
  fields: [string, string][],
): Uint8Array<ArrayBuffer> {
  let text = `${start}\r\n`;
  for (const [name, value] of fields) {
    assertFieldValue(name, value);
    text += `${name}: ${value}\r\n`;
  }
  return encoder.encode(`${text}\r\n`);
}

/** Builds a draft-75 or -76 response head with the given field prefix. */
function buildResponse(
  statusLine: string,
  prefix: string,
  options: HixieResponseOptions,
): Uint8Array<ArrayBuffer> {
  if (!options.resource.startsWith("/")) {
    throw new TypeError(
      `Cannot build the handshake: the resource must start with "/", got "${options.resource}"`,
    );
  }
  const scheme = options.secure ? "wss" : "ws";
  const fields: [string, string][] = [
    ["Upgrade", "WebSocket"],
    ["Connection", "Upgrade"],
  ];
  if (options.origin !== undefined) {
    fields.push([`${prefix}Origin`, options.origin]);
  }
  fields.push([
    `${prefix}Location`,
    `${scheme}://${options.host}${options.resource}`,
  ]);
  if (options.protocol !== undefined) {
    fields.push([`${prefix}Protocol`, options.protocol]);
  }
  return head(statusLine, fields);
}

/**
 * Builds a draft-76 server's response head, ending with CRLF CRLF. Write it
 * as soon as the request head is read; write the 16-byte
 * {@linkcode hixie76Answer} once the client's 8 key bytes arrive (a proxy
 * may hold them until it sees the response).
 *
 * @param options The request's host, resource, origin, TLS flag, and the
 * chosen subprotocol.
 * @returns The response head.
 * @throws {TypeError} When a value contains CR, LF or NUL, or the resource
 * does not start with `/`.
 *
 * @example Answering a request for /chat
 * ```ts
 * import { buildHixie76Response } from "@seed/websocket/hixie";
 *
 * const head = buildHixie76Response({
 *   host: "example.com",
 *   resource: "/chat",
 *   secure: false,
 *   origin: "http://example.com",
 * });
 * console.log(new TextDecoder().decode(head).split("\r\n")[0]);
 * // HTTP/1.1 101 WebSocket Protocol Handshake
 * ```
 */
export function buildHixie76Response(
  options: HixieResponseOptions,
): Uint8Array<ArrayBuffer> {
  return buildResponse(
    "HTTP/1.1 101 WebSocket Protocol Handshake",
    "Sec-WebSocket-",
    options,
  );
}

/**
 * Builds a draft-75 server's response head, ending with CRLF CRLF. Draft 75
 * has no challenge: messages may follow at once.
 *
 * @param options The request's host, resource, origin, TLS flag, and the
 * chosen subprotocol.
 * @returns The response head.
 * @throws {TypeError} When a value contains CR, LF or NUL, or the resource
 * does not start with `/`.
 *
 * @example Answering a request for /chat
 * ```ts
 * import { buildHixie75Response } from "@seed/websocket/hixie";
 *
 * const head = buildHixie75Response({
 *   host: "example.com",
 *   resource: "/chat",
 *   secure: false,
 *   origin: "http://example.com",
 * });
 * console.log(new TextDecoder().decode(head).split("\r\n")[0]);
 * // HTTP/1.1 101 Web Socket Protocol Handshake
 * ```
 */
export function buildHixie75Response(
  options: HixieResponseOptions,
): Uint8Array<ArrayBuffer> {
  return buildResponse(
    "HTTP/1.1 101 Web Socket Protocol Handshake",
    "WebSocket-",
    options,
  );
}

/** What a client's handshake request is built from. */
export interface HixieRequestOptions {
  /** The draft to speak. */
  version: HixieVersion;
  /** The `ws:` or `wss:` URL to dial. */
  url: URL;
  /** The `Origin` header, e.g. `http://example.com`. */
  origin: string;
  /** The subprotocol to ask for; none when undefined. */
  protocol?: string;
  /** The `Sec-WebSocket-Key1` value; required for draft 76. */
  key1?: string;
  /** The `Sec-WebSocket-Key2` value; required for draft 76. */
  key2?: string;
  /** The 8 bytes sent after the head; required for draft 76. */
  key3?: Uint8Array;
  /**
   * Extra header fields, written after the handshake's own (whose names
   * they may not reuse).
   */
  headers?: HeadersInit;
}

/** Field names the handshake writes itself. */
const RESERVED_FIELDS = new Set([
  "host",
  "upgrade",
  "connection",
  "origin",
  "sec-websocket-key1",
  "sec-websocket-key2",
  "sec-websocket-protocol",
  "websocket-protocol",
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The extra fields of a request, in order and with their case kept. */
function extraFields(init: HeadersInit | undefined): [string, string][] {
  if (init === undefined) return [];
  const pairs: [string, string][] = init instanceof Headers
    ? [...init]
    : Array.isArray(init)
    ? init.map((pair) => {
      if (pair.length !== 2) {
        throw new TypeError(
          "Cannot build the handshake: a header must be a name and a value",
        );
      }
      return [pair[0], pair[1]];
    })
    : Object.entries(init);
  for (const [name] of pairs) {
    if (!TOKEN.test(name)) {
      throw new TypeError(
        `Cannot build the handshake: invalid header name "${name}"`,
      );
    }
    if (RESERVED_FIELDS.has(name.toLowerCase())) {
      throw new TypeError(
        `Cannot build the handshake: the ${name} header is set by the handshake`,
      );
    }
  }
  return pairs;
}

/** The resource name of a URL: its path and query. */
function resourceName(url: URL): string {
  return `${url.pathname || "/"}${url.search}`;
}

/** Throws `TypeError` unless the URL is `ws:` or `wss:`. */
function assertWebSocketUrl(url: URL): void {
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(
      `Cannot build the handshake: the URL scheme must be ws: or wss:, got ${url.protocol}`,
    );
  }
}

/**
 * Builds a draft-75 or -76 client's request: the head, then for draft 76
 * the 8 bytes of key3. `Host` omits the scheme's default port.
 *
 * @param options The draft, URL, origin, subprotocol, draft-76 keys and
 * extra headers.
 * @returns The bytes to write.
 * @throws {TypeError} For a URL that is not `ws:` / `wss:`, missing draft-76
 * keys, a value with CR, LF or NUL, or an extra header the handshake sets.
 * @throws {RangeError} When `key3` is not 8 bytes long.
 *
 * @example A draft-75 request
 * ```ts
 * import { buildHixieRequest } from "@seed/websocket/hixie";
 *
 * const request = buildHixieRequest({
 *   version: "hixie-75",
 *   url: new URL("ws://example.com/chat"),
 *   origin: "http://example.com",
 * });
 * console.log(new TextDecoder().decode(request).split("\r\n")[0]);
 * // GET /chat HTTP/1.1
 * ```
 */
export function buildHixieRequest(
  options: HixieRequestOptions,
): Uint8Array<ArrayBuffer> {
  const { version, url, origin, protocol } = options;
  assertWebSocketUrl(url);
  const fields: [string, string][] = [
    ["Upgrade", "WebSocket"],
    ["Connection", "Upgrade"],
    ["Host", url.host],
    ["Origin", origin],
  ];
  if (version === "hixie-76") {
    const { key1, key2, key3 } = options;
    if (key1 === undefined || key2 === undefined || key3 === undefined) {
      throw new TypeError(
        "Cannot build a hixie-76 request: key1, key2 and key3 are required",
      );
    }
    if (key3.length !== 8) {
      throw new RangeError(
        `Cannot build a hixie-76 request: key3 must be 8 bytes, got ${key3.length}`,
      );
    }
    fields.push(["Sec-WebSocket-Key1", key1], ["Sec-WebSocket-Key2", key2]);
    if (protocol !== undefined) {
      fields.push(["Sec-WebSocket-Protocol", protocol]);
    }
    fields.push(...extraFields(options.headers));
    const bytes = head(`GET ${resourceName(url)} HTTP/1.1`, fields);
    const out = new Uint8Array(bytes.length + 8);
    out.set(bytes);
    out.set(key3, bytes.length);
    return out;
  }
  if (version !== "hixie-75") {
    throw new TypeError(
      `Cannot build the handshake: unknown version "${version}"`,
    );
  }
  if (protocol !== undefined) fields.push(["WebSocket-Protocol", protocol]);
  fields.push(...extraFields(options.headers));
  return head(`GET ${resourceName(url)} HTTP/1.1`, fields);
}

/** What {@linkcode validateHixieResponse} checks a response against. */
export interface HixieResponseCheck {
  /** The draft the request spoke. */
  version: HixieVersion;
  /** The response's status code. */
  status: number;
  /** The response's reason phrase. */
  statusText: string;
  /** The response's header fields. */
  headers: Headers;
  /** The URL that was dialled. */
  url: URL;
  /** The `Origin` that was sent. */
  origin: string;
  /** The subprotocol that was asked for, if any. */
  protocol?: string;
}

/**
 * Checks a draft-75 or -76 server's response head. Draft 76 reads the
 * `Sec-WebSocket-Origin`, `-Location` and `-Protocol` fields, draft 75 the
 * `WebSocket-` ones. The location must equal the dialled URL as the draft
 * builds it: scheme, host, the port when not the default, and resource.
 *
 * @param check The response and what was asked for.
 * @throws {HandshakeError} `BAD_STATUS` when the status is not 101,
 * `BAD_UPGRADE` for a wrong `Upgrade` or `Connection`, `BAD_ORIGIN` when the
 * origin is not echoed, `BAD_LOCATION` when the location is not the dialled
 * URL, and `BAD_PROTOCOL` when the subprotocol is not the one asked for (or
 * one comes when none was asked for).
 *
 * @example Checking a draft-76 response
 * ```ts
 * import { validateHixieResponse } from "@seed/websocket/hixie";
 *
 * validateHixieResponse({
 *   version: "hixie-76",
 *   status: 101,
 *   statusText: "WebSocket Protocol Handshake",
 *   headers: new Headers({
 *     "Upgrade": "WebSocket",
 *     "Connection": "Upgrade",
 *     "Sec-WebSocket-Origin": "http://example.com",
 *     "Sec-WebSocket-Location": "ws://example.com/chat",
 *   }),
 *   url: new URL("ws://example.com/chat"),
 *   origin: "http://example.com",
 * });
 * ```
 */
export function validateHixieResponse(check: HixieResponseCheck): void {
  const { status, statusText, headers, url } = check;
  const response = { status, statusText, headers };
  const fail = (code: HandshakeErrorCode, message: string): never => {
    throw new HandshakeError(code, message, { response });
  };
  if (status !== 101) {
    fail("BAD_STATUS", `Unexpected response status ${status}, expected 101`);
  }
  const upgrade = headers.get("upgrade");
  if (upgrade === null || upgrade.trim().toLowerCase() !== "websocket") {
    fail(
      "BAD_UPGRADE",
      `Invalid Upgrade header: expected "WebSocket", got ${
        upgrade === null ? "none" : `"${upgrade}"`
      }`,
    );
  }
  const connection = headers.get("connection");
  if (!hasToken(headers, "connection", "upgrade")) {
    fail(
      "BAD_UPGRADE",
      `Invalid Connection header: expected "Upgrade", got ${
        connection === null ? "none" : `"${connection}"`
      }`,
    );
  }
  const prefix = check.version === "hixie-76" ? "Sec-WebSocket-" : "WebSocket-";
  const origin = headers.get(`${prefix}Origin`);
  if (origin !== check.origin) {
    fail(
      "BAD_ORIGIN",
      `Invalid ${prefix}Origin header: expected "${check.origin}", got ${
        origin === null ? "none" : `"${origin}"`
      }`,
    );
  }
  assertWebSocketUrl(url);
  const expected = `${url.protocol}//${url.host}${resourceName(url)}`;
  const location = headers.get(`${prefix}Location`);
  if (location !== expected) {
    fail(
      "BAD_LOCATION",
      `Invalid ${prefix}Location header: expected "${expected}", got ${
        location === null ? "none" : `"${location}"`
      }`,
    );
  }
  const protocol = headers.get(`${prefix}Protocol`);
  if (check.protocol === undefined) {
    if (protocol !== null) {
      fail(
        "BAD_PROTOCOL",
        `Unexpected ${prefix}Protocol header "${protocol}": no subprotocol was asked for`,
      );
    }
  } else if (protocol !== check.protocol) {
    fail(
      "BAD_PROTOCOL",
      `Invalid ${prefix}Protocol header: expected "${check.protocol}", got ${
        protocol === null ? "none" : `"${protocol}"`
      }`,
    );
  }
}

/**
 * Checks the 16 bytes a draft-76 server sent after its response head.
 *
 * @param expected The answer from {@linkcode hixie76Answer} (or
 * {@linkcode createHixie76Challenge}).
 * @param got The 16 bytes received.
 * @throws {HandshakeError} `CHALLENGE_MISMATCH` when they differ.
 *
 * @example Checking an answer
 * ```ts
 * import { createHixie76Challenge, verifyHixie76Answer } from "@seed/websocket/hixie";
 *
 * const { answer } = createHixie76Challenge();
 * verifyHixie76Answer(answer, answer.slice());
 * ```
 */
export function verifyHixie76Answer(
  expected: Uint8Array,
  got: Uint8Array,
): void {
  let diff = expected.length ^ got.length;
  for (let i = 0; i < expected.length && i < got.length; i++) {
    diff |= expected[i] ^ got[i];
  }
  if (diff !== 0 || expected.length !== 16) {
    throw new HandshakeError(
      "CHALLENGE_MISMATCH",
      "Invalid challenge answer: the server's 16 bytes do not match the keys",
    );
  }
}

/**
 * Tells which protocol a WebSocket upgrade request speaks, from its headers.
 *
 * @param headers The request's header fields.
 * @returns `"13"` when `Sec-WebSocket-Key` is present (RFC 6455 and hybi 7
 * and 8, handled elsewhere), `"hixie-76"` when `Sec-WebSocket-Key1` and
 * `-Key2` are, `"hixie-75"` for a bare `Upgrade: WebSocket`
 * (case-insensitive), and undefined for anything else.
 *
 * @example Detecting a draft-76 request
 * ```ts
 * import { detectVersion } from "@seed/websocket/hixie";
 *
 * const version = detectVersion(new Headers({
 *   "Upgrade": "WebSocket",
 *   "Sec-WebSocket-Key1": "4 @1  46546xW%0l 1 5",
 *   "Sec-WebSocket-Key2": "12998 5 Y3 1  .P00",
 * }));
 * console.log(version); // hixie-76
 * ```
 */
export function detectVersion(
  headers: Headers,
): "13" | HixieVersion | undefined {
  if (headers.has("sec-websocket-key")) return "13";
  if (headers.has("sec-websocket-key1") && headers.has("sec-websocket-key2")) {
    return "hixie-76";
  }
  if (headers.get("upgrade")?.trim().toLowerCase() === "websocket") {
    return "hixie-75";
  }
  return undefined;
}
