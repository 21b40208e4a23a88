import assert from "node:assert/strict";
import { IdleTimer } from "../http/_idle_timer.ts";

Deno.test("IdleTimer fires once per armed wait that runs out", async () => {
  let fired = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const timer = new IdleTimer(5, () => {
    fired++;
    resolve();
  });
  timer.arm();
  await promise;
  assert.equal(fired, 1);
  timer.stop();
});

Deno.test("IdleTimer: a disarmed wait never fires, a re-armed one does", async () => {
  const calls: string[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const never = new IdleTimer(1, () => calls.push("never"));
  never.arm();
  never.disarm();
  const later = new IdleTimer(20, () => {
    calls.push("later");
    resolve();
  });
  // Re-arming many times keeps one wait current: the last one.
  for (let i = 0; i < 5; i++) later.arm();
  await promise;
  assert.deepEqual(calls, ["later"], "the disarmed 1 ms timer did not fire");
  never.stop();
  later.stop();
});
