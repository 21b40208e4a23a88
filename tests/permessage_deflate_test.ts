import assert from "node:assert/strict";
import { HandshakeError, ProtocolError } from "../errors.ts";
import {
  acceptPerMessageDeflate,
  isPerMessageDeflateSupported,
  negotiatePerMessageDeflate,
  parseExtensionHeader,
  PerMessageDeflate,
  type PerMessageDeflateInit,
  perMessageDeflateOffer,
  type PerMessageDeflateOptions,
} from "../extensions/permessage_deflate.ts";

// ---------------------------------------------------------------------------
// Helpers.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HELLO = encoder.encode("Hello");
/** Shrinks even without context takeover. */
const HELLOS = encoder.encode("Hello, Hello, Hello, Hello, Hello");
const MiB = 1024 * 1024;

function bytes(hex: string): Uint8Array<ArrayBuffer> {
  const digits = hex.replace(/\s+/g, "");
  return new Uint8Array(
    digits.match(/../g)?.map((pair) => parseInt(pair, 16)) ?? [],
  );
}

function hex(data: Uint8Array | undefined): string | undefined {
  return data &&
    Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const result = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** A seeded PRNG (mulberry32), so every run sees the same data. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Incompressible bytes. */
function noise(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const next = random(seed);
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = next() * 256;
  return data;
}

const WORDS = ("the of and to in is you that it he was for on are as with " +
  "his they at be this have from or one had by word but not what all were " +
  "we when your can said there use an each which she do how their if will " +
  "up other about out many then them these so some her would make like him")
  .split(" ");

/** Compressible JSON-like text. */
function text(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const next = random(seed);
  let out = "";
  while (out.length < length) {
    const words = Array.from(
      { length: 3 + Math.floor(next() * 12) },
      () => WORDS[Math.floor(next() * WORDS.length)],
    );
    out += JSON.stringify({
      id: Math.floor(next() * 1e6),
      user: WORDS[Math.floor(next() * WORDS.length)],
      text: words.join(" "),
    }) + "\n";
  }
  return encoder.encode(out.slice(0, length));
}

function rejectsWith(
  fn: () => unknown,
  code: string,
  closeCode?: number,
): ProtocolError | HandshakeError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ProtocolError || caught instanceof HandshakeError,
    `expected a ProtocolError or a HandshakeError`,
  );
  assert.equal(caught.code, code);
  if (closeCode !== undefined) {
    assert.ok(caught instanceof ProtocolError);
    assert.equal(caught.closeCode, closeCode);
  }
  assert.doesNotMatch(caught.message, /\.$/);
  return caught;
}

/** A client and a server extension with the same agreed parameters. */
function pair(
  params: Omit<PerMessageDeflateInit, "role"> = {},
): { client: PerMessageDeflate; server: PerMessageDeflate } {
  return {
    client: new PerMessageDeflate({ threshold: 0, ...params, role: "client" }),
    server: new PerMessageDeflate({ threshold: 0, ...params, role: "server" }),
  };
}

/** Restores one message from fragments of `size` bytes. */
function restore(
  extension: PerMessageDeflate,
  payload: Uint8Array,
  size: number,
  limit = Infinity,
): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length || offset === 0;) {
    const end = Math.min(offset + size, payload.length);
    const fin = end === payload.length;
    parts.push(extension.decompress(payload.subarray(offset, end), fin, limit));
    if (fin) break;
    offset = end;
  }
  return concat(parts);
}

/** Decompresses `payload` split at every byte boundary; expects `expected`. */
function assertEverySplit(
  init: Omit<PerMessageDeflateInit, "role">,
  before: Uint8Array[],
  payload: Uint8Array,
  expected: Uint8Array,
): void {
  for (let cut = 0; cut <= payload.length; cut++) {
    using server = new PerMessageDeflate({ ...init, role: "server" });
    for (const message of before) server.decompress(message, true, 1024);
    const first = server.decompress(payload.subarray(0, cut), false, 1024);
    const last = server.decompress(payload.subarray(cut), true, 1024);
    assert.deepEqual(concat([first, last]), expected, `split at ${cut}`);
  }
}

// ---------------------------------------------------------------------------
// The engine.

Deno.test("isPerMessageDeflateSupported() finds the synchronous node:zlib engine", () => {
  assert.equal(isPerMessageDeflateSupported(), true);
});

// ---------------------------------------------------------------------------
// RFC 7692 section 7.2.3, byte for byte.

Deno.test("compress() turns Hello into f2 48 cd c9 c9 07 00 (RFC 7692 7.2.3.1)", () => {
  for (let level = 1; level <= 9; level++) {
    using client = new PerMessageDeflate({
      role: "client",
      threshold: 0,
      level,
    });
    assert.equal(hex(client.compress(HELLO)), "f2 48 cd c9 c9 07 00");
  }
});

