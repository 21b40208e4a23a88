import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import {
  buildHixie75Response,
  buildHixie76Response,
  buildHixieRequest,
  createHixie76Challenge,
  detectVersion,
  generateHixie76Key,
  hixie76Answer,
  type HixieResponseCheck,
  parseHixie76Key,
  validateHixieResponse,
  verifyHixie76Answer,
} from "../legacy/handshake.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The worked example of draft-hixie-thewebsocketprotocol-76 section 1.3. */
const KEY1 = "4 @1  46546xW%0l 1 5";
const KEY2 = "12998 5 Y3 1  .P00";
const KEY3 = encoder.encode("^n:ds[4U");
const ANSWER = "8jKS'y:G*Co,Wxa-";

/** A tiny seeded PRNG (mulberry32): floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asserts `fn` throws a HandshakeError with `code`. */
function assertHandshakeError(fn: () => unknown, code: string): HandshakeError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError`);
  assert.equal(caught.code, code);
  return caught;
}

Deno.test("hixie76Answer() reproduces the draft's worked example", () => {
  const answer = hixie76Answer(KEY1, KEY2, KEY3);
  assert.equal(answer.length, 16);
  assert.deepEqual(answer, encoder.encode(ANSWER));
});

Deno.test("hixie76Answer() rejects a key3 that is not 8 bytes", () => {
  assert.throws(
    () => hixie76Answer(KEY1, KEY2, new Uint8Array(7)),
    RangeError,
  );
});

Deno.test("hixie76Answer() rejects a bad key with BAD_KEY", () => {
  assertHandshakeError(() => hixie76Answer("123", KEY2, KEY3), "BAD_KEY");
});

Deno.test("parseHixie76Key() parses the draft's example keys", () => {
  assert.equal(parseHixie76Key(KEY1), 4146546015 / 5);
  assert.equal(parseHixie76Key(KEY2), 1299853100 / 5);
});

Deno.test("parseHixie76Key() rejects a key without spaces", () => {
  const error = assertHandshakeError(
    () => parseHixie76Key("12345abc"),
    "BAD_KEY",
  );
  assert.equal(error.status, 400);
  assert.match(error.message, /no spaces/);
});

Deno.test("parseHixie76Key() rejects a number that is not a multiple of the spaces", () => {
  // 10 / 3 spaces is not an integer.
  const error = assertHandshakeError(
    () => parseHixie76Key("1 x 0 "),
    "BAD_KEY",
  );
  assert.equal(error.status, 400);
  assert.match(error.message, /multiple/);
});

Deno.test("parseHixie76Key() rejects a quotient above 2^32 - 1", () => {
  assert.equal(parseHixie76Key("42949 67295"), 4294967295);
  assertHandshakeError(() => parseHixie76Key("42949 67296"), "BAD_KEY");
  // Far past 2^53: still exact, still rejected.
  assertHandshakeError(
    () => parseHixie76Key("1 000000000000000000000000000000"),
    "BAD_KEY",
  );
});

Deno.test("parseHixie76Key() ignores everything but digits and spaces", () => {
  assert.equal(parseHixie76Key("x 1-2;3  z"), 41);
  assert.equal(parseHixie76Key("a b"), 0);
  // Non-ASCII digits are not digits.
  assert.equal(parseHixie76Key("\u0661 8"), 8);
});

Deno.test("generateHixie76Key() round-trips through parseHixie76Key() for many seeds", () => {
  for (let seed = 1; seed <= 500; seed++) {
    const source = mulberry32(seed);
    const draws: number[] = [];
    const key = generateHixie76Key(() => {
      const value = source();
      draws.push(value);
      return value;
    });
    const spaces = 1 + Math.floor(draws[0] * 12);
    const max = Math.floor(4294967295 / spaces);
    const number = Math.floor(draws[1] * (max + 1));
    assert.equal(parseHixie76Key(key), number, `seed ${seed}: ${key}`);
    assert.equal(key.split(" ").length - 1, spaces, `seed ${seed}`);
    assert.ok(!key.startsWith(" ") && !key.endsWith(" "), `seed ${seed}`);
    assert.equal(key.replace(/[^0-9]/g, ""), String(number * spaces));
    const extras = key.replace(/[0-9 ]/g, "");
    assert.ok(extras.length >= 1 && extras.length <= 12, `seed ${seed}`);
    assert.match(extras, /^[\x21-\x2f\x3a-\x7e]+$/);
  }
});

Deno.test("generateHixie76Key() is deterministic for a seed", () => {
  assert.equal(
    generateHixie76Key(mulberry32(42)),
    generateHixie76Key(mulberry32(42)),
  );
  assert.notEqual(
    generateHixie76Key(mulberry32(42)),
    generateHixie76Key(mulberry32(43)),
  );
});

Deno.test("generateHixie76Key() uses crypto randomness by default", () => {
  const keys = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const key = generateHixie76Key();
    assert.ok(parseHixie76Key(key) <= 4294967295);
    keys.add(key);
  }
  assert.ok(keys.size > 1);
});

Deno.test("createHixie76Challenge() returns keys and their answer", () => {
  const challenge = createHixie76Challenge(mulberry32(7));
  assert.equal(challenge.key3.length, 8);
  assert.deepEqual(
    challenge.answer,
    hixie76Answer(challenge.key1, challenge.key2, challenge.key3),
  );
  assert.deepEqual(createHixie76Challenge(mulberry32(7)), challenge);
  const random = createHixie76Challenge();
  assert.deepEqual(
    random.answer,
    hixie76Answer(random.key1, random.key2, random.key3),
  );
});

Deno.test("buildHixie76Response() writes the exact head", () => {
  const head = buildHixie76Response({
    host: "example.com",
    resource: "/demo?x=1",
    secure: false,
    origin: "http://example.com",
    protocol: "sample",
  });
  assert.equal(
    decoder.decode(head),
    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
      "Upgrade: WebSocket\r\n" +
      "Connection: Upgrade\r\n" +
      "Sec-WebSocket-Origin: http://example.com\r\n" +
      "Sec-WebSocket-Location: ws://example.com/demo?x=1\r\n" +
      "Sec-WebSocket-Protocol: sample\r\n" +
      "\r\n",
  );
});

Deno.test("buildHixie76Response() uses wss and omits an absent protocol and origin", () => {
  const head = buildHixie76Response({
    host: "example.com:8443",
    resource: "/",
    secure: true,
  });
  assert.equal(
    decoder.decode(head),
    "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
      "Upgrade: WebSocket\r\n" +
      "Connection: Upgrade\r\n" +
      "Sec-WebSocket-Location: wss://example.com:8443/\r\n" +
      "\r\n",
  );
});

Deno.test("buildHixie75Response() writes the exact head", () => {
  const head = buildHixie75Response({
    host: "example.com",
    resource: "/demo",
    secure: false,
    origin: "http://example.com",
    protocol: "sample",
  });
  assert.equal(
    decoder.decode(head),
    "HTTP/1.1 101 Web Socket Protocol Handshake\r\n" +
      "Upgrade: WebSocket\r\n" +
      "Connection: Upgrade\r\n" +
      "WebSocket-Origin: http://example.com\r\n" +
      "WebSocket-Location: ws://example.com/demo\r\n" +
      "WebSocket-Protocol: sample\r\n" +
      "\r\n",
  );
  assert.doesNotMatch(
    decoder.decode(
      buildHixie75Response({ host: "h", resource: "/", secure: true }),
    ),
    /Protocol:/,
  );
});

Deno.test("buildHixie76Response() rejects values that would break the head", () => {
  const base = { host: "example.com", resource: "/", secure: false };
  assert.throws(
    () => buildHixie76Response({ ...base, origin: "http://a\r\nX: y" }),
    TypeError,
  );
  assert.throws(
    () => buildHixie75Response({ ...base, host: "a\nb" }),
    TypeError,
  );
  assert.throws(
    () => buildHixie76Response({ ...base, resource: "demo" }),
    TypeError,
  );
});

Deno.test("buildHixieRequest() writes the exact hixie-76 request and key3", () => {
  const bytes = buildHixieRequest({
    version: "hixie-76",
    url: new URL("ws://Example.com/demo?x=1#frag"),
    origin: "http://example.com",
    protocol: "sample",
    key1: KEY1,
    key2: KEY2,
    key3: KEY3,
    headers: [["Cookie", "a=b"], ["X-Trace", "1"]],
  });
  const head = "GET /demo?x=1 HTTP/1.1\r\n" +
    "Upgrade: WebSocket\r\n" +
    "Connection: Upgrade\r\n" +
    "Host: example.com\r\n" +
    "Origin: http://example.com\r\n" +
    `Sec-WebSocket-Key1: ${KEY1}\r\n` +
    `Sec-WebSocket-Key2: ${KEY2}\r\n` +
    "Sec-WebSocket-Protocol: sample\r\n" +
    "Cookie: a=b\r\n" +
    "X-Trace: 1\r\n" +
    "\r\n";
  assert.equal(decoder.decode(bytes), head + "^n:ds[4U");
  assert.deepEqual(bytes.subarray(bytes.length - 8), KEY3);
});

Deno.test("buildHixieRequest() writes the exact hixie-75 request", () => {
  const bytes = buildHixieRequest({
    version: "hixie-75",
    url: new URL("wss://example.com:8443"),
    origin: "https://example.com",
    protocol: "chat",
    headers: { "X-One": "1" },
  });
  assert.equal(
    decoder.decode(bytes),
    "GET / HTTP/1.1\r\n" +
      "Upgrade: WebSocket\r\n" +
      "Connection: Upgrade\r\n" +
      "Host: example.com:8443\r\n" +
      "Origin: https://example.com\r\n" +
      "WebSocket-Protocol: chat\r\n" +
      "X-One: 1\r\n" +
      "\r\n",
  );
});

Deno.test("buildHixieRequest() omits only the default port from Host", () => {
  const host = (url: string): string => {
    const text = decoder.decode(
      buildHixieRequest({
        version: "hixie-75",
        url: new URL(url),
        origin: "o",
      }),
    );
    return /\r\nHost: ([^\r]*)\r\n/.exec(text)![1];
  };
  assert.equal(host("ws://example.com:80/"), "example.com");
  assert.equal(host("wss://example.com:443/"), "example.com");
  assert.equal(host("ws://example.com:443/"), "example.com:443");
  assert.equal(host("wss://example.com:80/"), "example.com:80");
  assert.equal(host("ws://[::1]:8080/"), "[::1]:8080");
});

Deno.test("buildHixieRequest() rejects misuse", () => {
  const url = new URL("ws://example.com/");
  assert.throws(
    () => buildHixieRequest({ version: "hixie-76", url, origin: "o" }),
    TypeError,
  );
  assert.throws(
    () =>
      buildHixieRequest({
        version: "hixie-76",
        url,
        origin: "o",
        key1: KEY1,
        key2: KEY2,
        key3: new Uint8Array(9),
      }),
    RangeError,
  );
  assert.throws(
    () =>
      buildHixieRequest({
        version: "hixie-75",
        url: new URL("http://example.com/"),
        origin: "o",
      }),
    TypeError,
  );
  assert.throws(
    () =>
      buildHixieRequest({
        version: "hixie-75",
        url,
        origin: "o",
        headers: { host: "evil" },
      }),
    /set by the handshake/,
  );
  assert.throws(
    () =>
      buildHixieRequest({
        version: "hixie-75",
        url,
        origin: "o",
        headers: [["Bad Name", "x"]],
      }),
    TypeError,
  );
  assert.throws(
    () =>
      buildHixieRequest({
        version: "hixie-75",
        url,
        origin: "o",
        protocol: "a\r\nb",
      }),
    TypeError,
  );
});

/** A valid response to `ws://example.com/chat` for the given draft. */
function response(
  version: "hixie-76" | "hixie-75",
  overrides: Partial<HixieResponseCheck> = {},
  fields: Record<string, string | null> = {},
): HixieResponseCheck {
  const prefix = version === "hixie-76" ? "Sec-WebSocket-" : "WebSocket-";
  const base: Record<string, string | null> = {
    "Upgrade": "WebSocket",
    "Connection": "Upgrade",
    [`${prefix}Origin`]: "http://example.com",
    [`${prefix}Location`]: "ws://example.com/chat?room=1",
    ...fields,
  };
  const headers = new Headers();
  for (const [name, value] of Object.entries(base)) {
    if (value !== null) headers.set(name, value);
  }
  return {
    version,
    status: 101,
    statusText: "WebSocket Protocol Handshake",
    headers,
    url: new URL("ws://example.com/chat?room=1"),
    origin: "http://example.com",
    ...overrides,
  };
}

