import assert from "node:assert/strict";
import { Keepalive, Pings } from "../conn/_keepalive.ts";
import type { ProtocolState } from "../protocol/machine.ts";
import { isPending } from "./_peers.ts";

Deno.test("Pings.payload() copies what it is given, else counts up from 1", () => {
  const pings = new Pings();
  assert.deepEqual(pings.payload(), new Uint8Array([0, 0, 0, 1]));
  assert.deepEqual(pings.payload(), new Uint8Array([0, 0, 0, 2]));
  const data = new Uint8Array([7]);
  const copy = pings.payload(data);
  assert.deepEqual(copy, data);
  assert.notEqual(copy, data);
});

Deno.test("Pings: a pong answers its ping and every ping before it, not later ones", async () => {
  const pings = new Pings();
  const a = pings.track(new Uint8Array([1]));
  const b = pings.track(new Uint8Array([2]));
  const c = pings.track(new Uint8Array([3]));
  pings.answer(new Uint8Array([9])); // unsolicited
  pings.answer(new Uint8Array([2, 0])); // same prefix, other length
  assert.equal(await isPending(a), true);
  pings.answer(new Uint8Array([2]));
  assert.equal(typeof await a, "number");
  assert.ok(await b >= 0);
  assert.equal(await isPending(c), true);
  assert.equal(pings.pending, true);
  const error = new Error("closed");
  pings.rejectAll(error);
  await assert.rejects(c, (e) => e === error);
  assert.equal(pings.pending, false);
});

// A connection whose pongs the test answers (or not).
class FakeConn {
  state: ProtocolState = "open";
  pings: PromiseWithResolvers<number>[] = [];
  aborted = Promise.withResolvers<unknown>();
  pinged = Promise.withResolvers<void>();
  ping(): Promise<number> {
    const pong = Promise.withResolvers<number>();
    this.pings.push(pong);
    this.pinged.resolve();
    return pong.promise;
  }
  abort(reason?: unknown): void {
    this.aborted.resolve(reason);
  }
}

Deno.test("Keepalive pings after the interval, again after each pong, and drops a peer whose pong is late", async () => {
  const conn = new FakeConn();
  const keepalive = new Keepalive(conn, conn, { interval: 5, timeout: 5 });
  await conn.pinged.promise;
  conn.pinged = Promise.withResolvers();
  conn.pings[0].resolve(1);
  await conn.pinged.promise; // a second ping, after the pong
  assert.equal(conn.pings.length, 2);
  const reason = await conn.aborted.promise; // its pong never comes
  assert.ok(reason instanceof DOMException);
  assert.equal(reason.name, "TimeoutError");
  assert.equal(reason.message, "Keepalive ping timed out");
  keepalive.stop();
});

Deno.test("Keepalive sends no ping once the machine is closing, and stop() clears its timer", async () => {
  const closing = new FakeConn();
  closing.state = "closing";
  const quiet = new Keepalive(closing, closing, { interval: 3, timeout: 3 });
  // Same duration, armed later: one timer list fires them in order.
  const open = new FakeConn();
  const marker = new Keepalive(open, open, { interval: 3, timeout: 3 });
  await open.pinged.promise;
  assert.equal(closing.pings.length, 0);
  quiet.stop();
  marker.stop(); // the sanitizer would report a timer left behind
});

Deno.test("Keepalive is its own entry on the timer list, with one callback for every turn", async () => {
  const conn = new FakeConn();
  const keepalive = new Keepalive(conn, conn, { interval: 3, timeout: 50 });
  assert.ok(keepalive.list !== undefined, "armed for the first ping");
  const fire = keepalive.fire;
  assert.equal(typeof fire, "function");
  await conn.pinged.promise;
  // Armed again, for the pong, with the same callback.
  assert.ok(keepalive.list !== undefined);
  assert.equal(keepalive.fire, fire);
  conn.pinged = Promise.withResolvers();
  conn.pings[0].resolve(1);
  await conn.pinged.promise; // the next ping, after the pong
  assert.equal(keepalive.fire, fire);
  keepalive.stop();
  assert.equal(keepalive.list, undefined);
  assert.equal(keepalive.fire, undefined);
});
