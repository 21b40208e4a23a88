import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import {
  applyMask,
  CloseCode,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  encodeFrameHeader,
  fillMaskKey,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  frameHeaderSize,
  isControlOpcode,
  MAX_HEADER_SIZE,
  Opcode,
} from "../frame.ts";
import { concat, everySplit, randomBytes } from "./_util.ts";

const encoder = new TextEncoder();
const HELLO = encoder.encode("Hello");
/** The masking key of the RFC 6455 section 5.7 examples. */
const RFC_KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The splits a decoder is fed: {@linkcode everySplit} for inputs up to 4 KiB;
 * larger inputs (where every split would take seconds) get the whole input,
 * every 2-way split in the first and last 32 bytes and at a stride, and
 * 1000-byte pieces.
 */
function* feeds(bytes: Uint8Array): Generator<Uint8Array[]> {
  if (bytes.length <= 4096) {
    yield* everySplit(bytes);
    return;
  }
  yield [bytes];
  for (let i = 1; i < bytes.length; i++) {
    if (i <= 32 || i >= bytes.length - 32 || i % 4093 === 0) {
      yield [bytes.subarray(0, i), bytes.subarray(i)];
    }
  }
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 1000) {
    pieces.push(bytes.subarray(i, i + 1000));
  }
  yield pieces;
}

/** Pushes chunks one at a time, pulling every frame as soon as it is whole. */
function decodeChunks(
  chunks: Uint8Array[],
  options: FrameDecoderOptions = {},
): Frame[] {
  const decoder = new FrameDecoder(options);
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      frames.push(frame);
    }
  }
  assert.equal(decoder.bufferedBytes, 0, "every byte was consumed");
  assert.equal(decoder.inFrame, false, "no frame is left half-decoded");
  return frames;
}

function sameFrames(a: Frame[], b: Frame[]): boolean {
  return a.length === b.length &&
    a.every((frame, i) =>
      frame.fin === b[i].fin && frame.rsv1 === b[i].rsv1 &&
      frame.rsv2 === b[i].rsv2 && frame.rsv3 === b[i].rsv3 &&
      frame.opcode === b[i].opcode && sameBytes(frame.payload, b[i].payload)
    );
}

/** Decodes `bytes` at every split; asserts each gives the same frames. */
function decodeEverySplit(
  bytes: Uint8Array,
  options: FrameDecoderOptions = {},
): Frame[] {
  const whole = decodeChunks([bytes.slice()], options);
  let count = 0;
  for (const chunks of feeds(bytes.slice())) {
    const frames = decodeChunks(chunks, options);
    assert.ok(
      sameFrames(frames, whole),
      `split into ${chunks.map((c) => c.length).join("+")} decodes the same`,
    );
    count++;
  }
  assert.ok(count >= 1);
  return whole;
}

/** Asserts that decoding throws the given code at every split. */
function assertRejectsEverySplit(
  bytes: Uint8Array,
  options: FrameDecoderOptions,
  code: string,
  closeCode = 1002,
): void {
  for (const chunks of everySplit(bytes)) {
    assert.throws(
      () => decodeChunks(chunks, options),
      (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.equal(error.code, code);
        assert.equal(error.closeCode, closeCode);
        return true;
      },
    );
  }
}

/** Asserts that pushing only `header` (no payload) makes next() throw. */
function assertHeaderRejected(
  header: Uint8Array,
  options: FrameDecoderOptions,
  code: string,
  closeCode = 1002,
): void {
  const decoder = new FrameDecoder(options);
  decoder.push(header);
  assert.throws(
    () => decoder.next(),
    (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.code, code);
      assert.equal(error.closeCode, closeCode);
      return true;
    },
  );
}

function expectFrame(
  frame: Frame,
  expected: Partial<Omit<Frame, "payload">> & { payload: Uint8Array },
): void {
  assert.equal(frame.fin, expected.fin ?? true);
  assert.equal(frame.rsv1, expected.rsv1 ?? false);
  assert.equal(frame.rsv2, expected.rsv2 ?? false);
  assert.equal(frame.rsv3, expected.rsv3 ?? false);
  if (expected.opcode !== undefined) {
    assert.equal(frame.opcode, expected.opcode);
  }
  assert.deepEqual(Array.from(frame.payload), Array.from(expected.payload));
}

// RFC 6455 section 5.7 examples.

Deno.test("encodeFrame() writes the RFC 6455 unmasked Hello byte for byte", () => {
  const bytes = encodeFrame({ opcode: Opcode.Text, payload: HELLO });
  assert.deepEqual(bytes, hex("81 05 48 65 6c 6c 6f"));
});