Deno.test("compress() shares the window with context takeover (RFC 7692 7.2.3.2)", () => {
  using client = new PerMessageDeflate({ role: "client", threshold: 0 });
  assert.equal(hex(client.compress(HELLO)), "f2 48 cd c9 c9 07 00");
  assert.equal(hex(client.compress(HELLO)), "f2 00 11 00 00");
});

Deno.test("compress() starts afresh without context takeover", () => {
  using client = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    clientNoContextTakeover: true,
  });
  const first = client.compress(HELLOS);
  assert.ok(first && first.length < HELLOS.length);
  assert.equal(hex(client.compress(HELLOS)), hex(first));
  // With context takeover the second one refers back to the first.
  using takeover = new PerMessageDeflate({ role: "client", threshold: 0 });
  assert.equal(hex(takeover.compress(HELLOS)), hex(first));
  assert.ok(takeover.compress(HELLOS)!.length < first.length);
});

Deno.test("compress() at level 0 writes a stored block (RFC 7692 7.2.3.3)", () => {
  using client = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    level: 0,
  });
  assert.equal(
    hex(client.compress(HELLO)),
    "00 05 00 fa ff 48 65 6c 6c 6f 00",
  );
});

Deno.test("decompress() restores Hello from f2 48 cd c9 c9 07 00 (RFC 7692 7.2.3.1)", () => {
  using server = new PerMessageDeflate({ role: "server" });
  assert.equal(
    decoder.decode(server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5)),
    "Hello",
  );
});

Deno.test("decompress() restores the fragmented example f2 48 cd + c9 c9 07 00 (RFC 7692 7.2.3.1)", () => {
  using server = new PerMessageDeflate({ role: "server" });
  const first = server.decompress(bytes("f2 48 cd"), false, 5);
  const last = server.decompress(bytes("c9 c9 07 00"), true, 5);
  assert.equal(decoder.decode(concat([first, last])), "Hello");
});

Deno.test("decompress() restores every RFC 7692 example split at every byte", () => {
  const examples: [string, string[], string][] = [
    ["7.2.3.1", [], "f2 48 cd c9 c9 07 00"],
    ["7.2.3.2", ["f2 48 cd c9 c9 07 00"], "f2 00 11 00 00"],
    ["7.2.3.3", [], "00 05 00 fa ff 48 65 6c 6c 6f 00"],
    ["7.2.3.4", [], "f3 48 cd c9 c9 07 00 00"],
    ["7.2.3.5", [], "f2 48 05 00 00 00 ff ff ca c9 c9 07 00"],
  ];
  for (const [section, before, payload] of examples) {
    try {
      assertEverySplit({}, before.map(bytes), bytes(payload), HELLO);
    } catch (error) {
      throw new Error(`RFC 7692 section ${section}`, { cause: error });
    }
  }
});

Deno.test("decompress() shares the window with context takeover (RFC 7692 7.2.3.2)", () => {
  using server = new PerMessageDeflate({ role: "server" });
  const first = server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  const second = server.decompress(bytes("f2 00 11 00 00"), true, 5);
  assert.equal(decoder.decode(first) + decoder.decode(second), "HelloHello");
});

Deno.test("decompress() fails a back-reference without context takeover", () => {
  using server = new PerMessageDeflate({
    role: "server",
    clientNoContextTakeover: true,
  });
  server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  rejectsWith(
    () => server.decompress(bytes("f2 00 11 00 00"), true, 5),
    "BAD_COMPRESSED_DATA",
    1007,
  );
});

Deno.test("decompress() starts a new stream after a BFINAL block (RFC 7692 7.2.3.4)", () => {
  using server = new PerMessageDeflate({ role: "server" });
  const final = bytes("f3 48 cd c9 c9 07 00 00");
  assert.equal(decoder.decode(server.decompress(final, true, 5)), "Hello");
  assert.equal(decoder.decode(server.decompress(final, true, 5)), "Hello");
  const plain = bytes("f2 48 cd c9 c9 07 00");
  assert.equal(decoder.decode(server.decompress(plain, true, 5)), "Hello");
  // The window went with the ended stream: a reference back into it fails.
  server.decompress(final, true, 5);
  rejectsWith(
    () => server.decompress(bytes("f2 00 11 00 00"), true, 5),
    "BAD_COMPRESSED_DATA",
    1007,
  );
});

Deno.test("decompress() ignores what follows a BFINAL block in the same message", () => {
  using server = new PerMessageDeflate({ role: "server" });
  const first = server.decompress(bytes("f3 48 cd c9 c9 07 00"), false, 5);
  const second = server.decompress(bytes("ff ff ff ff"), false, 5);
  const last = server.decompress(bytes("12 34"), true, 5);
  assert.equal(decoder.decode(concat([first, second, last])), "Hello");
  const next = server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  assert.equal(decoder.decode(next), "Hello");
});

Deno.test("decompress() notices a stream that ended inside the appended 00 00 ff ff", () => {
  // 01 + 00 00 ff ff is a final empty stored block: the inflater consumes all
  // of it, so the end shows only when the next message is not consumed.
  using server = new PerMessageDeflate({ role: "server" });
  assert.equal(server.decompress(bytes("01"), true, 5).length, 0);
  for (let i = 0; i < 2; i++) {
    const next = server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
    assert.equal(decoder.decode(next), "Hello");
  }
});

