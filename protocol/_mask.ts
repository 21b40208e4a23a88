// Client-to-server masking (RFC 6455 section 5.3): the pooled source of
// masking keys and the one XOR loop every encoder and decoder uses.

// Mask keys come from one pooled buffer of random bytes rather than a
// crypto call per frame.
const keyPool = new Uint8Array(4096);
// Misaligned runs shorter than this are masked byte by byte.
const WORDS_AFTER_COPY = 256;
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
 * in the frame being written (but not among the bytes written); `phase` is
 * the payload offset of the first byte, for a payload masked in pieces.
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
  if (length >= 64) {
    const k = ((k3 << 24) | (k2 << 16) | (k1 << 8) | k0) >>> 0;
    return xorLong(k, source, sourceStart, target, targetStart, length);
  }
  // Small runs, the common case, stay small enough to be inlined.
  let s = sourceStart, t = targetStart;
  const end = sourceStart + length;
  for (const end4 = end - 3; s < end4; s += 4, t += 4) {
    target[t] = source[s] ^ k0;
    target[t + 1] = source[s + 1] ^ k1;
    target[t + 2] = source[s + 2] ^ k2;
    target[t + 3] = source[s + 3] ^ k3;
  }
  // At most three bytes are left, at key offsets 0, 1 and 2.
  if (s < end) target[t] = source[s] ^ k0;
  if (s + 1 < end) target[t + 1] = source[s + 1] ^ k1;
  if (s + 2 < end) target[t + 2] = source[s + 2] ^ k2;
}

// From 64 bytes on: 32-bit words through aligned views (every platform
// Deno runs on is little-endian, which the key word `k` assumes), bytes at
// the unaligned ends. Across alignments, a native copy first, then the key
// XORed in place: several times faster than masking byte by byte.
function xorLong(
  k: number,
  source: Uint8Array,
  sourceStart: number,
  target: Uint8Array,
  targetStart: number,
  length: number,
): void {
  let from = source.byteOffset + sourceStart;
  const to = target.byteOffset + targetStart;
  if ((from & 3) !== (to & 3)) {
    if (length < WORDS_AFTER_COPY) {
      for (let i = 0; i < length; i++) {
        target[targetStart + i] = source[sourceStart + i] ^ keyByte(k, i);
      }
      return;
    }
    target.set(source.subarray(sourceStart, sourceStart + length), targetStart);
    source = target;
    sourceStart = targetStart;
    from = to;
  }
  const head = Math.min((4 - (to & 3)) & 3, length);
  for (let i = 0; i < head; i++) {
    target[targetStart + i] = source[sourceStart + i] ^ keyByte(k, i);
  }
  const words = (length - head) >>> 2;
  // The key word turned to start at key byte `head`.
  const w = head === 0
    ? k
    : ((k >>> (head * 8)) | (k << (32 - head * 8))) >>> 0;
  const a = new Uint32Array(source.buffer, from + head, words);
  // In place, one view serves both.
  const b = from === to && source.buffer === target.buffer
    ? a
    : new Uint32Array(target.buffer, to + head, words);
  for (let i = 0; i < words; i++) b[i] = a[i] ^ w;
  for (let i = head + words * 4; i < length; i++) {
    target[targetStart + i] = source[sourceStart + i] ^ keyByte(k, i);
  }
}

// Byte i mod 4 of the key word.
function keyByte(k: number, i: number): number {
  return (k >>> ((i & 3) << 3)) & 0xff;
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