Deno.test("FrameDecoder decodes the RFC 6455 unmasked Hello at every split", () => {
  const frames = decodeEverySplit(hex("81 05 48 65 6c 6c 6f"), {
    role: "client",
  });
  assert.equal(frames.length, 1);
  expectFrame(frames[0], { opcode: Opcode.Text, payload: HELLO });
});

Deno.test("encodeFrame() writes the RFC 6455 masked Hello with key 37 fa 21 3d", () => {
  const bytes = encodeFrame({ opcode: Opcode.Text, payload: HELLO }, {
    mask: true,
    maskKey: RFC_KEY,
  });
  assert.deepEqual(bytes, hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"));
});

Deno.test("FrameDecoder unmasks the RFC 6455 masked Hello at every split", () => {
  const frames = decodeEverySplit(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), {
    role: "server",
  });
  assert.equal(frames.length, 1);
  expectFrame(frames[0], { opcode: Opcode.Text, payload: HELLO });
});

Deno.test("encodeFrame() writes the RFC 6455 fragmented unmasked Hel + lo", () => {
  const first = encodeFrame({
    opcode: Opcode.Text,
    fin: false,
    payload: encoder.encode("Hel"),
  });
  const second = encodeFrame({
    opcode: Opcode.Continuation,
    payload: encoder.encode("lo"),
  });
  assert.deepEqual(first, hex("01 03 48 65 6c"));
  assert.deepEqual(second, hex("80 02 6c 6f"));
});

Deno.test("FrameDecoder decodes the RFC 6455 fragmented Hel + lo at every split", () => {
  const frames = decodeEverySplit(hex("01 03 48 65 6c 80 02 6c 6f"), {
    role: "client",
  });
  assert.equal(frames.length, 2);
  expectFrame(frames[0], {
    fin: false,
    opcode: Opcode.Text,
    payload: encoder.encode("Hel"),
  });
  expectFrame(frames[1], {
    opcode: Opcode.Continuation,
    payload: encoder.encode("lo"),
  });
});

Deno.test("encodeFrame() and FrameDecoder agree on the RFC 6455 unmasked ping", () => {
  const wire = hex("89 05 48 65 6c 6c 6f");
  assert.deepEqual(encodeFrame({ opcode: Opcode.Ping, payload: HELLO }), wire);
  const frames = decodeEverySplit(wire, { role: "client" });
  assert.equal(frames.length, 1);
  expectFrame(frames[0], { opcode: Opcode.Ping, payload: HELLO });
});

Deno.test("encodeFrame() and FrameDecoder agree on the RFC 6455 masked pong", () => {
  const wire = hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58");
  assert.deepEqual(
    encodeFrame({ opcode: Opcode.Pong, payload: HELLO }, {
      mask: true,
      maskKey: RFC_KEY,
    }),
    wire,
  );
  const frames = decodeEverySplit(wire, { role: "server" });
  assert.equal(frames.length, 1);
  expectFrame(frames[0], { opcode: Opcode.Pong, payload: HELLO });
});

Deno.test("encodeFrame() and FrameDecoder agree on the RFC 6455 256-byte binary frame", () => {
  const payload = randomBytes(256, 1);
  const wire = encodeFrame({ opcode: Opcode.Binary, payload });
  assert.deepEqual(wire.subarray(0, 4), hex("82 7E 01 00"));
  assert.equal(wire.length, 4 + 256);
  assert.deepEqual(wire.subarray(4), payload);
  const frames = decodeEverySplit(wire, { role: "client" });
  assert.equal(frames.length, 1);
  expectFrame(frames[0], { opcode: Opcode.Binary, payload });
});

Deno.test("encodeFrame() and FrameDecoder agree on the RFC 6455 64 KiB binary frame", () => {
  const payload = randomBytes(65536, 2);
  const wire = encodeFrame({ opcode: Opcode.Binary, payload });
  assert.deepEqual(wire.subarray(0, 10), hex("82 7F 00 00 00 00 00 01 00 00"));
  assert.equal(wire.length, 10 + 65536);
  assert.ok(sameBytes(wire.subarray(10), payload));
  const frames = decodeEverySplit(wire, { role: "client" });
  assert.equal(frames.length, 1);
  assert.equal(frames[0].opcode, Opcode.Binary);
  assert.ok(sameBytes(frames[0].payload, payload));
});

// Round trips.

