import assert from "node:assert/strict";
import { badRequest, checkedField, latin1 } from "../_util/http_head.ts";
import { HandshakeError } from "../errors.ts";

Deno.test("latin1() decodes one character per byte, ASCII or not", () => {
  assert.equal(latin1(new TextEncoder().encode("Host: a\r\n")), "Host: a\r\n");
  const bytes = new Uint8Array(10_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  const text = latin1(bytes);
  assert.equal(text.length, bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    assert.equal(text.charCodeAt(i), bytes[i]);
  }
  assert.equal(latin1(new Uint8Array([0x61, 0xe9])), "a\xe9");
  assert.equal(latin1(new Uint8Array(0)), "");
});

Deno.test("checkedField() splits a field line and trims its value", () => {
  assert.deepEqual(checkedField("Host:  a b \t"), ["Host", "a b"]);
  assert.deepEqual(checkedField("X-Obs: \xe9"), ["X-Obs", "\xe9"]);
});

Deno.test("checkedField() answers each fault with a 400 that names it", () => {
  const cases: [string, string][] = [
    [" folded", "Invalid HTTP head: obsolete line folding"],
    ["Bad Name: x", 'Invalid HTTP header line: "Bad Name: x"'],
    ["no colon", 'Invalid HTTP header line: "no colon"'],
    ["X-Ctl: a\x01", "Invalid value in HTTP header X-Ctl"],
  ];
  for (const [line, message] of cases) {
    assert.throws(() => checkedField(line), (error) => {
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.code, "BAD_REQUEST");
      assert.equal(error.status, 400);
      assert.equal(error.message, message);
      return true;
    });
  }
  assert.equal(badRequest("x").status, 400);
});
