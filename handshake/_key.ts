// The keys of the RFC 6455 opening handshake (section 4): the client's
// random Sec-WebSocket-Key and the server's Sec-WebSocket-Accept proof.

import { sha1, sha1Latin1 } from "../_util/sha1.ts";

/** The GUID of RFC 6455 section 1.3, appended to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const ALPHABET = Array.from(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  (char) => char.charCodeAt(0),
);
const PAD = 61; // "="
// The digits of one encoding, made into a string in one call: a flat
// string, where appending digit by digit makes a chain of pieces that each
// later reader of the string (the 101's encoding) has to flatten first.
const digits: number[] = [];

// Base64 of bytes[start, end), written out here: for a key or a digest
// this is a few table lookups, where btoa needs a string of the bytes first.
function base64(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const out = digits;
  out.length = 0;
  let i = start;
  for (; i + 2 < end; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out.push(
      ALPHABET[n >>> 18],
      ALPHABET[(n >>> 12) & 63],
      ALPHABET[(n >>> 6) & 63],
      ALPHABET[n & 63],
    );
  }
  if (i + 1 === end) {
    const n = bytes[i] << 16;
    out.push(ALPHABET[n >>> 18], ALPHABET[(n >>> 12) & 63], PAD, PAD);
  } else if (i + 2 === end) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out.push(
      ALPHABET[n >>> 18],
      ALPHABET[(n >>> 12) & 63],
      ALPHABET[(n >>> 6) & 63],
      PAD,
    );
  }
  return String.fromCharCode.apply(undefined, out);
}

// Random bytes for keys, drawn from the system in batches of 64 keys: one
// call to the system's generator per 64 handshakes instead of one each.
const KEY_BYTES = 16;
const KEY_BATCH = 64 * KEY_BYTES;
let randomPool: Uint8Array<ArrayBuffer> | undefined;
let randomOffset = KEY_BATCH;

/**
 * A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes.
 *
 * @returns The key.
 *
 * @example Making a key
 * ```ts
 * import { createClientKey } from "@seed/websocket/handshake";
 *
 * console.log(createClientKey().length); // 24
 * ```
 */
export function createClientKey(): string {
  if (randomOffset === KEY_BATCH) {
    crypto.getRandomValues(randomPool ??= new Uint8Array(KEY_BATCH));
    randomOffset = 0;
  }
  const start = randomOffset;
  randomOffset += KEY_BYTES;
  return base64(randomPool!, start, randomOffset);
}

/**
 * Whether a `Sec-WebSocket-Key` is base64 of exactly 16 bytes.
 *
 * @param key The key as received.
 * @returns Whether it is well formed.
 *
 * @example Checking keys
 * ```ts
 * import { isValidClientKey } from "@seed/websocket/handshake";
 *
 * console.log(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ==")); // true
 * console.log(isValidClientKey("c2hvcnQ=")); // false
 * ```
 */
export function isValidClientKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key);
}

/**
 * The `Sec-WebSocket-Accept` for a key: base64 of the SHA-1 of the key and
 * the RFC's GUID. Computed at once; a promise for the signature it had when
 * it used Web Crypto.
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The accept value.
 *
 * @example The RFC 6455 section 1.3 example
 * ```ts
 * import { computeAccept } from "@seed/websocket/handshake";
 *
 * console.log(await computeAccept("dGhlIHNhbXBsZSBub25jZQ==")); // s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export function computeAccept(key: string): Promise<string> {
  return Promise.resolve(acceptFor(key));
}

// The accept value, synchronously: a 60-byte SHA-1 in JavaScript takes a
// microsecond, Web Crypto's digest a trip through a thread pool.
export function acceptFor(key: string): string {
  const text = key + WEBSOCKET_GUID;
  // A valid key is ASCII: its UTF-8 bytes are its char codes, hashed as
  // they are. Anything else is hashed as UTF-8.
  return base64(
    NOT_ASCII.test(text)
      ? sha1(new TextEncoder().encode(text))
      : sha1Latin1(text),
  );
}

const NOT_ASCII = /[\u0080-\uffff]/;