for (const length of [0, 1, 125, 126, 127, 65535, 65536]) {
  for (const mask of [false, true]) {
    Deno.test(
      `encodeFrame() and FrameDecoder round-trip a ${length}-byte ${
        mask ? "masked" : "unmasked"
      } payload at every split`,
      () => {
        const payload = randomBytes(length, length + 7);
        const wire = encodeFrame({ opcode: Opcode.Binary, payload }, { mask });
        const headerSize = length < 126 ? 2 : length < 65536 ? 4 : 10;
        assert.equal(wire.length, headerSize + (mask ? 4 : 0) + length);
        assert.equal(wire[1] & 0x80, mask ? 0x80 : 0);
        assert.equal(
          wire[1] & 0x7f,
          length < 126 ? length : headerSize === 4 ? 126 : 127,
        );
        const frames = decodeEverySplit(wire, {
          role: mask ? "server" : "client",
        });
        assert.equal(frames.length, 1);
        assert.equal(frames[0].opcode, Opcode.Binary);
        assert.equal(frames[0].fin, true);
        assert.ok(sameBytes(frames[0].payload, payload));
      },
    );
  }
}

Deno.test("encodeFrame() and FrameDecoder round-trip a 3 MiB masked payload", () => {
  const payload = randomBytes(3 * 1024 * 1024 + 5, 3);
  const wire = encodeFrame({ opcode: Opcode.Binary, payload }, { mask: true });
  assert.equal(wire[1], 0x80 | 127);
  const splits: Uint8Array[][] = [
    [wire],
    [wire.subarray(0, 9), wire.subarray(9)],
    [wire.subarray(0, 14), wire.subarray(14)],
    [wire.subarray(0, 1 << 20), wire.subarray(1 << 20)],
  ];
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < wire.length; i += 65536) {
    pieces.push(wire.subarray(i, i + 65536));
  }
  splits.push(pieces);
  for (const chunks of splits) {
    const frames = decodeChunks(chunks, { role: "server" });
    assert.equal(frames.length, 1);
    assert.ok(sameBytes(frames[0].payload, payload));
  }
});

Deno.test("FrameDecoder decodes a sequence of frames of mixed sizes at every split", () => {
  const inits = [
    { opcode: Opcode.Text, fin: false, payload: encoder.encode("κόσ") },
    { opcode: Opcode.Ping, payload: new Uint8Array(0) },
    { opcode: Opcode.Continuation, payload: encoder.encode("με") },
    { opcode: Opcode.Binary, payload: randomBytes(300, 4) },
    { opcode: Opcode.Close, payload: new Uint8Array([0x03, 0xe8]) },
  ];
  const wire = concat(
    ...inits.map((init) => encodeFrame(init, { mask: true })),
  );
  const frames = decodeEverySplit(wire, { role: "server" });
  assert.equal(frames.length, inits.length);
  frames.forEach((frame, i) =>
    expectFrame(frame, {
      fin: inits[i].fin ?? true,
      opcode: inits[i].opcode,
      payload: inits[i].payload,
    })
  );
});

Deno.test("encodeFrame() sets FIN, RSV1-3 and the opcode in the first byte", () => {
  const bytes = encodeFrame({
    opcode: Opcode.Binary,
    fin: false,
    rsv1: true,
    rsv2: true,
    rsv3: true,
    payload: new Uint8Array(0),
  });
  assert.deepEqual(bytes, new Uint8Array([0x72, 0x00]));
  const frames = decodeEverySplit(bytes, { allowedRsv: 0x70 });
  expectFrame(frames[0], {
    fin: false,
    rsv1: true,
    rsv2: true,
    rsv3: true,
    opcode: Opcode.Binary,
    payload: new Uint8Array(0),
  });
});

// Validation, each at every split and on the header alone.

for (
  const [name, bit] of [["RSV1", 0x40], ["RSV2", 0x20], ["RSV3", 0x10]] as const
) {
  Deno.test(`FrameDecoder rejects ${name} with RESERVED_BITS when no extension allows it`, () => {
    const wire = new Uint8Array([0x81 | bit, 0x01, 0x41]);
    assertRejectsEverySplit(wire, {}, "RESERVED_BITS");
    assertHeaderRejected(wire.subarray(0, 2), {}, "RESERVED_BITS");
  });
}

