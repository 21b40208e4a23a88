// The extension seam: dial() and serve() negotiate an extension of the
// test's own through their `extensions` option, and run it on every message.

import assert from "node:assert/strict";
import {
  type Conn,
  dial,
  type ExtensionNegotiator,
  HandshakeError,
  serve,
} from "../mod.ts";
import type {
  ExtensionHeaderElement,
  PerMessageExtension,
} from "../extensions/extension.ts";

const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };

/** What one side's XOR extension did. */
interface XorLog {
  compressed: number;
  decompressed: number;
  closed: number;
}

// XORs every payload byte with `key`: a per-message extension that changes
// every byte on the wire, so a side that did not run it reads garbage.
function xorExtension(key: number, log: XorLog): PerMessageExtension {
  const xor = (bytes: Uint8Array) => bytes.map((byte) => byte ^ key);
  return {
    name: "x-xor",
    header: `x-xor; key=${key}`,
    compress(payload) {
      log.compressed++;
      return xor(payload);
    },
    decompress(fragment) {
      log.decompressed++;
      return xor(fragment);
    },
    // Freed with the connection, as permessage-deflate frees zlib.
    close() {
      log.closed++;
    },
  } as PerMessageExtension;
}

// The negotiator: the client offers its key, the server agrees to it.
function xor(key: number, log: XorLog): ExtensionNegotiator {
  const keyOf = (element: ExtensionHeaderElement) =>
    Number(element.params.get("key"));
  return {
    name: "x-xor",
    offer: () => `x-xor; key=${key}`,
    accept(answer) {
      if (keyOf(answer) !== key) {
        throw new HandshakeError("BAD_EXTENSION", "Wrong x-xor key");
      }
      return xorExtension(key, log);
    },
    answer(offers) {
      const offered = keyOf(offers[0]);
      return {
        response: `x-xor; key=${offered}`,
        extension: xorExtension(offered, log),
      };
    },
  };
}

const newLog = (): XorLog => ({ compressed: 0, decompressed: 0, closed: 0 });

Deno.test("dial() and serve() negotiate an extension of their own and run it on every message", async () => {
  const serverLog = newLog();
  const clientLog = newLog();
  const served = Promise.withResolvers<Conn>();
  await using server = serve(
    { ...quiet, extensions: [xor(0x5a, serverLog)] },
    async (conn) => {
      served.resolve(conn);
      for await (const message of conn) await conn.send(message);
    },
  );
  const conn = await dial(`ws://127.0.0.1:${server.addr.port}/`, {
    extensions: [xor(0x5a, clientLog)],
  });
  assert.equal(conn.extensions, "x-xor; key=90");
  assert.equal((await served.promise).extensions, "x-xor; key=90");
  const messages = ["hello", new Uint8Array([0, 1, 2, 0x5a, 255]), ""];
  for (const message of messages) {
    await conn.send(message);
    const { value } = await conn[Symbol.asyncIterator]().next();
    assert.deepEqual(value, message);
  }
  await conn.close();
  await (await served.promise).closed;
  // Every message went through both sides' extension, both ways.
  for (const log of [clientLog, serverLog]) {
    assert.equal(log.compressed, 3);
    assert.equal(log.decompressed, 3);
    assert.equal(log.closed, 1);
  }
});

Deno.test("compression is offered first, and a server without it agrees to the next extension", async () => {
  const serverLog = newLog();
  const clientLog = newLog();
  await using server = serve(
    { ...quiet, extensions: [xor(7, serverLog)] },
    async (conn) => {
      for await (const message of conn) await conn.send(message);
    },
  );
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  await using conn = await dial(url, {
    compression: true,
    extensions: [xor(7, clientLog)],
  });
  assert.equal(conn.extensions, "x-xor; key=7");
  await conn.send("through xor");
  const { value } = await conn[Symbol.asyncIterator]().next();
  assert.equal(value, "through xor");
  // A server with both prefers what it lists first: compression.
  await using both = serve(
    { ...quiet, compression: true, extensions: [xor(7, newLog())] },
    () => {},
  );
  const deflated = await dial(`ws://127.0.0.1:${both.addr.port}/`, {
    compression: true,
    extensions: [xor(7, newLog())],
  });
  assert.match(deflated.extensions, /^permessage-deflate/);
  await deflated.closed;
});

Deno.test("dial() fails with BAD_EXTENSION when its negotiator refuses the answer", async () => {
  await using server = serve(
    { ...quiet, extensions: [xor(1, newLog())] },
    () => {},
  );
  // The server answers with its own key, not the one offered.
  const error = await dial(`ws://127.0.0.1:${server.addr.port}/`, {
    extensions: [{
      ...xor(2, newLog()),
      offer: () => "x-xor; key=1",
    }],
  }).catch((error) => error);
  assert.ok(error.cause instanceof HandshakeError);
  assert.equal(error.cause.code, "BAD_EXTENSION");
});
