import assert from "node:assert/strict";
import { Ending } from "../conn/_ending.ts";
import { Inbox } from "../conn/_inbox.ts";
import { Reader } from "../conn/_reader.ts";
import { Signal } from "../conn/_signal.ts";
import { ConnectionClosedError } from "../errors.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";

// An inbox, its reader, and a connection end the test settles.
function setup() {
  const machine = {
    closeReceived: undefined as { code: number; reason: string } | undefined,
    closeSent: false,
    error: undefined,
  };
  const inbox = new Inbox(1 << 20, new Signal());
  const ending = new Ending(machine as unknown as ProtocolMachine);
  let closes = 0;
  const reader = new Reader(inbox, ending, {
    close: () => {
      closes++;
      return Promise.resolve();
    },
  });
  return {
    inbox,
    ending,
    reader,
    closes: () => closes,
    end(code: number | undefined) {
      if (code !== undefined) {
        machine.closeReceived = { code, reason: "" };
        machine.closeSent = true;
      }
      ending.settle();
      inbox.wakeReaders();
    },
  };
}

Deno.test("Reader hands out what waits, waits for more, and ends after a normal close", async () => {
  const { inbox, reader, end } = setup();
  inbox.push("a");
  assert.deepEqual(await reader.next(), { value: "a", done: false });
  const waiting = reader.next();
  inbox.push("b");
  inbox.wakeReaders();
  assert.deepEqual(await waiting, { value: "b", done: false });
  inbox.push("last");
  end(1000);
  assert.deepEqual(await reader.next(), { value: "last", done: false });
  assert.deepEqual(await reader.next(), { value: undefined, done: true });
});

Deno.test("Reader rejects after an abnormal close, once what came before is read", async () => {
  const { inbox, reader, end } = setup();
  inbox.push("before");
  end(1002);
  assert.equal((await reader.next()).value, "before");
  await assert.rejects(reader.next(), (e) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.code, 1002);
    return true;
  });
});

Deno.test("Reader ends normally after a close this end asked for, with any code", async () => {
  const { ending, reader, end } = setup();
  ending.requested = true;
  end(4000);
  assert.equal((await reader.next()).done, true);
});

Deno.test("Reader refuses whole messages once the connection reads streams", async () => {
  const { inbox, reader } = setup();
  inbox.streamed = true;
  inbox.push("whole");
  await assert.rejects(reader.next(), TypeError);
  assert.equal((await reader.next(true)).value, "whole");
});

Deno.test("Reader: leaving for-await or cancelling the stream closes, and drops what comes after", async () => {
  const { inbox, reader, closes } = setup();
  inbox.push("a");
  const iterator = reader.iterator();
  assert.equal((await iterator.next()).value, "a");
  assert.deepEqual(await iterator.return!(), { value: undefined, done: true });
  assert.equal(closes(), 1);
  inbox.push("late");
  assert.equal(inbox.hasMessage, false);
  await reader.readable().cancel();
  assert.equal(closes(), 2);
});

Deno.test("Reader.readable() streams the messages and closes at the end", async () => {
  const { inbox, reader, end } = setup();
  inbox.push("x");
  inbox.push(new Uint8Array([1]));
  end(1000);
  assert.deepEqual(await Array.fromAsync(reader.readable()), [
    "x",
    new Uint8Array([1]),
  ]);
});
