import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import {
  checkHeaderStart,
  encodeFrameHeader,
  firstHeaderByte,
  frameHeaderSize,
  readPayloadLength,
  writeFrameHeader,
} from "../protocol/_frame_header.ts";

const LENGTHS = [
  0,
  1,
  125,
  126,
  127,
  0xffff,
  0x10000,
  2 ** 32 + 5,
  2 ** 53 - 1,
];

Deno.test("writeFrameHeader() writes at an offset what encodeFrameHeader() writes at 0", () => {
  for (const length of LENGTHS) {
    for (const masked of [false, true]) {
      const key = masked ? new Uint8Array([1, 2, 3, 4]) : undefined;
      const expected = new Uint8Array(14);
      const size = encodeFrameHeader(expected, { opcode: 2 }, length, key);
      assert.equal(size, frameHeaderSize(length, masked));
      const target = new Uint8Array(30).fill(0xee);
      const o = writeFrameHeader(target, 5, 0x82, length, masked);
      // It stops where the key (or the payload) goes.
      assert.equal(o, 5 + size - (masked ? 4 : 0), `${length} ${masked}`);
      assert.deepEqual(
        target.subarray(5, o),
        expected.subarray(0, o - 5),
        `${length} ${masked}`,
      );
      assert.deepEqual(target.subarray(0, 5), new Uint8Array(5).fill(0xee));
      assert.equal(target[o], 0xee);
    }
  }
});

Deno.test("readPayloadLength() reads back every length written", () => {
  for (const length of LENGTHS) {
    const header = new Uint8Array(14);
    writeFrameHeader(header, 0, 0x82, length, true);
    assert.equal(readPayloadLength(header), length);
  }
});

Deno.test("readPayloadLength() rejects a 64-bit length with its top bit set", () => {
  const header = new Uint8Array([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]);
  assert.throws(
    () => readPayloadLength(header),
    (e) => e instanceof ProtocolError && e.code === "BAD_LENGTH",
  );
});

Deno.test("firstHeaderByte() sets FIN by default and each RSV bit on request", () => {
  assert.equal(firstHeaderByte({ opcode: 1 }), 0x81);
  assert.equal(firstHeaderByte({ opcode: 0, fin: false }), 0x00);
  assert.equal(
    firstHeaderByte({ opcode: 2, rsv1: true, rsv2: true, rsv3: true }),
    0xf2,
  );
  assert.equal(firstHeaderByte({ opcode: 0x1a }), 0x8a);
});

Deno.test("checkHeaderStart() returns the header size of frames that break no rule", () => {
  assert.equal(checkHeaderStart(0x81, 0x85, 0, "server"), 6);
  assert.equal(checkHeaderStart(0x81, 0x05, 0, "client"), 2);
  assert.equal(checkHeaderStart(0x82, 126, 0, "client"), 4);
  assert.equal(checkHeaderStart(0x82, 0x80 | 127, 0, undefined), 14);
  assert.equal(checkHeaderStart(0xc1, 0x05, 0x40, "client"), 2);
  assert.equal(checkHeaderStart(0x89, 125, 0, "client"), 2);
});

Deno.test("checkHeaderStart() reports the first rule broken, in the RFC's order", () => {
  const cases: [number, number, number, "client" | "server", string][] = [
    // Reserved bits come first, even with a reserved opcode and no mask.
    [0xb3, 0x05, 0, "server", "RESERVED_BITS"],
    [0xc1, 0x05, 0, "client", "RESERVED_BITS"],
    [0x83, 0x85, 0, "server", "RESERVED_OPCODE"],
    [0x8b, 0x05, 0, "client", "RESERVED_OPCODE"],
    [0x09, 126, 0, "client", "FRAGMENTED_CONTROL_FRAME"],
    [0x88, 126, 0, "client", "CONTROL_FRAME_TOO_LONG"],
    [0x81, 0x05, 0, "server", "UNMASKED_FRAME"],
    [0x81, 0x85, 0, "client", "MASKED_FRAME"],
  ];
  for (const [first, second, rsv, role, code] of cases) {
    assert.throws(
      () => checkHeaderStart(first, second, rsv, role),
      (e) => e instanceof ProtocolError && e.code === code,
      `${first.toString(16)} ${second.toString(16)}: ${code}`,
    );
  }
});
