// The keys of the RFC 6455 opening handshake (section 4): the client's
// random Sec-WebSocket-Key and the server's Sec-WebSocket-Accept proof.

import { sha1 } from "../_util/sha1.ts";
import { encodeLatin1 } from "./_head.ts";

/** The GUID of RFC 6455 section 1.3, appended to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

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
  return base64(crypto.getRandomValues(new Uint8Array(16)));
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
  // A valid key is printable ASCII: its bytes are its char codes.
  const data = /^[\x20-\x7e]*$/.test(text)
    ? encodeLatin1(text)
    : new TextEncoder().encode(text);
  return base64(sha1(data));
}