Deno.test("validateHixieResponse() accepts valid responses of both drafts", () => {
  validateHixieResponse(response("hixie-76"));
  validateHixieResponse(response("hixie-75"));
  validateHixieResponse(
    response("hixie-76", { protocol: "chat" }, {
      "Sec-WebSocket-Protocol": "chat",
    }),
  );
  validateHixieResponse(
    response("hixie-76", {}, {
      Upgrade: "websocket",
      Connection: "keep-alive, upgrade",
    }),
  );
  validateHixieResponse(
    response(
      "hixie-76",
      { url: new URL("wss://example.com:8443/chat?room=1") },
      {
        "Sec-WebSocket-Location": "wss://example.com:8443/chat?room=1",
      },
    ),
  );
});

Deno.test("validateHixieResponse() rejects a status other than 101", () => {
  const error = assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-76", { status: 200, statusText: "OK" }),
      ),
    "BAD_STATUS",
  );
  assert.equal(error.response?.status, 200);
  assert.equal(error.response?.statusText, "OK");
});

Deno.test("validateHixieResponse() rejects a bad Upgrade or Connection with BAD_UPGRADE", () => {
  assertHandshakeError(
    () => validateHixieResponse(response("hixie-76", {}, { Upgrade: "h2c" })),
    "BAD_UPGRADE",
  );
  assertHandshakeError(
    () => validateHixieResponse(response("hixie-75", {}, { Upgrade: null })),
    "BAD_UPGRADE",
  );
  assertHandshakeError(
    () =>
      validateHixieResponse(response("hixie-76", {}, { Connection: "close" })),
    "BAD_UPGRADE",
  );
  assertHandshakeError(
    () => validateHixieResponse(response("hixie-75", {}, { Connection: null })),
    "BAD_UPGRADE",
  );
});

