// Deadline's abort callbacks: each called once, in the order registered,
// none after it was unregistered, none registered twice.

import assert from "node:assert/strict";
import { Deadline } from "../_util/deadline.ts";

Deno.test("Deadline calls each abort callback once, in order, and none unregistered", () => {
  const deadline = new Deadline(0, "Test");
  const calls: string[] = [];
  const a = () => calls.push("a");
  const b = () => calls.push("b");
  const c = () => calls.push("c");
  deadline.onAbort(a);
  deadline.onAbort(b);
  deadline.onAbort(a); // already there: still once
  deadline.onAbort(c);
  deadline.offAbort(b);
  deadline.offAbort(b); // no longer there: nothing happens
  deadline.abort(new Error("stop"));
  deadline.abort(new Error("again"));
  assert.deepEqual(calls, ["a", "c"]);
  assert.equal((deadline.reason as Error).message, "stop");
});

Deno.test("Deadline's abort callbacks may unregister others while it aborts", () => {
  const deadline = new Deadline(0, "Test");
  const calls: string[] = [];
  const second = () => calls.push("second");
  deadline.onAbort(() => {
    calls.push("first");
    deadline.offAbort(second);
  });
  deadline.onAbort(second);
  deadline.abort();
  // The callbacks registered when the abort began all run.
  assert.deepEqual(calls, ["first", "second"]);
});

Deno.test("Deadline aborts at its timeout with a TimeoutError naming what and how long", async () => {
  const deadline = new Deadline(5, "Opening handshake");
  const aborted = Promise.withResolvers<void>();
  deadline.onAbort(aborted.resolve);
  await aborted.promise;
  const reason = deadline.reason as DOMException;
  assert.equal(reason.name, "TimeoutError");
  assert.equal(reason.message, "Opening handshake timed out after 5 ms");
  assert.equal(deadline.aborted, true);
});
