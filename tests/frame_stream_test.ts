import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import { encodeFrame, type Frame, type FrameInit, Opcode } from "../frame.ts";
import {
  FrameDecoderStream,
  FrameEncoderStream,
} from "../protocol/frame_stream.ts";
import { concat, everySplit, randomBytes } from "./_util.ts";

const encoder = new TextEncoder();
const RFC_KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

function frameSummary(frame: Frame): string {
  return `${frame.fin ? "F" : "-"}${frame.rsv1 ? "1" : "-"}${frame.opcode}:${
    Array.from(frame.payload).join(",")
  }`;
}

async function assertProtocolError(
  promise: Promise<unknown>,
  code: string,
  closeCode = 1002,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, code);
    assert.equal(error.closeCode, closeCode);
    return true;
  });
}

const FRAMES: FrameInit[] = [
  { opcode: Opcode.Text, fin: false, payload: encoder.encode("Hel") },
  { opcode: Opcode.Ping, payload: encoder.encode("p") },
  { opcode: Opcode.Continuation, payload: encoder.encode("lo") },
  { opcode: Opcode.Binary, payload: randomBytes(130, 1) },
  { opcode: Opcode.Close, payload: new Uint8Array([0x03, 0xe8]) },
];

function expected(frames: FrameInit[]): string[] {
  return frames.map((f) =>
    `${f.fin === false ? "-" : "F"}${f.rsv1 ? "1" : "-"}${f.opcode}:${
      Array.from(f.payload).join(",")
    }`
  );
}

Deno.test("FrameDecoderStream decodes frames from chunks at every split", async () => {
  const wire = concat(...FRAMES.map((f) => encodeFrame(f, { mask: true })));
  let splits = 0;
  for (const chunks of everySplit(wire)) {
    const frames = await collect(
      ReadableStream.from(chunks.map((c) => c.slice()))
        .pipeThrough(new FrameDecoderStream({ role: "server" })),
    );
    assert.deepEqual(frames.map(frameSummary), expected(FRAMES));
    splits++;
  }
  assert.equal(splits, wire.length + 1);
});

Deno.test("FrameDecoderStream yields the RFC 6455 unmasked Hello", async () => {
  const frames = await collect(
    ReadableStream.from([
      new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
    ])
      .pipeThrough(new FrameDecoderStream({ role: "client" })),
  );
  assert.equal(frames.length, 1);
  assert.equal(frames[0].opcode, Opcode.Text);
  assert.equal(new TextDecoder().decode(frames[0].payload), "Hello");
});

Deno.test("FrameDecoderStream ends cleanly on empty input", async () => {
  const frames = await collect(
    ReadableStream.from<Uint8Array>([]).pipeThrough(new FrameDecoderStream()),
  );
  assert.deepEqual(frames, []);
});

Deno.test("FrameDecoderStream errors with UNEXPECTED_EOF on input truncated anywhere in a frame", async () => {
  const wire = encodeFrame({
    opcode: Opcode.Binary,
    payload: randomBytes(200, 2),
  }, {
    mask: true,
  });
  const before = encodeFrame({
    opcode: Opcode.Text,
    payload: encoder.encode("ok"),
  }, {
    mask: true,
  });
  // Every truncation: a partial header, a whole header, a partial payload.
  for (let cut = 1; cut < wire.length; cut++) {
    const input = concat(before, wire.subarray(0, cut));
    const seen: Frame[] = [];
    const stream = ReadableStream.from([input])
      .pipeThrough(new FrameDecoderStream({ role: "server" }));
    await assertProtocolError(
      (async () => {
        for await (const frame of stream) seen.push(frame);
      })(),
      "UNEXPECTED_EOF",
      // The stream is gone: 1006, which is never sent.
      1006,
    );
    // The whole frame before the truncated one was still delivered.
    assert.equal(seen.length, 1, `cut at ${cut}`);
    assert.equal(new TextDecoder().decode(seen[0].payload), "ok");
  }
});

Deno.test("FrameDecoderStream errors with the frame's ProtocolError", async () => {
  const unmasked = new Uint8Array([0x81, 0x02, 0x48, 0x69]);
  await assertProtocolError(
    collect(
      ReadableStream.from([unmasked]).pipeThrough(
        new FrameDecoderStream({ role: "server" }),
      ),
    ),
    "UNMASKED_FRAME",
  );
  await assertProtocolError(
    collect(
      ReadableStream.from([new Uint8Array([0x83, 0x00])]).pipeThrough(
        new FrameDecoderStream(),
      ),
    ),
    "RESERVED_OPCODE",
  );
});

