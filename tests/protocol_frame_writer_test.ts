import assert from "node:assert/strict";
import { type Frame, FrameDecoder, Opcode } from "../frame.ts";
import { FrameWriter } from "../protocol/_frame_writer.ts";
import { concat, mulberry32, randomBytes } from "./_util.ts";

let counter = 0;
function countingKey(target: Uint8Array, offset: number): void {
  counter++;
  target.set([counter & 0xff, 0x5a, 0xa5, 0x0f], offset);
}

function decodeAll(chunks: Uint8Array[], masked: boolean): Frame[] {
  const decoder = new FrameDecoder({
    role: masked ? "server" : "client",
    allowedRsv: 0x40,
  });
  decoder.push(concat(...chunks));
  const frames: Frame[] = [];
  for (let f = decoder.next(); f; f = decoder.next()) frames.push(f);
  assert.equal(decoder.bufferedBytes, 0);
  return frames;
}

const SIZES = [0, 1, 125, 126, 1024, 1025, 16 * 1024, 64 * 1024, 300_000];

for (const masked of [false, true]) {
  const role = masked ? "client" : "server";
  Deno.test(`FrameWriter (${role}) frames every size so that a decoder reads them back`, () => {
    for (const owned of [false, true]) {
      const writer = new FrameWriter(masked, countingKey);
      const payloads = SIZES.map((n) => randomBytes(n, n + 1));
      const copies = payloads.map((p) => p.slice());
      for (const p of payloads) {
        writer.queueFrame(Opcode.Binary, p, false, owned);
      }
      writer.queueFrame(Opcode.Continuation, payloads[2], true, owned, false);
      assert.equal(writer.hasOutgoing, true);
      const chunks = writer.take();
      assert.equal(writer.hasOutgoing, false);
      const frames = decodeAll(chunks, masked);
      assert.equal(frames.length, SIZES.length + 1);
      for (let i = 0; i < SIZES.length; i++) {
        assert.deepEqual(frames[i].payload, copies[i], `${SIZES[i]}`);
        assert.equal(frames[i].opcode, Opcode.Binary);
        assert.equal(frames[i].fin, true);
      }
      const last = frames[SIZES.length];
      assert.deepEqual(
        [last.opcode, last.fin, last.rsv1],
        [Opcode.Continuation, false, true],
      );
      // The caller's bytes are never masked in place.
      payloads.forEach((p, i) => assert.deepEqual(p, copies[i]));
      for (const chunk of chunks) writer.release(chunk);
    }
  });

  Deno.test(`FrameWriter (${role}) encodes short ASCII text straight into the arena`, () => {
    const writer = new FrameWriter(masked, countingKey);
    assert.equal(writer.queueAsciiText("Hello"), true);
    assert.equal(writer.queueAsciiText("x".repeat(1024)), true);
    // Text it cannot encode leaves nothing behind.
    assert.equal(writer.queueAsciiText("héllo"), false);
    assert.equal(writer.queueAsciiText("x".repeat(1025)), false);
    writer.queueFrame(Opcode.Ping, new Uint8Array([1]), false);
    const frames = decodeAll(writer.take(), masked);
    assert.deepEqual(
      frames.map((f) => [f.opcode, new TextDecoder().decode(f.payload)]),
      [[1, "Hello"], [1, "x".repeat(1024)], [9, "\x01"]],
    );
  });
}

Deno.test("FrameWriter keeps encoded frames in order with the arena's", () => {
  const writer = new FrameWriter(false, countingKey);
  const prepared = new Uint8Array([0x82, 0x01, 0x07]);
  writer.queueFrame(Opcode.Text, new Uint8Array([0x61]), false);
  writer.queueEncoded(prepared);
  writer.queueFrame(Opcode.Text, new Uint8Array([0x62]), false);
  assert.deepEqual(
    decodeAll(writer.take(), false).map((f) => f.payload[0]),
    [0x61, 0x07, 0x62],
  );
});

Deno.test("FrameWriter: machines sharing the arena keep their own bytes", () => {
  const a = new FrameWriter(false, countingKey);
  const b = new FrameWriter(false, countingKey);
  for (let i = 0; i < 3000; i++) {
    (i % 3 ? a : b).queueFrame(
      Opcode.Binary,
      new Uint8Array([i & 0xff]),
      false,
    );
  }
  const fromA = decodeAll(a.take(), false).map((f) => f.payload[0]);
  const fromB = decodeAll(b.take(), false).map((f) => f.payload[0]);
  assert.equal(fromA.length, 2000);
  assert.equal(fromB.length, 1000);
  assert.deepEqual(fromB.slice(0, 3), [0, 3, 6]);
  assert.deepEqual(fromA.slice(0, 3), [1, 2, 4]);
});

// Whether each chunk begins where the one before it ends, in one buffer.
function adjacent(chunks: Uint8Array[]): boolean {
  return chunks.every((chunk, i) =>
    i === 0 ||
    (chunk.buffer === chunks[i - 1].buffer &&
      chunk.byteOffset === chunks[i - 1].byteOffset + chunks[i - 1].length)
  );
}

Deno.test("FrameWriter: machines sending in turn each keep their frames one after another", () => {
  const writers = [0, 1, 2].map(() => new FrameWriter(false, countingKey));
  const text = "sixteen bytes!!!";
  // Connections answering in the same turn, one message each at a time, as
  // a server's do: after a first batch, each one's frames of the next
  // batches lie one after another in the arena, ready to leave as one view.
  for (let batch = 0; batch < 50; batch++) {
    const taken: Uint8Array[][] = writers.map(() => []);
    for (let m = 0; m < 4; m++) {
      writers.forEach((writer, i) => {
        assert.ok(writer.queueAsciiText(text));
        taken[i].push(...writer.take());
      });
    }
    for (const [i, chunks] of taken.entries()) {
      assert.deepEqual(
        decodeAll(chunks, false).map((f) =>
          new TextDecoder().decode(f.payload)
        ),
        [text, text, text, text],
      );
      if (batch > 0) assert.ok(adjacent(chunks), `batch ${batch}, writer ${i}`);
    }
    for (const writer of writers) writer.written();
  }
});

