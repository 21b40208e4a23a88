import assert from "node:assert/strict";
import {
  FIELD_LINE,
  OWS_AT,
  parseFieldLine,
  REQUEST_LINE,
  TOKEN,
  TOKEN_AT,
} from "../_util/http_syntax.ts";

Deno.test("TOKEN accepts every tchar and nothing else", () => {
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    const tchar = /[0-9A-Za-z]/.test(ch) || "!#$%&'*+-.^_`|~".includes(ch);
    assert.equal(TOKEN.test(ch), tchar, `char ${c}`);
  }
  assert.equal(TOKEN.test(""), false);
});

Deno.test("TOKEN_AT and OWS_AT scan from lastIndex", () => {
  const value = "permessage-deflate ;  x";
  TOKEN_AT.lastIndex = 0;
  assert.equal(TOKEN_AT.exec(value)?.[0], "permessage-deflate");
  OWS_AT.lastIndex = TOKEN_AT.lastIndex;
  OWS_AT.exec(value);
  assert.equal(OWS_AT.lastIndex, 19);
});

Deno.test("REQUEST_LINE and FIELD_LINE match the RFC 9112 shapes", () => {
  assert.deepEqual(
    REQUEST_LINE.exec("GET /chat HTTP/1.1")?.slice(1),
    ["GET", "/chat", "1", "1"],
  );
  assert.equal(REQUEST_LINE.test("GET  /chat HTTP/1.1"), false);
  assert.equal(REQUEST_LINE.test("G(T / HTTP/1.1"), false);
  assert.equal(FIELD_LINE.test("Host: a"), true);
  assert.equal(FIELD_LINE.test("Host : a"), false);
  assert.equal(FIELD_LINE.test("Host: a\x01"), false);
});

Deno.test("parseFieldLine() trims the value and names each fault", () => {
  assert.deepEqual(parseFieldLine("Host: \t example.com \t"), [
    "Host",
    "example.com",
  ]);
  assert.deepEqual(parseFieldLine("X-Empty:"), ["X-Empty", ""]);
  assert.equal(parseFieldLine(" folded"), "folding");
  assert.equal(parseFieldLine("\tfolded"), "folding");
  assert.equal(parseFieldLine(": no name"), "name");
  assert.equal(parseFieldLine("Bad Name: x"), "name");
  assert.equal(parseFieldLine("no colon"), "name");
  assert.equal(parseFieldLine("X: a\x00b"), "value");
  assert.equal(parseFieldLine("X: a\x7fb"), "value");
});
