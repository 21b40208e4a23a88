// Heads written once and dropped are carved from a shared slab
// (encodeForWrite in handshake/_head.ts): each carries its own bytes, and
// none is ever overwritten by a later one.

import assert from "node:assert/strict";
import { encodeForWrite, encodeLatin1 } from "../handshake/_head.ts";
import { mulberry32 } from "./_util.ts";

Deno.test("encodeForWrite() gives encodeLatin1()'s bytes, and keeps every earlier head intact across slabs", () => {
  const random = mulberry32(9);
  const kept: [Uint8Array, Uint8Array][] = [];
  // Enough heads to use up several slabs, some longer than a slab's share.
  for (let i = 0; i < 2000; i++) {
    const length = random() < 0.01
      ? 5000 + Math.floor(random() * 5000)
      : Math.floor(random() * 300);
    const text = String.fromCharCode(
      ...Array.from({ length }, () => Math.floor(random() * 256)),
    );
    const bytes = encodeForWrite(text);
    assert.deepEqual(bytes, encodeLatin1(text));
    kept.push([bytes, encodeLatin1(text)]);
  }
  for (const [bytes, expected] of kept) assert.deepEqual(bytes, expected);
});
