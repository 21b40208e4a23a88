import assert from "node:assert/strict";
import type { Transport } from "../conn.ts";
import { Closing } from "../conn/_closing.ts";
import { Ending } from "../conn/_ending.ts";
import { Inbox } from "../conn/_inbox.ts";
import { Signal } from "../conn/_signal.ts";
import type { Writer } from "../conn/_writer.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";

// A machine that got the peer's close frame and answers it when told.
class FakeMachine {
  closesByHalfClose = false;
  closeReceived: { code: number; reason: string } | undefined = {
    code: 1000,
    reason: "",
  };
  error = undefined;
  closeSent = false;
  closes = 0;
  close(code?: number): void {
    if (code !== undefined && code < 1000) throw new RangeError("Bad code");
    this.closes++;
    this.closeSent = true;
  }
}

function setup(closeTimeout = 10_000) {
  const machine = new FakeMachine();
  const wake = new Signal();
  const inbox = new Inbox(100, wake);
  let enqueued = 0;
  let fins = 0;
  const aborted = Promise.withResolvers<unknown>();
  const transport = {
    closeWrite: () => {
      fins++;
      return Promise.resolve();
    },
  } as unknown as Transport;
  const ending = new Ending(machine as unknown as ProtocolMachine);
  const closing = new Closing(
    { closeTimeout, abort: (reason) => aborted.resolve(reason) },
    {
      transport,
      machine: machine as unknown as ProtocolMachine,
      inbox,
      writer: {
        enqueue: () => enqueued++,
        settled: () => Promise.resolve(),
      } as unknown as Writer,
      wake,
      ending,
    },
  );
  return {
    machine,
    ending,
    inbox,
    closing,
    wake,
    aborted: aborted.promise,
    enqueued: () => enqueued,
    fins: () => fins,
  };
}

Deno.test("Closing answers the peer's close one macrotask later when nothing waits to be read", async () => {
  const { machine, closing, wake, enqueued } = setup();
  closing.scheduleEcho();
  assert.equal(closing.echoScheduled, true);
  assert.equal(machine.closes, 0, "not in this turn");
  await wake.wait();
  assert.equal(machine.closes, 1);
  assert.equal(enqueued(), 1);
  assert.equal(closing.echoScheduled, false);
  closing.scheduleEcho(); // already answered: nothing more
  assert.equal(closing.echoScheduled, false);
  closing.stop();
});

Deno.test("Closing holds the echo while messages wait, and sends it once they are read", async () => {
  const { machine, inbox, closing, wake } = setup();
  inbox.push("unread");
  closing.scheduleEcho();
  // A macrotask queued after the echo's would-be immediate runs after it.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(machine.closes, 0, "held while a message waits");
  assert.ok(inbox.onEmptied !== undefined, "watching the inbox");
  inbox.shift(); // the inbox empties: the echo goes at the next macrotask
  await wake.wait();
  assert.equal(machine.closes, 1);
  assert.equal(inbox.onEmptied, undefined, "no call per read any more");
  closing.stop();
});

Deno.test("Closing sends the echo after at most a second when nobody reads", async () => {
  const { machine, inbox, closing, wake } = setup(20); // half of it: 10 ms
  inbox.push("never read");
  closing.scheduleEcho();
  await wake.wait();
  assert.equal(machine.closes, 1);
  closing.stop();
});

Deno.test("Closing has nothing to answer before a close frame or a failure", () => {
  const { machine, closing } = setup();
  machine.closeReceived = undefined;
  closing.scheduleEcho();
  assert.equal(closing.echoScheduled, false);
});

Deno.test("Closing.start() bounds the handshake by closeTimeout, once; stop() clears it", async () => {
  const { closing, aborted } = setup(5);
  closing.start();
  closing.start();
  const reason = await aborted;
  assert.ok(reason instanceof DOMException);
  assert.equal(reason.message, "Closing handshake timed out");
  const other = setup(5);
  other.closing.start();
  other.closing.scheduleEcho();
  other.closing.stop(); // the sanitizer would report a timer left behind
  other.closing.start(); // stopped: no timer again
  other.closing.stop();
});

Deno.test("Closing.sendFin() closes the write direction once", async () => {
  const { closing, fins } = setup();
  await closing.sendFin();
  await closing.sendFin();
  assert.equal(fins(), 1);
});

Deno.test("Closing.begin() sends the close frame, notes who asked and bounds the handshake", async () => {
  const { machine, ending, closing, wake, aborted } = setup(5);
  const woken = wake.wait();
  assert.throws(() => closing.begin(999, ""), RangeError);
  assert.equal(ending.requested, false);
  closing.begin(1000, "");
  assert.equal(machine.closes, 1);
  assert.equal(ending.requested, true);
  await woken;
  assert.ok(await aborted instanceof DOMException, "closeTimeout applies");
  closing.stop();
});

Deno.test("Closing.begin() sends FIN after what is queued where closing is a half-close", async () => {
  const { machine, closing, fins } = setup();
  machine.closesByHalfClose = true;
  closing.begin(1000, "");
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(fins(), 1);
  closing.stop();
});
