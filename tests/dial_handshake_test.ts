// The client's RFC 6455 handshake (dial/_handshake.ts) and the opening of
// its transport (dial/_open.ts), driven over in-memory pairs with a
// scripted server.

import assert from "node:assert/strict";
import { HandshakeError } from "../mod.ts";
import { computeAccept } from "../handshake.ts";
import { dialRfc6455, speaks } from "../dial/_handshake.ts";
import { closeQuietly, endpoint, openTransport } from "../dial/_open.ts";
import { RedirectChain } from "../dial/_redirects.ts";
import { deadline } from "../_util/deadline.ts";
import { memoryPair, type MemoryTransport } from "./_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Reads one request head from the client's side of a pair.
async function readRequest(server: MemoryTransport): Promise<string> {
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n")) {
    const n = await server.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text;
}

async function answer101(server: MemoryTransport, extra = ""): Promise<string> {
  const request = await readRequest(server);
  const key = /sec-websocket-key: (\S+)/i.exec(request)![1];
  await server.write(encoder.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await computeAccept(
        key,
      )}\r\n${extra}\r\n`,
  ));
  return request;
}

Deno.test("speaks() names the versions the RFC 6455 handshake sends", () => {
  assert.ok(speaks("13"));
  assert.ok(!speaks("8"));
  assert.ok(!speaks("hixie-76"));
});

Deno.test("dialRfc6455() follows a redirect on a new transport and returns the connection", async () => {
  const [first, firstServer] = memoryPair();
  const [second, secondServer] = memoryPair();
  const targets: string[] = [];
  const options = {
    proxy: false as const,
    headers: { Authorization: "Bearer x" },
    connect: (target: { url: URL }) => {
      targets.push(target.url.href);
      return Promise.resolve(second);
    },
  };
  const chain = new RedirectChain(
    new URL("ws://a.test/one"),
    5,
    options.headers,
  );
  using timer = deadline(5_000, "Opening handshake");
  const serving = (async () => {
    assert.match(await readRequest(firstServer), /^GET \/one HTTP\/1\.1/);
    await firstServer.write(encoder.encode(
      "HTTP/1.1 302 Found\r\nLocation: ws://b.test/two\r\n\r\n",
    ));
    return await answer101(secondServer, "Sec-WebSocket-Protocol: chat\r\n");
  })();
  const conn = await dialRfc6455(first, options, ["chat"], [], chain, timer);
  const request = await serving;
  assert.ok(first.isClosed);
  assert.deepEqual(targets, ["ws://b.test/two"]);
  assert.match(request, /^GET \/two HTTP\/1\.1/);
  // Credentials stay with the first host.
  assert.doesNotMatch(request, /authorization/i);
  assert.equal(conn.url, "ws://b.test/two");
  assert.equal(conn.protocol, "chat");
  assert.deepEqual(chain.followed, ["ws://b.test/two"]);
  secondServer.close();
  await conn.closed;
});

Deno.test("dialRfc6455() closes its transport when the answer is refused", async () => {
  const [client, server] = memoryPair();
  const chain = new RedirectChain(new URL("ws://a.test/"), 5, undefined);
  using timer = deadline(5_000, "Opening handshake");
  const serving = answer101(server, "Sec-WebSocket-Extensions: x-none\r\n");
  const error = await dialRfc6455(client, {}, [], [], chain, timer)
    .catch((error) => error);
  await serving;
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.code, "BAD_EXTENSION");
  assert.ok(client.isClosed);
});

Deno.test("endpoint() and openTransport() reach the URL's host and port", async () => {
  assert.deepEqual(endpoint(new URL("wss://[::1]/")), {
    hostname: "::1",
    port: 443,
    tls: true,
  });
  assert.deepEqual(endpoint(new URL("ws://a.test:81/")), {
    hostname: "a.test",
    port: 81,
    tls: false,
  });
  const [client] = memoryPair();
  using timer = deadline(5_000, "Opening handshake");
  const seen: unknown[] = [];
  const transport = await openTransport(new URL("ws://a.test/x"), {
    proxy: false,
    connect: (target) => {
      seen.push([target.hostname, target.port, target.tls, target.proxy]);
      return Promise.resolve(client);
    },
  }, timer);
  assert.equal(transport, client);
  assert.deepEqual(seen, [["a.test", 80, false, false]]);
  closeQuietly(transport);
  closeQuietly(transport); // a second close is quiet
  closeQuietly(undefined);
  assert.ok(client.isClosed);
});