Deno.test("FrameDecoder accepts RSV1 when allowedRsv includes it, and only it", () => {
  const options = { allowedRsv: 0x40 };
  const frames = decodeEverySplit(new Uint8Array([0xc1, 0x01, 0x41]), options);
  expectFrame(frames[0], {
    rsv1: true,
    opcode: Opcode.Text,
    payload: new Uint8Array([0x41]),
  });
  assertRejectsEverySplit(
    new Uint8Array([0xa1, 0x01, 0x41]),
    options,
    "RESERVED_BITS",
  );
  assertRejectsEverySplit(
    new Uint8Array([0x91, 0x01, 0x41]),
    options,
    "RESERVED_BITS",
  );
});

Deno.test("FrameDecoder.allowedRsv can be changed after construction", () => {
  const decoder = new FrameDecoder();
  assert.equal(decoder.allowedRsv, 0);
  decoder.allowedRsv = 0x40;
  assert.equal(decoder.allowedRsv, 0x40);
  decoder.push(new Uint8Array([0xc2, 0x00]));
  assert.equal(decoder.next()?.rsv1, true);
});

for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
  Deno.test(`FrameDecoder rejects opcode ${opcode} with RESERVED_OPCODE`, () => {
    const wire = new Uint8Array([0x80 | opcode, 0x01, 0x00]);
    assertRejectsEverySplit(wire, {}, "RESERVED_OPCODE");
    assertHeaderRejected(wire.subarray(0, 2), {}, "RESERVED_OPCODE");
  });
}

for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
  Deno.test(`FrameDecoder rejects a fragmented control frame (opcode ${opcode}) with FRAGMENTED_CONTROL_FRAME`, () => {
    const wire = new Uint8Array([opcode, 0x02, 0x03, 0xe8]);
    assertRejectsEverySplit(wire, {}, "FRAGMENTED_CONTROL_FRAME");
    assertHeaderRejected(wire.subarray(0, 2), {}, "FRAGMENTED_CONTROL_FRAME");
  });
}

for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
  Deno.test(`FrameDecoder rejects a 126-byte control frame (opcode ${opcode}) with CONTROL_FRAME_TOO_LONG`, () => {
    const wire = encodeFrame({ opcode, payload: new Uint8Array(126) });
    assert.equal(wire[1], 126);
    assertRejectsEverySplit(wire, {}, "CONTROL_FRAME_TOO_LONG");
    assertHeaderRejected(wire.subarray(0, 2), {}, "CONTROL_FRAME_TOO_LONG");
  });
}

Deno.test("FrameDecoder accepts a 125-byte control frame", () => {
  const payload = randomBytes(125, 5);
  const frames = decodeEverySplit(
    encodeFrame({ opcode: Opcode.Ping, payload }),
  );
  expectFrame(frames[0], { opcode: Opcode.Ping, payload });
});

Deno.test("FrameDecoder rejects a control frame with a 64-bit length with CONTROL_FRAME_TOO_LONG", () => {
  const header = hex("89 7f 00 00 00 00 00 00 00 05");
  assertHeaderRejected(header.subarray(0, 2), {}, "CONTROL_FRAME_TOO_LONG");
});

Deno.test("FrameDecoder as a server rejects an unmasked frame with UNMASKED_FRAME", () => {
  const wire = hex("81 05 48 65 6c 6c 6f");
  assertRejectsEverySplit(wire, { role: "server" }, "UNMASKED_FRAME");
  assertHeaderRejected(
    wire.subarray(0, 2),
    { role: "server" },
    "UNMASKED_FRAME",
  );
});

Deno.test("FrameDecoder as a client rejects a masked frame with MASKED_FRAME", () => {
  const wire = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  assertRejectsEverySplit(wire, { role: "client" }, "MASKED_FRAME");
  assertHeaderRejected(wire.subarray(0, 2), { role: "client" }, "MASKED_FRAME");
});

Deno.test("FrameDecoder without a role accepts masked and unmasked frames", () => {
  const frames = decodeEverySplit(
    hex("81 05 48 65 6c 6c 6f 81 85 37 fa 21 3d 7f 9f 4d 51 58"),
  );
  assert.equal(frames.length, 2);
  expectFrame(frames[0], { opcode: Opcode.Text, payload: HELLO });
  expectFrame(frames[1], { opcode: Opcode.Text, payload: HELLO });
});

Deno.test("FrameDecoder rejects a 64-bit length with the top bit set with BAD_LENGTH", () => {
  const header = hex("82 7f 80 00 00 00 00 00 00 01");
  assertRejectsEverySplit(header, {}, "BAD_LENGTH");
  assertHeaderRejected(header, {}, "BAD_LENGTH");
});

