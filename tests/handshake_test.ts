import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import {
  buildResponseHead,
  buildUpgradeRequest,
  buildUpgradeResponse,
  computeAccept,
  createClientKey,
  DEFAULT_MAX_HEAD_SIZE,
  hasToken,
  headerTokens,
  type HeadKind,
  HeadReader,
  type HeadResult,
  hostHeader,
  isUpgradeRequest,
  isValidClientKey,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  selectProtocol,
  validateUpgradeRequest,
  validateUpgradeResponse,
  WEBSOCKET_GUID,
} from "../handshake.ts";
import { concat, everySplit, mulberry32, randomBytes } from "./_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The key and accept value of RFC 6455 section 1.3. */
const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** The client handshake of RFC 6455 section 1.3. */
const RFC_REQUEST = "GET /chat HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
  "Origin: http://example.com\r\n" +
  "Sec-WebSocket-Protocol: chat, superchat\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

/** Bytes of a Latin-1 string (obs-text included). */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function assertHandshakeError(
  fn: () => unknown,
  code: string,
  status?: number,
): HandshakeError {
  let caught: HandshakeError | undefined;
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.code, code);
    if (status !== undefined) assert.equal(error.status, status);
    caught = error;
    return true;
  });
  return caught!;
}

async function assertRejectsHandshakeError(
  promise: Promise<unknown>,
  code: string,
): Promise<HandshakeError> {
  let caught: HandshakeError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.code, code);
    caught = error;
    return true;
  });
  return caught!;
}

/**
 * Feeds chunks to a new reader; returns the result and every byte that came
 * after the head (the result's rest and the chunks not yet pushed).
 */
function readHead(
  chunks: Uint8Array[],
  maxSize?: number,
  kind?: HeadKind,
): { result: HeadResult; after: Uint8Array } | undefined {
  const reader = new HeadReader(maxSize, { kind });
  for (let i = 0; i < chunks.length; i++) {
    const result = reader.push(chunks[i]);
    if (result) {
      return { result, after: concat(result.rest, ...chunks.slice(i + 1)) };
    }
  }
  return undefined;
}

function request(lines: string[]): RequestHead {
  return parseRequestHead(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
}

/** A valid RFC 6455 request head, with fields replaced or removed. */
function upgradeRequest(
  changes: Record<string, string | null> = {},
  first = "GET /chat HTTP/1.1",
): RequestHead {
  const fields: Record<string, string | null> = {
    Host: "server.example.com",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": RFC_KEY,
    "Sec-WebSocket-Version": "13",
    ...changes,
  };
  const lines = [first];
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null) lines.push(`${name}: ${value}`);
  }
  return request(lines);
}

async function upgradeResponse(
  changes: Record<string, string | null> = {},
  first = "HTTP/1.1 101 Switching Protocols",
): Promise<ResponseHead> {
  const fields: Record<string, string | null> = {
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Accept": await computeAccept(RFC_KEY),
    ...changes,
  };
  let text = first + "\r\n";
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  return parseResponseHead(encoder.encode(text + "\r\n"));
}

// Accept key.

Deno.test("computeAccept() gives the RFC 6455 section 1.3 accept value", async () => {
  assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  assert.equal(await computeAccept(RFC_KEY), RFC_ACCEPT);
});

Deno.test("computeAccept() differs for different keys", async () => {
  assert.notEqual(await computeAccept("AQIDBAUGBwgJCgsMDQ4PEA=="), RFC_ACCEPT);
});

// HeadReader.

Deno.test("HeadReader reads the RFC 6455 request head at every split", () => {
  const bytes = encoder.encode(RFC_REQUEST);
  for (const kind of ["any", "request"] as const) {
    for (const chunks of everySplit(bytes)) {
      const read = readHead(chunks, undefined, kind);
      assert.ok(read, `${kind} split ${chunks.map((c) => c.length).join("+")}`);
      assert.deepEqual(read.result.head, bytes);
      assert.equal(read.after.length, 0);
    }
  }
});

Deno.test("HeadReader hands on the bytes after the head at every split", () => {
  const head = encoder.encode(RFC_REQUEST);
  const after = new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]);
  const bytes = concat(head, after);
  for (const kind of ["any", "request"] as const) {
    for (const chunks of everySplit(bytes)) {
      const read = readHead(chunks, undefined, kind);
      assert.ok(read);
      assert.deepEqual(read.result.head, head);
      assert.deepEqual(read.after, after);
    }
  }
});

Deno.test("HeadReader returns undefined until the blank line and counts buffered bytes", () => {
  for (const kind of ["any", "response"] as const) {
    const reader = new HeadReader(undefined, { kind });
    assert.equal(reader.push(encoder.encode("HTTP/1.1 101 OK\r\n")), undefined);
    assert.equal(reader.bufferedBytes, 17);
    assert.equal(reader.push(encoder.encode("A: b\r\n\r")), undefined);
    const result = reader.push(latin1("\n\x81"));
    assert.ok(result);
    assert.equal(
      decoder.decode(result.head),
      "HTTP/1.1 101 OK\r\nA: b\r\n\r\n",
    );
    assert.deepEqual(result.rest, new Uint8Array([0x81]));
  }
});

Deno.test("HeadReader does not take bare LF LF or CR CR for the blank line", () => {
  const reader = new HeadReader();
  assert.equal(
    reader.push(encoder.encode("GET / HTTP/1.1\n\nHost: a\r\r\n")),
    undefined,
  );
  assert.ok(reader.push(encoder.encode("\r\n")));
});

Deno.test("HeadReader hands on a large rest from a chunk bigger than the limit", () => {
  const head = encoder.encode("HTTP/1.1 101 Switching Protocols\r\n\r\n");
  const rest = new Uint8Array(100_000).map((_, i) => i & 0xff);
  for (const kind of ["any", "response"] as const) {
    const read = readHead([concat(head, rest)], 64, kind);
    assert.ok(read);
    assert.deepEqual(read.result.head, head);
    assert.equal(read.after.length, rest.length);
    assert.deepEqual(read.after, rest);
  }
});