Deno.test("decompress() restores empty messages: 00 and no byte at all", () => {
  using server = new PerMessageDeflate({ role: "server" });
  server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  assert.equal(server.decompress(bytes("00"), true, 0).length, 0);
  assert.equal(server.decompress(new Uint8Array(0), true, 0).length, 0);
  assert.equal(server.decompress(new Uint8Array(0), false, 0).length, 0);
  assert.equal(server.decompress(new Uint8Array(0), true, 0).length, 0);
  const second = server.decompress(bytes("f2 00 11 00 00"), true, 5);
  assert.equal(decoder.decode(second), "Hello");
});

Deno.test("compress() sends empty messages and messages under the threshold uncompressed", () => {
  using client = new PerMessageDeflate({ role: "client", threshold: 0 });
  assert.equal(client.compress(new Uint8Array(0)), undefined);
  using byDefault = new PerMessageDeflate({ role: "client" });
  assert.equal(byDefault.compress(text(1023, 1)), undefined);
  assert.ok(byDefault.compress(text(1024, 1)));
  using never = new PerMessageDeflate({ role: "client", threshold: Infinity });
  assert.equal(never.compress(text(1 << 16, 1)), undefined);
});

Deno.test("compress() never modifies its input and returns fresh bytes", () => {
  using client = new PerMessageDeflate({ role: "client", threshold: 0 });
  const payload = text(5000, 2);
  const copy = payload.slice();
  const compressed = client.compress(payload)!;
  assert.deepEqual(payload, copy);
  assert.ok(compressed.buffer !== payload.buffer);
});

// ---------------------------------------------------------------------------
// Round trips.

Deno.test("compress() and decompress() round-trip every window size, with and without context takeover", () => {
  for (let bits = 9; bits <= 15; bits++) {
    for (const noTakeover of [false, true]) {
      const { client, server } = pair({
        serverMaxWindowBits: bits,
        clientMaxWindowBits: bits,
        serverNoContextTakeover: noTakeover,
        clientNoContextTakeover: noTakeover,
      });
      try {
        for (let i = 0; i < 30; i++) {
          const payload = i % 5 === 4
            ? noise(100 + i * 97, i)
            : text(50 + i * 331, bits * 100 + i);
          for (const [from, to] of [[client, server], [server, client]]) {
            const compressed = from.compress(payload);
            if (compressed === undefined) {
              // Only without context takeover, when it would not shrink.
              assert.ok(noTakeover, `window ${bits}, message ${i}`);
              continue;
            }
            const restored = restore(to, compressed, 1000);
            assert.deepEqual(restored, payload, `window ${bits}, message ${i}`);
          }
        }
      } finally {
        client.close();
        server.close();
      }
    }
  }
});

Deno.test("compress() without context takeover makes messages that restore alone", () => {
  using client = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    clientNoContextTakeover: true,
  });
  const payload = text(3000, 7);
  for (let i = 0; i < 3; i++) {
    const compressed = client.compress(payload)!;
    using fresh = new PerMessageDeflate({ role: "server" });
    assert.deepEqual(fresh.decompress(compressed, true, 3000), payload);
  }
});

Deno.test("compress() with a window of 9 bits restores with a 9-bit inflater", () => {
  // A 600-byte period compresses with 10 bits (1024 bytes), not with 9
  // (512), and a 9-bit inflater cannot follow a 600-byte distance.
  const period = noise(600, 3);
  const payload = new Uint8Array(30000);
  for (let i = 0; i < payload.length; i++) payload[i] = period[i % 600];
  const narrow = pair({ clientMaxWindowBits: 9, serverMaxWindowBits: 9 });
  const wide = pair({ clientMaxWindowBits: 10, serverMaxWindowBits: 10 });
  try {
    const small = narrow.client.compress(payload)!;
    const big = wide.client.compress(payload)!;
    assert.ok(small.length > 20000, `9 bits: ${small.length} bytes`);
    assert.ok(big.length < 5000, `10 bits: ${big.length} bytes`);
    assert.deepEqual(narrow.server.decompress(small, true, 30000), payload);
    rejectsWith(
      () => narrow.server.decompress(big, true, 30000),
      "BAD_COMPRESSED_DATA",
      1007,
    );
  } finally {
    for (const { client, server } of [narrow, wide]) {
      client.close();
      server.close();
    }
  }
});

Deno.test("compress() sends nothing compressed with an agreed window of 8 bits", () => {
  using client = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    clientMaxWindowBits: 8,
  });
  assert.equal(client.compress(text(5000, 4)), undefined);
  // It still restores what the server compresses.
  using server = new PerMessageDeflate({
    role: "server",
    threshold: 0,
    clientMaxWindowBits: 8,
  });
  const payload = text(5000, 5);
  assert.deepEqual(
    client.decompress(server.compress(payload)!, true, 5000),
    payload,
  );
});

