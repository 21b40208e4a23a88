import assert from "node:assert/strict";
import { Ending } from "../conn/_ending.ts";
import { Pings } from "../conn/_keepalive.ts";
import { Outgoing } from "../conn/_outgoing.ts";
import type { Writer } from "../conn/_writer.ts";
import { ConnectionClosedError } from "../errors.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";

// The first byte (FIN and opcode) of each small masked frame queued.
function firstBytes(chunks: Uint8Array[]): number[] {
  const bytes = new Uint8Array(chunks.flatMap((chunk) => [...chunk]));
  const out = [];
  for (let i = 0; i < bytes.length; i += 2 + 4 + (bytes[i + 1] & 0x7f)) {
    out.push(bytes[i]);
  }
  return out;
}

// A client machine and a writer that only counts what it is asked.
function setup() {
  const machine = new WebSocketProtocol({ role: "client" });
  const ending = new Ending(machine);
  const calls = { queued: 0, enqueued: 0, lost: false };
  const writer = {
    queued: () => {
      calls.queued++;
      return Promise.resolve();
    },
    enqueue: () => calls.enqueued++,
    flush: () => Promise.resolve(),
    get lost() {
      return calls.lost;
    },
  } as unknown as Writer;
  const pings = new Pings();
  const outgoing = new Outgoing({
    machine,
    writer,
    ending,
    pings,
    idle: undefined,
  });
  return { machine, ending, calls, pings, outgoing };
}

Deno.test("Outgoing.send() encodes text, binary and prepared messages and queues them", async () => {
  const { machine, calls, outgoing } = setup();
  await outgoing.send("a", undefined);
  await outgoing.send(new Uint8Array([1]), undefined);
  await outgoing.send(new PreparedMessage("p"), undefined);
  assert.equal(calls.queued, 3);
  assert.deepEqual(firstBytes(machine.takeOutgoing()), [0x81, 0x82, 0x81]);
});

Deno.test("Outgoing.sendPart() queues one frame of a message sent in pieces", async () => {
  const { machine, calls, outgoing } = setup();
  const options = { binary: true, first: true, fin: false };
  await outgoing.sendPart(new Uint8Array([1]), options);
  await outgoing.sendPart(new Uint8Array(0), {
    ...options,
    first: false,
    fin: true,
  });
  assert.equal(calls.queued, 2);
  assert.deepEqual(firstBytes(machine.takeOutgoing()), [0x02, 0x80]);
});

Deno.test("Outgoing.ping() sends a counter and tracks it until its pong", async () => {
  const { machine, calls, pings, outgoing } = setup();
  const pong = outgoing.ping(undefined);
  assert.equal(calls.enqueued, 1);
  assert.deepEqual(firstBytes(machine.takeOutgoing()), [0x89]);
  pings.answer(new Uint8Array([0, 0, 0, 1]));
  assert.ok(await pong >= 0);
});

Deno.test("Outgoing refuses to send once closing, with ConnectionClosedError", async () => {
  const { machine, outgoing } = setup();
  machine.close(1000, "");
  for (
    const attempt of [
      () => outgoing.send("late", undefined),
      () => outgoing.ping(undefined),
    ]
  ) {
    await assert.rejects(attempt(), (e) => {
      assert.ok(e instanceof ConnectionClosedError);
      assert.equal(e.message, "Cannot send: connection is closing");
      return true;
    });
  }
  assert.throws(
    () =>
      outgoing.sendPart(new Uint8Array(1), {
        binary: true,
        first: true,
        fin: true,
      }),
    ConnectionClosedError,
  );
});

Deno.test("Outgoing.flush() after the end resolves unless accepted bytes were lost", async () => {
  const { ending, calls, outgoing } = setup();
  await outgoing.flush();
  ending.settle();
  await outgoing.flush();
  calls.lost = true;
  await assert.rejects(outgoing.flush(), (e) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.match(e.message, /before the data was written/);
    return true;
  });
});