Deno.test("FrameDecoder rejects a frame over maxFrameSize with FRAME_TOO_LARGE and 1009", () => {
  const ok = encodeFrame({
    opcode: Opcode.Binary,
    payload: randomBytes(200, 6),
  });
  assert.equal(decodeEverySplit(ok, { maxFrameSize: 200 }).length, 1);
  const tooLarge = encodeFrame({
    opcode: Opcode.Binary,
    payload: randomBytes(201, 6),
  });
  assertRejectsEverySplit(
    tooLarge,
    { maxFrameSize: 200 },
    "FRAME_TOO_LARGE",
    1009,
  );
  assertHeaderRejected(
    tooLarge.subarray(0, 4),
    { maxFrameSize: 200 },
    "FRAME_TOO_LARGE",
    1009,
  );
});

Deno.test("FrameDecoder rejects a 64-bit length over maxFrameSize on the header alone", () => {
  // 2^40 bytes: no decoder could allocate that; it must throw first.
  const header = hex("82 7f 00 00 01 00 00 00 00 00");
  assertHeaderRejected(
    header,
    { maxFrameSize: 1 << 20 },
    "FRAME_TOO_LARGE",
    1009,
  );
  assertRejectsEverySplit(
    header,
    { maxFrameSize: 1 << 20 },
    "FRAME_TOO_LARGE",
    1009,
  );
});

Deno.test("FrameDecoder defaults maxFrameSize to 64 MiB", () => {
  assert.equal(DEFAULT_MAX_FRAME_SIZE, 64 * 1024 * 1024);
  const header = new Uint8Array(10);
  const size = encodeFrameHeader(
    header,
    { opcode: Opcode.Binary },
    DEFAULT_MAX_FRAME_SIZE + 1,
  );
  assertHeaderRejected(header.subarray(0, size), {}, "FRAME_TOO_LARGE", 1009);
  // Exactly at the limit the header is accepted and the payload awaited.
  encodeFrameHeader(header, { opcode: Opcode.Binary }, DEFAULT_MAX_FRAME_SIZE);
  const decoder = new FrameDecoder();
  decoder.push(header);
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.inFrame, true);
});

Deno.test("FrameDecoder validates reserved bits before the opcode, the opcode before control rules", () => {
  // RSV2 set and opcode 3: RESERVED_BITS wins.
  assertHeaderRejected(new Uint8Array([0xa3, 0x00]), {}, "RESERVED_BITS");
  // Opcode 11 and not FIN: RESERVED_OPCODE wins.
  assertHeaderRejected(new Uint8Array([0x0b, 0x00]), {}, "RESERVED_OPCODE");
  // A fragmented ping of 126 bytes: FRAGMENTED_CONTROL_FRAME wins.
  assertHeaderRejected(
    new Uint8Array([0x09, 0x7e]),
    {},
    "FRAGMENTED_CONTROL_FRAME",
  );
  // An unmasked 126-byte ping to a server: CONTROL_FRAME_TOO_LONG wins.
  assertHeaderRejected(
    new Uint8Array([0x89, 0x7e]),
    { role: "server" },
    "CONTROL_FRAME_TOO_LONG",
  );
  // An unmasked frame over the limit to a server: UNMASKED_FRAME wins.
  assertHeaderRejected(
    new Uint8Array([0x82, 0x7e, 0x01, 0x00]),
    { role: "server", maxFrameSize: 10 },
    "UNMASKED_FRAME",
  );
});

Deno.test("FrameDecoder waits for more bytes without throwing for an incomplete valid frame", () => {
  const wire = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  for (let i = 0; i < wire.length; i++) {
    const decoder = new FrameDecoder({ role: "server" });
    decoder.push(wire.subarray(0, i));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.inFrame, i > 0);
  }
});

Deno.test("FrameDecoder ignores empty chunks", () => {
  const decoder = new FrameDecoder();
  decoder.push(new Uint8Array(0));
  assert.equal(decoder.inFrame, false);
  assert.equal(decoder.next(), undefined);
  decoder.push(new Uint8Array([0x82]));
  decoder.push(new Uint8Array(0));
  decoder.push(new Uint8Array([0x00]));
  const frame = decoder.next();
  assert.equal(frame?.opcode, Opcode.Binary);
  assert.equal(frame?.payload.length, 0);
  assert.equal(decoder.next(), undefined);
});

