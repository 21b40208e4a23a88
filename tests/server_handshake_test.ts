// The server's handshake in steps (server/_handshake.ts, _read_upgrade.ts,
// _respond.ts), driven over an in-memory pair with literal request bytes.

import assert from "node:assert/strict";
import { HandshakeError, type ProtocolVersion } from "../mod.ts";
import { handshake } from "../server/_handshake.ts";
import {
  handshakeSettings,
  type UpgradeSocketOptions,
} from "../server/_options.ts";
import { Deadline } from "../_util/deadline.ts";
import { readToEnd } from "./_peers.ts";
import { memoryPair } from "./_util.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const UPGRADE = "GET /chat HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
  `Sec-WebSocket-Key: ${KEY}\r\n`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Runs a handshake on `request`: the connection or the error, and the
// response the client read (up to the end of the head for a 101).
async function run(
  request: string,
  options: UpgradeSocketOptions = {},
): Promise<{ result: unknown; response: string }> {
  const [client, server] = memoryPair();
  await client.write(encoder.encode(request));
  const timer = new Deadline(5_000, "Opening handshake");
  const result = await handshake(server, handshakeSettings(options), timer)
    .catch((error) => error);
  if (result instanceof Error) {
    return { result, response: decoder.decode(await readToEnd(client)) };
  }
  const buffer = new Uint8Array(4096);
  const n = await client.read(buffer);
  client.close();
  await (result as { closed: Promise<unknown> }).closed;
  return { result, response: decoder.decode(buffer.subarray(0, n!)) };
}

Deno.test("handshake() answers an RFC 6455 request with 101 and the connection", async () => {
  const { result, response } = await run(
    UPGRADE + "Sec-WebSocket-Protocol: b, a\r\n\r\n",
    { protocols: ["a", "b"] },
  );
  assert.match(response, /^HTTP\/1\.1 101 /);
  assert.match(
    response,
    /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i,
  );
  assert.match(response, /sec-websocket-protocol: a/i);
  const conn = result as { protocol: string; version: string; url: string };
  assert.equal(conn.protocol, "a");
  assert.equal(conn.version, "13");
  assert.equal(conn.url, "ws://a.test/chat");
});

Deno.test("handshake() accepts the hybi versions it is given, as strings or numbers", async () => {
  const request = UPGRADE.replace("Version: 13", "Version: 8") + "\r\n";
  // Numbers, as earlier releases took them, are still read.
  const numbers = [13, 8] as unknown as ProtocolVersion[];
  for (const versions of [["13", "8"] as const, numbers]) {
    const { result } = await run(request, { versions });
    assert.equal((result as { version: string }).version, "8");
  }
  const { result, response } = await run(request);
  assert.ok(result instanceof HandshakeError);
  assert.equal(result.code, "BAD_VERSION");
  assert.match(response, /^HTTP\/1\.1 400 /);
  assert.match(response, /sec-websocket-version: 13/i);
});

Deno.test("handshake() asks the legacy seam about a draft request", async () => {
  const draft = "GET /chat HTTP/1.1\r\nHost: a.test\r\nUpgrade: WebSocket\r\n" +
    "Connection: Upgrade\r\nOrigin: http://a.test\r\n\r\n";
  const refused = await run(draft);
  assert.ok(refused.result instanceof HandshakeError);
  assert.equal(refused.result.code, "BAD_VERSION");
  assert.match(refused.response, /^HTTP\/1\.1 400 /);
  const { result, response } = await run(draft, {
    versions: ["13", "hixie-75"],
  });
  assert.equal((result as { version: string }).version, "hixie-75");
  assert.match(response, /^HTTP\/1\.1 101 /);
});

Deno.test("handshake() applies the policies in order: origin, beforeUpgrade, subprotocol", async () => {
  const foreign = UPGRADE + "Origin: http://evil.test\r\n\r\n";
  const origin = await run(foreign);
  assert.equal((origin.result as HandshakeError).status, 403);
  assert.match(origin.response, /^HTTP\/1\.1 403 /);
  const refused = await run(UPGRADE + "\r\n", {
    beforeUpgrade: () => new Response("no", { status: 401 }),
  });
  assert.equal((refused.result as HandshakeError).status, 401);
  assert.match(refused.response, /^HTTP\/1\.1 401 [^]*\r\n\r\nno$/);
  const wrong = await run(UPGRADE + "Sec-WebSocket-Protocol: a\r\n\r\n", {
    protocols: () => "z",
  });
  assert.ok(wrong.result instanceof TypeError);
});

Deno.test("handshake() answers a plain request with 426, or its fallback", async () => {
  const plain = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  const bare = await run(plain);
  assert.equal((bare.result as HandshakeError).status, 426);
  assert.match(bare.response, /^HTTP\/1\.1 426 [^]*upgrade: websocket/i);
  const page = await run(plain + UPGRADE + "\r\n", {
    fallback: () => new Response("page"),
  });
  // The page, then the upgrade on the same connection.
  assert.match(page.response, /^HTTP\/1\.1 200 [^]*page/);
  assert.equal((page.result as { url: string }).url, "ws://a.test/chat");
});

Deno.test("handshake() negotiates the extensions it is given, and only then reads the offer", async () => {
  const offer = UPGRADE +
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
  const deflate = await run(offer, { compression: true });
  assert.match(
    deflate.response,
    /sec-websocket-extensions: permessage-deflate/i,
  );
  assert.match(
    (deflate.result as { extensions: string }).extensions,
    /^permessage-deflate/,
  );
  const broken = UPGRADE + "Sec-WebSocket-Extensions: ;;;\r\n\r\n";
  const ignored = await run(broken);
  assert.equal((ignored.result as { extensions: string }).extensions, "");
  const parsed = await run(broken, { compression: true });
  assert.equal((parsed.result as HandshakeError).code, "BAD_EXTENSION");
});
