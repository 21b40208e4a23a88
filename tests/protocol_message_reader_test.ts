import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import { encodeFrame, type FrameInit, Opcode } from "../frame.ts";
import { MessageReader } from "../protocol/_message_reader.ts";
import type { ProtocolEvent } from "../protocol/machine.ts";
import { concat, everySplit } from "./_util.ts";

const encoder = new TextEncoder();

function wire(...frames: FrameInit[]): Uint8Array {
  return concat(...frames.map((f) => encodeFrame(f, { mask: true })));
}

// Reads `bytes` in the pieces given; returns the events and the opcodes of
// the control frames handed back, in order, with the error if one came.
function read(
  pieces: Uint8Array[],
  options: { maxMessageSize?: number; stream?: boolean } = {},
) {
  const reader = new MessageReader({
    role: "server",
    maxMessageSize: options.maxMessageSize ?? 1 << 20,
  });
  reader.streamMessages = options.stream ?? false;
  const events: ProtocolEvent[] = [];
  const log: (ProtocolEvent | number)[] = [];
  let error: ProtocolError | undefined;
  try {
    for (const piece of pieces) {
      reader.push(piece);
      for (
        let f = reader.nextControl(events);
        f;
        f = reader.nextControl(events)
      ) {
        log.push(...events.splice(0), f.opcode);
      }
      log.push(...events.splice(0));
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    error = e;
    log.push(...events.splice(0));
  }
  return { log, error, reader };
}

Deno.test("MessageReader reassembles fragments and hands back control frames in order, at every split", () => {
  const bytes = wire(
    { opcode: Opcode.Text, fin: false, payload: encoder.encode("Hé") },
    { opcode: Opcode.Ping, payload: new Uint8Array([1]) },
    { opcode: Opcode.Continuation, payload: encoder.encode("llo") },
    { opcode: Opcode.Binary, payload: new Uint8Array([9, 9]) },
    { opcode: Opcode.Close, payload: new Uint8Array([3, 232]) },
  );
  for (const pieces of everySplit(bytes)) {
    const { log, error, reader } = read(pieces);
    assert.equal(error, undefined);
    assert.deepEqual(log, [
      Opcode.Ping,
      { type: "message", data: "Héllo" },
      { type: "message", data: new Uint8Array([9, 9]) },
      Opcode.Close,
    ]);
    assert.equal(reader.inMessage, false);
  }
});

Deno.test("MessageReader fails invalid UTF-8 in a frame before the frame is complete", () => {
  const frame = wire({
    opcode: Opcode.Text,
    payload: concat(
      encoder.encode("ok"),
      new Uint8Array([0xff]),
      new Uint8Array(100),
    ),
  });
  // Header (8 bytes), "ok" and the bad byte: the rest has not arrived.
  const { error } = read([frame.subarray(0, 11)]);
  assert.equal(error?.code, "INVALID_UTF8");
});

Deno.test("MessageReader refuses frames out of order", () => {
  const cont = { opcode: Opcode.Continuation, payload: new Uint8Array(1) };
  const start = { opcode: Opcode.Text, fin: false, payload: new Uint8Array(1) };
  assert.equal(read([wire(cont)]).error?.code, "UNEXPECTED_CONTINUATION");
  assert.equal(read([wire(start, start)]).error?.code, "EXPECTED_CONTINUATION");
  assert.equal(
    read([wire({ opcode: Opcode.Ping, rsv1: true, payload: new Uint8Array() })])
      .error?.code,
    "RESERVED_BITS",
  );
});

Deno.test("MessageReader limits a message's size across its fragments, on the fragment's header", () => {
  const part = {
    opcode: Opcode.Binary,
    fin: false,
    payload: new Uint8Array(6),
  };
  const bytes = wire(part, {
    opcode: Opcode.Continuation,
    payload: new Uint8Array(6),
  });
  // Only the second header has arrived: it is refused already.
  const { error } = read([bytes.subarray(0, 12 + 6)], { maxMessageSize: 10 });
  assert.equal(error?.code, "MESSAGE_TOO_LARGE");
});

Deno.test("MessageReader streams a message's pieces as they arrive", () => {
  const bytes = wire(
    { opcode: Opcode.Binary, fin: false, payload: new Uint8Array([1, 2, 3]) },
    { opcode: Opcode.Continuation, payload: new Uint8Array([4]) },
  );
  const { log } = read([bytes.subarray(0, 8), bytes.subarray(8)], {
    stream: true,
  });
  const parts = log.filter((e) => typeof e !== "number");
  const data = concat(...parts.map((e) => (e as { data: Uint8Array }).data));
  assert.deepEqual(data, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(
    parts.map((e) => e.type === "part" && [e.first, e.fin, e.binary]),
    [
      [true, false, true],
      ...parts.slice(1, -1).map(() => [false, false, true]),
      [false, true, true],
    ],
  );
  // A streamed message is never read whole into one buffer.
  assert.equal(read([], { stream: true }).reader.payloadTarget(), undefined);
});
