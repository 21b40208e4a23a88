// The connection settings a server reads once from its options
// (server/_options.ts) and hands to every connection: those set, and only
// those, so that the rest keep the connection's defaults.

import assert from "node:assert/strict";
import { dial } from "../client.ts";
import { serve } from "../server.ts";
import { handshakeSettings } from "../server/_options.ts";

Deno.test("handshakeSettings() keeps the connection settings that are set, 0 included, and leaves out the rest", () => {
  assert.deepEqual(handshakeSettings({}).connOptions, {});
  assert.deepEqual(
    handshakeSettings({ closeTimeout: 5, pingInterval: 0, protocols: ["a"] })
      .connOptions,
    { closeTimeout: 5, pingInterval: 0 },
  );
});

Deno.test("serve() hands the connection settings set to each connection, and the defaults otherwise", async () => {
  const seen: [number, number][] = [];
  for (const options of [{ closeTimeout: 1234, readTimeout: 4321 }, {}]) {
    await using server = serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...options },
      (conn) => {
        seen.push([conn.closeTimeout, conn.readTimeout]);
      },
    );
    const conn = await dial(`ws://127.0.0.1:${server.addr.port}/`);
    await conn.closed;
  }
  assert.deepEqual(seen, [[1234, 4321], [10_000, 0]]);
});
