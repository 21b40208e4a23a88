import assert from "node:assert/strict";
import { constants, inflateRawSync } from "node:zlib";
import { Deflater, type DeflaterInit } from "../extensions/_deflater.ts";

const encoder = new TextEncoder();
const HELLOS = encoder.encode("Hello, Hello, Hello, Hello, Hello");
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

function deflater(init: Partial<DeflaterInit> = {}): Deflater {
  return new Deflater({
    windowBits: 15,
    takeover: true,
    threshold: 0,
    level: 3,
    memLevel: 8,
    ...init,
  });
}

/** What a receiver restores from messages sent one after another. */
function inflateAll(messages: Uint8Array[]): Uint8Array {
  const stream = messages.flatMap((message) => [...message, ...TAIL]);
  return new Uint8Array(inflateRawSync(new Uint8Array(stream), {
    finishFlush: constants.Z_SYNC_FLUSH,
  }));
}

Deno.test("Deflater.compress() leaves empty, small and 8-bit-window messages as they are", () => {
  const small = deflater({ threshold: 100 });
  assert.equal(small.compress(new Uint8Array(0)), undefined);
  assert.equal(small.compress(HELLOS), undefined);
  assert.ok(small.compress(new Uint8Array(100)));
  small.close();
  const narrow = deflater({ windowBits: 8 });
  assert.equal(narrow.compress(new Uint8Array(1000)), undefined);
  assert.equal(
    narrow.compressPart(new Uint8Array(1000), true, false),
    undefined,
  );
  narrow.close();
});

Deno.test("Deflater.compress() strips the sync flush and keeps the window with context takeover", () => {
  const kept = deflater();
  try {
    const first = kept.compress(HELLOS)!;
    const second = kept.compress(HELLOS)!;
    assert.ok(second.length < first.length, "the second refers back");
    assert.deepEqual(
      inflateAll([first, second]),
      new Uint8Array([...HELLOS, ...HELLOS]),
    );
  } finally {
    kept.close();
  }
});

Deno.test("Deflater.compress() without context takeover starts afresh and gives up on what does not shrink", () => {
  const reset = deflater({ takeover: false });
  try {
    const first = reset.compress(HELLOS)!;
    assert.deepEqual(reset.compress(HELLOS), first);
    assert.deepEqual(inflateAll([first]), HELLOS);
    // Five bytes of text compress to seven.
    assert.equal(reset.compress(encoder.encode("Hello")), undefined);
  } finally {
    reset.close();
  }
});

Deno.test("Deflater.compressPart() makes parts the peer restores as they come", () => {
  const parts = deflater();
  try {
    const a = parts.compressPart(HELLOS, true, false)!;
    const b = parts.compressPart(new Uint8Array(0), false, false)!;
    const c = parts.compressPart(HELLOS, false, true)!;
    assert.equal(b.length, 0);
    // Only the last part loses its 00 00 ff ff.
    assert.deepEqual(a.subarray(-4), TAIL);
    assert.notDeepEqual(c.subarray(-4), TAIL);
    const message = new Uint8Array([...a, ...b, ...c]);
    assert.deepEqual(
      inflateAll([message]),
      new Uint8Array([...HELLOS, ...HELLOS]),
    );
    // The part restores on its own, before the rest arrives.
    assert.deepEqual(
      new Uint8Array(
        inflateRawSync(a, { finishFlush: constants.Z_SYNC_FLUSH }),
      ),
      HELLOS,
    );
  } finally {
    parts.close();
  }
});

Deno.test("Deflater.compressPart() sends an empty message as it is and ends a message on an empty last part", () => {
  const parts = deflater({ takeover: false });
  try {
    assert.equal(parts.compressPart(new Uint8Array(0), true, true), undefined);
    const first = parts.compressPart(HELLOS, true, false)!;
    const last = parts.compressPart(new Uint8Array(0), false, true)!;
    // One empty stored block's header byte; the appended tail completes it.
    assert.deepEqual(last, new Uint8Array([0]));
    assert.deepEqual(inflateAll([new Uint8Array([...first, ...last])]), HELLOS);
    // Without context takeover the next message starts afresh.
    assert.deepEqual(parts.compressPart(HELLOS, true, false), first);
  } finally {
    parts.close();
  }
});

Deno.test("Deflater.close() frees the context; the next message starts a new one", () => {
  const kept = deflater();
  const first = kept.compress(HELLOS)!;
  kept.close();
  kept.close();
  assert.deepEqual(kept.compress(HELLOS), first);
  kept.close();
});
