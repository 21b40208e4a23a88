import assert from "node:assert/strict";
import { constants, deflateRawSync } from "node:zlib";
import { ProtocolError } from "../errors.ts";
import { ZlibFailure } from "../extensions/_deflate_engine.ts";
import { Inflater } from "../extensions/_inflater.ts";

const decoder = new TextDecoder();

function bytes(hex: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(hex.split(" ").map((pair) => parseInt(pair, 16)));
}

const HELLO = bytes("f2 48 cd c9 c9 07 00");
/** Hello again, as a back-reference into the previous message. */
const AGAIN = bytes("f2 00 11 00 00");

/** A message as RFC 7692 sends it: sync-flushed, without 00 00 ff ff. */
function compressed(data: Uint8Array, windowBits = 15): Uint8Array {
  const out = deflateRawSync(data, {
    windowBits,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

function protocolError(fn: () => unknown, code: string): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ProtocolError, String(caught));
  assert.equal(caught.code, code);
  return caught;
}

Deno.test("Inflater.decompress() restores a message whole and fragment by fragment", () => {
  const inflater = new Inflater(15, true);
  try {
    assert.equal(decoder.decode(inflater.decompress(HELLO, true, 5)), "Hello");
    const parts = [
      inflater.decompress(AGAIN.subarray(0, 2), false, 5),
      inflater.decompress(AGAIN.subarray(2), true, 5),
    ];
    assert.equal(parts.map((part) => decoder.decode(part)).join(""), "Hello");
  } finally {
    inflater.close();
  }
});

Deno.test("Inflater without context takeover resets between messages", () => {
  const inflater = new Inflater(15, false);
  try {
    inflater.decompress(HELLO, true, 5);
    const error = protocolError(
      () => inflater.decompress(AGAIN, true, 5),
      "BAD_COMPRESSED_DATA",
    );
    assert.equal(error.closeCode, 1007);
    assert.ok(error.cause instanceof ZlibFailure);
    assert.match(error.message, /^Cannot inflate message: /);
    // The failed context is gone; the next message gets a fresh one.
    assert.equal(decoder.decode(inflater.decompress(HELLO, true, 5)), "Hello");
  } finally {
    inflater.close();
  }
});

Deno.test("Inflater.decompress() restores exactly the limit and fails one byte over", () => {
  const inflater = new Inflater(15, true);
  try {
    const data = compressed(new Uint8Array(10000));
    assert.equal(inflater.decompress(data, true, 10000).length, 10000);
    const error = protocolError(
      () => inflater.decompress(data, true, 9999),
      "MESSAGE_TOO_LARGE",
    );
    assert.equal(error.closeCode, 1009);
    // The limit counts across fragments: neither half passes it alone.
    let seed = 7;
    const noise = new Uint8Array(10000).map(() => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    });
    const stored = compressed(noise);
    const half = stored.length >> 1;
    const first = inflater.decompress(stored.subarray(0, half), false, 9999);
    assert.ok(first.length > 0 && first.length < 9999, `${first.length}`);
    protocolError(
      () => inflater.decompress(stored.subarray(half), true, 9999),
      "MESSAGE_TOO_LARGE",
    );
  } finally {
    inflater.close();
  }
});

Deno.test("Inflater.decompress() inflates an 8-bit window with 9 bits", () => {
  const inflater = new Inflater(8, true);
  try {
    const data = new Uint8Array(5000).map((_, i) => i % 200);
    const restored = inflater.decompress(compressed(data, 9), true, 5000);
    assert.deepEqual(restored, data);
  } finally {
    inflater.close();
  }
});

Deno.test("Inflater.decompress() starts a new stream after a final block", () => {
  const inflater = new Inflater(15, true);
  try {
    const final = bytes("f3 48 cd c9 c9 07 00 00");
    assert.equal(decoder.decode(inflater.decompress(final, true, 5)), "Hello");
    assert.equal(decoder.decode(inflater.decompress(final, true, 5)), "Hello");
    // 01 + the appended 00 00 ff ff ends the stream unseen; the next
    // message, not consumed, shows it.
    assert.equal(inflater.decompress(bytes("01"), true, 5).length, 0);
    assert.equal(decoder.decode(inflater.decompress(HELLO, true, 5)), "Hello");
    // Empty messages restore to nothing and keep the window.
    assert.equal(inflater.decompress(bytes("00"), true, 0).length, 0);
    assert.equal(inflater.decompress(new Uint8Array(0), true, 0).length, 0);
    assert.equal(decoder.decode(inflater.decompress(AGAIN, true, 5)), "Hello");
  } finally {
    inflater.close();
  }
});
