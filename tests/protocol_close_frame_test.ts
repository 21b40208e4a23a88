import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import {
  closePayload,
  failureReason,
  isValidCloseCode,
  parseClosePayload,
} from "../protocol/_close_frame.ts";

const encoder = new TextEncoder();

Deno.test("closePayload() and parseClosePayload() round-trip a code and reason", () => {
  const payload = closePayload(4001, encoder.encode("bye ✓"));
  assert.deepEqual([...payload.subarray(0, 2)], [0x0f, 0xa1]);
  assert.deepEqual(parseClosePayload(payload), { code: 4001, reason: "bye ✓" });
  assert.deepEqual(parseClosePayload(new Uint8Array()), {
    code: 1005,
    reason: "",
  });
});

Deno.test("parseClosePayload() refuses one byte, a code never sent, and a reason not UTF-8", () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([3]), "BAD_CLOSE_PAYLOAD"],
    [new Uint8Array([0x03, 0xed]), "BAD_CLOSE_CODE"], // 1005
    [new Uint8Array([0x03, 0xee]), "BAD_CLOSE_CODE"], // 1006
    [new Uint8Array([0x03, 0xe8, 0xc0]), "INVALID_UTF8"],
  ];
  for (const [payload, code] of cases) {
    assert.throws(
      () => parseClosePayload(payload),
      (e) => e instanceof ProtocolError && e.code === code,
      code,
    );
  }
});

Deno.test("isValidCloseCode() admits the codes RFC 6455 lets go on the wire", () => {
  const valid = [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999];
  const invalid = [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5, NaN];
  for (const code of valid) {
    assert.equal(isValidCloseCode(code), true, `${code}`);
  }
  for (const code of invalid) {
    assert.equal(isValidCloseCode(code), false, `${code}`);
  }
});

Deno.test("failureReason() sends the message, or the code when the message is too long", () => {
  const short = new ProtocolError("BAD_LENGTH", "Bad length");
  assert.deepEqual(failureReason(short), encoder.encode("Bad length"));
  const long = new ProtocolError("FRAME_TOO_LARGE", "x".repeat(124));
  assert.deepEqual(failureReason(long), encoder.encode("FRAME_TOO_LARGE"));
});
