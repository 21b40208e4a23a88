import assert from "node:assert/strict";
import { IdleTimer, timeoutError, withTimeout } from "../conn/_timeouts.ts";

Deno.test("withTimeout() settles as its promise does, or rejects with a TimeoutError first", async () => {
  assert.equal(await withTimeout(Promise.resolve(7), 1000, "Read"), 7);
  const error = new Error("reset");
  await assert.rejects(
    withTimeout(Promise.reject(error), 1000, "Read"),
    (e) => e === error,
  );
  const never = new Promise<number>(() => {});
  await assert.rejects(withTimeout(never, 1, "Write"), (e) => {
    assert.ok(e instanceof DOMException);
    assert.equal(e.name, "TimeoutError");
    assert.equal(e.message, "Write timed out");
    return true;
  });
  assert.equal(timeoutError("Read").message, "Read timed out");
});

Deno.test("IdleTimer closes with 1001 once idle, and waits again after activity", async () => {
  const closed = Promise.withResolvers<[number, string]>();
  const started = performance.now();
  const timer = new IdleTimer(20, {
    close: (code, reason) => {
      closed.resolve([code, reason]);
      return Promise.resolve();
    },
  });
  // Activity just before the first check pushes the close back.
  setTimeout(() => timer.touch(), 15);
  assert.deepEqual(await closed.promise, [1001, "Idle timeout"]);
  assert.ok(performance.now() - started >= 30, "re-armed for the time left");
  timer.stop();
});

Deno.test("IdleTimer.stop() clears its timer", () => {
  const timer = new IdleTimer(1000, {
    close: () => Promise.reject(new Error("not idle")),
  });
  timer.stop(); // the sanitizer would report a timer left behind
  timer.touch();
});
