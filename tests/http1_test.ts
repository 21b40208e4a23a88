import assert from "node:assert/strict";
import {
  ChunkedDecoder,
  clientAddress,
  clientKeepsAlive,
  encodeChunk,
  encodeResponseHead,
  expectsContinue,
  LengthDecoder,
  MAX_CHUNK_LINE,
  parseHead,
  requestFraming,
  ResponseFields,
  responseHasNoBody,
} from "../http/_http1.ts";
import { parseRequestHead } from "../handshake.ts";
import { HandshakeError } from "../errors.ts";
import { concat, everySplit } from "./_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function head(text: string) {
  return parseRequestHead(encoder.encode(text.replaceAll("\n", "\r\n")));
}

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    return error.status;
  }
  assert.fail("expected a HandshakeError");
}

// Feeds every split of `input` to a fresh chunked decoder; returns the body
// and the bytes after it (the same for every split, or it fails).
function decodeChunked(input: string): { body: string; rest: string } {
  const bytes = encoder.encode(input);
  let seen: { body: string; rest: string } | undefined;
  for (const parts of everySplit(bytes)) {
    const d = new ChunkedDecoder();
    const body: Uint8Array[] = [];
    let rest: Uint8Array[] = [];
    for (const part of parts) {
      if (d.done) {
        rest.push(part);
        continue;
      }
      const result = d.decode(part);
      body.push(...result.data);
      if (result.done) rest = [part.subarray(result.consumed)];
      else assert.equal(result.consumed, part.length);
    }
    assert.ok(d.done, "body did not end");
    const got = {
      body: decoder.decode(concat(...body)),
      rest: decoder.decode(concat(...rest)),
    };
    if (seen) assert.deepEqual(got, seen);
    seen = got;
    assert.equal(d.received, encoder.encode(got.body).length);
  }
  return seen!;
}

// Every split of a bad chunked body fails with `expected` status.
function chunkedFails(input: string, expected = 400): void {
  const bytes = encoder.encode(input);
  for (const parts of everySplit(bytes)) {
    const d = new ChunkedDecoder();
    assert.equal(
      status(() => {
        for (const part of parts) d.decode(part);
      }),
      expected,
      JSON.stringify(input),
    );
  }
}

Deno.test("requestFraming() reads Content-Length and chunked", () => {
  assert.deepEqual(
    requestFraming(head("GET / HTTP/1.1\nHost: a\n\n")),
    { kind: "none" },
  );
  assert.deepEqual(
    requestFraming(head("POST / HTTP/1.1\nHost: a\nContent-Length: 0\n\n")),
    { kind: "none" },
  );
  assert.deepEqual(
    requestFraming(head("POST / HTTP/1.1\nHost: a\nContent-Length: 12\n\n")),
    { kind: "length", length: 12 },
  );
  // The same value repeated is one length (RFC 9110 section 8.6).
  assert.deepEqual(
    requestFraming(
      head("POST / HTTP/1.1\nContent-Length: 5\nContent-Length: 5, 5\n\n"),
    ),
    { kind: "length", length: 5 },
  );
  assert.deepEqual(
    requestFraming(
      head("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: Chunked\n\n"),
    ),
    { kind: "chunked" },
  );
});

Deno.test("requestFraming() refuses smuggling shapes", () => {
  const cases: [string, number][] = [
    ["Content-Length: 5\nTransfer-Encoding: chunked", 400],
    ["Transfer-Encoding: chunked\nContent-Length: 0", 400],
    ["Content-Length: 5\nContent-Length: 6", 400],
    ["Content-Length: 5, 6", 400],
    ["Content-Length: -1", 400],
    ["Content-Length: +5", 400],
    ["Content-Length: 0x5", 400],
    ["Content-Length: 5 5", 400],
    ["Content-Length: ", 400],
    ["Content-Length: 99999999999999999999", 400],
    ["Transfer-Encoding: gzip, chunked", 501],
    ["Transfer-Encoding: gzip", 501],
    ["Transfer-Encoding: chunked, identity", 501],
    ["Transfer-Encoding: identity", 501],
    ["Transfer-Encoding: chunked\nTransfer-Encoding: chunked", 400],
    ["Transfer-Encoding: ", 501],
  ];
  for (const [fields, expected] of cases) {
    assert.equal(
      status(() =>
        requestFraming(head(`POST / HTTP/1.1\nHost: a\n${fields}\n\n`))
      ),
      expected,
      fields,
    );
  }
  assert.equal(
    status(() =>
      requestFraming(head("POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n"))
    ),
    400,
  );
});