Deno.test("FrameDecoderStream passes maxFrameSize and allowedRsv to its decoder", async () => {
  const big = encodeFrame({
    opcode: Opcode.Binary,
    payload: new Uint8Array(11),
  });
  await assertProtocolError(
    collect(
      ReadableStream.from([big]).pipeThrough(
        new FrameDecoderStream({ maxFrameSize: 10 }),
      ),
    ),
    "FRAME_TOO_LARGE",
    1009,
  );
  const rsv1 = new Uint8Array([0xc1, 0x00]);
  await assertProtocolError(
    collect(ReadableStream.from([rsv1]).pipeThrough(new FrameDecoderStream())),
    "RESERVED_BITS",
  );
  const frames = await collect(
    ReadableStream.from([rsv1]).pipeThrough(
      new FrameDecoderStream({ allowedRsv: 0x40 }),
    ),
  );
  assert.equal(frames[0].rsv1, true);
});

Deno.test("FrameDecoderStream propagates an error of its source", async () => {
  const failure = new Error("Source failed");
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array([0x82, 0x01, 0x07]));
      controller.error(failure);
    },
  });
  const reader = source.pipeThrough(new FrameDecoderStream()).getReader();
  await assert.rejects(
    (async () => {
      while (!(await reader.read()).done);
    })(),
    (error: unknown) => error === failure,
  );
});

Deno.test("FrameDecoderStream errors its readable when its writable is aborted", async () => {
  const stream = new FrameDecoderStream();
  const writer = stream.writable.getWriter();
  const reason = new Error("Aborted by the writer");
  await writer.abort(reason);
  await assert.rejects(
    stream.readable.getReader().read(),
    (error: unknown) => error === reason,
  );
});

Deno.test("FrameEncoderStream writes one chunk per frame, byte for byte", async () => {
  const chunks = await collect(
    ReadableStream.from<FrameInit>([
      { opcode: Opcode.Text, payload: encoder.encode("Hello") },
      { opcode: Opcode.Ping, payload: encoder.encode("Hello") },
      { opcode: Opcode.Text, fin: false, payload: encoder.encode("Hel") },
      { opcode: Opcode.Continuation, payload: encoder.encode("lo") },
    ]).pipeThrough(new FrameEncoderStream()),
  );
  assert.deepEqual(chunks.map((c) => Array.from(c)), [
    [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
    [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
    [0x01, 0x03, 0x48, 0x65, 0x6c],
    [0x80, 0x02, 0x6c, 0x6f],
  ]);
});

Deno.test("FrameEncoderStream masks with the given key without touching the payload", async () => {
  const payload = encoder.encode("Hello");
  const chunks = await collect(
    ReadableStream.from<FrameInit>([{ opcode: Opcode.Pong, payload }])
      .pipeThrough(new FrameEncoderStream({ mask: true, maskKey: RFC_KEY })),
  );
  assert.deepEqual(
    Array.from(chunks[0]),
    [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
  );
  assert.deepEqual(payload, encoder.encode("Hello"));
});

Deno.test("FrameEncoderStream piped into FrameDecoderStream round-trips client frames", async () => {
  const frames = await collect(
    ReadableStream.from(FRAMES)
      .pipeThrough(new FrameEncoderStream({ mask: true }))
      .pipeThrough(new FrameDecoderStream({ role: "server" })),
  );
  assert.deepEqual(frames.map(frameSummary), expected(FRAMES));
});

Deno.test("FrameEncoderStream unmasked output fails a server-role FrameDecoderStream", async () => {
  await assertProtocolError(
    collect(
      ReadableStream.from(FRAMES)
        .pipeThrough(new FrameEncoderStream())
        .pipeThrough(new FrameDecoderStream({ role: "server" })),
    ),
    "UNMASKED_FRAME",
  );
});

Deno.test("FrameEncoderStream propagates an error of its source", async () => {
  const failure = new Error("No more frames");
  const source = new ReadableStream<FrameInit>({
    start(controller) {
      controller.enqueue({ opcode: Opcode.Text, payload: new Uint8Array(0) });
      controller.error(failure);
    },
  });
  await assert.rejects(
    collect(source.pipeThrough(new FrameEncoderStream())),
    (error: unknown) => error === failure,
  );
});