Deno.test("FrameWriter.written() lets go of an arena that new frames no longer go to", () => {
  const idle = new FrameWriter(false, countingKey);
  const busy = new FrameWriter(false, countingKey);
  const frame = new Uint8Array(100);
  // Its first frame leaves room for another after it in the arena.
  idle.queueFrame(Opcode.Binary, frame, false);
  const [before] = idle.take();
  // Others fill the arena until a new one is started.
  let current = before.buffer;
  while (current === before.buffer) {
    busy.queueFrame(Opcode.Binary, frame, false);
    current = busy.take()[0].buffer;
  }
  idle.written();
  idle.queueFrame(Opcode.Binary, frame, false);
  const [after] = idle.take();
  assert.equal(
    after.buffer,
    current,
    "the next frame goes to the arena in use",
  );
});

Deno.test("FrameWriter.takeInto() moves the same chunks take() would onto an array, in order", () => {
  const sizes = [1, 2000, 3, 70_000, 4];
  const queueAll = (writer: FrameWriter) => {
    for (const [i, size] of sizes.entries()) {
      if (i === 2) writer.queueEncoded(new Uint8Array([0x82, 0x01, 0x07]));
      writer.queueFrame(Opcode.Binary, new Uint8Array(size).fill(i), false);
    }
  };
  const taking = new FrameWriter(false, countingKey);
  queueAll(taking);
  const expected = decodeAll(taking.take(), false);
  const moving = new FrameWriter(false, countingKey);
  queueAll(moving);
  const into = [new Uint8Array([0x81, 0x00])];
  const bytes = moving.takeInto(into);
  assert.equal(bytes, into.slice(1).reduce((n, c) => n + c.length, 0));
  const frames = decodeAll(into, false);
  assert.deepEqual(frames.slice(1), expected);
  assert.equal(moving.hasOutgoing, false);
  assert.equal(moving.takeInto(into), 0, "nothing twice");
});

Deno.test("FrameWriter.written() with frames not yet taken keeps them", () => {
  const writer = new FrameWriter(false, countingKey);
  const other = new FrameWriter(false, countingKey);
  writer.queueFrame(Opcode.Binary, new Uint8Array([1]), false);
  writer.take();
  // Another fills the arena, so that the writer's is no longer in use.
  const start = other.take();
  assert.equal(start.length, 0);
  let first: Uint8Array | undefined;
  for (;;) {
    other.queueFrame(Opcode.Binary, new Uint8Array(500), false);
    const [chunk] = other.take();
    first ??= chunk;
    if (chunk.buffer !== first.buffer) break;
  }
  writer.queueFrame(Opcode.Binary, new Uint8Array([2]), false);
  writer.written();
  assert.deepEqual(
    decodeAll(writer.take(), false).map((f) => f.payload[0]),
    [2],
  );
});

Deno.test("FrameWriter: machines sharing the arena in any order keep every frame intact", () => {
  // Seeded random interleavings of small, large, prepared, ASCII and
  // non-ASCII frames across machines that take and report writes at random,
  // with the chunks they took overwritten nowhere: each machine's frames
  // decode to exactly what it queued, in order.
  const random = mulberry32(0x5107);
  for (const masked of [false, true]) {
    const writers = Array.from(
      { length: 5 },
      () => new FrameWriter(masked, countingKey),
    );
    const queued: number[][] = writers.map(() => []);
    const taken: Uint8Array[][] = writers.map(() => []);
    const textOf = (tag: number, ascii: boolean) =>
      (ascii ? "x" : "\u00e9").repeat(1 + (tag % 40)) + String(tag);
    for (let op = 0; op < 4000; op++) {
      const i = Math.floor(random() * writers.length);
      const writer = writers[i];
      const roll = random();
      const tag = op & 0xff;
      if (roll < 0.45) {
        const size = random() < 0.9 ? Math.floor(random() * 200) : 1025 + op;
        writer.queueFrame(
          Opcode.Binary,
          new Uint8Array(size + 1).fill(tag),
          false,
        );
        queued[i].push(tag);
      } else if (roll < 0.6) {
        assert.equal(writer.queueAsciiText(textOf(tag, true)), true);
        queued[i].push(-tag - 1);
      } else if (roll < 0.65) {
        assert.equal(writer.queueAsciiText(textOf(tag, false)), false);
      } else if (roll < 0.7 && !masked) {
        // A prepared frame: a server's only.
        writer.queueEncoded(new Uint8Array([0x82, 0x01, tag]));
        queued[i].push(tag);
      } else if (roll < 0.9) {
        taken[i].push(...writer.take());
      } else {
        taken[i].push(...writer.take());
        writer.written();
      }
    }
    for (const [i, writer] of writers.entries()) {
      taken[i].push(...writer.take());
      const frames = decodeAll(taken[i].map((c) => c.slice()), masked);
      assert.deepEqual(
        frames.map((f) =>
          f.opcode === Opcode.Text
            ? -Number(new TextDecoder().decode(f.payload).replace(/x+/, "")) - 1
            : f.payload[0]
        ),
        queued[i],
        `writer ${i}, masked ${masked}`,
      );
    }
  }
});
