import assert from "node:assert/strict";
import { Signal } from "../conn/_signal.ts";
import { isPending } from "./_peers.ts";

Deno.test("Signal wakes every waiter once, and a later wait is a new one", async () => {
  const signal = new Signal();
  assert.equal(signal.waiting, false);
  signal.notify(); // nobody waits: nothing is kept for later
  const first = signal.wait();
  assert.equal(signal.wait(), first, "waiters share one promise");
  assert.equal(signal.waiting, true);
  assert.equal(await isPending(first), true);
  signal.notify();
  assert.equal(signal.waiting, false);
  await first;
  const second = signal.wait();
  assert.notEqual(second, first);
  assert.equal(await isPending(second), true);
  signal.notify();
  await second;
});
