import assert from "node:assert/strict";
import type { PerMessageExtension } from "../extensions/extension.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import { type Frame, FrameDecoder, Opcode } from "../frame.ts";
import { FrameWriter } from "../protocol/_frame_writer.ts";
import { MessageSender } from "../protocol/_message_sender.ts";
import { concat } from "./_util.ts";

// A stand-in extension: its "compression" reverses the bytes, and it
// declines payloads that start with 0.
const reversing: PerMessageExtension = {
  name: "x-reverse",
  header: "x-reverse",
  compress: (p) => p[0] === 0 ? undefined : p.slice().reverse(),
  compressPart: (p, first) =>
    first && p[0] === 0 ? undefined : p.slice().reverse(),
  decompress: (p) => p,
};

function setup(client: boolean, extension?: PerMessageExtension) {
  const writer = new FrameWriter(client, (t, o) => t.set([1, 2, 3, 4], o));
  const sender = new MessageSender(writer, extension, client);
  const frames = (): Frame[] => {
    const decoder = new FrameDecoder({
      role: client ? "server" : "client",
      allowedRsv: 0x40,
    });
    decoder.push(concat(...writer.take()));
    const out: Frame[] = [];
    for (let f = decoder.next(); f; f = decoder.next()) out.push(f);
    return out;
  };
  return { sender, frames };
}

const summary = (f: Frame) => [f.opcode, f.fin, f.rsv1, [...f.payload]];

Deno.test("MessageSender.send() frames text and bytes with their opcodes", () => {
  for (const client of [false, true]) {
    const { sender, frames } = setup(client);
    sender.send("hé", undefined);
    sender.send(new Uint8Array([7, 8]), undefined);
    assert.deepEqual(frames().map(summary), [
      [Opcode.Text, true, false, [0x68, 0xc3, 0xa9]],
      [Opcode.Binary, true, false, [7, 8]],
    ]);
    assert.throws(() => sender.send(42 as never, undefined), TypeError);
  }
});

Deno.test("MessageSender.send() compresses unless told not to, or the extension declines", () => {
  const { sender, frames } = setup(false, reversing);
  sender.send(new Uint8Array([1, 2, 3]), undefined);
  sender.send(new Uint8Array([1, 2, 3]), { compress: false });
  sender.send(new Uint8Array([0, 2, 3]), undefined);
  sender.send("ab", undefined);
  assert.deepEqual(frames().map(summary), [
    [Opcode.Binary, true, true, [3, 2, 1]],
    [Opcode.Binary, true, false, [1, 2, 3]],
    [Opcode.Binary, true, false, [0, 2, 3]],
    [Opcode.Text, true, true, [0x62, 0x61]],
  ]);
});

Deno.test("MessageSender.sendPart() sends a message in frames, RSV1 on the first only", () => {
  const { sender, frames } = setup(true, reversing);
  sender.sendPart(new Uint8Array([1, 2]), {
    binary: true,
    first: true,
    fin: false,
  });
  // Nothing else may start until the last part; no part without a first.
  assert.throws(() => sender.send("x", undefined), TypeError);
  assert.throws(
    () =>
      sender.sendPart(new Uint8Array(1), {
        binary: true,
        first: true,
        fin: true,
      }),
    TypeError,
  );
  sender.sendPart(new Uint8Array([3, 4]), {
    binary: true,
    first: false,
    fin: true,
  });
  assert.throws(
    () =>
      sender.sendPart(new Uint8Array(1), {
        binary: true,
        first: false,
        fin: true,
      }),
    TypeError,
  );
  sender.send("ok", { compress: false });
  assert.deepEqual(frames().map(summary), [
    [Opcode.Binary, false, true, [2, 1]],
    [Opcode.Continuation, true, false, [4, 3]],
    [Opcode.Text, true, false, [0x6f, 0x6b]],
  ]);
});

Deno.test("MessageSender.sendPrepared() queues the frame as is only on a server without compression", () => {
  const message = new PreparedMessage("hi");
  for (
    const [client, extension] of [[false, undefined], [true, undefined], [
      false,
      reversing,
    ]] as const
  ) {
    const { sender, frames } = setup(client, extension);
    sender.sendPrepared(message);
    const [frame] = frames();
    assert.equal(frame.opcode, Opcode.Text);
    assert.deepEqual(
      [...frame.payload],
      extension ? [0x69, 0x68] : [0x68, 0x69],
      `${client} ${extension?.name}`,
    );
  }
});
