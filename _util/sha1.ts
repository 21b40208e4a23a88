// SHA-1 (FIPS 180-4), synchronous, for the opening handshake's
// `Sec-WebSocket-Accept` only: a 60-byte input, where Web Crypto's digest
// costs a round trip through a thread pool and the event loop per
// handshake. Not for anything that needs a secure hash.

// Scratch space, reused by every call (the hash never yields): the message
// schedule, the padded message of a short input, and the digest.
const W = new Int32Array(80);
const SHORT = 2 * 64 - 9; // the longest input that pads to two blocks
const scratch = new Uint8Array(128);
const DIGEST = new Uint8Array(20);

/**
 * The SHA-1 digest of `data`.
 *
 * @param data The bytes to hash.
 * @returns The 20-byte digest.
 */
export function sha1(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = data.length;
  if (length <= SHORT) {
    scratch.set(data);
    return digest(scratch, length).slice();
  }
  const padded = new Uint8Array(paddedLength(length));
  padded.set(data);
  return digest(padded, length).slice();
}

/**
 * The SHA-1 digest of a string whose characters are all under 0x100, one
 * byte per character (Latin-1): the handshake's key and GUID hashed without
 * encoding them into a buffer first, into a digest that is not copied out
 * either (a typed array costs more to make than the hash to compute).
 *
 * @param text The characters to hash.
 * @returns The 20-byte digest, in a buffer the next call overwrites.
 */
export function sha1Latin1(text: string): Uint8Array<ArrayBuffer> {
  const length = text.length;
  const bytes = length <= SHORT
    ? scratch
    : new Uint8Array(paddedLength(length));
  for (let i = 0; i < length; i++) bytes[i] = text.charCodeAt(i);
  return digest(bytes, length);
}

// The message, a 0x80 byte, zeros, and the 64-bit bit length, in whole
// 64-byte blocks.
function paddedLength(length: number): number {
  return (((length + 8) >>> 6) + 1) * 64;
}

// Hashes the first `length` bytes of `bytes`, padding them in place (the
// buffer holds at least paddedLength(length) bytes), into DIGEST.
function digest(bytes: Uint8Array, length: number): Uint8Array<ArrayBuffer> {
  const end = paddedLength(length);
  bytes[length] = 0x80;
  bytes.fill(0, length + 1, end - 8);
  const high = Math.floor(length / 0x20000000); // the bit length's top word
  const low = (length * 8) >>> 0;
  bytes[end - 8] = high >>> 24;
  bytes[end - 7] = high >>> 16;
  bytes[end - 6] = high >>> 8;
  bytes[end - 5] = high;
  bytes[end - 4] = low >>> 24;
  bytes[end - 3] = low >>> 16;
  bytes[end - 2] = low >>> 8;
  bytes[end - 1] = low;
  let h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0;
  let h3 = 0x10325476, h4 = 0xc3d2e1f0 | 0;
  const w = W;
  for (let base = 0; base < end; base += 64) {
    for (let t = 0, i = base; t < 16; t++, i += 4) {
      w[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) |
        bytes[i + 3];
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number, k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = DIGEST;
  putWord(out, 0, h0);
  putWord(out, 4, h1);
  putWord(out, 8, h2);
  putWord(out, 12, h3);
  putWord(out, 16, h4);
  return out;
}

function putWord(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = word >>> 16;
  out[at + 2] = word >>> 8;
  out[at + 3] = word;
}
