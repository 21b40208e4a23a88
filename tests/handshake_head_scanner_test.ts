// HeadScanner (handshake/_head_scanner.ts) driven directly: the grammar
// table on whole heads, on every split, and the offset and wording of the
// first bad byte's error.

import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import { HeadScanner } from "../handshake/_head_scanner.ts";
import { everySplit } from "./_util.ts";

const encoder = new TextEncoder();

const REQUEST = encoder.encode(
  "GET /chat?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Empty:\r\n" +
    "Upgrade: \t websocket \r\n\r\n",
);
const RESPONSE = encoder.encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
);

/** Scans `parts` in order; returns the end index within the whole input. */
function scanAll(scanner: HeadScanner, parts: Uint8Array[]): number {
  let offset = 0;
  for (const part of parts) {
    const end = scanner.scan(part, part.length, offset);
    if (end >= 0) return offset + end;
    offset += part.length;
  }
  return -1;
}

function assertBadRequest(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.code, "BAD_REQUEST");
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("HeadScanner.scan() finds the end of a request head at every split", () => {
  for (const parts of everySplit(REQUEST)) {
    assert.equal(scanAll(new HeadScanner(true), parts), REQUEST.length);
  }
});

Deno.test("HeadScanner.scan() finds the end of a response head at every split", () => {
  for (const parts of everySplit(RESPONSE)) {
    assert.equal(scanAll(new HeadScanner(false), parts), RESPONSE.length);
  }
});

Deno.test("HeadScanner.scan() takes a status line without a reason phrase", () => {
  const head = encoder.encode("HTTP/1.1 204\r\n\r\n");
  assert.equal(new HeadScanner(false).scan(head, head.length, 0), head.length);
});

Deno.test("HeadScanner.scan() stops at the blank line and leaves what follows", () => {
  const bytes = encoder.encode("HTTP/1.1 101 OK\r\n\r\n\x81\x00");
  assert.equal(new HeadScanner(false).scan(bytes, bytes.length, 0), 19);
});

Deno.test("HeadScanner.scan() looks only at the first `end` bytes", () => {
  const scanner = new HeadScanner(true);
  assert.equal(scanner.scan(REQUEST, REQUEST.length - 1, 0), -1);
  const last = REQUEST.subarray(REQUEST.length - 1);
  assert.equal(scanner.scan(last, 1, REQUEST.length - 1), 1);
});

for (
  const [name, text, message] of [
    [
      "a space in a header name",
      "GET / HTTP/1.1\r\nBad Name: x\r\n",
      /0x20 at offset 19/,
    ],
    [
      "a bare LF in the request line",
      "GET /\n",
      /request line: bare LF at offset 5/,
    ],
    [
      "a bare CR in a header line",
      "GET / HTTP/1.1\r\nA: b\rc",
      /header line: bare CR at offset 20/,
    ],
    [
      "line folding",
      "GET / HTTP/1.1\r\nA: b\r\n c",
      /line folding .* offset 22/,
    ],
    ["a lower-case version", "GET / http/1.1\r\n", /0x68 at offset 6/],
    ["a NUL in a value", "GET / HTTP/1.1\r\nA: \0", /0x00 at offset 19/],
    [
      "a TLS ClientHello",
      "\x16\x03\x01",
      /request line: unexpected byte 0x16 at offset 0/,
    ],
  ] as const
) {
  Deno.test(`HeadScanner.scan() refuses ${name} at its first bad byte, at every split`, () => {
    const bytes = encoder.encode(text);
    for (const parts of everySplit(bytes)) {
      assertBadRequest(() => scanAll(new HeadScanner(true), parts), message);
    }
  });
}

Deno.test("HeadScanner.scan() refuses a status line with two-digit status", () => {
  const bytes = encoder.encode("HTTP/1.1 20 OK\r\n");
  assertBadRequest(
    () => new HeadScanner(false).scan(bytes, bytes.length, 0),
    /status line: unexpected byte 0x20 at offset 11/,
  );
});

Deno.test("HeadScanner.skipEmptyLines() skips up to two CRLFs before the request line", () => {
  const scanner = new HeadScanner(true);
  assert.equal(scanner.atStart, true);
  const lead = encoder.encode("\r\n\r\nGET");
  assert.equal(scanner.skipEmptyLines(lead), 4);
  assert.equal(scanner.skipEmptyLines(encoder.encode("GET")), 0);
  assert.equal(scanner.scan(encoder.encode("GET"), 3, 0), -1);
  assert.equal(scanner.atStart, false);
});

Deno.test("HeadScanner.skipEmptyLines() refuses a third empty line and a bare CR", () => {
  assertBadRequest(
    () => new HeadScanner(true).skipEmptyLines(encoder.encode("\r\n\r\n\r\n")),
    /more than 2 empty lines/,
  );
  assertBadRequest(
    () => new HeadScanner(true).skipEmptyLines(encoder.encode("\rG")),
    /bare CR at offset 0/,
  );
});

Deno.test("HeadScanner error offsets count the skipped empty lines", () => {
  const scanner = new HeadScanner(true);
  assert.equal(scanner.skipEmptyLines(encoder.encode("\r\n")), 2);
  assertBadRequest(
    () => scanner.scan(encoder.encode("GET\0"), 4, 0),
    /0x00 at offset 5/,
  );
});

Deno.test("HeadScanner.atStart is false for a response scanner", () => {
  assert.equal(new HeadScanner(false).atStart, false);
});

Deno.test("HeadScanner.reset() makes the scanner ready for the next head", () => {
  const scanner = new HeadScanner(false);
  const half = RESPONSE.subarray(0, 11);
  assert.equal(scanner.scan(half, half.length, 0), -1);
  scanner.reset();
  assert.equal(scanner.scan(RESPONSE, RESPONSE.length, 0), RESPONSE.length);
  scanner.reset();
  assert.equal(scanner.scan(RESPONSE, RESPONSE.length, 0), RESPONSE.length);
});
