import assert from "node:assert/strict";
import { Inbox } from "../conn/_inbox.ts";
import { Signal } from "../conn/_signal.ts";
import type { MessagePart } from "../protocol/machine.ts";
import { isPending } from "./_peers.ts";

function part(data: number[], first: boolean, fin: boolean): MessagePart {
  return { type: "part", binary: true, data: new Uint8Array(data), first, fin };
}

// Read through a call, so that a check for undefined does not narrow it.
function peek(inbox: Inbox): Uint8Array | undefined {
  return inbox.nextPart?.data;
}

function setup(limit: number) {
  const room = new Signal();
  let emptied = 0;
  const inbox = new Inbox(limit, room);
  inbox.onEmptied = () => emptied++;
  return { inbox, room, emptied: () => emptied };
}

Deno.test("Inbox hands out messages in order and counts their bytes", () => {
  const { inbox, emptied } = setup(100);
  assert.equal(inbox.drained, true);
  inbox.push("abc");
  inbox.push(new Uint8Array(5));
  assert.equal(inbox.bytes, 8);
  assert.equal(inbox.pending, 2);
  assert.equal(inbox.hasMessage, true);
  assert.equal(inbox.shift(), "abc");
  assert.equal(emptied(), 0);
  assert.deepEqual(inbox.shift(), new Uint8Array(5));
  assert.equal(emptied(), 1, "emptying the queue is reported");
  assert.equal(inbox.bytes, 0);
  assert.equal(inbox.hasMessage, false);
  assert.equal(inbox.drained, true);
});

Deno.test("Inbox is full at its limit, and wakes the read loop once under it", async () => {
  const { inbox, room } = setup(4);
  inbox.push("ab");
  assert.equal(inbox.full, false);
  inbox.push("cd");
  assert.equal(inbox.full, true);
  inbox.onEmptied = undefined; // nobody watching: reads still work
  const woken = room.wait();
  inbox.shift();
  await woken; // 2 < 4: room again
  assert.equal(inbox.full, false);
});

Deno.test("Inbox is not full while a reader waits, and a waiting reader wakes the loop", async () => {
  const { inbox, room } = setup(1);
  inbox.pushPart(part([1, 2], true, false));
  assert.equal(inbox.full, true);
  const loop = room.wait();
  const arrived = inbox.waitForMessage();
  await loop;
  assert.equal(inbox.full, false, "the reader wants more: keep reading");
  assert.equal(await isPending(arrived), true);
  inbox.wakeReaders();
  await arrived;
  assert.equal(inbox.full, true);
});

Deno.test("Inbox drops messages once the application has stopped reading", () => {
  const { inbox } = setup(100);
  inbox.ended = true;
  inbox.push("dropped");
  assert.equal(inbox.hasMessage, false);
  assert.equal(inbox.bytes, 0);
});

Deno.test("Inbox hands out pieces in order; skipRest drops the rest of the message, now and as it comes", () => {
  const { inbox, emptied } = setup(100);
  inbox.pushPart(part([1], true, false));
  inbox.pushPart(part([2], false, false));
  assert.equal(inbox.bytes, 2);
  assert.deepEqual(inbox.takePart().data, new Uint8Array([1]));
  assert.equal(inbox.drained, false);
  inbox.skipRest(); // drops [2]; the fin is still to come
  assert.equal(emptied(), 1);
  assert.equal(peek(inbox), undefined);
  inbox.pushPart(part([3], false, true)); // the skipped message's end
  assert.equal(peek(inbox), undefined);
  assert.equal(inbox.bytes, 0);
  inbox.pushPart(part([4], true, true)); // the next message is kept
  assert.deepEqual(peek(inbox), new Uint8Array([4]));
  assert.equal(inbox.bytes, 1);
});

Deno.test("Inbox.skipRest stops at the end of the message when it is already held", () => {
  const { inbox } = setup(100);
  inbox.pushPart(part([1], false, true));
  inbox.pushPart(part([2], true, true));
  inbox.skipRest();
  assert.deepEqual(inbox.takePart().data, new Uint8Array([2]));
  inbox.pushPart(part([3], true, true)); // not skipping any more
  assert.deepEqual(peek(inbox), new Uint8Array([3]));
});
