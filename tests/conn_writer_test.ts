import assert from "node:assert/strict";
import type { Transport } from "../conn.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";
import { coalesce, QUEUED, Writer } from "../conn/_writer.ts";
import { isPending } from "./_peers.ts";

// A machine that only queues bytes, and a transport whose writes wait until
// the test lets them through.
class FakeMachine {
  outgoing: Uint8Array[] = [];
  released: Uint8Array[] = [];
  get hasOutgoing(): boolean {
    return this.outgoing.length > 0;
  }
  takeOutgoing(): Uint8Array[] {
    return this.outgoing.splice(0);
  }
  release(chunk: Uint8Array): void {
    this.released.push(chunk);
  }
}

class GatedTransport {
  writes: Uint8Array[] = [];
  #gates: PromiseWithResolvers<number>[] = [];
  #arrived: PromiseWithResolvers<void> | undefined;
  read(): Promise<number | null> {
    return new Promise(() => {});
  }
  write(p: Uint8Array): Promise<number> {
    this.writes.push(p.slice());
    const gate = Promise.withResolvers<number>();
    this.#gates.push(gate);
    this.#arrived?.resolve();
    return gate.promise;
  }
  close(): void {}
  /** Resolves once a write is waiting. */
  async waitWrite(): Promise<void> {
    while (this.#gates.length === 0) {
      this.#arrived = Promise.withResolvers<void>();
      await this.#arrived.promise;
    }
  }
  /** Lets the oldest waiting write take `n` bytes (all by default). */
  async pass(n?: number): Promise<void> {
    await this.waitWrite();
    const gate = this.#gates.shift()!;
    gate.resolve(n ?? this.writes[this.writes.length - 1].length);
  }
  fail(error: Error): void {
    this.#gates.shift()!.reject(error);
  }
}

function setup(limit = 100) {
  const machine = new FakeMachine();
  const transport = new GatedTransport();
  const owner = { aborted: [] as unknown[] };
  const writer = new Writer(
    transport as unknown as Transport,
    machine as unknown as ProtocolMachine,
    { writeTimeout: 0, abort: (reason) => owner.aborted.push(reason) },
    { pending: 0 },
    limit,
  );
  return { machine, transport, owner, writer };
}

Deno.test("Writer joins the chunks queued in one turn into one write", async () => {
  const { machine, transport, writer } = setup();
  machine.outgoing.push(new Uint8Array([1, 2]));
  writer.enqueue();
  machine.outgoing.push(new Uint8Array([3]));
  writer.enqueue();
  assert.equal(writer.buffered, 3, "counted as soon as queued");
  const flushed = writer.flush();
  await transport.pass();
  await flushed;
  assert.deepEqual(transport.writes, [new Uint8Array([1, 2, 3])]);
  assert.equal(writer.buffered, 0);
});

Deno.test("Writer.queued() resolves at once under the mark, and waits above it until written", async () => {
  const { machine, transport, writer } = setup(4);
  machine.outgoing.push(new Uint8Array(4));
  await writer.queued(); // 4 <= 4
  machine.outgoing.push(new Uint8Array(2));
  const waiting = writer.queued(); // 6 > 4
  assert.equal(await isPending(waiting), true);
  await transport.pass(2); // 4 left: back at the mark
  await waiting;
  await transport.pass();
});

Deno.test("Writer releases large chunks once written, never copies", async () => {
  const { machine, transport, writer } = setup(1 << 20);
  const large = new Uint8Array(20_000);
  machine.outgoing.push(large);
  const flushed = writer.flush();
  await transport.pass();
  await flushed;
  assert.deepEqual(machine.released, [large]);
});

