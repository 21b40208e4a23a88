import assert from "node:assert/strict";
import { awaitTurn, noteQueued, type TurnWriter } from "../conn/_write_turn.ts";

// A writer that records when its turn came, in microtasks since the test
// began counting.
class Recorder implements TurnWriter {
  backlog = 0;
  startedAt: number | undefined;
  constructor(readonly clock: { ticks: number }) {}
  startTurn(): void {
    this.startedAt = this.clock.ticks;
  }
}

async function tick(clock: { ticks: number }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await Promise.resolve();
    clock.ticks++;
  }
}

Deno.test("write turn: every writer queued in one turn starts in one pass, in order", async () => {
  const clock = { ticks: 0 };
  const order: number[] = [];
  const writers = Array.from({ length: 1000 }, (_, i) => {
    const w = new Recorder(clock);
    w.startTurn = () => {
      w.startedAt = clock.ticks;
      order.push(i);
    };
    return w;
  });
  for (const w of writers) awaitTurn(w);
  assert.equal(order.length, 0, "nothing starts in the turn that queued");
  await tick(clock, 50);
  assert.equal(order.length, 1000);
  assert.deepEqual(order, order.toSorted((a, b) => a - b));
  const started = new Set(writers.map((w) => w.startedAt));
  assert.equal(started.size, 1, "one pass for all");
});

Deno.test("write turn: waits while the application keeps queuing, then passes", async () => {
  const clock = { ticks: 0 };
  const w = new Recorder(clock);
  awaitTurn(w);
  // Queue something every other microtask, 100 times: the pass must wait.
  for (let i = 0; i < 100; i++) {
    noteQueued();
    await tick(clock, 2);
    assert.equal(w.startedAt, undefined, `started after ${clock.ticks}`);
  }
  await tick(clock, 20);
  assert.ok(w.startedAt !== undefined && w.startedAt >= 200);
});

Deno.test("write turn: waits while a waiting writer's backlog is being read", async () => {
  const clock = { ticks: 0 };
  const w = new Recorder(clock);
  w.backlog = 60;
  awaitTurn(w);
  while (w.backlog > 0) {
    w.backlog--;
    await tick(clock, 2);
    assert.equal(w.startedAt, undefined);
  }
  await tick(clock, 20);
  assert.notEqual(w.startedAt, undefined);
});

Deno.test("write turn: never waits more than a bounded number of microtasks", async () => {
  const clock = { ticks: 0 };
  const w = new Recorder(clock);
  awaitTurn(w);
  while (w.startedAt === undefined && clock.ticks < 5000) {
    noteQueued();
    await tick(clock, 1);
  }
  assert.ok(w.startedAt !== undefined && w.startedAt <= 1100, `${w.startedAt}`);
});

Deno.test("write turn: a writer queued during a pass goes on the next one", async () => {
  const clock = { ticks: 0 };
  const late = new Recorder(clock);
  const first = new Recorder(clock);
  first.startTurn = () => {
    first.startedAt = clock.ticks;
    awaitTurn(late);
  };
  awaitTurn(first);
  await tick(clock, 50);
  assert.notEqual(first.startedAt, undefined);
  assert.ok(late.startedAt! > first.startedAt!);
});
