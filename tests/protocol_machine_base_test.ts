import assert from "node:assert/strict";
import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import { MachineBase } from "../protocol/_machine_base.ts";
import type { ProtocolState } from "../protocol/machine.ts";

// A machine whose bookkeeping the test sets by hand.
class Probe extends MachineBase {
  constructor(role: "client" | "server", readonly halfClose = false) {
    super(role);
  }
  get closesByHalfClose(): boolean {
    return this.halfClose;
  }
  set(fields: {
    state?: ProtocolState;
    error?: ProtocolError;
    peer?: { code: number; reason: string };
    sent?: boolean;
  }): this {
    if (fields.state) this.lifecycle = fields.state;
    this.failure = fields.error;
    this.peerClose = fields.peer;
    this.closeQueued = fields.sent ?? false;
    return this;
  }
  refusal(): ConnectionClosedError | undefined {
    try {
      this.assertCanSend("send");
    } catch (error) {
      return error as ConnectionClosedError;
    }
    return undefined;
  }
  emit(): void {
    this.events.push({ type: "pong", data: new Uint8Array() });
  }
}

const failure = new ProtocolError("INVALID_UTF8", "Bad text");
const peer = { code: 4000, reason: "done" };

Deno.test("MachineBase.closesTransportFirst follows the close rules", () => {
  const table: [string, Probe, boolean][] = [
    ["server", new Probe("server").set({ peer }), true],
    ["client, no peer close", new Probe("client"), true],
    ["client after the peer's close", new Probe("client").set({ peer }), false],
    [
      "client that failed",
      new Probe("client").set({ peer, error: failure }),
      true,
    ],
    ["client, half-close", new Probe("client", true).set({ peer }), true],
  ];
  for (const [what, machine, expected] of table) {
    assert.equal(machine.closesTransportFirst, expected, what);
  }
});

Deno.test("MachineBase refuses to send once our close went or the machine closed, saying how it ended", () => {
  assert.equal(new Probe("client").refusal(), undefined);
  const cases: [Probe, number, string, boolean, string][] = [
    [
      new Probe("client").set({ sent: true, state: "closing" }),
      1006,
      "",
      false,
      "closing",
    ],
    [
      new Probe("client").set({ error: failure, state: "closed" }),
      1007,
      "",
      false,
      "closed",
    ],
    [
      new Probe("client").set({ peer, sent: true, state: "closed" }),
      4000,
      "done",
      true,
      "closed",
    ],
    [
      new Probe("client").set({ peer, state: "closed" }),
      4000,
      "done",
      false,
      "closed",
    ],
    [
      new Probe("client", true).set({ state: "closed" }),
      1005,
      "",
      true,
      "closed",
    ],
    [
      new Probe("client", true).set({ sent: true, state: "closing" }),
      1005,
      "",
      false,
      "closing",
    ],
  ];
  for (const [machine, code, reason, wasClean, state] of cases) {
    const error = machine.refusal();
    assert.ok(error instanceof ConnectionClosedError);
    assert.deepEqual(
      [error.code, error.reason, error.wasClean, error.message],
      [code, reason, wasClean, `Cannot send: connection is ${state}`],
    );
  }
});

Deno.test("MachineBase.takeEvents() hands each event out once", () => {
  const machine = new Probe("server");
  assert.deepEqual(machine.takeEvents(), []);
  machine.emit();
  machine.emit();
  assert.equal(machine.takeEvents().length, 2);
  assert.deepEqual(machine.takeEvents(), []);
  assert.equal(machine.state, "open");
  assert.equal(machine.error, undefined);
  assert.equal(machine.closeReceived, undefined);
  assert.equal(machine.closeSent, false);
});
