import assert from "node:assert/strict";
import { StreamSender } from "../conn/_stream_sender.ts";
import type { Message, SendPartOptions } from "../protocol/machine.ts";
import type { PreparedMessage } from "../fanout/prepared.ts";

type Sent =
  | { part: number[]; options: SendPartOptions }
  | { whole: Message | PreparedMessage };

// A connection that records what is sent; sendPart can be made to fail.
function sink() {
  const sent: Sent[] = [];
  const closes: [number, string][] = [];
  let failAt = Infinity;
  return {
    sent,
    closes,
    failAt(n: number) {
      failAt = n;
    },
    send(data: Message | PreparedMessage) {
      sent.push({ whole: data });
      return Promise.resolve();
    },
    sendPart(data: Uint8Array, options: SendPartOptions) {
      if (sent.length >= failAt) throw new Error("closing");
      sent.push({ part: [...data], options: { ...options } });
      return Promise.resolve();
    },
    close(code: number, reason: string) {
      closes.push([code, reason]);
      return Promise.resolve();
    },
  };
}

Deno.test("StreamSender sends one frame per chunk and an empty final frame", async () => {
  const to = sink();
  const sender = new StreamSender(to, to);
  await sender.sendStream(["ab", "c"], { compress: false });
  assert.deepEqual(to.sent, [
    {
      part: [97, 98],
      options: { binary: false, first: true, fin: false, compress: false },
    },
    {
      part: [99],
      options: { binary: false, first: false, fin: false, compress: false },
    },
    {
      part: [],
      options: { binary: false, first: false, fin: true, compress: false },
    },
  ]);
});

Deno.test("StreamSender splits chunks over 256 KiB; an empty source is one empty binary frame", async () => {
  const to = sink();
  const sender = new StreamSender(to, to);
  await sender.sendStream([new Uint8Array(256 * 1024 + 1)], undefined);
  assert.deepEqual(
    to.sent.map((s) => "part" in s ? s.part.length : -1),
    [256 * 1024, 1, 0],
  );
  to.sent.length = 0;
  await sender.sendStream([], undefined);
  assert.deepEqual(to.sent, [{
    part: [],
    options: { binary: true, first: true, fin: true, compress: undefined },
  }]);
});

Deno.test("StreamSender keeps sends made meanwhile behind the message, copied at once", async () => {
  const to = sink();
  const sender = new StreamSender(to, to);
  const gate = Promise.withResolvers<void>();
  async function* source() {
    yield new Uint8Array([1]);
    await gate.promise;
    yield new Uint8Array([2]);
  }
  const streamed = sender.sendStream(source(), undefined);
  assert.equal(sender.busy, true);
  const bytes = new Uint8Array([9]);
  const after = sender.sendAfter(bytes, undefined);
  bytes[0] = 0; // the caller reuses its buffer
  gate.resolve();
  await Promise.all([streamed, after]);
  assert.deepEqual(to.sent.map((s) => "whole" in s ? s.whole : s.part), [
    [1],
    [2],
    [],
    new Uint8Array([9]),
  ]);
  await Promise.resolve();
  assert.equal(sender.busy, false);
});

Deno.test("StreamSender closes with 1011 when a source fails after the first frame, not before", async () => {
  const to = sink();
  const sender = new StreamSender(to, to);
  const error = new Error("disk");
  async function* failing(after: number) {
    for (let i = 0; i < after; i++) yield "x";
    throw error;
  }
  await assert.rejects(
    sender.sendStream(failing(0), undefined),
    (e) => e === error,
  );
  assert.deepEqual(to.closes, []);
  await assert.rejects(
    sender.sendStream(failing(1), undefined),
    (e) => e === error,
  );
  assert.deepEqual(to.closes, [[1011, "Message source failed"]]);
  await assert.rejects(
    sender.sendStream([1 as unknown as string], undefined),
    TypeError,
  );
});

Deno.test("StreamSender rejects with the connection's error when a frame cannot be queued", async () => {
  const to = sink();
  to.failAt(1);
  const sender = new StreamSender(to, to);
  await assert.rejects(sender.sendStream(["a", "b"], undefined), /closing/);
  assert.deepEqual(to.closes, [[1011, "Message source failed"]]);
});
