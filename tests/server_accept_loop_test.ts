// The server's accept loop (server/_accept_loop.ts), over a listener whose
// accepts the test scripts: what it skips, reports, waits for and stops on.

import assert from "node:assert/strict";
import { AcceptLoop, isSocketError } from "../server/_accept_loop.ts";

// A listener whose accept() hands out what the test pushes, in order.
class ScriptedListener {
  #queue: (Deno.Conn | Error)[] = [];
  #waiting: PromiseWithResolvers<Deno.Conn> | undefined;
  closed = false;
  accepts = 0;

  push(item: Deno.Conn | Error): void {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      this.accepts++;
      if (item instanceof Error) waiting.reject(item);
      else waiting.resolve(item);
    } else {
      this.#queue.push(item);
    }
  }

  accept(): Promise<Deno.Conn> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource());
    const item = this.#queue.shift();
    if (item === undefined) {
      this.#waiting = Promise.withResolvers<Deno.Conn>();
      return this.#waiting.promise;
    }
    this.accepts++;
    return item instanceof Error ? Promise.reject(item) : Promise.resolve(item);
  }

  close(): void {
    this.closed = true;
    this.#waiting?.reject(new Deno.errors.BadResource("Listener closed"));
    this.#waiting = undefined;
  }

  get asListener(): Deno.Listener {
    return this as unknown as Deno.Listener;
  }
}

const socket = (id: number) => ({ id }) as unknown as Deno.Conn;

Deno.test("AcceptLoop serves each socket, skips a client's failed accept, reports the machine's", async () => {
  const listener = new ScriptedListener();
  const served: unknown[] = [];
  const errors: unknown[] = [];
  const third = Promise.withResolvers<void>();
  const loop = new AcceptLoop(listener.asListener, {
    atCapacity: () => false,
    serve: (s) => {
      served.push(s);
      if (served.length === 3) third.resolve();
    },
    onError: (error) => errors.push(error),
  });
  const running = loop.run();
  const emfile = new Error("Too many open files (os error 24)");
  listener.push(socket(1));
  listener.push(new Deno.errors.ConnectionReset("Reset"));
  listener.push(socket(2));
  listener.push(emfile);
  listener.push(socket(3));
  await third.promise;
  assert.deepEqual(served, [socket(1), socket(2), socket(3)]);
  assert.deepEqual(errors, [emfile]);
  loop.stop();
  await running;
  assert.ok(listener.closed);
  assert.ok(loop.stopping);
});

Deno.test("AcceptLoop accepts nothing at capacity until woken", async () => {
  const listener = new ScriptedListener();
  let full = true;
  const served = Promise.withResolvers<Deno.Conn>();
  const loop = new AcceptLoop(listener.asListener, {
    atCapacity: () => full,
    serve: served.resolve,
    onError: () => {},
  });
  const running = loop.run();
  listener.push(socket(1));
  // The loop waits for a slot: however long the turn, it takes nothing.
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(listener.accepts, 0);
  full = false;
  loop.wake();
  assert.deepEqual(await served.promise, socket(1));
  assert.equal(listener.accepts, 1);
  loop.stop();
  await running;
});

Deno.test("AcceptLoop.stop() cuts a back-off short and ends the loop", async () => {
  const listener = new ScriptedListener();
  const reported = Promise.withResolvers<void>();
  const loop = new AcceptLoop(listener.asListener, {
    atCapacity: () => false,
    serve: () => {},
    onError: () => reported.resolve(),
  });
  const running = loop.run();
  listener.push(new Error("Out of memory"));
  await reported.promise;
  // In its 5 ms pause now; stop() must not wait for it (the sanitizer
  // fails the test if the pause's timer is left behind).
  loop.stop();
  await running;
});

Deno.test("isSocketError() tells a peer's failures from the application's", () => {
  assert.ok(isSocketError(new Deno.errors.ConnectionReset("x")));
  assert.ok(isSocketError(new Deno.errors.InvalidData("x")));
  assert.ok(!isSocketError(new TypeError("x")));
  assert.ok(!isSocketError(new Deno.errors.PermissionDenied("x")));
});
