// An RFC 6455 connection made after its handshake (conn/_rfc6455.ts):
// its limit and its extension's life.

import assert from "node:assert/strict";
import type { PerMessageExtension } from "../extensions/extension.ts";
import { rfc6455Conn } from "../conn/_rfc6455.ts";
import { memoryPair } from "./_util.ts";

Deno.test("rfc6455Conn() frees its extension once, when the transport closes", async () => {
  const [a, b] = memoryPair();
  let closed = 0;
  const identity = {
    name: "x-identity",
    header: "x-identity",
    compress: () => undefined,
    decompress: (fragment: Uint8Array) => fragment,
    close: () => closed++,
  } as PerMessageExtension;
  const server = rfc6455Conn({
    role: "server",
    transport: a,
    url: "ws://memory/",
    extension: identity,
    extensions: identity.header,
  });
  const client = rfc6455Conn({ role: "client", transport: b, url: "ws://m/" });
  assert.equal(server.extensions, "x-identity");
  assert.equal(closed, 0);
  await client.close();
  await server.closed;
  assert.equal(closed, 1);
});

Deno.test("rfc6455Conn() closes with 1009 past maxMessageSize", async () => {
  const [a, b] = memoryPair();
  const server = rfc6455Conn({
    role: "server",
    transport: a,
    url: "ws://memory/",
    maxMessageSize: 4,
  });
  const client = rfc6455Conn({ role: "client", transport: b, url: "ws://m/" });
  const reading = (async () => {
    for await (const _ of server);
  })().catch(() => {});
  await client.send("too long");
  assert.equal((await client.closed).code, 1009);
  await reading;
  await server.closed;
});
