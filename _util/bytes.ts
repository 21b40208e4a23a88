// Joining byte arrays, the one copy the protocol layers share: a single part
// is returned as it is, several are copied once into a buffer of their total
// size.

/**
 * Joins `parts` into one array; `size`, when the caller already knows it,
 * is their total length.
 */
export function concatBytes(parts: Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  let total = size ?? 0;
  if (size === undefined) { for (const part of parts) total += part.length; }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