Deno.test("HeadReader accepts a head at exactly the limit at every split", () => {
  // The limit counts the head before its blank line.
  const bytes = encoder.encode("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const limit = bytes.length - 4;
  for (const kind of ["any", "request"] as const) {
    for (const chunks of everySplit(bytes)) {
      const read = readHead(chunks, limit, kind);
      assert.ok(read, `${kind} split ${chunks.map((c) => c.length).join("+")}`);
      assert.deepEqual(read.result.head, bytes);
    }
  }
});

Deno.test("HeadReader fails with HEADERS_TOO_LARGE and 431 one byte over the limit at every split", () => {
  const bytes = encoder.encode("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const limit = bytes.length - 5;
  for (const kind of ["any", "request"] as const) {
    for (const chunks of everySplit(bytes)) {
      assertHandshakeError(
        () => readHead(chunks, limit, kind),
        "HEADERS_TOO_LARGE",
        431,
      );
    }
  }
});

Deno.test("HeadReader fails with HEADERS_TOO_LARGE before the blank line arrives", () => {
  for (const kind of ["any", "request"] as const) {
    const reader = new HeadReader(100, { kind });
    const line = encoder.encode("X-Filler: aaaaaaaaaaaaaaaaaaaaaa\r\n"); // 34 bytes
    reader.push(encoder.encode("GET / HTTP/1.1\r\n"));
    reader.push(line);
    reader.push(line);
    const error = assertHandshakeError(
      () => {
        for (let i = 0; i < 10; i++) reader.push(line);
      },
      "HEADERS_TOO_LARGE",
      431,
    );
    assert.equal(error.message, "HTTP head exceeds 100 bytes");
    // It kept no more than the limit and its blank line.
    assert.ok(reader.bufferedBytes <= 104);
  }
});

Deno.test("HeadReader defaults to a 16 KiB limit", () => {
  assert.equal(DEFAULT_MAX_HEAD_SIZE, 16 * 1024);
  for (const kind of ["any", "request"] as const) {
    const reader = new HeadReader(undefined, { kind });
    const filler = encoder.encode(`X-Filler: ${"a".repeat(1000)}\r\n`);
    reader.push(encoder.encode("GET / HTTP/1.1\r\n"));
    for (let i = 0; i < 15; i++) reader.push(filler);
    assertHandshakeError(
      () => {
        for (let i = 0; i < 3; i++) reader.push(filler);
      },
      "HEADERS_TOO_LARGE",
      431,
    );
  }
});

// HeadReader checking the grammar as bytes arrive.

/** A bad head: the good prefix, then the first bad byte and what follows. */
interface BadHead {
  name: string;
  good: string;
  bad: string | Uint8Array;
}

function badBytes(head: BadHead): { bytes: Uint8Array; at: number } {
  const good = latin1(head.good);
  const bad = typeof head.bad === "string" ? latin1(head.bad) : head.bad;
  return { bytes: concat(good, bad), at: good.length };
}

// A TLS 1.2 ClientHello's first bytes, as a TLS client sends them to a
// plain-text port.
const CLIENT_HELLO = Uint8Array.from(
  "16030100a5010000a103035e2b710a0d0a474554202f2048".match(/../g)!,
  (hex) => parseInt(hex, 16),
);

const BINARY = (() => {
  const bytes = randomBytes(200, 99);
  bytes[0] = 0xc3; // cannot begin a method
  return bytes;
})();

const BAD_REQUESTS: BadHead[] = [
  { name: "random binary", good: "", bad: BINARY },
  { name: "a TLS ClientHello", good: "", bad: CLIENT_HELLO },
  { name: "an SSH banner", good: "SSH-2.0-OpenSSH_9.6", bad: "\r\n" },
  { name: "a leading space", good: "", bad: " GET / HTTP/1.1\r\n\r\n" },
  { name: "a leading bare LF", good: "", bad: "\nGET / HTTP/1.1\r\n\r\n" },
  {
    name: "three leading empty lines",
    good: "\r\n\r\n",
    bad: "\r\nGET / HTTP/1.1\r\n\r\n",
  },
  { name: "a bare CR before the request", good: "\r", bad: "GET / HTTP/1.1" },
  { name: "NUL in the method", good: "GE", bad: "\x00T / HTTP/1.1\r\n\r\n" },
  { name: "a non-token method", good: "G", bad: "(T / HTTP/1.1\r\n\r\n" },
  { name: "two spaces after the method", good: "GET ", bad: " / HTTP/1.1" },
  {
    name: "a control byte in the target",
    good: "GET /a",
    bad: "\x01b HTTP/1.1",
  },
  { name: "DEL in the target", good: "GET /a", bad: "\x7f HTTP/1.1\r\n\r\n" },
  { name: "obs-text in the target", good: "GET /", bad: "\xc3\xa9 HTTP/1.1" },
  { name: "no version (HTTP/0.9)", good: "GET /", bad: "\r\n\r\n" },
  { name: "a bad version HTTP/x", good: "GET / HTTP/", bad: "x.1\r\n\r\n" },
  { name: "a lower-case version", good: "GET / ", bad: "http/1.1\r\n\r\n" },
  { name: "HTTPS/1.1", good: "GET / HTTP", bad: "S/1.1\r\n\r\n" },
  { name: "a two-digit version", good: "GET / HTTP/1", bad: "1.1\r\n\r\n" },
  { name: "a space after the version", good: "GET / HTTP/1.1", bad: " \r\n" },
  {
    name: "a bare LF after the request line",
    good: "GET / HTTP/1.1",
    bad: "\nHost: a\r\n\r\n",
  },
  {
    name: "a bare CR after the request line",
    good: "GET / HTTP/1.1\r",
    bad: "Host: a\r\n\r\n",
  },
  {
    name: "a bare LF after a header line",
    good: "GET / HTTP/1.1\r\nHost: a",
    bad: "\nX: b\r\n\r\n",
  },
  {
    name: "a bare CR in a header value",
    good: "GET / HTTP/1.1\r\nHost: a\r",
    bad: "X: b\r\n\r\n",
  },
  {
    name: "LF LF for the blank line",
    good: "GET / HTTP/1.1\r\nHost: a\r\n",
    bad: "\n\n",
  },
  {
    name: "CR CR for the blank line",
    good: "GET / HTTP/1.1\r\nHost: a\r\n\r",
    bad: "\r\n",
  },
  {
    name: "NUL in a header value",
    good: "GET / HTTP/1.1\r\nHost: a",
    bad: "\x00b\r\n\r\n",
  },
  { name: "NUL in a header name", good: "GET / HTTP/1.1\r\nX", bad: "\x00: a" },
  {
    name: "ESC in a header value",
    good: "GET / HTTP/1.1\r\nX: a",
    bad: "\x1bb\r\n\r\n",
  },
  {
    name: "DEL in a header value",
    good: "GET / HTTP/1.1\r\nX: a",
    bad: "\x7f\r\n\r\n",
  },
  {
    name: "obs-fold with a space",
    good: "GET / HTTP/1.1\r\nX-A: b\r\n",
    bad: " c\r\n\r\n",
  },
  {
    name: "obs-fold with a tab",
    good: "GET / HTTP/1.1\r\nX-A: b\r\n",
    bad: "\tc\r\n\r\n",
  },
  {
    name: "whitespace before the first header line",
    good: "GET / HTTP/1.1\r\n",
    bad: " Host: a\r\n\r\n",
  },
  {
    name: "a space in a header name",
    good: "GET / HTTP/1.1\r\nX",
    bad: " A: b\r\n\r\n",
  },
  {
    name: "a space before the colon",
    good: "GET / HTTP/1.1\r\nHost",
    bad: " : a\r\n\r\n",
  },
  {
    name: "a missing colon",
    good: "GET / HTTP/1.1\r\nHost",
    bad: "\r\n\r\n",
  },
  { name: "an empty header name", good: "GET / HTTP/1.1\r\n", bad: ": a\r\n" },
  {
    name: "a non-token header name",
    good: "GET / HTTP/1.1\r\nX",
    bad: "(y): a\r\n\r\n",
  },
  {
    name: "obs-text in a header name",
    good: "GET / HTTP/1.1\r\nX-",
    bad: "\xe9: a\r\n\r\n",
  },
];

const BAD_RESPONSES: BadHead[] = [
  { name: "a TLS record", good: "", bad: CLIENT_HELLO },
  { name: "an HTML page", good: "", bad: "<html>\r\n\r\n" },
  { name: "a lower-case version", good: "", bad: "http/1.1 101 OK\r\n\r\n" },
  { name: "no status", good: "HTTP/1.1", bad: "\r\n\r\n" },
  { name: "a letter in the status", good: "HTTP/1.1 1", bad: "x1 OK\r\n\r\n" },
  { name: "a four-digit status", good: "HTTP/1.1 101", bad: "0 OK\r\n\r\n" },
  { name: "a bare LF", good: "HTTP/1.1 101 OK", bad: "\n\r\n" },
  { name: "NUL in the reason", good: "HTTP/1.1 101 O", bad: "\x00K\r\n\r\n" },
  {
    name: "a space before a colon",
    good: "HTTP/1.1 101 OK\r\nUpgrade",
    bad: " : websocket\r\n\r\n",
  },
  {
    name: "obs-fold",
    good: "HTTP/1.1 101 OK\r\nA: b\r\n",
    bad: " c\r\n\r\n",
  },
];

const GOOD_REQUESTS: string[] = [
  RFC_REQUEST,
  // Chrome's upgrade request.
  "GET /chat?room=1&x=%20 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" +
  "Connection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
  "Upgrade: websocket\r\nOrigin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\n" +
  "Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n" +
  `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
  // The hixie-76 request of its draft; its key3 follows the head.
  "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\n" +
  "Upgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n" +
  "Origin: http://example.com\r\n\r\n^n:ds[4U",
  "GET / HTTP/1.0\r\n\r\n",
  "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
  "GET http://example.com/a?b=c#d HTTP/1.1\r\nHost: example.com\r\n\r\n",
  "GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank: \t \r\nX-Tab:\tv\tw\t\r\n\r\n",
  "GET / HTTP/1.1\r\nX-Latin: caf\xe9 \xff\r\nx!#$%&'*+-.^_`|~9: v\r\n\r\n",
];

const GOOD_RESPONSES: string[] = [
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n" +
  "\x81\x05hello",
  "HTTP/1.1 101\r\n\r\n",
  "HTTP/1.1 200 \r\n\r\n",
  "HTTP/1.0 404 Not \tFound \xe9\r\nContent-Length: 0\r\n\r\n",
  // hixie-76: the 16-byte answer follows the head.
  "HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Origin: http://example.com\r\n" +
  "Sec-WebSocket-Location: ws://example.com/demo\r\n\r\n8jKS'y:G*Co,Wxa-",
];

/** Pushes the chunks; returns the error and how many bytes were pushed before the chunk that threw. */
function failingPush(
  chunks: Uint8Array[],
  kind: HeadKind,
): { error: HandshakeError; before: number; through: number } {
  const reader = new HeadReader(DEFAULT_MAX_HEAD_SIZE, { kind });
  let before = 0;
  for (const chunk of chunks) {
    try {
      const result = reader.push(chunk);
      assert.equal(result, undefined, "returned a head");
    } catch (error) {
      assert.ok(error instanceof HandshakeError, String(error));
      return { error, before, through: before + chunk.length };
    }
    before += chunk.length;
  }
  throw new Error("no chunk threw");
}

function splitName(chunks: Uint8Array[]): string {
  return chunks.map((c) => c.length).join("+");
}

for (
  const [kind, table] of [
    ["request", BAD_REQUESTS],
    ["response", BAD_RESPONSES],
  ] as const
) {
  Deno.test(`HeadReader({ kind: "${kind}" }) fails bad heads with BAD_REQUEST and 400 in the push of the first bad byte, at every split`, () => {
    for (const head of table) {
      const { bytes, at } = badBytes(head);
      for (const chunks of everySplit(bytes)) {
        const { error, before, through } = failingPush(chunks, kind);
        const where = `${head.name}, split ${splitName(chunks)}`;
        assert.equal(error.code, "BAD_REQUEST", where);
        assert.equal(error.status, 400, where);
        assert.ok(before <= at && at < through, `${where}: ${error.message}`);
      }
    }
  });

  Deno.test(`HeadReader({ kind: "${kind}" }) takes the good prefix of a bad head and fails on its first bad byte`, () => {
    for (const head of table) {
      const { bytes, at } = badBytes(head);
      const reader = new HeadReader(DEFAULT_MAX_HEAD_SIZE, { kind });
      assert.equal(reader.push(bytes.subarray(0, at)), undefined, head.name);
      assertHandshakeError(
        () => reader.push(bytes.subarray(at, at + 1)),
        "BAD_REQUEST",
        400,
      );
      // And it stays failed.
      assertHandshakeError(
        () => reader.push(encoder.encode("\r\n\r\n")),
        "BAD_REQUEST",
        400,
      );
    }
  });
}

Deno.test(`HeadReader({ kind: "request" }) accepts valid request heads at every split`, () => {
  for (const text of GOOD_REQUESTS) {
    const bytes = latin1(text);
    const end = text.indexOf("\r\n\r\n") + 4;
    for (const chunks of everySplit(bytes)) {
      const read = readHead(chunks, undefined, "request");
      assert.ok(read, `${JSON.stringify(text)} split ${splitName(chunks)}`);
      assert.deepEqual(read.result.head, bytes.subarray(0, end));
      assert.deepEqual(read.after, bytes.subarray(end));
      // What the reader passes, the parser takes.
      parseRequestHead(read.result.head);
    }
  }
});

Deno.test(`HeadReader({ kind: "response" }) accepts valid response heads at every split`, () => {
  for (const text of GOOD_RESPONSES) {
    const bytes = latin1(text);
    const end = text.indexOf("\r\n\r\n") + 4;
    for (const chunks of everySplit(bytes)) {
      const read = readHead(chunks, undefined, "response");
      assert.ok(read, `${JSON.stringify(text)} split ${splitName(chunks)}`);
      assert.deepEqual(read.result.head, bytes.subarray(0, end));
      assert.deepEqual(read.after, bytes.subarray(end));
      parseResponseHead(read.result.head);
    }
  }
});

Deno.test(`HeadReader({ kind: "request" }) skips up to two empty lines before the request line`, () => {
  const head = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  for (const leading of ["\r\n", "\r\n\r\n"]) {
    const bytes = concat(encoder.encode(leading), head, Uint8Array.of(0x81));
    for (const chunks of everySplit(bytes)) {
      const read = readHead(chunks, head.length - 4, "request");
      assert.ok(read, `${JSON.stringify(leading)} ${splitName(chunks)}`);
      assert.deepEqual(read.result.head, head);
      assert.deepEqual(read.after, Uint8Array.of(0x81));
    }
  }
  const reader = new HeadReader(undefined, { kind: "request" });
  reader.push(encoder.encode("\r\n\r\n"));
  assert.equal(reader.bufferedBytes, 0);
  const error = assertHandshakeError(
    () => reader.push(encoder.encode("\r")),
    "BAD_REQUEST",
    400,
  );
  assert.equal(
    error.message,
    "Invalid HTTP request: more than 2 empty lines before the request line",
  );
});

Deno.test(`HeadReader({ kind: "request" }) names the place and the byte`, () => {
  const cases: [string, string][] = [
    [
      "\x16\x03\x01",
      "Invalid HTTP request line: unexpected byte 0x16 at offset 0",
    ],
    [
      "\r\nGET /\x01",
      "Invalid HTTP request line: unexpected byte 0x01 at offset 7",
    ],
    ["GET / HTTP/1.1\n", "Invalid HTTP request line: bare LF at offset 14"],
    ["GET / HTTP/1.1\rX", "Invalid HTTP request line: bare CR at offset 14"],
    [
      "GET / HTTP/1.1\r\nA: b\nX",
      "Invalid HTTP header line: bare LF at offset 20",
    ],
    [
      "GET / HTTP/1.1\r\nA: b\r\r",
      "Invalid HTTP header line: bare CR at offset 20",
    ],
    [
      "GET / HTTP/1.1\r\nA: b\r\n\r\r",
      "Invalid HTTP header line: bare CR at offset 22",
    ],
    [
      "GET / HTTP/1.1\r\nA b",
      "Invalid HTTP header line: unexpected byte 0x20 at offset 17",
    ],
    [
      "GET / HTTP/1.1\r\nA: b\r\n c",
      "Invalid HTTP head: line folding or whitespace before a header name at offset 22",
    ],
  ];
  for (const [text, message] of cases) {
    // Whole, and a byte at a time: the same offset.
    for (
      const chunks of [
        [latin1(text)],
        [...latin1(text)].map((b) => Uint8Array.of(b)),
      ]
    ) {
      const { error } = failingPush(chunks, "request");
      assert.equal(error.message, message);
    }
  }
});

Deno.test(`HeadReader({ kind: "request" }) answers 431 for a head too large before its first bad byte, 400 for a bad byte within the limit`, () => {
  const good = encoder.encode("GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaa");
  const bytes = concat(good, Uint8Array.of(0));
  for (const chunks of everySplit(bytes)) {
    assertHandshakeError(
      () => readHead(chunks, good.length - 4, "request"),
      "HEADERS_TOO_LARGE",
      431,
    );
    assertHandshakeError(
      () => readHead(chunks, good.length - 3, "request"),
      "BAD_REQUEST",
      400,
    );
  }
});

Deno.test(`HeadReader({ kind: "request" }) reads a second head after the first`, () => {
  const head = encoder.encode("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  const reader = new HeadReader(undefined, { kind: "request" });
  const first = reader.push(concat(head, head.subarray(0, 10)));
  assert.ok(first);
  assert.deepEqual(first.head, head);
  assert.equal(reader.push(first.rest), undefined);
  const second = reader.push(head.subarray(10));
  assert.ok(second);
  assert.deepEqual(second.head, head);
});

Deno.test("HeadReader with the default kind only looks for the blank line", () => {
  const reader = new HeadReader();
  assert.equal(reader.push(CLIENT_HELLO), undefined);
  assert.ok(reader.push(encoder.encode("\x00\n\r\r\n\r\n")));
  assert.throws(
    () => new HeadReader(100, { kind: "http" as HeadKind }),
    TypeError,
  );
});

Deno.test(`HeadReader({ kind: "request" }) agrees with parseRequestHead() on 2000 mutated heads in random splits`, () => {
  const valid = latin1(GOOD_REQUESTS[1]);
  const random = mulberry32(2026);
  const int = (n: number) => Math.floor(random() * n);
  const interesting = [0, 9, 10, 13, 32, 58, 0x7f, 0x80, 0xff, 0x47];
  let accepted = 0;
  for (let round = 0; round < 2000; round++) {
    const bytes = [...valid];
    for (let m = 1 + int(3); m > 0; m--) {
      const at = int(bytes.length);
      const byte = random() < 0.5
        ? interesting[int(interesting.length)]
        : int(256);
      const how = int(3);
      if (how === 0) bytes[at] = byte;
      else if (how === 1) bytes.splice(at, 0, byte);
      else bytes.splice(at, 1);
    }
    const input = Uint8Array.from(bytes);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < input.length;) {
      const n = 1 + int(64);
      chunks.push(input.subarray(at, at + n));
      at += n;
    }
    const reader = new HeadReader(DEFAULT_MAX_HEAD_SIZE, { kind: "request" });
    let result: HeadResult | undefined;
    let error: unknown;
    try {
      for (const chunk of chunks) if ((result = reader.push(chunk))) break;
    } catch (thrown) {
      error = thrown;
    }
    // The framing-only reader on the same bytes, and the parser.
    const framed = readHead([input]);
    let parsed: RequestHead | undefined;
    try {
      if (framed) parsed = parseRequestHead(framed.result.head);
    } catch {
      // Malformed.
    }
    const where = `round ${round}: ${
      JSON.stringify(String.fromCharCode(...input))
    }`;
    if (result) {
      accepted++;
      assert.ok(parsed, `${where}: accepted what the parser refuses`);
      assert.deepEqual(result.head, framed!.result.head, where);
    } else if (error) {
      assert.ok(error instanceof HandshakeError, where);
      assert.equal(error.status, 400, where);
      // Only a target of more than visible ASCII is refused that the
      // parser would take.
      assert.ok(
        !parsed || /[^\x21-\x7e]/.test(parsed.target),
        `${where}: refused what the parser takes (${error.message})`,
      );
    } else {
      assert.equal(framed, undefined, `${where}: missed the head`);
    }
  }
  assert.ok(accepted > 100, `only ${accepted} accepted`);
});

// Request and response heads.

Deno.test("parseRequestHead() parses the RFC 6455 request", () => {
  const head = parseRequestHead(encoder.encode(RFC_REQUEST));
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/chat");
  assert.equal(head.version, "1.1");
  assert.equal(head.headers.get("host"), "server.example.com");
  assert.equal(head.headers.get("sec-websocket-key"), RFC_KEY);
  assert.equal(head.headers.get("Sec-WebSocket-Protocol"), "chat, superchat");
});

Deno.test("parseRequestHead() rejects malformed request lines with BAD_REQUEST and 400", () => {
  for (
    const line of [
      "GET /chat",
      "GET /chat HTTP/1.1 extra",
      "GET  /chat HTTP/1.1",
      "GET /chat  HTTP/1.1",
      " GET /chat HTTP/1.1",
      "GET /chat HTTPS/1.1",
      "GET /chat http/1.1",
      "GET /chat HTTP/11",
      "GET /chat HTTP/1.1 ",
      "G(T /chat HTTP/1.1",
      "GET",
      "",
    ]
  ) {
    assertHandshakeError(
      () => parseRequestHead(encoder.encode(`${line}\r\nHost: a\r\n\r\n`)),
      "BAD_REQUEST",
      400,
    );
  }
});

Deno.test("parseRequestHead() rejects bad header names with BAD_REQUEST", () => {
  for (
    const field of [
      "Host : a",
      "Bad Name: a",
      ": a",
      "NoColon",
      "X(y): a",
      "X-\xe9: a",
      "X\x00: a",
    ]
  ) {
    assertHandshakeError(
      () => parseRequestHead(latin1(`GET / HTTP/1.1\r\n${field}\r\n\r\n`)),
      "BAD_REQUEST",
      400,
    );
  }
});

Deno.test("parseRequestHead() rejects obsolete line folding", () => {
  for (const fold of [" folded", "\tfolded"]) {
    const error = assertHandshakeError(
      () =>
        parseRequestHead(
          encoder.encode(`GET / HTTP/1.1\r\nX-A: 1\r\n${fold}\r\n\r\n`),
        ),
      "BAD_REQUEST",
      400,
    );
    assert.match(error.message, /line folding/);
  }
});

Deno.test("parseRequestHead() rejects a bare CR or LF", () => {
  for (
    const text of [
      "GET / HTTP/1.1\r\nX-A: 1\rX-B: 2\r\n\r\n",
      "GET / HTTP/1.1\r\nX-A: 1\nX-B: 2\r\n\r\n",
      "GET / HTTP/1.1\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nX-A: 1\r\n\n\r\n\r\n",
    ]
  ) {
    const error = assertHandshakeError(
      () => parseRequestHead(encoder.encode(text)),
      "BAD_REQUEST",
      400,
    );
    assert.match(error.message, /bare CR or LF/);
  }
});

Deno.test("parseRequestHead() rejects control characters in a value and accepts obs-text", () => {
  assertHandshakeError(
    () => parseRequestHead(latin1("GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n")),
    "BAD_REQUEST",
  );
  assertHandshakeError(
    () => parseRequestHead(latin1("GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n")),
    "BAD_REQUEST",
  );
  const head = parseRequestHead(
    latin1("GET / HTTP/1.1\r\nX-A: caf\xe9\r\n\r\n"),
  );
  assert.equal(head.headers.get("x-a"), "caf\xe9");
});

Deno.test("parseRequestHead() rejects a head without its blank line", () => {
  assertHandshakeError(
    () => parseRequestHead(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n")),
    "BAD_REQUEST",
  );
});

Deno.test("parseRequestHead() trims values and keeps empty ones", () => {
  const head = request([
    "GET /x?y=1 HTTP/1.1",
    "X-A: \t spaced \t ",
    "X-B:",
    "X-C:tight",
  ]);
  assert.equal(head.target, "/x?y=1");
  assert.equal(head.headers.get("x-a"), "spaced");
  assert.equal(head.headers.get("x-b"), "");
  assert.equal(head.headers.get("x-c"), "tight");
});

Deno.test("parseRequestHead() joins repeated headers with a comma", () => {
  const head = request([
    "GET / HTTP/1.1",
    "Sec-WebSocket-Protocol: chat.v2",
    "X-Other: 1",
    "sec-websocket-protocol: chat.v1",
  ]);
  assert.equal(head.headers.get("sec-websocket-protocol"), "chat.v2, chat.v1");
});

Deno.test("parseRequestHead() keeps the method and version as sent", () => {
  const head = request(["OPTIONS * HTTP/1.0"]);
  assert.equal(head.method, "OPTIONS");
  assert.equal(head.target, "*");
  assert.equal(head.version, "1.0");
});

Deno.test("parseResponseHead() parses status lines with and without a reason", () => {
  const a = parseResponseHead(
    encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    ),
  );
  assert.equal(a.version, "1.1");
  assert.equal(a.status, 101);
  assert.equal(a.statusText, "Switching Protocols");
  assert.equal(a.headers.get("upgrade"), "websocket");
  const b = parseResponseHead(encoder.encode("HTTP/1.0 404\r\n\r\n"));
  assert.equal(b.version, "1.0");
  assert.equal(b.status, 404);
  assert.equal(b.statusText, "");
  const c = parseResponseHead(encoder.encode("HTTP/1.1 403 \r\n\r\n"));
  assert.equal(c.status, 403);
  assert.equal(c.statusText, "");
});

Deno.test("parseResponseHead() rejects malformed status lines with BAD_REQUEST", () => {
  for (
    const line of [
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1  101 Switching Protocols",
      "HTTP/1.1 abc OK",
      "ICY 200 OK",
      "HTTP/1.1",
      "http/1.1 101 Switching Protocols",
      "",
    ]
  ) {
    assertHandshakeError(
      () => parseResponseHead(encoder.encode(`${line}\r\n\r\n`)),
      "BAD_REQUEST",
    );
  }
});

Deno.test("parseResponseHead() rejects bad header lines and obs-fold", () => {
  for (
    const field of [
      "Bad Name: a",
      "Upgrade : websocket",
      " folded",
      "X-A: 1\rX",
    ]
  ) {
    assertHandshakeError(
      () =>
        parseResponseHead(
          encoder.encode(
            `HTTP/1.1 101 Switching Protocols\r\n${field}\r\n\r\n`,
          ),
        ),
      "BAD_REQUEST",
    );
  }
});

// Token lists.

Deno.test("headerTokens() splits Firefox's Connection: keep-alive, Upgrade", () => {
  const headers = new Headers({ Connection: "keep-alive, Upgrade" });
  assert.deepEqual(headerTokens(headers, "connection"), [
    "keep-alive",
    "Upgrade",
  ]);
  assert.equal(hasToken(headers, "connection", "upgrade"), true);
  assert.equal(hasToken(headers, "Connection", "keep-alive"), true);
});

Deno.test("headerTokens() splits lists with and without spaces", () => {
  for (
    const value of [
      "chat.v2,chat.v1",
      "chat.v2, chat.v1",
      " chat.v2 ,\tchat.v1 ",
    ]
  ) {
    assert.deepEqual(
      headerTokens(
        new Headers({ "Sec-WebSocket-Protocol": value }),
        "sec-websocket-protocol",
      ),
      ["chat.v2", "chat.v1"],
    );
  }
});

Deno.test("headerTokens() reads a list across repeated header lines", () => {
  const head = request([
    "GET / HTTP/1.1",
    "Connection: keep-alive",
    "Connection: Upgrade",
    "Sec-WebSocket-Protocol: a,b",
    "Sec-WebSocket-Protocol: c",
  ]);
  assert.deepEqual(headerTokens(head.headers, "connection"), [
    "keep-alive",
    "Upgrade",
  ]);
  assert.deepEqual(headerTokens(head.headers, "sec-websocket-protocol"), [
    "a",
    "b",
    "c",
  ]);
  assert.equal(hasToken(head.headers, "connection", "upgrade"), true);
});

Deno.test("headerTokens() drops empty elements and returns [] for a missing header", () => {
  assert.deepEqual(headerTokens(new Headers({ X: " , a,, b ,," }), "x"), [
    "a",
    "b",
  ]);
  assert.deepEqual(headerTokens(new Headers(), "x"), []);
  assert.deepEqual(headerTokens(new Headers({ X: "" }), "x"), []);
});

Deno.test("hasToken() compares case-insensitively and whole tokens only", () => {
  const headers = new Headers({
    Upgrade: "WebSocket",
    Connection: "keep-alive,UPGRADE",
  });
  assert.equal(hasToken(headers, "upgrade", "websocket"), true);
  assert.equal(hasToken(headers, "UPGRADE", "WEBSOCKET"), true);
  assert.equal(hasToken(headers, "connection", "Upgrade"), true);
  assert.equal(
    hasToken(
      new Headers({ Connection: "upgrade-insecure" }),
      "connection",
      "upgrade",
    ),
    false,
  );
  assert.equal(
    hasToken(new Headers({ Upgrade: "websocket2" }), "upgrade", "websocket"),
    false,
  );
  assert.equal(hasToken(new Headers(), "upgrade", "websocket"), false);
});

Deno.test("isUpgradeRequest() tells WebSocket upgrades from other requests", () => {
  assert.equal(isUpgradeRequest(new Headers({ Upgrade: "websocket" })), true);
  assert.equal(
    isUpgradeRequest(new Headers({ Upgrade: "h2c, WebSocket" })),
    true,
  );
  assert.equal(isUpgradeRequest(new Headers({ Upgrade: "h2c" })), false);
  assert.equal(isUpgradeRequest(new Headers()), false);
});

// Keys.

Deno.test("isValidClientKey() accepts base64 of 16 bytes only", () => {
  assert.equal(isValidClientKey(RFC_KEY), true);
  assert.equal(isValidClientKey(btoa("\x00".repeat(16))), true);
  assert.equal(isValidClientKey(btoa("\xff".repeat(16))), true);
  for (
    const key of [
      "",
      "c2hvcnQ=", // 5 bytes
      btoa("x".repeat(15)),
      btoa("x".repeat(17)),
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZR==", // non-zero trailing bits
      "dGhlIHNhbXBsZSBub25jZQ=", // one pad
      "dGhlIHNhbXBsZSBub25j-Q==", // base64url alphabet
      " dGhlIHNhbXBsZSBub25jZQ==",
      "dGhlIHNhbXBsZSBub25jZQ== ",
      "dGhlIHNhbXBsZSBub25jZQ==\n",
    ]
  ) {
    assert.equal(isValidClientKey(key), false, JSON.stringify(key));
  }
});

Deno.test("createClientKey() makes a fresh valid key each time", () => {
  const keys = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const key = createClientKey();
    assert.equal(key.length, 24);
    assert.equal(isValidClientKey(key), true, key);
    assert.equal(atob(key).length, 16);
    keys.add(key);
  }
  assert.equal(keys.size, 100);
});

// validateUpgradeRequest.

Deno.test("validateUpgradeRequest() accepts the RFC 6455 request", () => {
  const info = validateUpgradeRequest(
    parseRequestHead(encoder.encode(RFC_REQUEST)),
  );
  assert.deepEqual(info, {
    key: RFC_KEY,
    version: 13,
    protocols: ["chat", "superchat"],
    extensions: null,
    origin: "http://example.com",
  });
});

Deno.test("validateUpgradeRequest() accepts Firefox's Connection and a capitalised Upgrade", () => {
  const info = validateUpgradeRequest(
    upgradeRequest({
      Upgrade: "WebSocket",
      Connection: "keep-alive, Upgrade",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    }),
  );
  assert.equal(info.key, RFC_KEY);
  assert.equal(info.extensions, "permessage-deflate; client_max_window_bits");
  assert.equal(info.origin, null);
  assert.deepEqual(info.protocols, []);
});

Deno.test("validateUpgradeRequest() checks in a fixed order with exact statuses", () => {
  // Everything wrong at once; each fix reveals the next check.
  const steps: [
    Record<string, string | null>,
    string,
    string,
    number,
    string,
  ][] = [
    [{}, "POST /chat HTTP/1.0", "BAD_METHOD", 405, "method POST"],
    [{}, "GET /chat HTTP/1.0", "BAD_HTTP_VERSION", 400, "HTTP/1.0"],
    [{}, "GET /chat HTTP/1.1", "BAD_HOST", 400, "Host"],
    [{ Host: "a" }, "GET /chat HTTP/1.1", "BAD_UPGRADE", 400, "Upgrade header"],
    [
      { Upgrade: "websocket" },
      "GET /chat HTTP/1.1",
      "BAD_UPGRADE",
      400,
      "Connection header",
    ],
    [
      { Connection: "Upgrade" },
      "GET /chat HTTP/1.1",
      "BAD_VERSION",
      400,
      "Version",
    ],
    [
      { "Sec-WebSocket-Version": "13" },
      "GET /chat HTTP/1.1",
      "BAD_KEY",
      400,
      "Key",
    ],
  ];
  const fields: Record<string, string | null> = {
    Host: null,
    Upgrade: "h2c",
    Connection: "keep-alive",
    "Sec-WebSocket-Version": "12",
    "Sec-WebSocket-Key": "short",
  };
  for (const [fix, first, code, status, words] of steps) {
    Object.assign(fields, fix);
    const error = assertHandshakeError(
      () => validateUpgradeRequest(upgradeRequest(fields, first)),
      code,
      status,
    );
    assert.ok(error.message.includes(words), error.message);
  }
  fields["Sec-WebSocket-Key"] = RFC_KEY;
  assert.equal(validateUpgradeRequest(upgradeRequest(fields)).key, RFC_KEY);
});

Deno.test("validateUpgradeRequest() rejects a method other than GET with 405 and Allow: GET", () => {
  for (const method of ["POST", "HEAD", "PUT", "get"]) {
    const error = assertHandshakeError(
      () =>
        validateUpgradeRequest(upgradeRequest({}, `${method} /chat HTTP/1.1`)),
      "BAD_METHOD",
      405,
    );
    assert.equal(error.headers.get("allow"), "GET");
    assert.equal("closeCode" in error, false);
  }
});

Deno.test("validateUpgradeRequest() rejects HTTP/1.0 and older with 400 BAD_HTTP_VERSION", () => {
  for (const version of ["1.0", "0.9"]) {
    assertHandshakeError(
      () =>
        validateUpgradeRequest(upgradeRequest({}, `GET /chat HTTP/${version}`)),
      "BAD_HTTP_VERSION",
      400,
    );
  }
  assert.equal(
    validateUpgradeRequest(upgradeRequest({}, "GET /chat HTTP/1.2")).version,
    13,
  );
});

Deno.test("validateUpgradeRequest() rejects a missing, empty or repeated Host with 400 BAD_HOST", () => {
  assertHandshakeError(
    () => validateUpgradeRequest(upgradeRequest({ Host: null })),
    "BAD_HOST",
    400,
  );
  assertHandshakeError(
    () => validateUpgradeRequest(upgradeRequest({ Host: "" })),
    "BAD_HOST",
    400,
  );
  const repeated = request([
    "GET /chat HTTP/1.1",
    "Host: a.example",
    "Host: b.example",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${RFC_KEY}`,
    "Sec-WebSocket-Version: 13",
  ]);
  assertHandshakeError(() => validateUpgradeRequest(repeated), "BAD_HOST", 400);
});

Deno.test("validateUpgradeRequest() rejects a missing Upgrade or Connection token with 400 BAD_UPGRADE", () => {
  for (
    const changes of <Record<string, string | null>[]> [
      { Upgrade: null },
      { Upgrade: "h2c" },
      { Upgrade: "websocket2" },
      { Connection: null },
      { Connection: "keep-alive" },
      { Connection: "close" },
    ]
  ) {
    assertHandshakeError(
      () => validateUpgradeRequest(upgradeRequest(changes)),
      "BAD_UPGRADE",
      400,
    );
  }
});

Deno.test("validateUpgradeRequest() rejects a missing or unknown version with 400 and Sec-WebSocket-Version: 13", () => {
  for (
    const version of [null, "", "8", "7", "12", "14", "013x", "abc", "1300"]
  ) {
    const error = assertHandshakeError(
      () =>
        validateUpgradeRequest(
          upgradeRequest({ "Sec-WebSocket-Version": version }),
        ),
      "BAD_VERSION",
      400,
    );
    assert.equal(
      error.headers.get("sec-websocket-version"),
      "13",
      String(version),
    );
  }
});

Deno.test("validateUpgradeRequest() with versions [13, 8, 7] accepts 8 and 7", () => {
  const versions = [13, 8, 7];
  for (const version of [13, 8, 7]) {
    const info = validateUpgradeRequest(
      upgradeRequest({ "Sec-WebSocket-Version": String(version) }),
      { versions },
    );
    assert.equal(info.version, version);
  }
  const error = assertHandshakeError(
    () =>
      validateUpgradeRequest(upgradeRequest({ "Sec-WebSocket-Version": "6" }), {
        versions,
      }),
    "BAD_VERSION",
    400,
  );
  assert.equal(error.headers.get("sec-websocket-version"), "13, 8, 7");
});

Deno.test("validateUpgradeRequest() rejects a bad or missing key with 400 BAD_KEY", () => {
  for (
    const key of [
      null,
      "",
      "c2hvcnQ=",
      btoa("x".repeat(17)),
      "dGhlIHNhbXBsZSBub25jZR==",
    ]
  ) {
    assertHandshakeError(
      () =>
        validateUpgradeRequest(upgradeRequest({ "Sec-WebSocket-Key": key })),
      "BAD_KEY",
      400,
    );
  }
});

Deno.test("validateUpgradeRequest() rejects a subprotocol that is not a token with 400", () => {
  assertHandshakeError(
    () =>
      validateUpgradeRequest(
        upgradeRequest({ "Sec-WebSocket-Protocol": "chat, a/b" }),
      ),
    "BAD_REQUEST",
    400,
  );
});

Deno.test("validateUpgradeRequest() reads subprotocols in the client's order", () => {
  const info = validateUpgradeRequest(
    upgradeRequest({ "Sec-WebSocket-Protocol": "chat.v2,chat.v1" }),
  );
  assert.deepEqual(info.protocols, ["chat.v2", "chat.v1"]);
});

// Builders.

Deno.test("buildUpgradeRequest() writes the exact request head", () => {
  const bytes = buildUpgradeRequest({
    url: new URL("ws://server.example.com/chat"),
    key: RFC_KEY,
  });
  assert.equal(
    decoder.decode(bytes),
    "GET /chat HTTP/1.1\r\n" +
      "connection: Upgrade\r\n" +
      "host: server.example.com\r\n" +
      `sec-websocket-key: ${RFC_KEY}\r\n` +
      "sec-websocket-version: 13\r\n" +
      "upgrade: websocket\r\n\r\n",
  );
});

Deno.test("buildUpgradeRequest() writes subprotocols, origin, extensions and more headers", () => {
  const bytes = buildUpgradeRequest({
    url: new URL("wss://server.example.com:8443/chat?room=1"),
    key: RFC_KEY,
    protocols: ["chat", "superchat"],
    origin: "http://example.com",
    extensions: "permessage-deflate",
    headers: { Authorization: "Bearer t", Host: "evil.example" },
  });
  assert.equal(
    decoder.decode(bytes),
    "GET /chat?room=1 HTTP/1.1\r\n" +
      "authorization: Bearer t\r\n" +
      "connection: Upgrade\r\n" +
      "host: server.example.com:8443\r\n" +
      "origin: http://example.com\r\n" +
      "sec-websocket-extensions: permessage-deflate\r\n" +
      `sec-websocket-key: ${RFC_KEY}\r\n` +
      "sec-websocket-protocol: chat, superchat\r\n" +
      "sec-websocket-version: 13\r\n" +
      "upgrade: websocket\r\n\r\n",
  );
});

Deno.test("buildUpgradeRequest() targets / for a URL without a path", () => {
  const bytes = buildUpgradeRequest({
    url: new URL("ws://example.com"),
    key: RFC_KEY,
  });
  assert.ok(decoder.decode(bytes).startsWith("GET / HTTP/1.1\r\n"));
});

Deno.test("buildUpgradeRequest() rejects a subprotocol that is not a token with TypeError", () => {
  for (const protocol of ["", "a b", "a,b", "chat/1"]) {
    assert.throws(
      () =>
        buildUpgradeRequest({
          url: new URL("ws://example.com/"),
          key: RFC_KEY,
          protocols: ["chat", protocol],
        }),
      TypeError,
    );
  }
});

Deno.test("buildUpgradeRequest() refuses header values that would split the head", () => {
  assert.throws(
    () =>
      buildUpgradeRequest({
        url: new URL("ws://example.com/"),
        key: RFC_KEY,
        headers: { "X-A": "a\r\nX-Injected: 1" },
      }),
    TypeError,
  );
  assert.throws(
    () =>
      buildUpgradeRequest({
        url: new URL("ws://example.com/"),
        key: RFC_KEY,
        origin: "http://a\r\nX-Injected: 1",
      }),
    TypeError,
  );
});

Deno.test("buildUpgradeRequest() output passes validateUpgradeRequest()", () => {
  const bytes = buildUpgradeRequest({
    url: new URL("ws://127.0.0.1:8080/x"),
    key: RFC_KEY,
    protocols: ["chat.v2", "chat.v1"],
  });
  const read = readHead([bytes]);
  assert.ok(read);
  const head = parseRequestHead(read.result.head);
  assert.equal(head.headers.get("host"), "127.0.0.1:8080");
  const info = validateUpgradeRequest(head);
  assert.deepEqual(info.protocols, ["chat.v2", "chat.v1"]);
  assert.equal(info.key, RFC_KEY);
});

Deno.test("hostHeader() leaves out the scheme's default port", () => {
  assert.equal(hostHeader(new URL("ws://example.com:80/")), "example.com");
  assert.equal(hostHeader(new URL("wss://example.com:443/")), "example.com");
  assert.equal(hostHeader(new URL("ws://example.com:443/")), "example.com:443");
  assert.equal(hostHeader(new URL("ws://[::1]:9000/")), "[::1]:9000");
});

Deno.test("buildUpgradeResponse() writes the exact RFC 6455 101 head", async () => {
  const bytes = await buildUpgradeResponse({ key: RFC_KEY, protocol: "chat" });
  assert.equal(
    decoder.decode(bytes),
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "connection: Upgrade\r\n" +
      `sec-websocket-accept: ${RFC_ACCEPT}\r\n` +
      "sec-websocket-protocol: chat\r\n" +
      "upgrade: websocket\r\n\r\n",
  );
});

Deno.test("buildUpgradeResponse() leaves out a subprotocol and extensions not given", async () => {
  const bytes = await buildUpgradeResponse({ key: RFC_KEY });
  assert.equal(
    decoder.decode(bytes),
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "connection: Upgrade\r\n" +
      `sec-websocket-accept: ${RFC_ACCEPT}\r\n` +
      "upgrade: websocket\r\n\r\n",
  );
});

Deno.test("buildUpgradeResponse() writes extensions and extra headers", async () => {
  const bytes = await buildUpgradeResponse({
    key: RFC_KEY,
    extensions: "permessage-deflate",
    headers: { "Set-Cookie": "a=1", Upgrade: "other" },
  });
  assert.equal(
    decoder.decode(bytes),
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "connection: Upgrade\r\n" +
      `sec-websocket-accept: ${RFC_ACCEPT}\r\n` +
      "sec-websocket-extensions: permessage-deflate\r\n" +
      "set-cookie: a=1\r\n" +
      "upgrade: websocket\r\n\r\n",
  );
});

Deno.test("buildResponseHead() writes the status line and headers", () => {
  const bytes = buildResponseHead(
    426,
    "Upgrade Required",
    new Headers({ "Sec-WebSocket-Version": "13", "Content-Length": "0" }),
  );
  assert.equal(
    decoder.decode(bytes),
    "HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\nsec-websocket-version: 13\r\n\r\n",
  );
});

// validateUpgradeResponse.

Deno.test("validateUpgradeResponse() accepts buildUpgradeResponse() output", async () => {
  const bytes = await buildUpgradeResponse({ key: RFC_KEY, protocol: "chat" });
  const info = await validateUpgradeResponse(parseResponseHead(bytes), {
    key: RFC_KEY,
    protocols: ["chat", "superchat"],
  });
  assert.deepEqual(info, { protocol: "chat", extensions: "" });
});

Deno.test("validateUpgradeResponse() fails a non-101 with BAD_STATUS keeping status and headers", async () => {
  const response = parseResponseHead(
    encoder.encode(
      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: origin\r\n\r\n",
    ),
  );
  const error = await assertRejectsHandshakeError(
    validateUpgradeResponse(response, { key: RFC_KEY }),
    "BAD_STATUS",
  );
  assert.equal(error.message, "Unexpected HTTP status 403 Forbidden");
  assert.ok(error.response);
  assert.equal(error.response.status, 403);
  assert.equal(error.response.statusText, "Forbidden");
  assert.equal(error.response.headers.get("x-reason"), "origin");
  assert.equal(error.response.headers.get("content-type"), "text/plain");
});

Deno.test("validateUpgradeResponse() fails a 200 with a valid accept with BAD_STATUS", async () => {
  await assertRejectsHandshakeError(
    validateUpgradeResponse(await upgradeResponse({}, "HTTP/1.1 200 OK"), {
      key: RFC_KEY,
    }),
    "BAD_STATUS",
  );
});

Deno.test("validateUpgradeResponse() fails a missing Upgrade or Connection with BAD_UPGRADE", async () => {
  for (
    const changes of <Record<string, string | null>[]> [
      { Upgrade: null },
      { Upgrade: "h2c" },
      { Connection: null },
      { Connection: "keep-alive" },
    ]
  ) {
    const error = await assertRejectsHandshakeError(
      validateUpgradeResponse(await upgradeResponse(changes), { key: RFC_KEY }),
      "BAD_UPGRADE",
    );
    assert.equal(error.response?.status, 101);
  }
  // Case and lists are fine.
  await validateUpgradeResponse(
    await upgradeResponse({
      Upgrade: "WebSocket",
      Connection: "keep-alive, upgrade",
    }),
    { key: RFC_KEY },
  );
});

Deno.test("validateUpgradeResponse() fails a wrong or missing accept with BAD_ACCEPT", async () => {
  for (
    const accept of [
      null,
      "",
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo", // unpadded
      "S3PPLMBITXAQ9KYGZZHZRBK+XOO=", // case changed
      await computeAccept("AQIDBAUGBwgJCgsMDQ4PEA=="),
    ]
  ) {
    await assertRejectsHandshakeError(
      validateUpgradeResponse(
        await upgradeResponse({ "Sec-WebSocket-Accept": accept }),
        {
          key: RFC_KEY,
        },
      ),
      "BAD_ACCEPT",
    );
  }
});

Deno.test("validateUpgradeResponse() fails a subprotocol that was not offered with BAD_PROTOCOL", async () => {
  const response = await upgradeResponse({
    "Sec-WebSocket-Protocol": "superchat",
  });
  await assertRejectsHandshakeError(
    validateUpgradeResponse(response, { key: RFC_KEY, protocols: ["chat"] }),
    "BAD_PROTOCOL",
  );
  await assertRejectsHandshakeError(
    validateUpgradeResponse(response, { key: RFC_KEY }),
    "BAD_PROTOCOL",
  );
  await assertRejectsHandshakeError(
    validateUpgradeResponse(response, { key: RFC_KEY, protocols: [] }),
    "BAD_PROTOCOL",
  );
  // Two at once is not a selection.
  await assertRejectsHandshakeError(
    validateUpgradeResponse(
      await upgradeResponse({ "Sec-WebSocket-Protocol": "chat, superchat" }),
      { key: RFC_KEY, protocols: ["chat", "superchat"] },
    ),
    "BAD_PROTOCOL",
  );
});

Deno.test("validateUpgradeResponse() accepts no subprotocol when some were offered", async () => {
  const info = await validateUpgradeResponse(await upgradeResponse(), {
    key: RFC_KEY,
    protocols: ["chat"],
  });
  assert.equal(info.protocol, "");
});

Deno.test("validateUpgradeResponse() fails an extension that was not offered with BAD_EXTENSION", async () => {
  const response = await upgradeResponse({
    "Sec-WebSocket-Extensions": "permessage-deflate",
  });
  await assertRejectsHandshakeError(
    validateUpgradeResponse(response, { key: RFC_KEY }),
    "BAD_EXTENSION",
  );
  const info = await validateUpgradeResponse(response, {
    key: RFC_KEY,
    extensionsOffered: true,
  });
  assert.equal(info.extensions, "permessage-deflate");
});

Deno.test("validateUpgradeResponse() checks status, upgrade, accept, protocol, extension in that order", async () => {
  const everything = {
    Upgrade: null,
    "Sec-WebSocket-Accept": "wrong",
    "Sec-WebSocket-Protocol": "x",
    "Sec-WebSocket-Extensions": "y",
  };
  const options = { key: RFC_KEY };
  await assertRejectsHandshakeError(
    validateUpgradeResponse(
      await upgradeResponse(everything, "HTTP/1.1 400 Bad Request"),
      options,
    ),
    "BAD_STATUS",
  );
  await assertRejectsHandshakeError(
    validateUpgradeResponse(await upgradeResponse(everything), options),
    "BAD_UPGRADE",
  );
  await assertRejectsHandshakeError(
    validateUpgradeResponse(
      await upgradeResponse({ ...everything, Upgrade: "websocket" }),
      options,
    ),
    "BAD_ACCEPT",
  );
  await assertRejectsHandshakeError(
    validateUpgradeResponse(
      await upgradeResponse({
        ...everything,
        Upgrade: "websocket",
        "Sec-WebSocket-Accept": RFC_ACCEPT,
      }),
      options,
    ),
    "BAD_PROTOCOL",
  );
  await assertRejectsHandshakeError(
    validateUpgradeResponse(
      await upgradeResponse({
        ...everything,
        Upgrade: "websocket",
        "Sec-WebSocket-Accept": RFC_ACCEPT,
        "Sec-WebSocket-Protocol": null,
      }),
      options,
    ),
    "BAD_EXTENSION",
  );
});

// selectProtocol.

Deno.test("selectProtocol() picks the server's most preferred offered subprotocol", () => {
  assert.equal(
    selectProtocol(["chat.v1", "chat.v2"], ["chat.v2", "chat.v1"]),
    "chat.v2",
  );
  assert.equal(
    selectProtocol(["chat.v2", "chat.v1"], ["chat.v1", "chat.v2"]),
    "chat.v1",
  );
  assert.equal(selectProtocol(["a", "chat"], ["chat"]), "chat");
});

Deno.test("selectProtocol() returns undefined when nothing matches", () => {
  assert.equal(selectProtocol(["a"], ["b"]), undefined);
  assert.equal(selectProtocol([], ["b"]), undefined);
  assert.equal(selectProtocol(["a"], []), undefined);
  // Subprotocol names are case-sensitive.
  assert.equal(selectProtocol(["Chat"], ["chat"]), undefined);
});