Deno.test("FrameDecoder.bufferedBytes counts bytes not yet returned", () => {
  const decoder = new FrameDecoder();
  decoder.push(hex("81 05 48 65"));
  assert.equal(decoder.bufferedBytes, 4);
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.bufferedBytes, 2); // the header is consumed
  decoder.push(hex("6c 6c 6f 89"));
  assert.ok(decoder.next());
  assert.equal(decoder.bufferedBytes, 1);
  assert.equal(decoder.inFrame, true);
});

// Masking and buffers.

Deno.test("encodeFrame() never mutates the caller's payload when masking", () => {
  for (const length of [0, 1, 3, 4, 5, 125, 126, 70000]) {
    const payload = randomBytes(length, length);
    const copy = payload.slice();
    const wire = encodeFrame({ opcode: Opcode.Binary, payload }, {
      mask: true,
    });
    assert.ok(sameBytes(payload, copy), `payload of ${length} is untouched`);
    if (length >= 4) {
      // The masked bytes differ from the payload unless the key is zero.
      const key = wire.subarray(wire.length - length - 4, wire.length - length);
      if (key.some((b) => b !== 0)) {
        assert.ok(!sameBytes(wire.subarray(wire.length - length), payload));
      }
    }
  }
});

Deno.test("encodeFrame() with a maskKey is deterministic and writes the key", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  const payload = randomBytes(300, 8);
  const a = encodeFrame({ opcode: Opcode.Binary, payload }, {
    mask: true,
    maskKey: key,
  });
  const b = encodeFrame({ opcode: Opcode.Binary, payload }, {
    mask: true,
    maskKey: key,
  });
  assert.deepEqual(a, b);
  assert.deepEqual(a.subarray(4, 8), key);
  for (let i = 0; i < payload.length; i++) {
    assert.equal(a[8 + i], payload[i] ^ key[i % 4]);
  }
  assert.deepEqual(key, new Uint8Array([1, 2, 3, 4]));
});

Deno.test("encodeFrame() draws a fresh masking key for each frame", () => {
  const payload = new Uint8Array(8);
  const keys = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const wire = encodeFrame({ opcode: Opcode.Binary, payload }, {
      mask: true,
    });
    keys.add(Array.from(wire.subarray(2, 6)).join(","));
  }
  assert.equal(keys.size, 8);
});

Deno.test("encodeFrame() ignores maskKey without mask", () => {
  const wire = encodeFrame({ opcode: Opcode.Text, payload: HELLO }, {
    maskKey: RFC_KEY,
  });
  assert.deepEqual(wire, hex("81 05 48 65 6c 6c 6f"));
});

Deno.test("applyMask() is an involution at every length and alignment", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const backing = randomBytes(64, 9);
  for (let start = 0; start < 4; start++) {
    for (let length = 0; length <= 19; length++) {
      const source = backing.subarray(start, start + length);
      const masked = new Uint8Array(length);
      applyMask(source, key, masked);
      for (let i = 0; i < length; i++) {
        assert.equal(masked[i], source[i] ^ key[i % 4]);
      }
      const unmasked = masked.slice();
      applyMask(unmasked, key, unmasked); // in place
      assert.deepEqual(unmasked, source.slice());
    }
  }
});

Deno.test("applyMask() of the RFC key turns Hello into its masked bytes", () => {
  const out = new Uint8Array(5);
  applyMask(HELLO, RFC_KEY, out);
  assert.deepEqual(out, hex("7f 9f 4d 51 58"));
  assert.deepEqual(HELLO, encoder.encode("Hello"));
});

Deno.test("fillMaskKey() writes exactly four bytes at the offset", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) { // more than one pool's worth of keys
    const target = new Uint8Array(10).fill(0xee);
    fillMaskKey(target, 3);
    assert.deepEqual(Array.from(target.subarray(0, 3)), [0xee, 0xee, 0xee]);
    assert.deepEqual(Array.from(target.subarray(7)), [0xee, 0xee, 0xee]);
    seen.add(Array.from(target.subarray(3, 7)).join(","));
  }
  // 2000 random 32-bit keys: a collision is possible but not 100 of them.
  assert.ok(seen.size > 1900);
});

Deno.test("FrameDecoder returns a view of the input for an unmasked payload in one chunk", () => {
  const chunk = hex("82 03 01 02 03");
  const decoder = new FrameDecoder({ role: "client" });
  decoder.push(chunk);
  const frame = decoder.next()!;
  assert.equal(frame.payload.buffer, chunk.buffer);
  assert.equal(frame.payload.byteOffset, 2);
});

