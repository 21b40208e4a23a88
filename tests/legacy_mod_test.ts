// legacy/mod.ts, the seam to the legacy drafts: which requests speak a draft,
// the errors for a disabled or broken one, and each side of a draft
// handshake run against the other over an in-memory pair.

import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import { parseRequestHead, type RequestHead } from "../handshake.ts";
import {
  legacyDialer,
  legacyRequest,
  type LegacyVersion,
} from "../legacy/mod.ts";
import type { ProtocolVersion } from "../protocol/machine.ts";
import { readHead } from "../_util/io.ts";
import { memoryPair } from "./_util.ts";

const VERSIONS: LegacyVersion[] = ["hixie-76", "hixie-75"];
const ALL: ProtocolVersion[] = ["13", "8", "hixie-76", "hixie-75"];

function request(lines: string[], method = "GET"): RequestHead {
  return parseRequestHead(
    new TextEncoder().encode(
      `${method} /chat HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`,
    ),
  );
}

const RFC6455 = [
  "Host: example.com",
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version: 13",
];

const DRAFT: Record<LegacyVersion, string[]> = {
  "hixie-76": [
    "Host: example.com",
    "Upgrade: WebSocket",
    "Connection: Upgrade",
    "Origin: http://example.com",
    "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5",
    "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00",
    "Sec-WebSocket-Protocol: chat",
  ],
  "hixie-75": [
    "Host: example.com",
    "Upgrade: WebSocket",
    "Connection: Upgrade",
    "Origin: http://example.com",
    "WebSocket-Protocol: chat",
  ],
};

function handshakeError(status: number, code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    return true;
  };
}

Deno.test("legacyRequest() gives undefined for an RFC 6455 request", () => {
  assert.equal(legacyRequest(request(RFC6455), ALL), undefined);
});

Deno.test("legacyRequest() gives undefined for any request with Sec-WebSocket-Version, however broken", () => {
  // Draft-76 keys, but the version header makes it RFC 6455: the RFC's
  // validation, not the draft's, answers it.
  const head = request([...DRAFT["hixie-76"], "Sec-WebSocket-Version: 99"]);
  assert.equal(legacyRequest(head, ALL), undefined);
});

Deno.test("legacyRequest() gives undefined for a request that is no upgrade", () => {
  assert.equal(legacyRequest(request(["Host: example.com"]), ALL), undefined);
});

for (const version of VERSIONS) {
  Deno.test(`legacyRequest() gives ${version} and its subprotocol for a ${version} request`, () => {
    const legacy = legacyRequest(request(DRAFT[version]), ALL);
    assert.equal(legacy?.version, version);
    assert.deepEqual(legacy?.protocols, ["chat"]);
  });

  Deno.test(`legacyRequest() refuses a disabled ${version} with 400 and the enabled versions`, () => {
    const enabled = (["13", "8", ...VERSIONS] as ProtocolVersion[]).filter(
      (v) => v !== version,
    );
    assert.throws(
      () => legacyRequest(request(DRAFT[version]), enabled),
      (error: unknown) => {
        handshakeError(400, "BAD_VERSION")(error);
        const { headers, message } = error as HandshakeError;
        assert.equal(headers.get("sec-websocket-version"), "13, 8");
        assert.match(message, new RegExp(`${version} protocol is not enabled`));
        return true;
      },
    );
  });

  Deno.test(`legacyRequest() lists enabled versions given as ProtocolVersion for a disabled ${version}`, () => {
    const enabled: ProtocolVersion[] = ["13", "7"];
    assert.throws(
      () => legacyRequest(request(DRAFT[version]), enabled),
      (error: unknown) =>
        handshakeError(400, "BAD_VERSION")(error) &&
        (error as HandshakeError).headers.get("sec-websocket-version") ===
          "13, 7",
    );
  });

  Deno.test(`legacyRequest() refuses a ${version} POST with 405 and Allow`, () => {
    assert.throws(
      () => legacyRequest(request(DRAFT[version], "POST"), ALL),
      (error: unknown) =>
        handshakeError(405, "BAD_METHOD")(error) &&
        (error as HandshakeError).headers.get("allow") === "GET",
    );
  });

  Deno.test(`legacyRequest() refuses a ${version} request without Host with 400`, () => {
    const lines = DRAFT[version].filter((line) => !line.startsWith("Host"));
    assert.throws(
      () => legacyRequest(request(lines), ALL),
      handshakeError(400, "BAD_HOST"),
    );
  });

  Deno.test(`legacyRequest() refuses a ${version} request whose Connection lacks upgrade with 400`, () => {
    const lines = DRAFT[version].map((line) =>
      line.startsWith("Connection") ? "Connection: keep-alive" : line
    );
    assert.throws(
      () => legacyRequest(request(lines), ALL),
      handshakeError(400, "BAD_UPGRADE"),
    );
  });
}

Deno.test("legacyRequest() refuses a hixie-76 key without spaces with 400", () => {
  const lines = DRAFT["hixie-76"].map((line) =>
    line.startsWith("Sec-WebSocket-Key1") ? "Sec-WebSocket-Key1: 1234" : line
  );
  assert.throws(
    () => legacyRequest(request(lines), ALL),
    handshakeError(400, "BAD_KEY"),
  );
});

for (const version of ["13", "8", "7"] as const) {
  Deno.test(`legacyDialer() gives undefined for ${version}`, () => {
    assert.equal(legacyDialer(version), undefined);
  });
}

for (const version of VERSIONS) {
  Deno.test(`legacyDialer() and LegacyRequest.accept() open a ${version} connection`, async () => {
    const [client, server] = memoryPair();
    const signal = new AbortController().signal;
    const dialer = legacyDialer(version);
    assert.ok(dialer);
    const dialing = dialer({
      transport: client,
      url: new URL("ws://example.com/chat"),
      origin: "http://example.com",
      protocol: "chat",
      maxHeadSize: 16384,
      maxMessageSize: 1 << 20,
      signal,
    });
    const { head, rest } = await readHead(server, 16384, signal);
    const parsed = parseRequestHead(head);
    const legacy = legacyRequest(parsed, ALL);
    assert.equal(legacy?.version, version);
    assert.deepEqual(legacy.protocols, ["chat"]);
    const accepted = await legacy.accept({
      transport: server,
      request: new Request("http://example.com/chat"),
      rest,
      secure: false,
      protocol: "chat",
      maxMessageSize: 1 << 20,
      signal,
    });
    const dialed = await dialing;
    assert.equal(dialed.version, version);
    assert.equal(accepted.version, version);
    assert.equal(dialed.protocol, "chat");
    assert.equal(accepted.protocol, "chat");
    assert.equal(accepted.origin, "http://example.com");
    assert.equal(accepted.url, "ws://example.com/chat");
    await dialed.send("hello");
    const reader = accepted.readable.getReader();
    assert.deepEqual(await reader.read(), { value: "hello", done: false });
    reader.releaseLock();
    await dialed.close();
    await accepted.closed;
  });
}