Deno.test("LengthDecoder stops at the length in any split", () => {
  const bytes = encoder.encode("hello worldGET /next");
  for (const parts of everySplit(bytes)) {
    const d = new LengthDecoder(11);
    const body: Uint8Array[] = [];
    let consumed = 0;
    for (const part of parts) {
      const result = d.decode(part);
      body.push(...result.data);
      consumed += result.consumed;
    }
    assert.equal(decoder.decode(concat(...body)), "hello world");
    assert.equal(consumed, 11);
    assert.ok(d.done);
  }
});

Deno.test("ChunkedDecoder decodes chunks, extensions and trailers in any split", () => {
  assert.deepEqual(
    decodeChunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET"),
    { body: "hello world", rest: "GET" },
  );
  assert.deepEqual(
    decodeChunked(
      'A;name=value ; q="a \\"quoted\\" one";flag\r\n0123456789\r\n' +
        "000\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
    ),
    { body: "0123456789", rest: "" },
  );
  assert.deepEqual(decodeChunked("0\r\n\r\n"), { body: "", rest: "" });
  assert.deepEqual(
    decodeChunked("1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"),
    { body: "abcdefghijklmnopqrstuvwxyz", rest: "" },
  );
});

Deno.test("ChunkedDecoder refuses bad sizes, bare CR or LF, bad trailers", () => {
  chunkedFails("x\r\n");
  chunkedFails("-1\r\n");
  chunkedFails(" 5\r\nhello\r\n");
  chunkedFails("5 5\r\nhello\r\n");
  chunkedFails("0x5\r\nhello\r\n");
  chunkedFails("\r\n");
  chunkedFails("12345678901234567\r\n"); // 17 hex digits
  chunkedFails("fffffffffffffff\r\n"); // past 2^53
  chunkedFails("5\nhello\r\n0\r\n\r\n"); // bare LF after the size
  chunkedFails("5\rhello\r\n"); // bare CR
  chunkedFails("5\r\nhelloX\r\n"); // data longer than its size
  chunkedFails("5\r\nhello\n0\r\n\r\n"); // bare LF after data
  chunkedFails("5;\r\nhello\r\n"); // an extension without a name
  chunkedFails("5;a=\r\nhello\r\n");
  chunkedFails('5;a="unterminated\r\nhello\r\n');
  chunkedFails("0\r\nbad trailer\r\n\r\n");
  chunkedFails("0\r\n folded: no\r\n\r\n");
  chunkedFails("0\r\nX: a\nY: b\r\n\r\n");
  // A size line past the limit fails before its end arrives.
  const long = new ChunkedDecoder();
  assert.equal(
    status(() =>
      long.decode(encoder.encode("1" + ";a".repeat(MAX_CHUNK_LINE)))
    ),
    400,
  );
});

Deno.test("ChunkedDecoder bounds the trailer section with 431", () => {
  const d = new ChunkedDecoder();
  d.decode(encoder.encode("0\r\n"));
  const field = encoder.encode(`X-Pad: ${"a".repeat(1000)}\r\n`);
  assert.equal(
    status(() => {
      for (let i = 0; i < 100; i++) d.decode(field);
    }),
    431,
  );
});

Deno.test("clientKeepsAlive() follows RFC 9112 section 9.3", () => {
  assert.equal(clientKeepsAlive(head("GET / HTTP/1.1\nHost: a\n\n")), true);
  assert.equal(
    clientKeepsAlive(head("GET / HTTP/1.1\nConnection: Close\n\n")),
    false,
  );
  assert.equal(clientKeepsAlive(head("GET / HTTP/1.0\n\n")), false);
  assert.equal(
    clientKeepsAlive(head("GET / HTTP/1.0\nConnection: Keep-Alive\n\n")),
    true,
  );
  assert.equal(
    expectsContinue(head("PUT / HTTP/1.1\nExpect: 100-Continue\n\n")),
    true,
  );
  assert.equal(
    expectsContinue(head("PUT / HTTP/1.0\nExpect: 100-continue\n\n")),
    false,
  );
});

