// The upgrade request as a fetch Request (server/_request.ts): its URL and
// its headers, from the bytes of a parsed head.

import assert from "node:assert/strict";
import { HandshakeError } from "../mod.ts";
import { parseRequestHead } from "../handshake.ts";
import { makeRequest, requestBuilder, requestUrl } from "../server/_request.ts";

const encode = (text: string) =>
  Uint8Array.from(text, (char) => char.charCodeAt(0));

Deno.test("requestUrl() makes the URL from Host and the target", () => {
  const head = parseRequestHead(
    encode("GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
  );
  assert.equal(
    requestUrl(head, false).href,
    "http://example.com:8080/chat?room=1",
  );
  assert.equal(
    requestUrl(head, true).href,
    "https://example.com:8080/chat?room=1",
  );
});

Deno.test("requestUrl() answers a missing or bad Host with 400", () => {
  for (
    const text of [
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    ]
  ) {
    const head = parseRequestHead(encode(text));
    const error = (() => {
      try {
        requestUrl(head, false);
      } catch (error) {
        return error;
      }
    })();
    assert.ok(error instanceof HandshakeError, text);
    assert.equal(error.status, 400);
    assert.equal(error.code, "BAD_HOST");
  }
});

Deno.test("makeRequest() carries every header line, trimmed, repeated ones joined", () => {
  const bytes = encode(
    "GET /x HTTP/1.1\r\nHost: a.test\r\nX-A: \t one \t\r\nx-a: two\r\n" +
      "Empty:\r\nLatin: caf\xe9\r\n\r\n",
  );
  const request = makeRequest(bytes, "http://a.test/x", "GET");
  assert.equal(request.method, "GET");
  assert.equal(request.url, "http://a.test/x");
  assert.equal(request.headers.get("x-a"), "one, two");
  assert.equal(request.headers.get("empty"), "");
  assert.equal(request.headers.get("latin"), "caf\xe9");
  assert.equal(request.headers.get("host"), "a.test");
});

Deno.test("requestBuilder() makes a new Request on each call, with the method", () => {
  const bytes = encode("HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n");
  const build = requestBuilder(bytes, "http://a.test/", "HEAD");
  const first = build();
  assert.equal(first.method, "HEAD");
  assert.notEqual(build(), first);
});
