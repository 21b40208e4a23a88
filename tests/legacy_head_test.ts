// legacy/_head.ts driven directly: the head both sides of a draft write,
// and the resource and scheme rules of a dialled URL.

import assert from "node:assert/strict";
import { assertWebSocketUrl, head, resourceName } from "../legacy/_head.ts";

const decoder = new TextDecoder();

Deno.test("head() writes the start line, the fields in order and the blank line", () => {
  const bytes = head("GET /chat HTTP/1.1", [["Upgrade", "WebSocket"], [
    "Host",
    "example.com",
  ]]);
  assert.equal(
    decoder.decode(bytes),
    "GET /chat HTTP/1.1\r\nUpgrade: WebSocket\r\nHost: example.com\r\n\r\n",
  );
});

for (const bad of ["a\rb", "a\nb", "a\0b"]) {
  Deno.test(`head() refuses a value with ${JSON.stringify(bad[1])} with TypeError`, () => {
    assert.throws(
      () => head("GET / HTTP/1.1", [["Origin", bad]]),
      (error: unknown) =>
        error instanceof TypeError && /Origin value/.test(error.message),
    );
  });
}

Deno.test("resourceName() is the path and query, / for none", () => {
  assert.equal(resourceName(new URL("ws://a/chat?room=1")), "/chat?room=1");
  assert.equal(resourceName(new URL("ws://a")), "/");
});

Deno.test("assertWebSocketUrl() takes ws: and wss: and refuses others with TypeError", () => {
  assertWebSocketUrl(new URL("ws://a/"));
  assertWebSocketUrl(new URL("wss://a/"));
  assert.throws(() => assertWebSocketUrl(new URL("http://a/")), TypeError);
});
