import assert from "node:assert/strict";
import type { Conn } from "../conn.ts";
import { ConnParts } from "../conn/_parts.ts";
import { ConnectionClosedError } from "../errors.ts";
import { HixieProtocol } from "../legacy/protocol.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import { memoryPair } from "./_util.ts";

// The parts of a server connection over one end of a memory pair, with the
// settings and methods a Conn gives them.
function setup(
  machine: ProtocolMachine = new WebSocketProtocol({ role: "server" }),
) {
  const [transport, peer] = memoryPair();
  const owner = {
    closeTimeout: 10_000,
    readTimeout: 0,
    writeTimeout: 0,
    ping: () => Promise.resolve(0),
    close: () => Promise.resolve(),
    abort: (reason?: unknown) => {
      parts.ending.aborted = reason;
      parts.finish();
    },
  } as unknown as Conn;
  let onClose = 0;
  const init = {
    role: "server" as const,
    transport,
    machine,
    url: "ws://example.com/",
    pingInterval: 60_000,
    onClose: () => onClose++,
  };
  const parts = new ConnParts(owner, init);
  parts.start(owner, init);
  return { parts, transport, peer, onClose: () => onClose };
}

Deno.test("ConnParts.finish() stops every part once, rejects what waits and settles closed", async () => {
  const { parts, transport, onClose } = setup();
  assert.ok(parts.keepalive !== undefined, "RFC 6455 pings");
  const pong = parts.pings.track(new Uint8Array([1]));
  parts.machine.send("unsent");
  const flushed = parts.writer.flush();
  parts.ending.aborted = new Error("gone");
  parts.finish();
  parts.finish();
  assert.equal(onClose(), 1);
  for (const pending of [pong, flushed]) {
    await assert.rejects(pending, ConnectionClosedError);
  }
  assert.deepEqual(await parts.ending.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  assert.equal(parts.ending.done, true);
  await assert.rejects(
    transport.read(new Uint8Array(1)),
    Deno.errors.BadResource,
  );
});

Deno.test("ConnParts keeps no keepalive for a protocol without pings", () => {
  const { parts } = setup(
    new HixieProtocol({ role: "server", version: "hixie-76" }),
  );
  assert.equal(parts.keepalive, undefined);
  parts.finish();
});