Deno.test("FrameDecoder copies a masked payload it does not own and leaves the input intact", () => {
  const chunk = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  const before = chunk.slice();
  const decoder = new FrameDecoder({ role: "server" });
  decoder.push(chunk);
  const frame = decoder.next()!;
  assert.notEqual(frame.payload.buffer, chunk.buffer);
  assert.deepEqual(frame.payload, HELLO);
  assert.deepEqual(chunk, before);
});

Deno.test("FrameDecoder with ownsInput unmasks in place and returns a view", () => {
  const chunk = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  const decoder = new FrameDecoder({ role: "server", ownsInput: true });
  decoder.push(chunk);
  const frame = decoder.next()!;
  assert.equal(frame.payload.buffer, chunk.buffer);
  assert.equal(frame.payload.byteOffset, 6);
  assert.deepEqual(frame.payload, HELLO);
  assert.deepEqual(chunk.subarray(6), HELLO); // unmasked in place
});

Deno.test("FrameDecoder copies a payload that spans chunks", () => {
  for (const ownsInput of [false, true]) {
    const wire = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
    const a = wire.slice(0, 8);
    const b = wire.slice(8);
    const decoder = new FrameDecoder({ role: "server", ownsInput });
    decoder.push(a);
    decoder.push(b);
    const frame = decoder.next()!;
    assert.notEqual(frame.payload.buffer, a.buffer);
    assert.notEqual(frame.payload.buffer, b.buffer);
    assert.deepEqual(frame.payload, HELLO);
    assert.deepEqual(a, wire.subarray(0, 8));
    assert.deepEqual(b, wire.subarray(8));
  }
});

Deno.test("FrameDecoder returns an empty payload for a zero-length frame", () => {
  const frames = decodeEverySplit(hex("82 80 01 02 03 04 81 00"));
  assert.equal(frames.length, 2);
  assert.equal(frames[0].payload.length, 0);
  assert.equal(frames[1].payload.length, 0);
});

// Headers.

Deno.test("frameHeaderSize() matches the bytes encodeFrameHeader() writes", () => {
  const cases: [number, boolean, number][] = [
    [0, false, 2],
    [125, false, 2],
    [126, false, 4],
    [65535, false, 4],
    [65536, false, 10],
    [0, true, 6],
    [125, true, 6],
    [126, true, 8],
    [65535, true, 8],
    [65536, true, 14],
  ];
  for (const [length, masked, size] of cases) {
    assert.equal(frameHeaderSize(length, masked), size);
    const target = new Uint8Array(MAX_HEADER_SIZE);
    const written = encodeFrameHeader(
      target,
      { opcode: Opcode.Binary },
      length,
      masked ? RFC_KEY : undefined,
    );
    assert.equal(written, size);
  }
});

Deno.test("encodeFrameHeader() writes a length above 2^32 in 64 bits", () => {
  const target = new Uint8Array(MAX_HEADER_SIZE);
  const size = encodeFrameHeader(
    target,
    { opcode: Opcode.Binary },
    2 ** 32 + 5,
  );
  assert.deepEqual(
    target.subarray(0, size),
    hex("82 7f 00 00 00 01 00 00 00 05"),
  );
  const max = encodeFrameHeader(
    target,
    { opcode: Opcode.Binary },
    Number.MAX_SAFE_INTEGER,
  );
  assert.deepEqual(
    target.subarray(0, max),
    hex("82 7f 00 1f ff ff ff ff ff ff"),
  );
});

Deno.test("encodeFrameHeader() rejects a negative or fractional length with RangeError", () => {
  const target = new Uint8Array(MAX_HEADER_SIZE);
  for (const length of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(
      () => encodeFrameHeader(target, { opcode: Opcode.Binary }, length),
      RangeError,
    );
  }
});

Deno.test("isControlOpcode() tells control opcodes from data opcodes", () => {
  assert.deepEqual(
    [0, 1, 2, 8, 9, 10].map(isControlOpcode),
    [false, false, false, true, true, true],
  );
});

Deno.test("Opcode and CloseCode hold the RFC 6455 values", () => {
  assert.deepEqual(Opcode, {
    Continuation: 0,
    Text: 1,
    Binary: 2,
    Close: 8,
    Ping: 9,
    Pong: 10,
  });
  assert.equal(CloseCode.Normal, 1000);
  assert.equal(CloseCode.ProtocolError, 1002);
  assert.equal(CloseCode.NoStatus, 1005);
  assert.equal(CloseCode.Abnormal, 1006);
  assert.equal(CloseCode.InvalidPayload, 1007);
  assert.equal(CloseCode.MessageTooBig, 1009);
  assert.equal(CloseCode.InternalError, 1011);
  assert.equal(CloseCode.TlsHandshake, 1015);
});