Deno.test("responseHasNoBody() covers HEAD, 1xx, 204 and 304", () => {
  assert.equal(responseHasNoBody("HEAD", 200), true);
  assert.equal(responseHasNoBody("GET", 204), true);
  assert.equal(responseHasNoBody("GET", 304), true);
  assert.equal(responseHasNoBody("GET", 200), false);
  assert.equal(responseHasNoBody("POST", 404), false);
});

Deno.test("encodeResponseHead() owns framing and connection fields", () => {
  const headers = new Headers({
    "Content-Type": "text/plain",
    "Content-Length": "999",
    "Transfer-Encoding": "gzip",
    Connection: "upgrade",
    "Set-Cookie": "a=1",
  });
  headers.append("Set-Cookie", "b=2");
  const text = decoder.decode(
    encodeResponseHead(
      200,
      "",
      headers,
      { kind: "length", length: 3 },
      "close",
    ),
  );
  const lines = text.split("\r\n");
  assert.equal(lines[0], "HTTP/1.1 200 OK");
  assert.ok(lines.includes("content-type: text/plain"));
  assert.ok(lines.includes("set-cookie: a=1"));
  assert.ok(lines.includes("set-cookie: b=2"));
  assert.ok(lines.includes("content-length: 3"));
  assert.ok(lines.includes("connection: close"));
  assert.ok(lines.some((line) => /^date: \w{3}, \d\d \w{3} \d{4} /.test(line)));
  assert.ok(!text.includes("999") && !text.includes("gzip"));
  assert.ok(text.endsWith("\r\n\r\n"));
  const chunked = decoder.decode(
    encodeResponseHead(
      404,
      "Nope",
      new Headers(),
      { kind: "chunked" },
      undefined,
    ),
  );
  assert.match(chunked, /^HTTP\/1\.1 404 Nope\r\n/);
  assert.match(chunked, /\r\ntransfer-encoding: chunked\r\n\r\n$/);
  assert.ok(!chunked.includes("connection"));
});

Deno.test("encodeChunk() frames data with a hex size", () => {
  assert.equal(
    decoder.decode(encodeChunk(encoder.encode("x".repeat(26)))),
    `1a\r\n${"x".repeat(26)}\r\n`,
  );
  assert.equal(
    decoder.decode(
      encodeChunk(
        encoder.encode("hi"),
        encoder.encode("HEAD\r\n\r\n"),
        encoder.encode("0\r\n\r\n"),
      ),
    ),
    "HEAD\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
  );
});

Deno.test("clientAddress() trusts only the proxies it is told to", () => {
  const xff = new Headers({ "X-Forwarded-For": "203.0.113.7, 10.0.0.2" });
  // Nobody trusted: the peer, whatever the headers say.
  assert.equal(clientAddress("10.0.0.1", xff, undefined), "10.0.0.1");
  // One hop: the address the proxy saw.
  assert.equal(clientAddress("10.0.0.1", xff, 1), "10.0.0.2");
  assert.equal(clientAddress("10.0.0.1", xff, 2), "203.0.113.7");
  assert.equal(clientAddress("10.0.0.1", xff, 5), "203.0.113.7");
  // A list: skip trusted proxies from the right.
  assert.equal(
    clientAddress("10.0.0.1", xff, ["10.0.0.1", "10.0.0.2"]),
    "203.0.113.7",
  );
  assert.equal(clientAddress("10.0.0.1", xff, ["10.0.0.1"]), "10.0.0.2");
  // A peer that is not trusted is the client.
  assert.equal(
    clientAddress("198.51.100.9", xff, ["10.0.0.1"]),
    "198.51.100.9",
  );
  assert.equal(
    clientAddress("10.0.0.1", xff, (a) => a.startsWith("10.")),
    "203.0.113.7",
  );
  // Forwarded (RFC 7239) wins over X-Forwarded-For, IPv6 and ports included.
  const forwarded = new Headers({
    Forwarded: 'for="[2001:DB8::1]:4711";proto=https, for=192.0.2.60:8080',
    "X-Forwarded-For": "1.1.1.1",
  });
  assert.equal(clientAddress("::1", forwarded, 1), "192.0.2.60");
  assert.equal(clientAddress("::1", forwarded, 2), "2001:db8::1");
  // An obfuscated or garbage node stops the walk.
  const hidden = new Headers({ Forwarded: "for=_hidden, for=192.0.2.1" });
  assert.equal(clientAddress("10.0.0.1", hidden, 5), "192.0.2.1");
  const garbage = new Headers({ "X-Forwarded-For": "<script>, 1.2.3.4" });
  assert.equal(clientAddress("10.0.0.1", garbage, 5), "1.2.3.4");
  assert.equal(
    clientAddress(
      "10.0.0.1",
      new Headers({ "X-Forwarded-For": "999.1.1.1" }),
      1,
    ),
    "10.0.0.1",
  );
  assert.equal(clientAddress(undefined, xff, 1), undefined);
});

