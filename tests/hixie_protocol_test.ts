import assert from "node:assert/strict";
import { ConnectionClosedError } from "../errors.ts";
import {
  HixieProtocol,
  type HixieProtocolOptions,
} from "../legacy/protocol.ts";
import type { ProtocolEvent } from "../protocol/machine.ts";

const encoder = new TextEncoder();

/** A tiny seeded PRNG (mulberry32): floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Concatenates byte arrays and numbers into one array. */
function bytes(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((part) =>
    typeof part === "number"
      ? new Uint8Array([part])
      : typeof part === "string"
      ? encoder.encode(part)
      : part
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** What a machine did with some input. */
interface Outcome {
  events: ProtocolEvent[];
  outgoing: number[];
  state: string;
  error: string | undefined;
  closeCode: number | undefined;
}

/** Feeds `chunks` to a fresh machine and records the outcome. */
function run(options: HixieProtocolOptions, chunks: Uint8Array[]): Outcome {
  const machine = new HixieProtocol(options);
  const events: ProtocolEvent[] = [];
  for (const chunk of chunks) {
    machine.receive(chunk);
    events.push(...machine.takeEvents());
  }
  return {
    events,
    outgoing: machine.takeOutgoing().flatMap((chunk) => [...chunk]),
    state: machine.state,
    error: machine.error?.code,
    closeCode: machine.error?.closeCode,
  };
}

/**
 * Feeds `input` whole, split in two at every byte boundary, and one byte at
 * a time; asserts every split gives the same outcome and returns it.
 */
function feed(options: HixieProtocolOptions, input: Uint8Array): Outcome {
  const whole = run(options, [input]);
  for (let at = 0; at <= input.length; at++) {
    assert.deepEqual(
      run(options, [input.subarray(0, at), input.subarray(at)]),
      whole,
      `split at ${at}`,
    );
  }
  const single = [...input].map((b) => new Uint8Array([b]));
  assert.deepEqual(run(options, single), whole, "one byte at a time");
  return whole;
}

const V76: HixieProtocolOptions = { version: "hixie-76", role: "server" };
const V75: HixieProtocolOptions = { version: "hixie-75", role: "client" };

Deno.test("receive() decodes text frames at every split point", () => {
  for (const options of [V76, V75]) {
    const outcome = feed(
      options,
      bytes(0x00, "Hello", 0xff, 0x00, 0xff, 0x00, "world", 0xff),
    );
    assert.deepEqual(outcome.events, [
      { type: "message", data: "Hello" },
      { type: "message", data: "" },
      { type: "message", data: "world" },
    ]);
    assert.equal(outcome.state, "open");
    assert.equal(outcome.error, undefined);
  }
});

Deno.test("receive() decodes multi-byte UTF-8 split inside code points", () => {
  const text = "héllo € 𝄞 日本";
  const outcome = feed(V76, bytes(0x00, text, 0xff, 0x00, "é", 0xff));
  assert.deepEqual(outcome.events, [
    { type: "message", data: text },
    { type: "message", data: "é" },
  ]);
});

Deno.test("receive() rejects invalid UTF-8 with INVALID_UTF8", () => {
  for (
    const bad of [
      [0xc3, 0x28], // a bad continuation byte
      [0xe2, 0x82], // truncated at the end of the frame
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate
      [0xc0, 0xaf], // an overlong encoding
    ]
  ) {
    const outcome = feed(
      V76,
      bytes(
        0x00,
        "ok",
        0xff,
        0x00,
        new Uint8Array(bad),
        0xff,
        0x00,
        "no",
        0xff,
      ),
    );
    assert.deepEqual(outcome.events, [{ type: "message", data: "ok" }]);
    assert.equal(outcome.error, "INVALID_UTF8");
    assert.equal(outcome.closeCode, 1007);
    assert.equal(outcome.state, "closed");
    assert.deepEqual(outcome.outgoing, []);
  }
});

Deno.test("receive() fails on invalid UTF-8 before the frame ends", () => {
  const machine = new HixieProtocol(V76);
  machine.receive(bytes(0x00, "abc", 0x80));
  assert.equal(machine.error?.code, "INVALID_UTF8");
  assert.equal(machine.state, "closed");
});

Deno.test("receive() keeps a BOM in the text", () => {
  const outcome = feed(V76, bytes(0x00, "\ufeffhi", 0xff));
  assert.deepEqual(outcome.events, [{ type: "message", data: "\ufeffhi" }]);
});

Deno.test("receive() skips length-prefixed frames", () => {
  for (const options of [V76, V75]) {
    const body = new Uint8Array(257).fill(0xff);
    const outcome = feed(
      options,
      bytes(
        0x80,
        0x03,
        "abc",
        0x00,
        "one",
        0xff,
        0x81,
        0x82,
        0x01, // length 2 * 128 + 1 = 257
        body,
        0x00,
        "two",
        0xff,
        0xfe,
        0x00, // an empty length-prefixed frame
        0x00,
        "three",
        0xff,
      ),
    );
    assert.deepEqual(outcome.events, [
      { type: "message", data: "one" },
      { type: "message", data: "two" },
      { type: "message", data: "three" },
    ]);
    assert.equal(outcome.state, "open");
  }
});

Deno.test("receive() skips a body without buffering it", () => {
  const machine = new HixieProtocol(V76);
  machine.receive(bytes(0x80, 0x84, 0x00)); // 512 bytes to skip
  for (let i = 0; i < 512; i++) machine.receive(new Uint8Array([0x00]));
  machine.receive(bytes(0x00, "after", 0xff));
  assert.deepEqual(machine.takeEvents(), [{ type: "message", data: "after" }]);
});

Deno.test("receive() discards sentinel frames of other types", () => {
  const outcome = feed(
    V75,
    bytes(0x01, "ignored", 0xff, 0x7f, 0xff, 0x00, "kept", 0xff),
  );
  assert.deepEqual(outcome.events, [{ type: "message", data: "kept" }]);
  assert.equal(outcome.error, undefined);
});

Deno.test("receive() discards invalid UTF-8 in sentinel frames of other types", () => {
  const outcome = feed(V76, bytes(0x05, 0xc3, 0x28, 0xff, 0x00, "ok", 0xff));
  assert.deepEqual(outcome.events, [{ type: "message", data: "ok" }]);
  assert.equal(outcome.error, undefined);
});

Deno.test("receive() answers the hixie-76 closing handshake", () => {
  const outcome = feed(
    V76,
    bytes(0x00, "bye", 0xff, 0xff, 0x00, 0x00, "x", 0xff),
  );
  assert.deepEqual(outcome.events, [
    { type: "message", data: "bye" },
    { type: "close", code: 1005, reason: "" },
  ]);
  assert.deepEqual(outcome.outgoing, [0xff, 0x00]);
  assert.equal(outcome.state, "closed");
  assert.equal(outcome.error, undefined);

  const machine = new HixieProtocol(V76);
  machine.receive(bytes(0xff, 0x00));
  assert.deepEqual(machine.closeReceived, { code: 1005, reason: "" });
  assert.equal(machine.closeSent, true);
});

Deno.test("receive() treats any zero length after 0xFF as the hixie-76 close", () => {
  const outcome = feed(V76, bytes(0xff, 0x80, 0x00));
  assert.deepEqual(outcome.events, [{ type: "close", code: 1005, reason: "" }]);
  assert.equal(outcome.state, "closed");
});

Deno.test("receive() skips 0xFF 0x00 in hixie-75", () => {
  const outcome = feed(V75, bytes(0xff, 0x00, 0x00, "still open", 0xff));
  assert.deepEqual(outcome.events, [{ type: "message", data: "still open" }]);
  assert.deepEqual(outcome.outgoing, []);
  assert.equal(outcome.state, "open");
});

Deno.test("receive() fails a text frame over maxMessageSize with MESSAGE_TOO_LARGE", () => {
  const options = { ...V76, maxMessageSize: 4 };
  const fits = feed(options, bytes(0x00, "four", 0xff));
  assert.deepEqual(fits.events, [{ type: "message", data: "four" }]);
  const outcome = feed(options, bytes(0x00, "ok", 0xff, 0x00, "fives", 0xff));
  assert.deepEqual(outcome.events, [{ type: "message", data: "ok" }]);
  assert.equal(outcome.error, "MESSAGE_TOO_LARGE");
  assert.equal(outcome.closeCode, 1009);
  assert.equal(outcome.state, "closed");
});

Deno.test("receive() fails a text frame as soon as it passes maxMessageSize", () => {
  const machine = new HixieProtocol({ ...V76, maxMessageSize: 1024 });
  machine.receive(new Uint8Array([0x00]));
  machine.receive(new Uint8Array(1024).fill(0x61));
  assert.equal(machine.state, "open");
  machine.receive(new Uint8Array([0x61])); // no terminator yet
  assert.equal(machine.error?.code, "MESSAGE_TOO_LARGE");
  assert.equal(machine.state, "closed");
});

Deno.test("receive() fails a skipped frame longer than maxMessageSize", () => {
  const options = { ...V75, maxMessageSize: 100 };
  const fits = feed(
    options,
    bytes(0x80, 100, new Uint8Array(100), 0x00, "a", 0xff),
  );
  assert.deepEqual(fits.events, [{ type: "message", data: "a" }]);
  // The length alone fails it: no body bytes needed.
  const outcome = feed(options, bytes(0x80, 0x81, 0x00));
  assert.equal(outcome.error, "FRAME_TOO_LARGE");
  assert.equal(outcome.closeCode, 1009);
  assert.equal(outcome.state, "closed");
});

Deno.test("receive() fails a discarded sentinel frame longer than maxMessageSize", () => {
  const outcome = feed(
    { ...V76, maxMessageSize: 3 },
    bytes(0x01, "abcd", 0xff),
  );
  assert.equal(outcome.error, "FRAME_TOO_LARGE");
});

Deno.test("receive() caps the number of length bytes", () => {
  const options = { ...V76, maxMessageSize: Infinity };
  const seven = feed(
    options,
    bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00),
  );
  assert.equal(seven.error, undefined);
  const outcome = feed(
    options,
    bytes(0x80, new Uint8Array(7).fill(0x80), 0x01),
  );
  assert.equal(outcome.error, "BAD_LENGTH");
  assert.equal(outcome.state, "closed");
});

Deno.test("receive() decodes a long message across many chunks", () => {
  const random = mulberry32(99);
  const alphabet = ["a", "é", "€", "𝄞", " ", "z"];
  let text = "";
  for (let i = 0; i < 50_000; i++) {
    text += alphabet[Math.floor(random() * alphabet.length)];
  }
  const input = bytes(0x00, text, 0xff);
  const machine = new HixieProtocol(V76);
  for (let at = 0; at < input.length;) {
    const size = 1 + Math.floor(random() * 2000);
    machine.receive(input.subarray(at, at + size));
    at += size;
  }
  assert.deepEqual(machine.takeEvents(), [{ type: "message", data: text }]);
});

Deno.test("receive() does nothing after an error", () => {
  const machine = new HixieProtocol(V76);
  machine.receive(bytes(0x00, 0xff, 0x00, 0xc3, 0x28, 0xff));
  assert.equal(machine.error?.code, "INVALID_UTF8");
  machine.receive(bytes(0x00, "late", 0xff, 0xff, 0x00));
  assert.deepEqual(machine.takeEvents(), [{ type: "message", data: "" }]);
  assert.equal(machine.hasOutgoing, false);
  assert.equal(machine.closeReceived, undefined);
});

Deno.test("receiveEof() closes the machine", () => {
  const machine = new HixieProtocol(V76);
  machine.receive(bytes(0x00, "part"));
  machine.receiveEof();
  assert.equal(machine.state, "closed");
  assert.equal(machine.error, undefined);
  machine.receive(bytes(0xff, 0x00, "x", 0xff));
  assert.deepEqual(machine.takeEvents(), []);
  assert.throws(
    () => machine.send("x"),
    (error) =>
      error instanceof ConnectionClosedError && error.code === 1006 &&
      !error.wasClean,
  );
});

Deno.test("send() frames text as 0x00, UTF-8, 0xFF", () => {
  const machine = new HixieProtocol(V75);
  assert.equal(machine.hasOutgoing, false);
  machine.send("Hé");
  machine.send("");
  assert.equal(machine.hasOutgoing, true);
  assert.deepEqual(machine.takeOutgoing(), [
    bytes(0x00, 0x48, 0xc3, 0xa9, 0xff),
    bytes(0x00, 0xff),
  ]);
  assert.equal(machine.hasOutgoing, false);
});

Deno.test("send() rejects binary data with TypeError", () => {
  for (const options of [V76, V75]) {
    const machine = new HixieProtocol(options);
    assert.throws(() => machine.send(new Uint8Array([1])), {
      name: "TypeError",
      message:
        `Cannot send binary data: the ${options.version} protocol carries text only`,
    });
    assert.equal(machine.hasOutgoing, false);
  }
});

Deno.test("ping() and pong() throw TypeError", () => {
  const machine = new HixieProtocol(V76);
  assert.throws(() => machine.ping(new Uint8Array()), TypeError);
  assert.throws(() => machine.pong(new Uint8Array()), TypeError);
  assert.equal(machine.hasOutgoing, false);
});

Deno.test("close() runs the hixie-76 closing handshake", () => {
  const machine = new HixieProtocol({ version: "hixie-76", role: "client" });
  machine.close(1000, "ignored");
  assert.equal(machine.state, "closing");
  assert.equal(machine.closeSent, true);
  assert.deepEqual(machine.takeOutgoing(), [bytes(0xff, 0x00)]);
  machine.close();
  assert.equal(machine.hasOutgoing, false);
  assert.throws(
    () => machine.send("x"),
    (error) =>
      error instanceof ConnectionClosedError &&
      error.message === "Cannot send message: connection is closing",
  );
  // Messages still arrive while closing; then the peer's close.
  machine.receive(bytes(0x00, "last", 0xff, 0xff));
  machine.receive(bytes(0x00));
  assert.deepEqual(machine.takeEvents(), [
    { type: "message", data: "last" },
    { type: "close", code: 1005, reason: "" },
  ]);
  assert.equal(machine.state, "closed");
  assert.equal(machine.hasOutgoing, false);
  assert.throws(
    () => machine.send("x"),
    (error) => error instanceof ConnectionClosedError && error.wasClean,
  );
});

Deno.test("close() in hixie-75 sends nothing and waits for the end of the stream", () => {
  const machine = new HixieProtocol(V75);
  machine.close();
  assert.equal(machine.state, "closing");
  // Closing our side of the transport is the close: it counts as sent.
  assert.equal(machine.closeSent, true);
  assert.equal(machine.hasOutgoing, false);
  assert.throws(() => machine.send("x"), ConnectionClosedError);
  // What the peer still sends before its end of stream is delivered.
  machine.receive(bytes(0x00, "x", 0xff));
  assert.deepEqual(machine.takeEvents(), [{ type: "message", data: "x" }]);
  machine.receiveEof();
  assert.equal(machine.state, "closed");
  assert.deepEqual(machine.closeReceived, { code: 1005, reason: "" });
});

Deno.test("autoCloseEcho false holds the answer to the peer's close until close()", () => {
  for (const version of ["hixie-76", "hixie-75"] as const) {
    const machine = new HixieProtocol({
      version,
      role: "server",
      autoCloseEcho: false,
    });
    if (version === "hixie-76") machine.receive(new Uint8Array([0xff, 0x00]));
    else machine.receiveEof();
    assert.equal(machine.state, "closing");
    assert.equal(machine.closeSent, false);
    assert.deepEqual(machine.takeEvents(), [
      { type: "close", code: 1005, reason: "" },
    ]);
    machine.send("late answer");
    machine.close();
    assert.equal(machine.state, "closed");
    const out = machine.takeOutgoing();
    const expected = version === "hixie-76" ? 2 : 1;
    assert.equal(out.length, expected);
    if (version === "hixie-76") assert.deepEqual([...out[1]], [0xff, 0x00]);
  }
});

Deno.test("autoCloseEcho false lets the messages before a violation be answered, then closes at close()", () => {
  for (const version of ["hixie-76", "hixie-75"] as const) {
    const options: HixieProtocolOptions = {
      version,
      role: "server",
      autoCloseEcho: false,
    };
    // A message, then invalid UTF-8, then a message that is never read.
    const input = bytes(
      0x00,
      "first",
      0xff,
      0x00,
      0x61,
      0xfe,
      0xff,
      0x00,
      "x",
      0xff,
    );
    const outcome = feed(options, input);
    assert.deepEqual(outcome.events, [{ type: "message", data: "first" }]);
    assert.equal(outcome.error, "INVALID_UTF8");
    assert.equal(outcome.state, "closing");
    const machine = new HixieProtocol(options);
    machine.receive(input);
    machine.receive(bytes(0x00, "ignored", 0xff));
    assert.deepEqual(machine.takeEvents(), [
      { type: "message", data: "first" },
    ]);
    machine.send("answer");
    machine.close();
    assert.equal(machine.state, "closed");
    assert.equal(machine.closeSent, false, "a failure sends no closing bytes");
    assert.deepEqual(
      machine.takeOutgoing().flatMap((chunk) => [...chunk]),
      [...bytes(0x00, "answer", 0xff)],
    );
    assert.throws(() => machine.send("late"), ConnectionClosedError);
  }
});

Deno.test("the end of the stream is a clean close in hixie-75", () => {
  const machine = new HixieProtocol(V75);
  machine.receiveEof();
  assert.deepEqual(machine.closeReceived, { code: 1005, reason: "" });
  const v76 = new HixieProtocol({ version: "hixie-76", role: "server" });
  v76.receiveEof();
  assert.equal(v76.closeReceived, undefined);
});

Deno.test("a hixie-76 client and server talk and close", () => {
  const client = new HixieProtocol({ version: "hixie-76", role: "client" });
  const server = new HixieProtocol({ version: "hixie-76", role: "server" });
  const pump = (from: HixieProtocol, to: HixieProtocol): void => {
    for (const chunk of from.takeOutgoing()) to.receive(chunk);
  };
  client.send("ping?");
  pump(client, server);
  for (const event of server.takeEvents()) {
    if (event.type === "message") server.send(`${event.data} pong!`);
  }
  pump(server, client);
  assert.deepEqual(client.takeEvents(), [{
    type: "message",
    data: "ping? pong!",
  }]);
  client.close();
  pump(client, server);
  assert.equal(server.state, "closed");
  pump(server, client);
  assert.equal(client.state, "closed");
  assert.deepEqual(client.closeReceived, { code: 1005, reason: "" });
});

Deno.test("new HixieProtocol() rejects bad options", () => {
  assert.throws(
    () => new HixieProtocol({ ...V76, maxMessageSize: -1 }),
    RangeError,
  );
  assert.throws(
    () => new HixieProtocol({ ...V76, maxMessageSize: NaN }),
    RangeError,
  );
  assert.throws(
    () =>
      new HixieProtocol({ version: "hybi-00" as "hixie-76", role: "server" }),
    TypeError,
  );
  assert.equal(new HixieProtocol(V76).maxMessageSize, 64 * 1024 * 1024);
});

// The close rules, as capabilities the connection reads.

for (const version of ["hixie-76", "hixie-75"] as const) {
  for (const role of ["client", "server"] as const) {
    Deno.test(`HixieProtocol (${version}, ${role}) has no pings and closes as its draft says`, () => {
      const machine = new HixieProtocol({ version, role });
      assert.equal(machine.canPing, false);
      assert.equal(machine.closesByHalfClose, version === "hixie-75");
      // Nothing received yet: this end closes the transport first.
      assert.equal(machine.closesTransportFirst, true);
      if (version === "hixie-76") {
        machine.receive(bytes(0xff, 0x00));
      } else {
        machine.receiveEof();
      }
      assert.ok(machine.closeReceived);
      // After the peer's close, a draft-76 client leaves FIN to the server;
      // draft 75 has only half-closes, so either end sends FIN.
      assert.equal(
        machine.closesTransportFirst,
        role === "server" || version === "hixie-75",
      );
      const failed = new HixieProtocol({ version, role });
      failed.receive(bytes(0x00, 0xc0, 0xff));
      assert.ok(failed.error);
      assert.equal(failed.closesTransportFirst, true);
    });
  }
}
