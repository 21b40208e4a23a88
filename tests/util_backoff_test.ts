import assert from "node:assert/strict";
import { backoffDelay, sleep } from "../_util/backoff.ts";

Deno.test("backoffDelay() draws below a bound that grows by factor up to max", () => {
  const top = () => 0.999999;
  const bounds = [0, 1, 2, 3, 4, 5, 6].map((attempt) =>
    Math.round(backoffDelay(attempt, { initial: 50, max: 1000, random: top }))
  );
  assert.deepEqual(bounds, [50, 100, 200, 400, 800, 1000, 1000]);
  const tripled = backoffDelay(2, {
    initial: 10,
    max: Infinity,
    factor: 3,
    random: () => 0.5,
  });
  assert.equal(tripled, 45);
  // Full jitter: the draw scales the whole bound, down to 0.
  assert.equal(
    backoffDelay(3, { initial: 50, max: 1000, random: () => 0 }),
    0,
  );
});

Deno.test("backoffDelay() stays 0 from a first bound of 0, however many attempts", () => {
  const backoff = { initial: 0, max: 5000, random: () => 0.5 };
  assert.equal(backoffDelay(0, backoff), 0);
  assert.equal(backoffDelay(2000, backoff), 0);
  // A first bound above 0 reaches max even once the growth overflows.
  assert.equal(
    backoffDelay(2000, { initial: 1, max: 5000, random: () => 0.5 }),
    2500,
  );
});

Deno.test("sleep() waits, and an abort ends the wait at once with false", async () => {
  assert.equal(await sleep(1), true);
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort();
  // Resolving at all proves the timer was cleared (the sanitizer would
  // fail the test on a pending one).
  assert.equal(await waiting, false);
  assert.equal(await sleep(60_000, controller.signal), false);
});