Deno.test("parseHead() reads fields in order and refuses what parseRequestHead refuses", () => {
  const parsed = parseHead(
    encoder.encode(
      "GET /a?b HTTP/1.1\r\nHost: x\r\nX-A:  1 \r\nx-a: 2\r\nEmpty:\r\n\r\n",
    ),
  );
  assert.equal(parsed.method, "GET");
  assert.equal(parsed.target, "/a?b");
  assert.equal(parsed.version, "1.1");
  assert.deepEqual(parsed.headers.list, [
    "Host",
    "x",
    "X-A",
    "1",
    "x-a",
    "2",
    "Empty",
    "",
  ]);
  assert.equal(parsed.headers.get("x-a"), "1, 2");
  assert.equal(parsed.headers.get("missing"), null);
  const latin1 = parseHead(
    new Uint8Array([
      ...encoder.encode("GET / HTTP/1.1\r\nX: caf"),
      0xe9,
      ...encoder.encode("\r\n\r\n"),
    ]),
  );
  assert.equal(latin1.headers.get("x"), "caf\xe9");
  for (
    const bad of [
      "GET / HTTP/1.1\r\nHost: x\nY: z\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",
      "GET / HTTP/1.1\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
      "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
      "GET /\nHTTP/1.1\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      "GET / HTTP/11\r\n\r\n",
      "GET / HTTP/1.1\r\n",
    ]
  ) {
    const bytes = encoder.encode(bad);
    assert.equal(status(() => parseHead(bytes)), 400, JSON.stringify(bad));
    assert.equal(
      status(() => parseRequestHead(bytes)),
      400,
      JSON.stringify(bad),
    );
  }
});

Deno.test("ResponseFields reads a response's fields once, keeping those the server owns apart", () => {
  const headers = new Headers({
    "Content-Length": "12",
    Connection: "Keep-Alive, CLOSE",
    Date: "Sun, 06 Dec 2026 10:00:00 GMT",
    "X-A": "1",
  });
  const fields = new ResponseFields(headers);
  assert.equal(fields.contentLength, "12");
  assert.equal(fields.close, true);
  assert.equal(fields.date, true);
  assert.equal(
    fields.lines,
    "date: Sun, 06 Dec 2026 10:00:00 GMT\r\nx-a: 1\r\n",
  );
  const plain = new ResponseFields(new Headers({ connection: "keep-alive" }));
  assert.equal(plain.close, false);
  assert.equal(plain.contentLength, null);
  assert.equal(plain.date, false);
  assert.equal(plain.lines, "");
  // A head made in a given buffer when it fits, a new one otherwise.
  const into = new Uint8Array(256);
  const head = encodeResponseHead(
    200,
    "",
    fields,
    { kind: "length", length: 2 },
    undefined,
    encoder.encode("ok"),
    into,
  );
  assert.equal(head.buffer, into.buffer);
  assert.match(decoder.decode(head), /content-length: 2\r\n\r\nok$/);
  const small = encodeResponseHead(
    200,
    "",
    fields,
    { kind: "length", length: 2 },
    undefined,
    undefined,
    new Uint8Array(8),
  );
  assert.notEqual(small.buffer.byteLength, 8);
});