Deno.test("Writer.stop() rejects whoever waits and says whether bytes were lost", async () => {
  const { machine, transport, writer } = setup(1);
  machine.outgoing.push(new Uint8Array(3));
  const room = writer.queued();
  const flushed = writer.flush();
  await transport.waitWrite();
  assert.equal(writer.waiting, true);
  const error = new Error("closed");
  writer.stop(error);
  await assert.rejects(room, (e) => e === error);
  await assert.rejects(flushed, (e) => e === error);
  assert.equal(writer.lost, true);
  assert.equal(writer.buffered, 0);
  assert.equal(writer.waiting, false);
});

Deno.test("Writer aborts its owner when a write fails", async () => {
  const { machine, transport, owner, writer } = setup();
  machine.outgoing.push(new Uint8Array(1));
  writer.enqueue();
  await transport.waitWrite();
  const error = new Error("broken pipe");
  transport.fail(error);
  const settled = writer.settled(); // the write loop ends
  await settled;
  assert.deepEqual(owner.aborted, [error]);
});

Deno.test("Writer makes no waiter for sends under the mark, one for flush()", async () => {
  const { machine, transport, writer } = setup();
  machine.outgoing.push(new Uint8Array(3));
  const sent = writer.queued();
  assert.equal(
    writer.waiting,
    false,
    "a send under the mark waits for nothing",
  );
  await sent;
  const flushed = writer.flush();
  assert.equal(writer.waiting, true);
  await transport.pass();
  await flushed;
  assert.equal(writer.waiting, false);
});

Deno.test("Writer.queued() under the mark answers the shared QUEUED promise, above it its own", () => {
  const { machine, writer } = setup(4);
  machine.outgoing.push(new Uint8Array(4));
  assert.equal(writer.queued(), QUEUED);
  machine.outgoing.push(new Uint8Array(1));
  const room = writer.queued();
  assert.notEqual(room, QUEUED);
  writer.stop(new Error("done"));
  return assert.rejects(room);
});

Deno.test("Writer over the mark writes at once, without waiting for the turn", () => {
  const { machine, transport, writer } = setup(4);
  machine.outgoing.push(new Uint8Array(6));
  const room = writer.queued();
  assert.equal(transport.writes.length, 1, "the write started in the call");
  writer.stop(new Error("done"));
  return assert.rejects(room);
});

Deno.test("Writer stopped while waiting for its turn writes nothing", async () => {
  const { machine, transport, writer } = setup();
  machine.outgoing.push(new Uint8Array(2));
  writer.enqueue();
  writer.stop(undefined);
  assert.equal(writer.lost, true);
  await writer.settled();
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(transport.writes.length, 0);
});

Deno.test("Writer writes what was queued during a write next, in order, in one write", async () => {
  const { machine, transport, writer } = setup(1000);
  machine.outgoing.push(new Uint8Array([1]));
  writer.enqueue();
  await transport.waitWrite();
  for (let i = 2; i <= 4; i++) {
    machine.outgoing.push(new Uint8Array([i]));
    writer.enqueue();
  }
  const flushed = writer.flush();
  await transport.pass();
  await transport.pass();
  await flushed;
  machine.outgoing.push(new Uint8Array([5]));
  const last = writer.flush();
  await transport.pass();
  await last;
  assert.deepEqual(transport.writes, [
    new Uint8Array([1]),
    new Uint8Array([2, 3, 4]),
    new Uint8Array([5]),
  ]);
});

Deno.test("Writer moves a machine's chunks straight onto its queue when the machine can", async () => {
  const { machine, transport, writer } = setup(1000);
  const moving = machine as FakeMachine & {
    takeOutgoingInto(into: Uint8Array[]): number;
  };
  moving.takeOutgoing = () => {
    throw new Error("takeOutgoing() called");
  };
  moving.takeOutgoingInto = (into) => {
    const chunks = machine.outgoing.splice(0);
    into.push(...chunks);
    return chunks.reduce((n, c) => n + c.length, 0);
  };
  machine.outgoing.push(new Uint8Array([1, 2]), new Uint8Array([3]));
  writer.enqueue();
  assert.equal(writer.buffered, 3);
  const flushed = writer.flush();
  await transport.pass();
  await flushed;
  assert.deepEqual(transport.writes, [new Uint8Array([1, 2, 3])]);
});