Deno.test("validateHixieResponse() rejects an origin that differs with BAD_ORIGIN", () => {
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-76", {}, { "Sec-WebSocket-Origin": "http://evil.com" }),
      ),
    "BAD_ORIGIN",
  );
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-76", {}, { "Sec-WebSocket-Origin": null }),
      ),
    "BAD_ORIGIN",
  );
  // A draft-75 response must use the WebSocket- fields, not Sec-WebSocket-.
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-75", {}, {
          "WebSocket-Origin": null,
          "Sec-WebSocket-Origin": "http://example.com",
        }),
      ),
    "BAD_ORIGIN",
  );
});

Deno.test("validateHixieResponse() rejects a location that is not the dialled URL", () => {
  for (
    const location of [
      "ws://example.com/chat",
      "ws://example.com/chat?room=2",
      "wss://example.com/chat?room=1",
      "ws://example.com:80/chat?room=1",
      "ws://other.com/chat?room=1",
      null,
    ]
  ) {
    assertHandshakeError(
      () =>
        validateHixieResponse(
          response("hixie-75", {}, { "WebSocket-Location": location }),
        ),
      "BAD_LOCATION",
    );
  }
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-76", {
          url: new URL("ws://example.com:8080/chat?room=1"),
        }),
      ),
    "BAD_LOCATION",
  );
});

