// The answers a server gives instead of a 101 (server/_respond.ts): written
// whole with Connection: close, and the socket closed after.

import assert from "node:assert/strict";
import { HandshakeError } from "../mod.ts";
import {
  errorResponse,
  respond,
  serverBusy,
  upgradeRequired,
} from "../server/_respond.ts";
import { decoder, readToEnd } from "./_peers.ts";
import { memoryPair } from "./_util.ts";

Deno.test("respond() writes the response with its length and closes the socket", async () => {
  const [client, server] = memoryPair();
  await respond(server, new Response("hello", { status: 404 }), "GET");
  assert.ok(server.isClosed);
  const text = decoder.decode(await readToEnd(client));
  assert.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(text, /content-length: 5\r\n/i);
  assert.match(text, /connection: close\r\n/i);
  assert.ok(text.endsWith("\r\n\r\nhello"));
});

Deno.test("respond() sends no body to a HEAD request", async () => {
  const [client, server] = memoryPair();
  await respond(server, new Response("hello"), "HEAD");
  const text = decoder.decode(await readToEnd(client));
  assert.match(text, /content-length: 0\r\n/i);
  assert.ok(text.endsWith("\r\n\r\n"));
});

Deno.test("errorResponse(), upgradeRequired() and serverBusy() carry their status and headers", async () => {
  const error = new HandshakeError("BAD_VERSION", "Unsupported version", {
    status: 400,
    headers: { "Sec-WebSocket-Version": "13" },
  });
  const response = errorResponse(error);
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("sec-websocket-version"), "13");
  assert.equal(await response.text(), "Unsupported version\n");
  const required = upgradeRequired();
  assert.equal(required.status, 426);
  assert.equal(required.headers.get("upgrade"), "websocket");
  await required.body?.cancel();
  const busy = serverBusy();
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  await busy.body?.cancel();
});