Deno.test("FrameDecoder.payloadTarget() lets the rest of a large payload be read in place", () => {
  for (const mask of [false, true]) {
    const payload = randomBytes(300_000, mask ? 11 : 12);
    const bytes = encodeFrame(
      { opcode: Opcode.Binary, payload },
      { mask, maskKey: new Uint8Array([9, 8, 7, 6]) },
    );
    const decoder = new FrameDecoder({ role: mask ? "server" : "client" });
    // Too little has arrived yet: no target (memory stays within 4x of it).
    decoder.push(bytes.subarray(0, 1000));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.payloadTarget(1024), undefined);
    decoder.push(bytes.subarray(1000, 100_000));
    assert.equal(decoder.next(), undefined);
    let offset = 100_000;
    let target = decoder.payloadTarget(1024);
    assert.ok(target);
    assert.equal(target.length, bytes.length - offset);
    assert.throws(() => decoder.push(new Uint8Array(1)), TypeError);
    // The transport fills the target in uneven reads.
    while (target) {
      const n = Math.min(target.length, 70_001);
      target.set(bytes.subarray(offset, offset + n));
      offset += n;
      decoder.receivedDirect(n);
      const frame = decoder.next();
      if (offset < bytes.length) {
        assert.equal(frame, undefined);
        target = decoder.payloadTarget(1024);
      } else {
        assert.ok(frame);
        assert.deepEqual(frame.payload, payload);
        target = undefined;
      }
    }
    // Afterwards the decoder takes pushed bytes again.
    decoder.push(
      encodeFrame({ opcode: Opcode.Text, payload: new Uint8Array([0x48]) }, {
        mask,
      }),
    );
    assert.deepEqual([...decoder.next()!.payload], [0x48]);
  }
});

Deno.test("FrameDecoder.payloadTarget() is undefined when little is left to come", () => {
  const payload = randomBytes(200_000, 13);
  const bytes = encodeFrame({ opcode: Opcode.Binary, payload });
  const decoder = new FrameDecoder({ role: "client" });
  decoder.push(bytes.subarray(0, bytes.length - 100));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.payloadTarget(1024), undefined);
  decoder.push(bytes.subarray(bytes.length - 100));
  assert.deepEqual(decoder.next()!.payload, payload);
});

Deno.test("FrameDecoder.takePartial() hands out a payload as it arrives, each byte once, at every split", () => {
  const payload = randomBytes(23, 7);
  for (const mask of [false, true]) {
    const bytes = encodeFrame(
      { opcode: Opcode.Text, payload },
      { mask, maskKey: RFC_KEY },
    );
    for (const ownsInput of [false, true]) {
      for (const chunks of everySplit(bytes)) {
        const decoder = new FrameDecoder({ ownsInput });
        const got: Uint8Array[] = [];
        let last: Frame | undefined;
        for (const chunk of chunks) {
          decoder.push(ownsInput ? chunk.slice() : chunk);
          last = decoder.next();
          if (last) break;
          const part = decoder.takePartial();
          if (part) {
            assert.equal(part.opcode, Opcode.Text);
            assert.equal(part.fin, true);
            got.push(part.payload);
          }
        }
        assert.ok(last, "the frame completes");
        got.push(last.payload);
        assert.deepEqual(concat(...got), payload, `masked ${mask}`);
        assert.equal(decoder.pendingHeader, -1);
        assert.equal(decoder.inFrame, false);
      }
    }
  }
});

Deno.test("FrameDecoder.pendingHeader is the first byte of the frame under way", () => {
  const decoder = new FrameDecoder({ role: "client" });
  assert.equal(decoder.pendingHeader, -1);
  const bytes = encodeFrame({
    opcode: Opcode.Binary,
    fin: false,
    payload: HELLO,
  });
  decoder.push(bytes.subarray(0, 1));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.pendingHeader, -1, "the header is incomplete");
  assert.equal(decoder.takePartial(), undefined);
  decoder.push(bytes.subarray(1, 2));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.pendingHeader, 0x02);
  assert.equal(decoder.takePartial(), undefined, "no payload byte yet");
  decoder.push(bytes.subarray(2, 4));
  assert.deepEqual(decoder.takePartial()?.payload, HELLO.subarray(0, 2));
  decoder.push(bytes.subarray(4));
  assert.deepEqual(decoder.next()?.payload, HELLO.subarray(2));
  assert.equal(decoder.pendingHeader, -1);
});
