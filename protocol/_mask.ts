// Client-to-server masking (RFC 6455 section 5.3): the pooled source of
// masking keys and the one XOR loop every encoder and decoder uses.

// Mask keys come from one pooled buffer of random bytes rather than a
// crypto call per frame.
const keyPool = new Uint8Array(4096);
let keyPoolOffset = keyPool.length;

/**
 * Writes a fresh random 4-byte masking key into `target` at `offset`.
 *
 * @param target Where to write the key.
 * @param offset The index of its first byte.
 *
 * @example Drawing a masking key
 * ```ts
 * import { fillMaskKey } from "@seed/websocket/frame";
 *
 * const key = new Uint8Array(4);
 * fillMaskKey(key, 0);
 * ```
 */
export function fillMaskKey(target: Uint8Array, offset: number): void {
  if (keyPoolOffset + 4 > keyPool.length) {
    crypto.getRandomValues(keyPool);
    keyPoolOffset = 0;
  }
  target[offset] = keyPool[keyPoolOffset];
  target[offset + 1] = keyPool[keyPoolOffset + 1];
  target[offset + 2] = keyPool[keyPoolOffset + 2];
  target[offset + 3] = keyPool[keyPoolOffset + 3];
  keyPoolOffset += 4;
}

/**
 * XORs `length` bytes of `source` from `sourceStart` with a 4-byte key into
 * `target` from `targetStart` (the same bytes of the same buffer masks in
 * place). The key is `key[keyStart]` to `key[keyStart + 3]`, so it may sit
 * in the frame being written; `phase` is the payload offset of the first
 * byte, for a payload masked in pieces.
 */
export function xorMask(
  source: Uint8Array,
  sourceStart: number,
  target: Uint8Array,
  targetStart: number,
  length: number,
  key: Uint8Array,
  keyStart: number,
  phase: number,
): void {
  const k0 = key[keyStart + (phase & 3)];
  const k1 = key[keyStart + ((phase + 1) & 3)];
  const k2 = key[keyStart + ((phase + 2) & 3)];
  const k3 = key[keyStart + ((phase + 3) & 3)];
  let i = 0;
  const from = source.byteOffset + sourceStart;
  const to = target.byteOffset + targetStart;
  if (length >= 64 && (from & 3) === (to & 3)) {
    // 32 bits at a time through aligned views (every platform Deno runs on
    // is little-endian, which the key word below assumes).
    for (; ((from + i) & 3) !== 0; i++) {
      target[targetStart + i] = source[sourceStart + i] ^
        (i === 0 ? k0 : i === 1 ? k1 : k2);
    }
    const words = (length - i) >>> 2;
    const k = (i === 0
      ? (k3 << 24) | (k2 << 16) | (k1 << 8) | k0
      : i === 1
      ? (k0 << 24) | (k3 << 16) | (k2 << 8) | k1
      : i === 2
      ? (k1 << 24) | (k0 << 16) | (k3 << 8) | k2
      : (k2 << 24) | (k1 << 16) | (k0 << 8) | k3) >>> 0;
    const a = new Uint32Array(source.buffer, from + i, words);
    const b = new Uint32Array(target.buffer, to + i, words);
    for (let w = 0; w < words; w++) {
      b[w] = a[w] ^ k;
    }
    i += words * 4;
  } else {
    for (const end = length - 3; i < end; i += 4) {
      const s = sourceStart + i, t = targetStart + i;
      target[t] = source[s] ^ k0;
      target[t + 1] = source[s + 1] ^ k1;
      target[t + 2] = source[s + 2] ^ k2;
      target[t + 3] = source[s + 3] ^ k3;
    }
  }
  // At most three bytes are left.
  for (; i < length; i++) {
    const j = i & 3;
    target[targetStart + i] = source[sourceStart + i] ^
      (j === 0 ? k0 : j === 1 ? k1 : j === 2 ? k2 : k3);
  }
}

/**
 * XORs `source` with a 4-byte key into `target` (which may be `source`
 * itself). Masking and unmasking are the same operation.
 *
 * @param source The bytes to mask.
 * @param key The 4-byte masking key.
 * @param target Where to write; must be at least as long as `source`.
 *
 * @example Masking and unmasking
 * ```ts
 * import { applyMask } from "@seed/websocket/frame";
 *
 * const key = new Uint8Array([1, 2, 3, 4]);
 * const masked = new Uint8Array(3);
 * applyMask(new Uint8Array([10, 20, 30]), key, masked);
 * applyMask(masked, key, masked);
 * console.log(masked); // Uint8Array(3) [ 10, 20, 30 ]
 * ```
 */
export function applyMask(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
): void {
  xorMask(source, 0, target, 0, source.length, key, 0, 0);
}
