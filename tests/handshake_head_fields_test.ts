// The heads the handshakes read without a `Headers`: HeaderFields answers
// as `Headers.get` would, the `Headers` is made only when asked for, and the
// checks of both handshakes read the fields without making it.

import assert from "node:assert/strict";
import type { HandshakeError } from "../errors.ts";
import {
  buildUpgradeResponse,
  parseRequestHead,
  parseResponseHead,
  validateUpgradeRequest,
  validateUpgradeResponse,
} from "../handshake.ts";
import {
  HeaderFields,
  ParsedRequestHead,
  ParsedResponseHead,
  readRequestHead,
  readResponseHead,
} from "../handshake/_head.ts";
import { checkUpgradeResponse } from "../handshake/_client.ts";
import { mulberry32 } from "./_util.ts";

const encoder = new TextEncoder();
const bytes = (lines: string[]) =>
  encoder.encode(lines.join("\r\n") + "\r\n\r\n");

const UPGRADE = [
  "GET /chat HTTP/1.1",
  "Host: example.com",
  "Upgrade: websocket",
  "Connection: keep-alive, Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
  "Sec-WebSocket-Protocol: chat.v2",
  "sec-websocket-protocol: chat.v1",
  "Origin: http://example.com",
];

function thrown(run: () => unknown): HandshakeError {
  try {
    run();
  } catch (error) {
    return error as HandshakeError;
  }
  throw new Error("Nothing was thrown");
}

// Makes any read of `headers` fail: what reads only the fields passes.
function withoutHeaders<T extends object>(head: T): T {
  Object.defineProperty(head, "headers", {
    get() {
      throw new Error("headers was made");
    },
  });
  return head;
}

Deno.test("HeaderFields answers get() and has() as Headers does, for random names, cases, repeats and values", () => {
  const random = mulberry32(5);
  const names = ["A", "b-c", "Sec-WebSocket-Protocol", "X", "host", "Y-z"];
  const values = ["", "v", "a b", "\x80\xff", "x,y", "tok"];
  for (let round = 0; round < 300; round++) {
    const fields = new HeaderFields();
    const headers = new Headers();
    const count = Math.floor(random() * 8);
    for (let i = 0; i < count; i++) {
      let name = names[Math.floor(random() * names.length)];
      if (random() < 0.5) name = name.toUpperCase();
      const value = values[Math.floor(random() * values.length)];
      fields.add(name, value);
      headers.append(name, value);
    }
    for (const name of names) {
      for (const asked of [name, name.toLowerCase(), name.toUpperCase()]) {
        assert.equal(fields.get(asked), headers.get(asked), asked);
        assert.equal(fields.has(asked), headers.has(asked), asked);
      }
    }
    assert.deepEqual([...fields.toHeaders()], [...headers]);
  }
});

Deno.test("readRequestHead() gives what parseRequestHead() gives, its Headers made once on first use", () => {
  const head = bytes(UPGRADE);
  const parsed = readRequestHead(head);
  const plain = parseRequestHead(head);
  assert.equal(parsed.method, plain.method);
  assert.equal(parsed.target, plain.target);
  assert.equal(parsed.version, plain.version);
  assert.deepEqual([...parsed.headers], [...plain.headers]);
  assert.equal(parsed.headers, parsed.headers);
  assert.equal(parsed.fields.get("sec-websocket-protocol"), "chat.v2, chat.v1");
});

Deno.test("readRequestHead() and readResponseHead() fail as the parse functions do", () => {
  const requests = [
    ["GET / HTTP/1.1", " folded"],
    ["GET / HTTP/1.1", "Bad Name: x"],
    ["GET / HTTP/1.1", "X: a\x01b"],
    ["GET /"],
  ];
  for (const lines of requests) {
    const expected = thrown(() => parseRequestHead(bytes(lines)));
    const error = thrown(() => readRequestHead(bytes(lines)));
    assert.equal(error.message, expected.message);
    assert.equal(error.status, 400);
  }
  const responses = [["HTTP/1.1 10 Bad"], ["HTTP/1.1 101 OK", "X y"]];
  for (const lines of responses) {
    const expected = thrown(() => parseResponseHead(bytes(lines)));
    const error = thrown(() => readResponseHead(bytes(lines)));
    assert.equal(error.message, expected.message);
    assert.equal(error.code, "BAD_REQUEST");
  }
});

Deno.test("validateUpgradeRequest() reads a ParsedRequestHead's fields without making its Headers", () => {
  const head = bytes(UPGRADE);
  const expected = validateUpgradeRequest(parseRequestHead(head));
  const parsed = withoutHeaders(readRequestHead(head));
  assert.deepEqual(validateUpgradeRequest(parsed), expected);
  assert.deepEqual(expected.protocols, ["chat.v2", "chat.v1"]);
  // A ParsedRequestHead over a Headers (the HTTP path's handoff) reads it.
  const over = new ParsedRequestHead(
    "GET",
    "/chat",
    "1.1",
    parseRequestHead(head).headers,
  );
  assert.deepEqual(validateUpgradeRequest(over), expected);
  const bad = withoutHeaders(
    readRequestHead(bytes(UPGRADE.filter((l) => !l.startsWith("Host")))),
  );
  assert.throws(
    () => validateUpgradeRequest(bad),
    (error: HandshakeError) => error.code === "BAD_HOST",
  );
});

Deno.test("checkUpgradeResponse() reads a ParsedResponseHead's fields, and its error keeps the response's Headers", async () => {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const ok = await buildUpgradeResponse({ key, protocol: "chat" });
  const parsed = readResponseHead(ok);
  assert.deepEqual(
    checkUpgradeResponse(withoutHeaders(readResponseHead(ok)), {
      key,
      protocols: ["chat"],
    }),
    await validateUpgradeResponse(parseResponseHead(ok), {
      key,
      protocols: ["chat"],
    }),
  );
  assert.ok(parsed instanceof ParsedResponseHead);
  const refused = readResponseHead(
    bytes(["HTTP/1.1 403 Forbidden", "X-Why: origin"]),
  );
  const { response, code } = thrown(() =>
    checkUpgradeResponse(refused, { key })
  );
  assert.equal(code, "BAD_STATUS");
  assert.equal(response?.status, 403);
  assert.ok(response?.headers instanceof Headers);
  assert.equal(response?.headers.get("x-why"), "origin");
});