Deno.test("coalesce() joins runs of small chunks and leaves large ones alone", () => {
  const small = (n: number) => new Uint8Array(n).fill(n);
  const large = new Uint8Array(16 * 1024);
  const one = [small(1)];
  assert.equal(coalesce(one), one);
  const chunks = [small(1), small(2), large, small(3)];
  const out = coalesce(chunks);
  assert.equal(out, chunks, "rewritten in place, no array per write");
  assert.equal(out.length, 3);
  assert.deepEqual(out[0], new Uint8Array([1, 2, 2]));
  assert.equal(out[1], large);
  assert.deepEqual(out[2], new Uint8Array([3, 3, 3]));
  // A run is cut at four times the limit.
  const many = Array.from({ length: 9 }, () => new Uint8Array(8 * 1024));
  assert.deepEqual(coalesce(many).map((b) => b.length), [
    64 * 1024,
    8 * 1024,
  ]);
});

Deno.test("coalesce() joins a run once for every queue that holds the same chunks (a broadcast)", () => {
  const a = new Uint8Array([1, 2]);
  const b = new Uint8Array([3]);
  const first = coalesce([a, b]);
  const second = coalesce([a, b]);
  assert.deepEqual(first, [new Uint8Array([1, 2, 3])]);
  assert.equal(second[0], first[0], "the same joined bytes, not a copy");
  const other = coalesce([a, new Uint8Array([3])]);
  assert.notEqual(
    other[0],
    first[0],
    "equal bytes in other chunks: joined anew",
  );
  const longer = coalesce([a, b, b]);
  assert.deepEqual(longer, [new Uint8Array([1, 2, 3, 3])]);
  // A run of very many chunks is joined each time, correctly.
  const many = Array.from({ length: 300 }, (_, i) => new Uint8Array([i & 255]));
  const once = coalesce([...many]);
  const again = coalesce([...many]);
  assert.notEqual(again[0], once[0]);
  assert.deepEqual(again, once);
  assert.equal(once[0].length, 300);
});

Deno.test("coalesce() writes chunks that follow one another in one buffer as one view, without a copy", () => {
  const arena = new Uint8Array(64).map((_, i) => i);
  const run = [
    arena.subarray(4, 10),
    arena.subarray(10, 11),
    arena.subarray(11, 20),
  ];
  const [joined] = coalesce(run);
  assert.equal(joined.buffer, arena.buffer, "a view of the same bytes");
  assert.equal(joined.byteOffset, 4);
  assert.deepEqual(joined, arena.slice(4, 20));
  // A gap, or another buffer, means a copy.
  const gap = coalesce([arena.subarray(4, 10), arena.subarray(11, 20)])[0];
  assert.notEqual(gap.buffer, arena.buffer);
  assert.deepEqual(
    gap,
    new Uint8Array([...arena.slice(4, 10), ...arena.slice(11, 20)]),
  );
  const elsewhere = arena.slice(10, 11);
  const mixed =
    coalesce([arena.subarray(4, 10), elsewhere, arena.subarray(11, 20)])[0];
  assert.notEqual(mixed.buffer, arena.buffer);
  assert.deepEqual(mixed, arena.slice(4, 20));
});

Deno.test("Writer tells the machine once everything taken is written, not before", async () => {
  const { machine, transport, writer } = setup(1000);
  let written = 0;
  (machine as FakeMachine & { written(): void }).written = () => written++;
  machine.outgoing.push(new Uint8Array([1]));
  writer.enqueue();
  await transport.waitWrite();
  machine.outgoing.push(new Uint8Array([2]));
  writer.enqueue();
  await transport.pass();
  await transport.waitWrite();
  assert.equal(written, 0, "a write is still under way");
  const flushed = writer.flush();
  await transport.pass();
  await flushed;
  assert.equal(written, 1);
});
