import assert from "node:assert/strict";
import { Confirmations } from "../fanout/_redis_confirmations.ts";

// Whether a promise has settled, after the microtasks queued so far.
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true);
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

Deno.test("Confirmations resolves waiters once their channel is confirmed", async () => {
  const confirmations = new Confirmations();
  const a1 = confirmations.wait("t:a");
  const a2 = confirmations.wait("t:a");
  const b = confirmations.wait("t:b");
  confirmations.confirm("t:a");
  assert.equal(await settled(a1), true);
  assert.equal(await settled(a2), true);
  assert.equal(await settled(b), false);
  // Confirmed: a new wait resolves at once, until it is forgotten.
  assert.equal(await settled(confirmations.wait("t:a")), true);
  confirmations.forget("t:a");
  const again = confirmations.wait("t:a");
  assert.equal(await settled(again), false);
  confirmations.confirm("t:a");
  assert.equal(await settled(again), true);
  confirmations.close();
  assert.equal(await settled(b), true);
});

Deno.test("Confirmations.close() releases every waiter, now and later", async () => {
  const confirmations = new Confirmations();
  const waiting = confirmations.wait("t:a");
  confirmations.close();
  assert.equal(await settled(waiting), true);
  assert.equal(await settled(confirmations.wait("t:z")), true);
});