Deno.test("validateHixieResponse() rejects a subprotocol that was not asked for with BAD_PROTOCOL", () => {
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-76", {}, { "Sec-WebSocket-Protocol": "chat" }),
      ),
    "BAD_PROTOCOL",
  );
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-76", { protocol: "chat" }, {
          "Sec-WebSocket-Protocol": "superchat",
        }),
      ),
    "BAD_PROTOCOL",
  );
  assertHandshakeError(
    () => validateHixieResponse(response("hixie-75", { protocol: "chat" })),
    "BAD_PROTOCOL",
  );
  assertHandshakeError(
    () =>
      validateHixieResponse(
        response("hixie-75", {}, { "WebSocket-Protocol": "chat" }),
      ),
    "BAD_PROTOCOL",
  );
});

Deno.test("verifyHixie76Answer() accepts the answer and rejects others", () => {
  const expected = encoder.encode(ANSWER);
  verifyHixie76Answer(expected, encoder.encode(ANSWER));
  const wrong = encoder.encode(ANSWER);
  wrong[15] ^= 1;
  assertHandshakeError(
    () => verifyHixie76Answer(expected, wrong),
    "CHALLENGE_MISMATCH",
  );
  assertHandshakeError(
    () => verifyHixie76Answer(expected, expected.subarray(0, 15)),
    "CHALLENGE_MISMATCH",
  );
});

Deno.test("detectVersion() tells the drafts from RFC 6455", () => {
  assert.equal(
    detectVersion(
      new Headers({
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        Upgrade: "websocket",
      }),
    ),
    "13",
  );
  assert.equal(
    detectVersion(
      new Headers({
        Upgrade: "WebSocket",
        "Sec-WebSocket-Key1": KEY1,
        "Sec-WebSocket-Key2": KEY2,
      }),
    ),
    "hixie-76",
  );
  assert.equal(
    detectVersion(
      new Headers({ Upgrade: "WebSocket", "Sec-WebSocket-Key1": KEY1 }),
    ),
    "hixie-75",
  );
  assert.equal(
    detectVersion(new Headers({ Upgrade: "websocket" })),
    "hixie-75",
  );
  assert.equal(detectVersion(new Headers({ Upgrade: "h2c" })), undefined);
  assert.equal(detectVersion(new Headers()), undefined);
});

Deno.test("a hixie-76 client and server agree on the challenge", () => {
  const challenge = createHixie76Challenge(mulberry32(2024));
  const request = buildHixieRequest({
    version: "hixie-76",
    url: new URL("ws://example.com/chat"),
    origin: "http://example.com",
    ...challenge,
  });
  // The server side: parse the head, take the 8 bytes after it.
  const text = decoder.decode(request.subarray(0, request.length - 8));
  const headers = new Headers();
  for (const line of text.split("\r\n").slice(1, -2)) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon), line.slice(colon + 2));
  }
  assert.equal(detectVersion(headers), "hixie-76");
  const answer = hixie76Answer(
    headers.get("sec-websocket-key1")!,
    headers.get("sec-websocket-key2")!,
    request.subarray(request.length - 8),
  );
  verifyHixie76Answer(challenge.answer, answer);
});
