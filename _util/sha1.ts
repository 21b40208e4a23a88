// SHA-1 (FIPS 180-4), synchronous, for the opening handshake's
// `Sec-WebSocket-Accept` only: a 60-byte input, where Web Crypto's digest
// costs a round trip through a thread pool and the event loop per
// handshake. Not for anything that needs a secure hash.

const W = new Int32Array(80);

/**
 * The SHA-1 digest of `data`.
 *
 * @param data The bytes to hash.
 * @returns The 20-byte digest.
 */
export function sha1(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = data.length;
  // The message, a 0x80 byte, zeros, and the 64-bit bit length, in whole
  // 64-byte blocks.
  const blocks = ((length + 8) >>> 6) + 1;
  const padded = new Uint8Array(blocks * 64);
  padded.set(data);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  let h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0;
  let h3 = 0x10325476, h4 = 0xc3d2e1f0 | 0;
  const w = W;
  for (let block = 0; block < blocks; block++) {
    const base = block * 64;
    for (let t = 0; t < 16; t++) w[t] = view.getInt32(base + t * 4);
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
  const out = new Uint8Array(20);
  const digest = new DataView(out.buffer);
  digest.setInt32(0, h0);
  digest.setInt32(4, h1);
  digest.setInt32(8, h2);
  digest.setInt32(12, h3);
  digest.setInt32(16, h4);
  return out;
}