Deno.test("compress() gives up on incompressible data only without context takeover", () => {
  const payload = noise(10000, 6);
  using takeover = new PerMessageDeflate({ role: "client", threshold: 0 });
  const compressed = takeover.compress(payload);
  assert.ok(compressed && compressed.length >= payload.length);
  using none = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    clientNoContextTakeover: true,
  });
  assert.equal(none.compress(payload), undefined);
  using server = new PerMessageDeflate({ role: "server" });
  assert.deepEqual(server.decompress(compressed, true, 10000), payload);
});

Deno.test("compress() and decompress() round-trip several MiB in whole and in fragments", () => {
  const { client, server } = pair();
  try {
    const messages = [text(6 * MiB, 8), noise(3 * MiB, 9), text(5 * MiB, 10)];
    for (const payload of messages) {
      const compressed = client.compress(payload)!;
      assert.deepEqual(server.decompress(compressed, true, 6 * MiB), payload);
      const back = server.compress(payload)!;
      assert.deepEqual(restore(client, back, 65536, 6 * MiB), payload);
    }
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("decompress() restores a message of exactly the limit and fails one byte over", () => {
  using client = new PerMessageDeflate({ role: "client", threshold: 0 });
  using server = new PerMessageDeflate({ role: "server" });
  const payload = text(100000, 11);
  const compressed = client.compress(payload)!;
  assert.deepEqual(restore(server, compressed, 777, 100000), payload);
  const again = client.compress(payload)!;
  rejectsWith(
    () => restore(server, again, 777, 99999),
    "MESSAGE_TOO_LARGE",
    1009,
  );
});

// ---------------------------------------------------------------------------
// Deflate bombs.

/** A message of `copies` MiB of zeros, compressed: about 1 KiB per MiB. */
function bomb(copies: number): Uint8Array<ArrayBuffer> {
  using deflater = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    level: 9,
  });
  const zeros = new Uint8Array(MiB);
  const first = deflater.compress(zeros)!;
  // With a window full of zeros, every later MiB compresses the same way.
  const steady = deflater.compress(zeros)!;
  const tail = bytes("00 00 ff ff");
  const parts: Uint8Array[] = [first];
  for (let i = 1; i < copies; i++) parts.push(tail, steady);
  return concat(parts);
}

Deno.test("decompress() restores the bomb construction at small scale", () => {
  using server = new PerMessageDeflate({ role: "server" });
  const restored = server.decompress(bomb(8), true, 8 * MiB);
  assert.equal(restored.length, 8 * MiB);
  assert.ok(restored.every((b) => b === 0));
});

Deno.test("decompress() stops a 1 GiB deflate bomb at a 1 MiB limit, quickly and in bounded memory", () => {
  const payload = bomb(1024);
  assert.ok(payload.length < 2 * MiB, `${payload.length} bytes`);
  for (const fragment of [payload.length, 16384]) {
    using server = new PerMessageDeflate({ role: "server" });
    const rss = Deno.memoryUsage().rss;
    const started = performance.now();
    rejectsWith(
      () => restore(server, payload, fragment, MiB),
      "MESSAGE_TOO_LARGE",
      1009,
    );
    const elapsed = performance.now() - started;
    const grown = Deno.memoryUsage().rss - rss;
    assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
    assert.ok(grown < 8 * MiB, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`);
    // The extension is still usable for the next message.
    const next = server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
    assert.equal(decoder.decode(next), "Hello");
  }
});

Deno.test("decompress() counts the limit across fragments", () => {
  using client = new PerMessageDeflate({ role: "client", threshold: 0 });
  using server = new PerMessageDeflate({ role: "server" });
  const compressed = client.compress(new Uint8Array(10000))!;
  let restored = 0;
  const error = rejectsWith(() => {
    for (let i = 0; i < compressed.length; i++) {
      const fin = i === compressed.length - 1;
      restored += server.decompress(compressed.subarray(i, i + 1), fin, 5000)
        .length;
    }
  }, "MESSAGE_TOO_LARGE");
  assert.ok(restored <= 5000, `${restored} bytes restored`);
  assert.match(error.message, /5000 bytes/);
});

// ---------------------------------------------------------------------------
// Corrupt data.

Deno.test("decompress() fails corrupt data with BAD_COMPRESSED_DATA and close code 1007", () => {
  const corrupt = [
    "ff ff ff", // invalid block type
    "f2 00 11 00 00", // distance too far back in an empty window
    "00 05 00 fb ff 48 65 6c 6c 6f 00", // stored length check
    "04 c0 81 08 00 00 00 00 20 7f eb 0b 00 00", // dynamic block, bad trees
  ];
  for (const payload of corrupt) {
    using server = new PerMessageDeflate({ role: "server" });
    const error = rejectsWith(
      () => server.decompress(bytes(payload), true, 1000),
      "BAD_COMPRESSED_DATA",
      1007,
    );
    assert.match(error.message, /^Cannot inflate message: /);
    // A new context serves the next message.
    const next = server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
    assert.equal(decoder.decode(next), "Hello");
  }
});

Deno.test("decompress() fails corrupt data in a later fragment", () => {
  using server = new PerMessageDeflate({ role: "server" });
  // A stored block "Hello" split in two, then block type 11 (invalid).
  const first = server.decompress(bytes("00 05 00 fa ff 48 65"), false, 10);
  assert.equal(decoder.decode(first), "He");
  rejectsWith(
    () => server.decompress(bytes("6c 6c 6f ff ff"), true, 10),
    "BAD_COMPRESSED_DATA",
    1007,
  );
});

// ---------------------------------------------------------------------------
// Life cycle and arguments.

Deno.test("close() frees the contexts, is idempotent and ends the extension", () => {
  const extension = new PerMessageDeflate({ role: "client", threshold: 0 });
  extension.compress(HELLO);
  extension.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  extension.close();
  extension.close();
  assert.throws(() => extension.compress(HELLO), TypeError);
  assert.throws(
    () => extension.decompress(bytes("00"), true, 5),
    TypeError,
  );
});

Deno.test("PerMessageDeflate() rejects parameters out of range", () => {
  const bad: Partial<PerMessageDeflateInit>[] = [
    { serverMaxWindowBits: 7 },
    { clientMaxWindowBits: 16 },
    { serverMaxWindowBits: 10.5 },
    { level: 10 },
    { level: -1 },
    { memLevel: 0 },
    { memLevel: 10 },
    { threshold: -1 },
    { threshold: NaN },
  ];
  for (const init of bad) {
    assert.throws(
      () => new PerMessageDeflate({ role: "server", ...init }),
      RangeError,
      JSON.stringify(init),
    );
  }
  assert.throws(
    // @ts-expect-error: a role that does not exist
    () => new PerMessageDeflate({ role: "peer" }),
    TypeError,
  );
});

Deno.test("PerMessageDeflate() derives its header from the agreed parameters", () => {
  const cases: [Omit<PerMessageDeflateInit, "role">, string][] = [
    [{}, "permessage-deflate"],
    [
      { serverNoContextTakeover: true, clientMaxWindowBits: 10 },
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
    ],
    [{ header: "permessage-deflate; x" }, "permessage-deflate; x"],
  ];
  for (const [init, header] of cases) {
    using extension = new PerMessageDeflate({ role: "server", ...init });
    assert.equal(extension.header, header);
    assert.equal(extension.name, "permessage-deflate");
  }
});

// ---------------------------------------------------------------------------
// parseExtensionHeader().

Deno.test("parseExtensionHeader() reads offers, parameters, quoted values and whitespace", () => {
  const cases: [string, [string, [string, string | true][]][]][] = [
    ["", []],
    [" , ,", []],
    ["permessage-deflate", [["permessage-deflate", []]]],
    [
      "permessage-deflate; client_max_window_bits",
      [["permessage-deflate", [["client_max_window_bits", true]]]],
    ],
    [
      ' PerMessage-Deflate ;\tClient_Max_Window_Bits = "10" ; server_no_context_takeover ,x-foo;a=b ',
      [
        ["permessage-deflate", [
          ["client_max_window_bits", "10"],
          ["server_no_context_takeover", true],
        ]],
        ["x-foo", [["a", "b"]]],
      ],
    ],
    [
      'a; b="c\\d", e,, f;g=H',
      [["a", [["b", "cd"]]], ["e", []], ["f", [["g", "H"]]]],
    ],
  ];
  for (const [value, expected] of cases) {
    const parsed = parseExtensionHeader(value).map(
      ({ name, params }) => [name, [...params]],
    );
    assert.deepEqual(parsed, expected, value);
  }
});

Deno.test("parseExtensionHeader() throws BAD_EXTENSION on syntax errors", () => {
  const bad = [
    "permessage-deflate;",
    "permessage-deflate; ;a",
    "permessage-deflate; a=",
    'permessage-deflate; a="b',
    'permessage-deflate; a="b c"',
    'permessage-deflate; a=""',
    'permessage-deflate; a="b"c',
    "permessage-deflate; a=b=c",
    "permessage-deflate x",
    "permessage-deflate; a b",
    "=foo",
    "; a",
    "permessage-deflate; a=@",
    "permessage-deflate; a\u0000",
    "permessage-deflate; server_no_context_takeover; Server_No_Context_Takeover",
  ];
  for (const value of bad) {
    const error = rejectsWith(
      () => parseExtensionHeader(value),
      "BAD_EXTENSION",
    );
    assert.equal((error as HandshakeError).status, 400);
    assert.match(error.message, /^Cannot parse Sec-WebSocket-Extensions: /);
  }
});

// ---------------------------------------------------------------------------
// A server's negotiation.

Deno.test("negotiatePerMessageDeflate() answers the first acceptable offer", () => {
  // [offer, options, answer or undefined when declined]
  const cases: [string | null, PerMessageDeflateOptions, string | undefined][] =
    [
      [null, {}, undefined],
      ["", {}, undefined],
      ["x-webkit-deflate-frame", {}, undefined],
      ["permessage-deflate", {}, "permessage-deflate"],
      ["permessage-deflate; client_max_window_bits", {}, "permessage-deflate"],
      [
        "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
        {},
        "permessage-deflate",
      ],
      // client_max_window_bits: only when offered, at most the offer.
      [
        "permessage-deflate; client_max_window_bits",
        { clientMaxWindowBits: 10 },
        "permessage-deflate; client_max_window_bits=10",
      ],
      ["permessage-deflate", { clientMaxWindowBits: 10 }, undefined],
      [
        "permessage-deflate, permessage-deflate; client_max_window_bits",
        { clientMaxWindowBits: 10 },
        "permessage-deflate; client_max_window_bits=10",
      ],
      [
        "permessage-deflate; client_max_window_bits=12",
        {},
        "permessage-deflate; client_max_window_bits=12",
      ],
      [
        "permessage-deflate; client_max_window_bits=12",
        { clientMaxWindowBits: 10 },
        "permessage-deflate; client_max_window_bits=10",
      ],
      [
        "permessage-deflate; client_max_window_bits=9",
        { clientMaxWindowBits: 10 },
        "permessage-deflate; client_max_window_bits=9",
      ],
      [
        "permessage-deflate; client_max_window_bits=8",
        {},
        "permessage-deflate; client_max_window_bits=8",
      ],
      [
        "permessage-deflate; client_max_window_bits=15",
        {},
        "permessage-deflate",
      ],
      // server_max_window_bits: honoured; 8 is declined.
      [
        "permessage-deflate; server_max_window_bits=10",
        {},
        "permessage-deflate; server_max_window_bits=10",
      ],
      [
        "permessage-deflate; server_max_window_bits=15",
        {},
        "permessage-deflate; server_max_window_bits=15",
      ],
      [
        "permessage-deflate; server_max_window_bits=13",
        { serverMaxWindowBits: 11 },
        "permessage-deflate; server_max_window_bits=11",
      ],
      [
        "permessage-deflate; server_max_window_bits=9",
        { serverMaxWindowBits: 11 },
        "permessage-deflate; server_max_window_bits=9",
      ],
      [
        "permessage-deflate",
        { serverMaxWindowBits: 11 },
        "permessage-deflate; server_max_window_bits=11",
      ],
      ["permessage-deflate; server_max_window_bits=8", {}, undefined],
      [
        "permessage-deflate; server_max_window_bits=8, permessage-deflate",
        {},
        "permessage-deflate",
      ],
      // Context takeover.
      [
        "permessage-deflate; server_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover",
      ],
      [
        "permessage-deflate",
        { serverNoContextTakeover: true },
        "permessage-deflate; server_no_context_takeover",
      ],
      [
        "permessage-deflate; client_no_context_takeover",
        {},
        "permessage-deflate; client_no_context_takeover",
      ],
      [
        "permessage-deflate",
        { clientNoContextTakeover: true },
        "permessage-deflate; client_no_context_takeover",
      ],
      [
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10; " +
        "client_no_context_takeover; server_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover; " +
        "client_no_context_takeover; server_max_window_bits=10",
      ],
      [
        "permessage-deflate; client_max_window_bits",
        {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 12,
          clientMaxWindowBits: 11,
        },
        "permessage-deflate; server_no_context_takeover; " +
        "client_no_context_takeover; server_max_window_bits=12; " +
        "client_max_window_bits=11",
      ],
      // Quoted values, whitespace, case.
      [
        'permessage-deflate; client_max_window_bits="10"',
        {},
        "permessage-deflate; client_max_window_bits=10",
      ],
      [
        'permessage-deflate;server_max_window_bits = "9"',
        {},
        "permessage-deflate; server_max_window_bits=9",
      ],
      [
        " PerMessage-Deflate ;\tSERVER_NO_CONTEXT_TAKEOVER , foo",
        {},
        "permessage-deflate; server_no_context_takeover",
      ],
      // Declined offers: unknown, repeated, or invalid parameters.
      ["permessage-deflate; foo", {}, undefined],
      ["permessage-deflate; foo=1", {}, undefined],
      [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        {},
        undefined,
      ],
      [
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        {},
        undefined,
      ],
      ["permessage-deflate; server_no_context_takeover=1", {}, undefined],
      ['permessage-deflate; client_no_context_takeover="x"', {}, undefined],
      ["permessage-deflate; server_max_window_bits", {}, undefined],
      ["permessage-deflate; server_max_window_bits=7", {}, undefined],
      ["permessage-deflate; server_max_window_bits=16", {}, undefined],
      ["permessage-deflate; server_max_window_bits=010", {}, undefined],
      ["permessage-deflate; server_max_window_bits=1a", {}, undefined],
      ["permessage-deflate; client_max_window_bits=0", {}, undefined],
      ["permessage-deflate; client_max_window_bits=16", {}, undefined],
      ['permessage-deflate; client_max_window_bits="08"', {}, undefined],
      [
        "permessage-deflate; foo, permessage-deflate; server_max_window_bits=16, " +
        "permessage-deflate; client_no_context_takeover",
        {},
        "permessage-deflate; client_no_context_takeover",
      ],
    ];
  for (const [offer, options, answer] of cases) {
    const result = negotiatePerMessageDeflate(offer, options);
    try {
      assert.equal(
        result?.header,
        answer,
        `${offer} ${JSON.stringify(options)}`,
      );
      if (result) assert.equal(result.extension.header, answer);
    } finally {
      result?.extension.close();
    }
  }
});

Deno.test("negotiatePerMessageDeflate() throws BAD_EXTENSION (400) on a malformed header", () => {
  for (const offer of ["permessage-deflate;", 'permessage-deflate; a="b c"']) {
    const error = rejectsWith(
      () => negotiatePerMessageDeflate(offer),
      "BAD_EXTENSION",
    );
    assert.equal((error as HandshakeError).status, 400);
  }
});

Deno.test("negotiatePerMessageDeflate() rejects options out of range", () => {
  for (
    const options of [
      { serverMaxWindowBits: 8 },
      { clientMaxWindowBits: 8 },
      { serverMaxWindowBits: 16 },
      { level: 10 },
      { memLevel: 0 },
      { threshold: -1 },
    ]
  ) {
    assert.throws(
      () => negotiatePerMessageDeflate("permessage-deflate", options),
      RangeError,
    );
    assert.throws(() => negotiatePerMessageDeflate(null, options), RangeError);
    assert.throws(() => perMessageDeflateOffer(options), RangeError);
  }
});

Deno.test("negotiatePerMessageDeflate() gives an extension that follows the answer", () => {
  const answer = negotiatePerMessageDeflate(
    "permessage-deflate; client_no_context_takeover; client_max_window_bits",
    { threshold: 0, serverNoContextTakeover: true, serverMaxWindowBits: 10 },
  )!;
  using server = answer.extension;
  using client = acceptPerMessageDeflate(answer.header, {
    clientNoContextTakeover: true,
    threshold: 0,
  });
  // Both reset their context: the same message compresses the same.
  for (const extension of [server, client]) {
    const first = extension.compress(HELLOS);
    assert.ok(first);
    assert.equal(hex(extension.compress(HELLOS)), hex(first));
  }
  // And the server inflates without a window kept between messages.
  server.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  rejectsWith(
    () => server.decompress(bytes("f2 00 11 00 00"), true, 5),
    "BAD_COMPRESSED_DATA",
    1007,
  );
});

// ---------------------------------------------------------------------------
// A client's offer and acceptance.

Deno.test("perMessageDeflateOffer() asks for what the options say", () => {
  const cases: [PerMessageDeflateOptions, string][] = [
    [{}, "permessage-deflate; client_max_window_bits"],
    [
      { threshold: 0, level: 9, memLevel: 9 },
      "permessage-deflate; client_max_window_bits",
    ],
    [
      { clientMaxWindowBits: 12 },
      "permessage-deflate; client_max_window_bits=12",
    ],
    [
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
    ],
    [
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
      "server_max_window_bits=10; client_max_window_bits=12",
    ],
  ];
  for (const [options, offer] of cases) {
    assert.equal(perMessageDeflateOffer(options), offer);
    // A server with default options accepts every offer we make.
    const answer = negotiatePerMessageDeflate(offer);
    assert.ok(answer, offer);
    answer.extension.close();
  }
});

Deno.test("acceptPerMessageDeflate() accepts valid answers and fails the rest", () => {
  // [answer, options, header or the error expected]
  const cases: [string, PerMessageDeflateOptions, string | Error][] = [
    ["permessage-deflate", {}, "permessage-deflate"],
    [
      "permessage-deflate; server_no_context_takeover",
      {},
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      "permessage-deflate; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      "permessage-deflate; server_max_window_bits=8",
      {},
      "permessage-deflate; server_max_window_bits=8",
    ],
    [
      "permessage-deflate; client_max_window_bits=8",
      {},
      "permessage-deflate; client_max_window_bits=8",
    ],
    [
      'PERMESSAGE-DEFLATE ; Server_Max_Window_Bits = "12" ;client_max_window_bits=9',
      {},
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "permessage-deflate; server_max_window_bits=9",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=9",
    ],
    [
      "permessage-deflate; server_max_window_bits=11",
      { serverMaxWindowBits: 10 },
      new Error("server_max_window_bits=11 is larger than the 10 asked for"),
    ],
    [
      "permessage-deflate",
      { serverMaxWindowBits: 10 },
      new Error("server_max_window_bits was asked for but not answered"),
    ],
    [
      "permessage-deflate",
      { serverNoContextTakeover: true },
      new Error("server_no_context_takeover was asked for but not answered"),
    ],
    [
      "permessage-deflate; server_no_context_takeover",
      { serverNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      "permessage-deflate; client_max_window_bits=10",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
    ],
    ["permessage-deflate", { clientMaxWindowBits: 10 }, "permessage-deflate"],
    [
      "permessage-deflate; client_max_window_bits=11",
      { clientMaxWindowBits: 10 },
      new Error("client_max_window_bits=11 is larger than the 10 offered"),
    ],
    ["", {}, new Error("no extension")],
    ["x-foo", {}, new Error("x-foo was not offered")],
    ["permessage-deflate, x-foo", {}, new Error("x-foo was not offered")],
    [
      "permessage-deflate, permessage-deflate",
      {},
      new Error("permessage-deflate answered more than once"),
    ],
    ["permessage-deflate; foo", {}, new Error("unknown parameter foo")],
    [
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
      {},
      new Error("repeated parameter client_no_context_takeover"),
    ],
    [
      "permessage-deflate; server_no_context_takeover=1",
      {},
      new Error("value on parameter server_no_context_takeover"),
    ],
    [
      "permessage-deflate; client_max_window_bits",
      {},
      new Error("invalid client_max_window_bits"),
    ],
    [
      "permessage-deflate; server_max_window_bits",
      {},
      new Error("invalid server_max_window_bits"),
    ],
    [
      "permessage-deflate; server_max_window_bits=16",
      {},
      new Error("invalid server_max_window_bits"),
    ],
    [
      "permessage-deflate; client_max_window_bits=7",
      {},
      new Error("invalid client_max_window_bits"),
    ],
    [
      "permessage-deflate;",
      {},
      new Error("expected a parameter name at offset 19"),
    ],
  ];
  for (const [answer, options, expected] of cases) {
    const label = `${answer} ${JSON.stringify(options)}`;
    if (expected instanceof Error) {
      const error = rejectsWith(
        () => acceptPerMessageDeflate(answer, options),
        "BAD_EXTENSION",
      );
      assert.ok(error.message.endsWith(expected.message), error.message);
    } else {
      using extension = acceptPerMessageDeflate(answer, options);
      assert.equal(extension.header, expected, label);
    }
  }
});

Deno.test("acceptPerMessageDeflate() gives an extension that follows the answer", () => {
  // client_max_window_bits=8: the client sends everything uncompressed.
  using narrow = acceptPerMessageDeflate(
    "permessage-deflate; client_max_window_bits=8",
    { threshold: 0 },
  );
  assert.equal(narrow.compress(HELLO), undefined);
  // client_no_context_takeover: the client resets its context.
  using reset = acceptPerMessageDeflate(
    "permessage-deflate; client_no_context_takeover",
    { threshold: 0 },
  );
  const first = reset.compress(HELLOS);
  assert.ok(first);
  assert.equal(hex(reset.compress(HELLOS)), hex(first));
  // server_no_context_takeover: the client keeps no inflate window.
  using fresh = acceptPerMessageDeflate(
    "permessage-deflate; server_no_context_takeover",
  );
  fresh.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  rejectsWith(
    () => fresh.decompress(bytes("f2 00 11 00 00"), true, 5),
    "BAD_COMPRESSED_DATA",
    1007,
  );
  // server_max_window_bits=8: the client inflates (with 9 bits, tolerant).
  using small = acceptPerMessageDeflate(
    "permessage-deflate; server_max_window_bits=8",
  );
  const hello = small.decompress(bytes("f2 48 cd c9 c9 07 00"), true, 5);
  assert.equal(decoder.decode(hello), "Hello");
});

Deno.test("negotiation works end to end for every option combination", () => {
  const seed = random(12);
  for (let i = 0; i < 64; i++) {
    const clientOptions: PerMessageDeflateOptions = {
      threshold: 0,
      serverNoContextTakeover: (i & 1) !== 0,
      clientNoContextTakeover: (i & 2) !== 0,
      serverMaxWindowBits: i & 4 ? 9 + Math.floor(seed() * 7) : undefined,
      clientMaxWindowBits: i & 8 ? 9 + Math.floor(seed() * 7) : undefined,
    };
    const serverOptions: PerMessageDeflateOptions = {
      threshold: 0,
      serverNoContextTakeover: (i & 16) !== 0,
      serverMaxWindowBits: i & 32 ? 9 + Math.floor(seed() * 7) : undefined,
    };
    const label = JSON.stringify({ clientOptions, serverOptions });
    const answer = negotiatePerMessageDeflate(
      perMessageDeflateOffer(clientOptions),
      serverOptions,
    );
    assert.ok(answer, label);
    using server = answer.extension;
    using client = acceptPerMessageDeflate(answer.header, clientOptions);
    for (let j = 0; j < 4; j++) {
      const payload = text(2000 + j * 500, i * 10 + j);
      assert.deepEqual(
        server.decompress(client.compress(payload)!, true, 5000),
        payload,
        label,
      );
      assert.deepEqual(
        client.decompress(server.compress(payload)!, true, 5000),
        payload,
        label,
      );
    }
  }
});
