// The draft-76 challenge (draft-hixie-thewebsocketprotocol-76 sections 4.1
// and 5.2): the two keys whose numbers hide behind spaces and noise, the 8
// key bytes, and the MD5 answer that proves the server read them. Draft 75
// has no challenge.

import { createHash } from "node:crypto";
import { HandshakeError } from "../errors.ts";

/** The largest key number of draft-76: a 32-bit unsigned integer. */
const MAX_KEY_NUMBER = 4294967295;

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
