// legacy/_conn.ts driven directly: the connection a draft handshake opens
// carries the draft, its subprotocol and the handshake's leftover bytes.

import assert from "node:assert/strict";
import { openHixieConn } from "../legacy/_conn.ts";
import { memoryPair } from "./_util.ts";

Deno.test("openHixieConn() opens both sides of a hixie-75 connection that carry text", async () => {
  const [a, b] = memoryPair();
  const init = {
    version: "hixie-75" as const,
    protocol: "chat",
    maxMessageSize: 1024,
  };
  // The server's first frame arrived with the handshake: a text "hi".
  const client = openHixieConn("client", { ...init, transport: a }, {
    head: new Uint8Array([0x00, 0x68, 0x69, 0xff]),
    origin: "http://example.com",
    url: "ws://example.com/chat",
  });
  const server = openHixieConn("server", { ...init, transport: b }, {
    head: new Uint8Array(),
    origin: "http://example.com",
    url: "ws://example.com/chat",
  });
  assert.equal(client.version, "hixie-75");
  assert.equal(client.protocol, "chat");
  assert.equal(server.url, "ws://example.com/chat");
  const clientReader = client.readable.getReader();
  assert.deepEqual(await clientReader.read(), { value: "hi", done: false });
  clientReader.releaseLock();
  await client.send("back");
  const serverReader = server.readable.getReader();
  assert.deepEqual(await serverReader.read(), { value: "back", done: false });
  serverReader.releaseLock();
  await client.close();
  await server.closed;
});

Deno.test("openHixieConn() gives an empty protocol when none was agreed", async () => {
  const [a, b] = memoryPair();
  const init = {
    version: "hixie-76" as const,
    protocol: undefined,
    maxMessageSize: 1024,
  };
  const fields = { head: new Uint8Array(), origin: "", url: "ws://a/" };
  const client = openHixieConn("client", { ...init, transport: a }, fields);
  const server = openHixieConn("server", { ...init, transport: b }, fields);
  assert.equal(client.protocol, "");
  assert.equal(server.version, "hixie-76");
  await client.close();
  await server.closed;
});
