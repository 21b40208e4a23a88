import assert from "node:assert/strict";
import { decodeEnvelope, encodeEnvelope } from "../fanout/_envelope.ts";
import * as bus from "../fanout/bus.ts";

Deno.test("encodeEnvelope() and decodeEnvelope() round-trip text and bytes", () => {
  const text = encodeEnvelope("node-a", 7, "héllo");
  assert.deepEqual([...text.subarray(0, 3)], [1, 0, 6]);
  assert.deepEqual(decodeEnvelope(text), {
    origin: "node-a",
    seq: 7,
    payload: "héllo",
  });
  const bytes = new Uint8Array([0, 1, 2, 255]);
  const binary = encodeEnvelope("", 2 ** 53 - 1, bytes);
  assert.equal(binary[1], 1);
  const decoded = decodeEnvelope(binary)!;
  assert.deepEqual(decoded, { origin: "", seq: 2 ** 53 - 1, payload: bytes });
  // The payload is a copy: the envelope's buffer may be reused.
  binary[binary.length - 1] = 0;
  assert.deepEqual(decoded.payload, bytes);
  // From inside a larger buffer, at an odd offset.
  const padded = new Uint8Array(text.length + 3);
  padded.set(text, 3);
  assert.equal(decodeEnvelope(padded.subarray(3))?.payload, "héllo");
});

Deno.test("decodeEnvelope() refuses what is not an envelope", () => {
  const good = encodeEnvelope("n", 1, "x");
  assert.equal(decodeEnvelope(new Uint8Array([9])), undefined);
  assert.equal(decodeEnvelope(good.subarray(0, 10)), undefined);
  const version = good.slice();
  version[0] = 2;
  assert.equal(decodeEnvelope(version), undefined);
  const kind = good.slice();
  kind[1] = 2;
  assert.equal(decodeEnvelope(kind), undefined);
  const long = good.slice();
  long[2] = 200; // an origin longer than the envelope
  assert.equal(decodeEnvelope(long), undefined);
  for (const seq of [0, 1.5, -1, 2 ** 53]) {
    assert.equal(decodeEnvelope(encodeEnvelope("n", seq, "x")), undefined);
  }
  assert.throws(() => encodeEnvelope("n".repeat(256), 1, "x"), RangeError);
});

Deno.test("bus.ts still exports the envelope functions", () => {
  assert.equal(bus.encodeEnvelope, encodeEnvelope);
  assert.equal(bus.decodeEnvelope, decodeEnvelope);
});
