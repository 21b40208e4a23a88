import assert from "node:assert/strict";
import { Ending, endsNormally } from "../conn/_ending.ts";
import { ConnectionClosedError } from "../errors.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";
import { isPending } from "./_peers.ts";

function machine(
  closeReceived?: { code: number; reason: string },
  closeSent = false,
  error?: Error,
): ProtocolMachine {
  return { closeReceived, closeSent, error } as unknown as ProtocolMachine;
}

Deno.test("Ending.info says how the connection ended, from the machine and the abort", () => {
  const clean = new Ending(machine({ code: 1001, reason: "bye" }, true));
  assert.deepEqual(clean.info, { code: 1001, reason: "bye", wasClean: true });
  clean.aborted = new Error("x");
  assert.equal(clean.info.wasClean, false, "dropped after all");
  const dropped = new Ending(machine());
  assert.deepEqual(dropped.info, { code: 1006, reason: "", wasClean: false });
  const unanswered = new Ending(machine({ code: 1000, reason: "" }, false));
  assert.equal(unanswered.info.wasClean, false);
});

Deno.test("endsNormally() is a clean close with a normal code, or one this end asked for", () => {
  for (const code of [1000, 1001, 1005]) {
    assert.equal(
      endsNormally({ code, reason: "", wasClean: true }, false),
      true,
    );
  }
  const policy = { code: 1008, reason: "", wasClean: true };
  assert.equal(endsNormally(policy, false), false);
  assert.equal(endsNormally(policy, true), true);
  const dropped = { code: 1006, reason: "", wasClean: false };
  assert.equal(endsNormally(dropped, true), false);
});

Deno.test("Ending.error() carries the close information and the cause", () => {
  const failure = new Error("Bad frame");
  const ending = new Ending(machine({ code: 1002, reason: "" }, true, failure));
  const error = ending.error("Cannot flush");
  assert.ok(error instanceof ConnectionClosedError);
  assert.equal(error.message, "Cannot flush");
  assert.equal(error.code, 1002);
  assert.equal(error.cause, failure, "the machine's error first");
  const aborted = new Ending(machine());
  const reason = new Error("gone");
  aborted.aborted = reason;
  assert.equal(aborted.error().cause, reason);
});

Deno.test("Ending.closed resolves once settled, whether asked before or after", async () => {
  const early = new Ending(machine({ code: 1000, reason: "" }, true));
  const closed = early.closed;
  assert.equal(await isPending(closed), true);
  early.settle();
  assert.equal(early.done, true);
  assert.deepEqual(await closed, { code: 1000, reason: "", wasClean: true });
  const late = new Ending(machine());
  late.settle();
  assert.deepEqual(await late.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
});
