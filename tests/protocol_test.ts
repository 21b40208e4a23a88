import assert from "node:assert/strict";
import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameInit,
  Opcode,
} from "../frame.ts";
import type { MessagePart, ProtocolEvent } from "../protocol/machine.ts";
import {
  acceptPerMessageDeflate,
  negotiatePerMessageDeflate,
} from "../extensions/permessage_deflate.ts";
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  isValidCloseCode,
  WebSocketProtocol,
  type WebSocketProtocolOptions,
} from "../protocol/rfc6455.ts";
import { concat, everySplit, mulberry32, randomBytes } from "./_util.ts";

type Role = "client" | "server";
const ROLES: Role[] = ["client", "server"];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The key a client machine masks with in these tests. */
const OUR_KEY = [0x11, 0x22, 0x33, 0x44];
/** The key a peer client masks with. */
const PEER_KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function fixedKey(target: Uint8Array, offset: number): void {
  target.set(OUR_KEY, offset);
}

function machine(
  role: Role,
  options: Partial<WebSocketProtocolOptions> = {},
): WebSocketProtocol {
  return new WebSocketProtocol({ role, maskKey: fixedKey, ...options });
}

/** The bytes the peer of a `role` machine sends: a client's peer does not mask. */
function fromPeer(role: Role, ...inits: FrameInit[]): Uint8Array {
  return concat(
    ...inits.map((init) =>
      encodeFrame(
        init,
        role === "server" ? { mask: true, maskKey: PEER_KEY } : {},
      )
    ),
  );
}

function text(data: string, fin = true): FrameInit {
  return { opcode: Opcode.Text, fin, payload: encoder.encode(data) };
}

function binary(payload: Uint8Array, fin = true): FrameInit {
  return { opcode: Opcode.Binary, fin, payload };
}

function continuation(payload: Uint8Array | string, fin = true): FrameInit {
  return {
    opcode: Opcode.Continuation,
    fin,
    payload: typeof payload === "string" ? encoder.encode(payload) : payload,
  };
}

function ping(data: Uint8Array | string = ""): FrameInit {
  return {
    opcode: Opcode.Ping,
    payload: typeof data === "string" ? encoder.encode(data) : data,
  };
}

function pong(data: Uint8Array | string = ""): FrameInit {
  return {
    opcode: Opcode.Pong,
    payload: typeof data === "string" ? encoder.encode(data) : data,
  };
}

function closePayload(
  code?: number,
  reason: Uint8Array | string = "",
): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const bytes = typeof reason === "string" ? encoder.encode(reason) : reason;
  return concat(new Uint8Array([code >>> 8, code & 0xff]), bytes);
}

function closeFrame(
  code?: number,
  reason: Uint8Array | string = "",
): FrameInit {
  return { opcode: Opcode.Close, payload: closePayload(code, reason) };
}

/**
 * Decodes what a `role` machine wrote, as its peer would: a server-role
 * decoder (which requires masks) for a client's output, and vice versa.
 */
function decodeSent(role: Role, bytes: Uint8Array): Frame[] {
  const peer = new FrameDecoder({
    role: role === "client" ? "server" : "client",
  });
  peer.push(bytes);
  const frames: Frame[] = [];
  for (let frame = peer.next(); frame; frame = peer.next()) frames.push(frame);
  assert.equal(peer.bufferedBytes, 0, "the output is whole frames");
  return frames;
}

interface SentFrame {
  opcode: number;
  fin: boolean;
  payload: number[];
}

interface Outcome {
  events: ProtocolEvent[];
  output: Uint8Array;
  sent: SentFrame[];
  state: string;
  error: { code: string; closeCode: number } | undefined;
  closeReceived: { code: number; reason: string } | undefined;
  closeSent: boolean;
}

function outcomeOf(role: Role, m: WebSocketProtocol): Outcome {
  const output = concat(...m.takeOutgoing());
  return {
    events: m.takeEvents(),
    output,
    sent: decodeSent(role, output).map((f) => ({
      opcode: f.opcode,
      fin: f.fin,
      payload: Array.from(f.payload),
    })),
    state: m.state,
    error: m.error && { code: m.error.code, closeCode: m.error.closeCode },
    closeReceived: m.closeReceived,
    closeSent: m.closeSent,
  };
}

/** Feeds chunks to a new machine; returns what it did. */
function run(
  role: Role,
  chunks: Uint8Array[],
  options: Partial<WebSocketProtocolOptions> = {},
): Outcome {
  const m = machine(role, options);
  for (const chunk of chunks) m.receive(chunk);
  return outcomeOf(role, m);
}

/** Runs `bytes` at every split; asserts each split has the same outcome. */
function runEverySplit(
  role: Role,
  bytes: Uint8Array,
  options: Partial<WebSocketProtocolOptions> = {},
): Outcome {
  const whole = run(role, [bytes.slice()], options);
  for (const chunks of everySplit(bytes.slice())) {
    assert.deepEqual(
      run(role, chunks, options),
      whole,
      `split ${chunks.map((c) => c.length).join("+")}`,
    );
  }
  return whole;
}

function messages(outcome: Outcome): (string | number[])[] {
  return outcome.events.map((event) => {
    assert.equal(event.type, "message");
    const data = (event as { data: string | Uint8Array }).data;
    return typeof data === "string" ? data : Array.from(data);
  });
}

/** Asserts the machine failed with `code`, writing exactly one close frame with `closeCode`. */
function assertFailed(outcome: Outcome, code: string, closeCode: number): void {
  assert.deepEqual(outcome.error, { code, closeCode });
  assert.equal(outcome.state, "closed");
  assert.equal(outcome.closeSent, true);
  const closes = outcome.sent.filter((f) => f.opcode === Opcode.Close);
  assert.equal(closes.length, 1, "exactly one close frame");
  assert.equal(
    outcome.sent.at(-1)?.opcode,
    Opcode.Close,
    "the close frame is last",
  );
  const payload = closes[0].payload;
  assert.equal((payload[0] << 8) | payload[1], closeCode);
  assert.ok(payload.length <= 125);
}

function closeCodeOf(frame: SentFrame): number | undefined {
  return frame.payload.length >= 2
    ? (frame.payload[0] << 8) | frame.payload[1]
    : undefined;
}

// Messages.

for (const role of ROLES) {
  Deno.test(`WebSocketProtocol (${role}) delivers text messages at every split`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, text("Hello"), text("κόσμε"), text("😀🎉")),
    );
    assert.deepEqual(messages(outcome), ["Hello", "κόσμε", "😀🎉"]);
    assert.deepEqual(outcome.sent, []);
    assert.equal(outcome.state, "open");
    assert.equal(outcome.error, undefined);
  });

  Deno.test(`WebSocketProtocol (${role}) delivers binary messages at every split`, () => {
    const payload = randomBytes(300, 1);
    const outcome = runEverySplit(
      role,
      fromPeer(role, binary(payload), binary(new Uint8Array([0, 255]))),
    );
    assert.deepEqual(messages(outcome), [Array.from(payload), [0, 255]]);
    const [first] = outcome.events as { type: "message"; data: Uint8Array }[];
    assert.ok(first.data instanceof Uint8Array);
  });

  Deno.test(`WebSocketProtocol (${role}) delivers empty text and binary messages`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(
        role,
        text(""),
        binary(new Uint8Array(0)),
        text("", false),
        continuation(""),
        binary(new Uint8Array(0), false),
        continuation(new Uint8Array(0)),
      ),
    );
    assert.deepEqual(messages(outcome), ["", [], "", []]);
    assert.equal(typeof outcome.events[0].type, "string");
    assert.ok(
      (outcome.events[1] as { data: unknown }).data instanceof Uint8Array,
    );
    assert.ok(
      (outcome.events[3] as { data: unknown }).data instanceof Uint8Array,
    );
  });

  Deno.test(`WebSocketProtocol (${role}) reassembles a fragmented text message around a ping`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, text("Hel", false), ping("p"), continuation("lo")),
    );
    assert.deepEqual(outcome.events, [
      { type: "ping", data: encoder.encode("p") },
      { type: "message", data: "Hello" },
    ]);
    assert.deepEqual(outcome.sent, [
      { opcode: Opcode.Pong, fin: true, payload: [0x70] },
    ]);
  });

  Deno.test(`WebSocketProtocol (${role}) reassembles a fragmented binary message around control frames`, () => {
    const a = randomBytes(100, 2);
    const b = randomBytes(7, 3);
    const outcome = runEverySplit(
      role,
      fromPeer(
        role,
        binary(a, false),
        pong("x"),
        continuation(new Uint8Array(0), false),
        ping(),
        continuation(b),
      ),
    );
    assert.deepEqual(outcome.events, [
      { type: "pong", data: encoder.encode("x") },
      { type: "ping", data: new Uint8Array(0) },
      { type: "message", data: concat(a, b) },
    ]);
    assert.deepEqual(outcome.sent, [{
      opcode: Opcode.Pong,
      fin: true,
      payload: [],
    }]);
  });

  Deno.test(`WebSocketProtocol (${role}) answers a ping with a pong of the same payload`, () => {
    const payload = randomBytes(125, 4);
    const outcome = runEverySplit(
      role,
      fromPeer(role, ping(payload), ping("Hello")),
    );
    assert.deepEqual(outcome.events, [
      { type: "ping", data: payload },
      { type: "ping", data: encoder.encode("Hello") },
    ]);
    assert.deepEqual(outcome.sent, [
      { opcode: Opcode.Pong, fin: true, payload: Array.from(payload) },
      {
        opcode: Opcode.Pong,
        fin: true,
        payload: Array.from(encoder.encode("Hello")),
      },
    ]);
    assert.equal(outcome.state, "open");
  });

  Deno.test(`WebSocketProtocol (${role}) reports an unsolicited pong and answers nothing`, () => {
    const outcome = runEverySplit(role, fromPeer(role, pong("beat")));
    assert.deepEqual(outcome.events, [{
      type: "pong",
      data: encoder.encode("beat"),
    }]);
    assert.deepEqual(outcome.sent, []);
  });

  // Closing handshake.

  Deno.test(`WebSocketProtocol (${role}) completes a close it initiated when the echo arrives`, () => {
    const m = machine(role);
    m.close(1000, "bye");
    assert.equal(m.state, "closing");
    assert.equal(m.closeSent, true);
    assert.equal(m.closeReceived, undefined);
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.equal(sent.length, 1);
    assert.equal(sent[0].opcode, Opcode.Close);
    assert.deepEqual(sent[0].payload, closePayload(1000, "bye"));
    // Messages still arrive while closing.
    m.receive(fromPeer(role, text("late")));
    assert.deepEqual(m.takeEvents(), [{ type: "message", data: "late" }]);
    assert.equal(m.state, "closing");
    m.receive(fromPeer(role, closeFrame(1000, "bye")));
    assert.deepEqual(m.takeEvents(), [{
      type: "close",
      code: 1000,
      reason: "bye",
    }]);
    assert.equal(m.state, "closed");
    assert.deepEqual(m.closeReceived, { code: 1000, reason: "bye" });
    assert.equal(m.hasOutgoing, false, "no second close frame");
    assert.equal(m.error, undefined);
  });

  Deno.test(`WebSocketProtocol (${role}) does not answer a ping after sending close`, () => {
    const m = machine(role);
    m.close();
    m.takeOutgoing();
    m.receive(fromPeer(role, ping("late")));
    assert.deepEqual(m.takeEvents(), [{
      type: "ping",
      data: encoder.encode("late"),
    }]);
    assert.equal(m.hasOutgoing, false);
  });

  Deno.test(`WebSocketProtocol (${role}) echoes a peer's close with the same code and reason`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, closeFrame(1001, "going away")),
    );
    assert.deepEqual(outcome.events, [{
      type: "close",
      code: 1001,
      reason: "going away",
    }]);
    assert.deepEqual(outcome.sent, [{
      opcode: Opcode.Close,
      fin: true,
      payload: Array.from(closePayload(1001, "going away")),
    }]);
    assert.equal(outcome.state, "closed");
    assert.equal(outcome.closeSent, true);
    assert.deepEqual(outcome.closeReceived, {
      code: 1001,
      reason: "going away",
    });
    assert.equal(outcome.error, undefined);
  });

  Deno.test(`WebSocketProtocol (${role}) answers an empty close with an empty close and reports 1005`, () => {
    const outcome = runEverySplit(role, fromPeer(role, closeFrame()));
    assert.deepEqual(outcome.events, [{
      type: "close",
      code: 1005,
      reason: "",
    }]);
    assert.deepEqual(outcome.sent, [{
      opcode: Opcode.Close,
      fin: true,
      payload: [],
    }]);
    assert.equal(outcome.state, "closed");
    assert.deepEqual(outcome.closeReceived, { code: 1005, reason: "" });
  });

  Deno.test(`WebSocketProtocol (${role}) accepts every valid close code`, () => {
    const codes = [
      1000,
      1001,
      1002,
      1003,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      3000,
      3999,
      4000,
      4999,
    ];
    for (const code of codes) {
      const outcome = runEverySplit(
        role,
        fromPeer(role, closeFrame(code, "r")),
      );
      assert.equal(outcome.error, undefined, `code ${code}`);
      assert.deepEqual(outcome.events, [{ type: "close", code, reason: "r" }]);
      assert.equal(closeCodeOf(outcome.sent[0]), code);
    }
  });

  Deno.test(`WebSocketProtocol (${role}) fails an invalid close code with 1002 BAD_CLOSE_CODE`, () => {
    const codes = [
      0,
      999,
      1004,
      1005,
      1006,
      1015,
      1016,
      2000,
      2999,
      5000,
      65535,
    ];
    for (const code of codes) {
      const outcome = runEverySplit(role, fromPeer(role, closeFrame(code)));
      assertFailed(outcome, "BAD_CLOSE_CODE", 1002);
      assert.deepEqual(outcome.events, [], `code ${code}`);
      assert.equal(outcome.closeReceived, undefined);
    }
  });

  Deno.test(`WebSocketProtocol (${role}) fails a 1-byte close payload with 1002`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, { opcode: Opcode.Close, payload: new Uint8Array([0x03]) }),
    );
    assertFailed(outcome, "BAD_CLOSE_PAYLOAD", 1002);
  });

  Deno.test(`WebSocketProtocol (${role}) fails invalid UTF-8 in a close reason with 1007`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, closeFrame(1000, new Uint8Array([0x61, 0xff]))),
    );
    assertFailed(outcome, "INVALID_UTF8", 1007);
  });

  Deno.test(`WebSocketProtocol (${role}) accepts a 123-byte close reason from the peer`, () => {
    const reason = "é".repeat(61) + "a"; // 123 bytes
    const outcome = runEverySplit(
      role,
      fromPeer(role, closeFrame(4000, reason)),
    );
    assert.deepEqual(outcome.events, [{ type: "close", code: 4000, reason }]);
  });

  // Violations.

  Deno.test(`WebSocketProtocol (${role}) fails a continuation without a message with 1002`, () => {
    const outcome = runEverySplit(role, fromPeer(role, continuation("x")));
    assertFailed(outcome, "UNEXPECTED_CONTINUATION", 1002);
    assert.deepEqual(outcome.events, []);
  });

  Deno.test(`WebSocketProtocol (${role}) fails a new message inside a fragmented one with 1002`, () => {
    for (const next of [text("b"), binary(new Uint8Array([1]), false)]) {
      const outcome = runEverySplit(
        role,
        fromPeer(role, text("a", false), next),
      );
      assertFailed(outcome, "EXPECTED_CONTINUATION", 1002);
      assert.deepEqual(outcome.events, []);
    }
  });

  Deno.test(`WebSocketProtocol (${role}) fails RSV1 without an extension with 1002`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, { ...text("a"), rsv1: true }),
    );
    assertFailed(outcome, "RESERVED_BITS", 1002);
  });

  Deno.test(`WebSocketProtocol (${role}) fails a reserved opcode with 1002`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(role, { opcode: 3, payload: new Uint8Array(1) }),
    );
    assertFailed(outcome, "RESERVED_OPCODE", 1002);
  });

  Deno.test(`WebSocketProtocol (${role}) fails invalid UTF-8 in a text message with 1007`, () => {
    for (
      const bad of [
        [0xff],
        [0xc0, 0xaf], // overlong "/"
        [0xed, 0xa0, 0x80], // a UTF-16 surrogate
        [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
        [0xce], // a truncated code point at the end
        [0x61, 0x80],
      ]
    ) {
      const outcome = runEverySplit(
        role,
        fromPeer(role, { opcode: Opcode.Text, payload: new Uint8Array(bad) }),
      );
      assertFailed(outcome, "INVALID_UTF8", 1007);
      assert.deepEqual(outcome.events, [], JSON.stringify(bad));
    }
  });

  Deno.test(`WebSocketProtocol (${role}) fails invalid UTF-8 in the first fragment before the rest arrives`, () => {
    // Only the first fragment is ever received.
    const outcome = runEverySplit(
      role,
      fromPeer(role, {
        opcode: Opcode.Text,
        fin: false,
        payload: new Uint8Array([0x48, 0xff, 0x48]),
      }),
    );
    assertFailed(outcome, "INVALID_UTF8", 1007);
    assert.equal(outcome.events.length, 0);
  });

  Deno.test(`WebSocketProtocol (${role}) fails invalid UTF-8 in a middle fragment at that fragment`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(
        role,
        text("κό", false),
        continuation(new Uint8Array([0xcf, 0x83, 0xce, 0x41]), false), // σ, then a bad lead
      ),
    );
    assertFailed(outcome, "INVALID_UTF8", 1007);
  });

  Deno.test(`WebSocketProtocol (${role}) fails invalid UTF-8 inside a frame before the frame is complete`, () => {
    // A text frame, and a continuation of a text message, of 100 bytes
    // whose byte 10 is invalid: the first 11 bytes are enough to fail.
    const payload = new Uint8Array(100).fill(0x61);
    payload[10] = 0xf8;
    for (
      const frames of [
        [{ opcode: Opcode.Text, payload }],
        [text("ok", false), continuation(payload)],
      ]
    ) {
      const bytes = fromPeer(role, ...frames);
      const cut = bytes.length - payload.length + 11;
      for (const chunks of everySplit(bytes.subarray(0, cut))) {
        const m = machine(role);
        for (const chunk of chunks) m.receive(chunk.slice());
        assert.equal(m.error?.code, "INVALID_UTF8");
        assert.deepEqual(m.takeEvents(), []);
      }
      // One byte fewer is still a valid prefix.
      const m = machine(role);
      m.receive(bytes.slice(0, cut - 1));
      assert.equal(m.error, undefined);
      assert.equal(m.state, "open");
    }
  });

  Deno.test(`WebSocketProtocol (${role}) takes a text frame in pieces without changing what it delivers`, () => {
    // Multi-byte code points cut anywhere, masked payloads cut at every
    // key offset, fragments and pings between them.
    const message = "κόσμε 😀 a€𝄞ñ ".repeat(40);
    const bytes = encoder.encode(message);
    const stream = fromPeer(
      role,
      { opcode: Opcode.Text, fin: false, payload: bytes.subarray(0, 301) },
      { opcode: Opcode.Ping, payload: new Uint8Array([7]) },
      continuation(bytes.subarray(301)),
      text(message),
    );
    for (const size of [1, 2, 3, 5, 7, 64, 333]) {
      const m = machine(role, { ownsInput: size % 2 === 1 });
      for (let i = 0; i < stream.length; i += size) {
        m.receive(stream.slice(i, i + size));
      }
      assert.deepEqual(
        m.takeEvents().filter((e) => e.type === "message"),
        [{ type: "message", data: message }, {
          type: "message",
          data: message,
        }],
        `pieces of ${size}`,
      );
      assert.equal(m.error, undefined);
    }
  });

  Deno.test(`WebSocketProtocol (${role}) treats a BOM the same however the text is split`, () => {
    const bom = "\ufeff";
    for (const message of [bom + "abc", "abc" + bom + "def", "κ" + bom]) {
      const bytes = encoder.encode(message);
      const whole = runEverySplit(
        role,
        fromPeer(role, { opcode: Opcode.Text, payload: bytes }),
      );
      // Fragmented at every byte, each split of the stream too.
      for (let i = 0; i <= bytes.length; i++) {
        const split = runEverySplit(
          role,
          fromPeer(
            role,
            { opcode: Opcode.Text, fin: false, payload: bytes.subarray(0, i) },
            continuation(bytes.subarray(i)),
          ),
        );
        assert.deepEqual(messages(split), messages(whole), `split at ${i}`);
      }
      // A BOM past the start is text like any other.
      if (!message.startsWith(bom)) {
        assert.deepEqual(messages(whole), [message]);
      }
    }
  });

  Deno.test(`WebSocketProtocol (${role}) fails a text frame that breaks a rule on its header before its payload is complete`, () => {
    // A new text frame while a fragmented message is under way.
    const m = machine(role);
    m.receive(fromPeer(role, text("a", false)).slice());
    m.receive(fromPeer(role, text("bbbbbbbb")).slice(0, 8));
    assert.equal(m.error?.code, "EXPECTED_CONTINUATION");
  });

  Deno.test(`WebSocketProtocol (${role}) fails a code point left unfinished by the final fragment`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(
        role,
        text("a", false),
        continuation(new Uint8Array([0xf0, 0x9f, 0x98])),
      ),
    );
    assertFailed(outcome, "INVALID_UTF8", 1007);
  });

  Deno.test(`WebSocketProtocol (${role}) accepts code points split across fragments at every byte`, () => {
    for (const message of ["κόσμε", "😀 emoji 🎉", "a€𝄞ñ"]) {
      const bytes = encoder.encode(message);
      for (let i = 0; i <= bytes.length; i++) {
        const m = machine(role);
        m.receive(fromPeer(
          role,
          { opcode: Opcode.Text, fin: false, payload: bytes.subarray(0, i) },
          continuation(bytes.subarray(i)),
        ));
        assert.deepEqual(
          m.takeEvents(),
          [{ type: "message", data: message }],
          `split at ${i}`,
        );
        assert.equal(m.error, undefined);
      }
      // One byte per fragment.
      const inits: FrameInit[] = Array.from(bytes, (_, i) => ({
        opcode: i === 0 ? Opcode.Text : Opcode.Continuation,
        fin: i === bytes.length - 1,
        payload: bytes.subarray(i, i + 1),
      }));
      const outcome = runEverySplit(role, fromPeer(role, ...inits));
      assert.deepEqual(messages(outcome), [message]);
    }
  });

  Deno.test(`WebSocketProtocol (${role}) fails a fragmented message over maxMessageSize with 1009 before its final fragment`, () => {
    const options = { maxMessageSize: 10 };
    const m = machine(role, options);
    m.receive(fromPeer(role, binary(new Uint8Array(4), false)));
    m.receive(fromPeer(role, continuation(new Uint8Array(4), false)));
    assert.equal(m.state, "open");
    m.receive(fromPeer(role, continuation(new Uint8Array(4), false)));
    const outcome = outcomeOf(role, m);
    assertFailed(outcome, "MESSAGE_TOO_LARGE", 1009);
    // The same at every split of the fragments that pass the limit.
    const prefix = fromPeer(
      role,
      text("aaaa", false),
      continuation("aaaa", false),
      continuation("aaa", false),
    );
    assertFailed(
      runEverySplit(role, prefix, options),
      "MESSAGE_TOO_LARGE",
      1009,
    );
  });

  Deno.test(`WebSocketProtocol (${role}) accepts a fragmented message of exactly maxMessageSize`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(
        role,
        text("aaaa", false),
        ping(),
        continuation("aaaa", false),
        continuation("aa"),
      ),
      { maxMessageSize: 10 },
    );
    assert.equal(outcome.error, undefined);
    assert.deepEqual(outcome.events.at(-1), {
      type: "message",
      data: "a".repeat(10),
    });
    // The limit is per message: a second one of the same size is fine.
    const twice = runEverySplit(
      role,
      fromPeer(role, binary(new Uint8Array(10)), binary(new Uint8Array(10))),
      {
        maxMessageSize: 10,
      },
    );
    assert.equal(twice.events.length, 2);
  });

  Deno.test(`WebSocketProtocol (${role}) fails a single frame over maxMessageSize on its header with 1009`, () => {
    const bytes = fromPeer(role, binary(new Uint8Array(11)));
    // Only the header: the payload never arrives.
    const header = bytes.subarray(0, role === "server" ? 6 : 2);
    const outcome = runEverySplit(role, header, { maxMessageSize: 10 });
    assertFailed(outcome, "FRAME_TOO_LARGE", 1009);
  });

  Deno.test(`WebSocketProtocol (${role}) ignores the data after a close frame`, () => {
    const outcome = runEverySplit(
      role,
      fromPeer(
        role,
        text("before"),
        closeFrame(1000),
        text("after"),
        ping("x"),
      ),
    );
    assert.deepEqual(outcome.events, [
      { type: "message", data: "before" },
      { type: "close", code: 1000, reason: "" },
    ]);
    assert.deepEqual(outcome.sent.map((f) => f.opcode), [Opcode.Close]);
    // Even invalid bytes after the close frame are not looked at.
    const garbage = runEverySplit(
      role,
      concat(
        fromPeer(role, closeFrame(1000)),
        new Uint8Array([0xff, 0xff, 0xff]),
      ),
    );
    assert.equal(garbage.error, undefined);
  });

  Deno.test(`WebSocketProtocol (${role}) ignores input after failing`, () => {
    const m = machine(role);
    m.receive(fromPeer(role, continuation("x")));
    const failed = outcomeOf(role, m);
    assertFailed(failed, "UNEXPECTED_CONTINUATION", 1002);
    m.receive(
      fromPeer(role, text("ignored"), ping("ignored"), closeFrame(1000)),
    );
    assert.deepEqual(m.takeEvents(), []);
    assert.deepEqual(m.takeOutgoing(), []);
    assert.equal(m.state, "closed");
    assert.equal(m.closeReceived, undefined);
  });

  Deno.test(`WebSocketProtocol (${role}) sends one close frame with the error's message as reason`, () => {
    const m = machine(role);
    m.receive(fromPeer(role, closeFrame(1004)));
    assert.ok(m.error instanceof ProtocolError);
    const [frame] = decodeSent(role, concat(...m.takeOutgoing()));
    assert.equal(decoder.decode(frame.payload.subarray(2)), m.error.message);
    assert.equal(
      m.error.message,
      "Received a close frame with invalid code 1004",
    );
  });

  Deno.test(`WebSocketProtocol (${role}) fails without a second close frame after sending close`, () => {
    const m = machine(role);
    m.close(1000);
    m.receive(fromPeer(role, continuation("x")));
    const outcome = outcomeOf(role, m);
    assert.equal(outcome.error?.code, "UNEXPECTED_CONTINUATION");
    assert.equal(outcome.state, "closed");
    assert.equal(outcome.sent.length, 1);
    assert.equal(closeCodeOf(outcome.sent[0]), 1000);
  });

  Deno.test(`WebSocketProtocol (${role}) rejects the peer's masking mode with 1002`, () => {
    // The peer masks as if the roles were swapped.
    const wrong = encodeFrame(
      text("x"),
      role === "client" ? { mask: true } : {},
    );
    const outcome = runEverySplit(role, wrong);
    assertFailed(
      outcome,
      role === "client" ? "MASKED_FRAME" : "UNMASKED_FRAME",
      1002,
    );
  });

  // Sending.

  Deno.test(`WebSocketProtocol (${role}) throws ConnectionClosedError on send after close`, () => {
    const closedBy: [string, (m: WebSocketProtocol) => void][] = [
      ["close()", (m) => m.close()],
      [
        "a peer's close",
        (m) => m.receive(fromPeer(role, closeFrame(1001, "bye"))),
      ],
      ["a failure", (m) => m.receive(fromPeer(role, continuation("x")))],
      ["EOF", (m) => m.receiveEof()],
    ];
    for (const [what, closeIt] of closedBy) {
      const m = machine(role);
      closeIt(m);
      m.takeOutgoing();
      for (
        const send of [
          () => m.send("x"),
          () => m.send(new Uint8Array(1)),
          () => m.ping(),
          () => m.pong(),
        ]
      ) {
        assert.throws(send, ConnectionClosedError, what);
      }
      assert.equal(m.hasOutgoing, false, what);
    }
    const m = machine(role);
    m.receive(fromPeer(role, closeFrame(1001, "bye")));
    assert.throws(() => m.send("x"), (error: unknown) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.equal(error.code, 1001);
      assert.equal(error.reason, "bye");
      return true;
    });
  });

  Deno.test(`WebSocketProtocol (${role}) ping() and pong() reject more than 125 bytes with RangeError`, () => {
    const m = machine(role);
    assert.throws(() => m.ping(new Uint8Array(126)), RangeError);
    assert.throws(() => m.pong(new Uint8Array(126)), RangeError);
    assert.equal(m.hasOutgoing, false);
    m.ping(new Uint8Array(125));
    m.pong(new Uint8Array(125));
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.deepEqual(sent.map((f) => [f.opcode, f.payload.length]), [[
      Opcode.Ping,
      125,
    ], [Opcode.Pong, 125]]);
  });

  Deno.test(`WebSocketProtocol (${role}) rejects data of the wrong type with TypeError`, () => {
    const m = machine(role);
    assert.throws(() => m.send(42 as unknown as string), TypeError);
    assert.throws(
      () => m.send(new ArrayBuffer(1) as unknown as Uint8Array),
      TypeError,
    );
    assert.throws(() => m.ping("x" as unknown as Uint8Array), TypeError);
    assert.equal(m.hasOutgoing, false);
  });

  Deno.test(`WebSocketProtocol (${role}) close() accepts a 123-byte reason and rejects 124 bytes with RangeError`, () => {
    for (const reason of ["a".repeat(124), "é".repeat(62)]) {
      const m = machine(role);
      assert.throws(() => m.close(1000, reason), RangeError);
      assert.equal(m.closeSent, false);
      assert.equal(m.hasOutgoing, false);
    }
    for (const reason of ["a".repeat(123), "é".repeat(61) + "a"]) {
      const m = machine(role);
      m.close(4000, reason);
      const [frame] = decodeSent(role, concat(...m.takeOutgoing()));
      assert.equal(frame.payload.length, 125);
      assert.deepEqual(frame.payload, closePayload(4000, reason));
    }
  });

  Deno.test(`WebSocketProtocol (${role}) close() rejects a code that may not be sent with RangeError`, () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
      const m = machine(role);
      assert.throws(() => m.close(code), RangeError, String(code));
      assert.equal(m.closeSent, false);
    }
  });

  Deno.test(`WebSocketProtocol (${role}) close() defaults to 1000 and does nothing the second time`, () => {
    const m = machine(role);
    m.close();
    m.close(1001, "again");
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].payload, closePayload(1000));
  });

  Deno.test(`WebSocketProtocol (${role}) close() after the peer's close does nothing`, () => {
    const m = machine(role);
    m.receive(fromPeer(role, closeFrame(1000)));
    m.takeOutgoing();
    m.close(1000);
    assert.equal(m.hasOutgoing, false);
    assert.equal(m.state, "closed");
  });

  Deno.test(`WebSocketProtocol (${role}) receiveEof() closes the machine`, () => {
    const m = machine(role);
    m.receiveEof();
    assert.equal(m.state, "closed");
    m.receive(fromPeer(role, text("ignored")));
    assert.deepEqual(m.takeEvents(), []);
  });

  Deno.test(`WebSocketProtocol (${role}) sends text, binary, ping, pong and close frames`, () => {
    const m = machine(role);
    m.send("κόσμε");
    m.send(new Uint8Array([1, 2, 3]));
    m.send("");
    m.ping(encoder.encode("p"));
    m.pong(encoder.encode("q"));
    m.close(1000, "done");
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.deepEqual(
      sent.map((f) => [f.opcode, f.fin, Array.from(f.payload)]),
      [
        [Opcode.Text, true, Array.from(encoder.encode("κόσμε"))],
        [Opcode.Binary, true, [1, 2, 3]],
        [Opcode.Text, true, []],
        [Opcode.Ping, true, [0x70]],
        [Opcode.Pong, true, [0x71]],
        [Opcode.Close, true, Array.from(closePayload(1000, "done"))],
      ],
    );
  });

  Deno.test(`WebSocketProtocol (${role}) takeEvents() and takeOutgoing() hand over once`, () => {
    const m = machine(role);
    assert.equal(m.hasOutgoing, false);
    m.receive(fromPeer(role, ping("a")));
    assert.equal(m.hasOutgoing, true);
    assert.equal(m.takeEvents().length, 1);
    assert.deepEqual(m.takeEvents(), []);
    assert.equal(m.takeOutgoing().length, 1);
    assert.deepEqual(m.takeOutgoing(), []);
    assert.equal(m.hasOutgoing, false);
  });

  Deno.test(`WebSocketProtocol (${role}) inMessage tracks a message in progress`, () => {
    const m = machine(role);
    assert.equal(m.inMessage, false);
    const bytes = fromPeer(role, text("a", false), continuation("b"));
    const half = fromPeer(role, text("a", false)).length;
    m.receive(bytes.subarray(0, 1));
    assert.equal(m.inMessage, true, "a frame has begun");
    m.receive(bytes.subarray(1, half));
    assert.equal(m.inMessage, true, "a fragment has arrived");
    m.receive(bytes.subarray(half));
    assert.equal(m.inMessage, false);
  });
}

Deno.test("WebSocketProtocol (client) masks everything it sends", () => {
  const client = new WebSocketProtocol({ role: "client" });
  client.send("Hello");
  client.send(randomBytes(70_000, 5));
  client.ping(new Uint8Array([1]));
  client.pong(new Uint8Array([2]));
  client.close(1000);
  const bytes = concat(...client.takeOutgoing());
  // A server-role decoder throws UNMASKED_FRAME for any unmasked frame.
  const frames = decodeSent("client", bytes);
  assert.equal(frames.length, 5);
  assert.equal(bytes[1] & 0x80, 0x80);
});

Deno.test("WebSocketProtocol (server) never masks", () => {
  const server = new WebSocketProtocol({ role: "server" });
  server.send("Hello");
  server.send(randomBytes(70_000, 6));
  server.ping(new Uint8Array([1]));
  server.close(1000);
  const bytes = concat(...server.takeOutgoing());
  assert.deepEqual(
    bytes.subarray(0, 7),
    new Uint8Array([0x81, 0x05, ...encoder.encode("Hello")]),
  );
  // A client-role decoder throws MASKED_FRAME for any masked frame.
  assert.equal(decodeSent("server", bytes).length, 4);
});

Deno.test("WebSocketProtocol (client) never mutates the caller's bytes", () => {
  for (const length of [1, 5, 125, 126, 16 * 1024, 70_000]) {
    const data = randomBytes(length, length);
    const copy = data.slice();
    const client = new WebSocketProtocol({ role: "client" });
    client.send(data);
    client.ping(data.subarray(0, Math.min(length, 125)));
    assert.deepEqual(data, copy, `length ${length}`);
    const [frame] = decodeSent("client", concat(...client.takeOutgoing()));
    assert.deepEqual(frame.payload, copy);
  }
});

Deno.test("WebSocketProtocol (client) with a maskKey writes deterministic bytes", () => {
  const output = () => {
    const client = machine("client");
    client.send("Hello");
    return concat(...client.takeOutgoing());
  };
  const expected = concat(
    new Uint8Array([0x81, 0x85, ...OUR_KEY]),
    encoder.encode("Hello").map((b, i) => b ^ OUR_KEY[i % 4]),
  );
  assert.deepEqual(output(), expected);
  assert.deepEqual(output(), expected);
  // The RFC 6455 section 5.7 masked "Hello".
  const rfc = new WebSocketProtocol({
    role: "client",
    maskKey: (target, offset) => target.set([0x37, 0xfa, 0x21, 0x3d], offset),
  });
  rfc.send("Hello");
  assert.deepEqual(
    concat(...rfc.takeOutgoing()),
    new Uint8Array([
      0x81,
      0x85,
      0x37,
      0xfa,
      0x21,
      0x3d,
      0x7f,
      0x9f,
      0x4d,
      0x51,
      0x58,
    ]),
  );
});

Deno.test("WebSocketProtocol (client) draws a fresh masking key per frame by default", () => {
  const client = new WebSocketProtocol({ role: "client" });
  for (let i = 0; i < 8; i++) client.send(new Uint8Array(4));
  // Small frames leave together in one chunk: 8 frames of 10 bytes.
  const [bytes] = client.takeOutgoing();
  assert.equal(bytes.length, 80);
  const keys = new Set(
    Array.from(
      { length: 8 },
      (_, i) => Array.from(bytes.subarray(i * 10 + 2, i * 10 + 6)).join(","),
    ),
  );
  assert.equal(keys.size, 8);
});

Deno.test("WebSocketProtocol (server) writes a large message of its own as its header and the payload itself", () => {
  // Text is encoded into bytes of the machine's own: not copied again.
  const text = "x".repeat(16 * 1024);
  const server = new WebSocketProtocol({ role: "server" });
  server.send(text);
  const chunks = server.takeOutgoing();
  assert.equal(chunks.length, 2);
  assert.deepEqual(chunks[0], new Uint8Array([0x81, 0x7e, 0x40, 0x00]));
  assert.equal(chunks[1].length, 16 * 1024);
  // The caller's bytes are copied, so that they may change once send()
  // has returned: one chunk up to 64 KiB, pooled segments past it.
  const data = randomBytes(16 * 1024, 7);
  server.send(data);
  const [copy, ...none] = server.takeOutgoing();
  assert.equal(none.length, 0);
  assert.deepEqual(
    copy.subarray(0, 4),
    new Uint8Array([0x82, 0x7e, 0x40, 0x00]),
  );
  assert.deepEqual(copy.subarray(4), data);
  const big = randomBytes(70_000, 8);
  server.send(big);
  const [segment, ...rest] = server.takeOutgoing();
  assert.equal(rest.length, 0);
  assert.deepEqual(
    segment.subarray(0, 10),
    new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
  );
  assert.deepEqual(segment.subarray(10), big);
  assert.notEqual(segment.buffer, big.buffer);
});

Deno.test("WebSocketProtocol (server) writes a small message as one chunk", () => {
  const data = randomBytes(16 * 1024 - 1, 9);
  const server = new WebSocketProtocol({ role: "server" });
  server.send(data);
  const chunks = server.takeOutgoing();
  assert.equal(chunks.length, 1);
  assert.notEqual(chunks[0].buffer, data.buffer);
  assert.deepEqual(chunks[0].subarray(4), data);
});

Deno.test("WebSocketProtocol client and server talk and close cleanly", () => {
  const client = new WebSocketProtocol({ role: "client" });
  const server = new WebSocketProtocol({ role: "server" });
  const pump = (from: WebSocketProtocol, to: WebSocketProtocol) => {
    for (const chunk of from.takeOutgoing()) to.receive(chunk);
  };
  client.send("Hello");
  client.ping(new Uint8Array([9]));
  pump(client, server);
  assert.deepEqual(server.takeEvents(), [
    { type: "message", data: "Hello" },
    { type: "ping", data: new Uint8Array([9]) },
  ]);
  server.send("World");
  pump(server, client);
  assert.deepEqual(client.takeEvents(), [
    { type: "pong", data: new Uint8Array([9]) },
    { type: "message", data: "World" },
  ]);
  server.close(1001, "restart");
  pump(server, client);
  assert.deepEqual(client.takeEvents(), [{
    type: "close",
    code: 1001,
    reason: "restart",
  }]);
  assert.equal(client.state, "closed");
  pump(client, server);
  assert.deepEqual(server.takeEvents(), [{
    type: "close",
    code: 1001,
    reason: "restart",
  }]);
  assert.equal(server.state, "closed");
  assert.equal(server.error, undefined);
  assert.equal(client.error, undefined);
});

Deno.test("WebSocketProtocol defaults maxMessageSize to 64 MiB", () => {
  assert.equal(DEFAULT_MAX_MESSAGE_SIZE, 64 * 1024 * 1024);
  const m = new WebSocketProtocol({ role: "client" });
  // A header claiming one byte over the default limit.
  m.receive(new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0x04, 0, 0, 0x01]));
  assert.equal(m.error?.code, "FRAME_TOO_LARGE");
  assert.equal(m.error?.closeCode, 1009);
});

Deno.test("isValidCloseCode() allows exactly the codes that may be sent", () => {
  const valid: number[] = [];
  for (let code = 0; code <= 5000; code++) {
    if (isValidCloseCode(code)) valid.push(code);
  }
  const expected: number[] = [1000, 1001, 1002, 1003];
  for (let code = 1007; code <= 1014; code++) expected.push(code);
  for (let code = 3000; code <= 4999; code++) expected.push(code);
  assert.deepEqual(valid, expected);
  assert.equal(isValidCloseCode(65535), false);
  assert.equal(isValidCloseCode(1000.5), false);
  assert.equal(isValidCloseCode(NaN), false);
});

for (const role of ROLES) {
  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false waits for close() to echo`, () => {
    const m = machine(role, { autoCloseEcho: false });
    m.receive(
      fromPeer(role, text("last"), closeFrame(1001, "going"), text("after")),
    );
    assert.deepEqual(m.takeEvents(), [
      { type: "message", data: "last" },
      { type: "close", code: 1001, reason: "going" },
    ]);
    assert.equal(m.state, "closing");
    assert.equal(m.closeSent, false);
    assert.deepEqual(m.closeReceived, { code: 1001, reason: "going" });
    assert.equal(m.hasOutgoing, false, "no echo yet");
    // The application may still answer what arrived before the close frame.
    m.send("answer");
    // Input after the close frame is still ignored.
    m.receive(fromPeer(role, text("ignored")));
    assert.deepEqual(m.takeEvents(), []);
    m.close();
    assert.equal(m.state, "closed");
    assert.equal(m.closeSent, true);
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.deepEqual(
      sent.map((f) => [f.opcode, Array.from(f.payload)]),
      [
        [Opcode.Text, Array.from(encoder.encode("answer"))],
        [Opcode.Close, Array.from(closePayload(1001, "going"))],
      ],
    );
    assert.throws(() => m.send("late"), ConnectionClosedError);
    m.close();
    assert.equal(m.hasOutgoing, false, "close() is idempotent");
  });

  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false echoes an empty close as empty`, () => {
    const m = machine(role, { autoCloseEcho: false });
    m.receive(fromPeer(role, closeFrame()));
    assert.equal(m.state, "closing");
    assert.deepEqual(m.closeReceived, { code: 1005, reason: "" });
    m.close();
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.deepEqual(sent.map((f) => [f.opcode, f.payload.length]), [[
      Opcode.Close,
      0,
    ]]);
    assert.equal(m.state, "closed");
  });

  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false sends the code close() is given`, () => {
    const m = machine(role, { autoCloseEcho: false });
    m.receive(fromPeer(role, closeFrame(1000)));
    m.close(4001, "own");
    const sent = decodeSent(role, concat(...m.takeOutgoing()));
    assert.deepEqual(sent.map((f) => Array.from(f.payload)), [
      Array.from(closePayload(4001, "own")),
    ]);
    assert.equal(m.state, "closed");
  });

  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false fails a bad close frame at close()`, () => {
    const m = machine(role, { autoCloseEcho: false });
    m.receive(fromPeer(role, closeFrame(1005)));
    assert.equal(m.error?.code, "BAD_CLOSE_CODE");
    assert.equal(m.closeReceived, undefined);
    assert.equal(m.hasOutgoing, false);
    m.close();
    assertFailed(outcomeOf(role, m), "BAD_CLOSE_CODE", 1002);
  });

  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false lets the messages before a violation be answered first`, () => {
    const m = machine(role, { autoCloseEcho: false });
    m.receive(fromPeer(
      role,
      text("first"),
      binary(new Uint8Array([1, 2])),
      { opcode: 5, payload: new Uint8Array(1) },
      text("never read"),
    ));
    assert.deepEqual(m.takeEvents(), [
      { type: "message", data: "first" },
      { type: "message", data: new Uint8Array([1, 2]) },
    ]);
    assert.equal(m.error?.code, "RESERVED_OPCODE");
    assert.equal(m.state, "closing");
    assert.equal(m.closeSent, false);
    assert.equal(m.hasOutgoing, false, "no close frame yet");
    assert.equal(m.readTarget(), undefined);
    // Nothing after the fault is read.
    m.receive(fromPeer(role, text("ignored")));
    assert.deepEqual(m.takeEvents(), []);
    m.send("answer");
    // The failure's code, whatever close() is given.
    m.close(1000, "bye");
    const outcome = outcomeOf(role, m);
    assertFailed(outcome, "RESERVED_OPCODE", 1002);
    assert.deepEqual(outcome.sent.map((f) => f.opcode), [
      Opcode.Text,
      Opcode.Close,
    ]);
    assert.throws(() => m.send("late"), ConnectionClosedError);
    m.close();
    assert.equal(m.hasOutgoing, false, "close() is idempotent");
  });

  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false defers the failure at every split`, () => {
    const bytes = fromPeer(
      role,
      text("κόσμε"),
      text("a", false),
      continuation(new Uint8Array([0x62, 0xff, 0x63])),
    );
    const whole = runEverySplit(role, bytes, { autoCloseEcho: false });
    assert.deepEqual(messages(whole), ["κόσμε"]);
    assert.deepEqual(whole.error, { code: "INVALID_UTF8", closeCode: 1007 });
    assert.equal(whole.state, "closing");
    assert.deepEqual(whole.sent, []);
  });

  Deno.test(`WebSocketProtocol (${role}) with autoCloseEcho false closes at once on its own echo`, () => {
    const m = machine(role, { autoCloseEcho: false });
    m.close(1000);
    m.takeOutgoing();
    m.receive(fromPeer(role, closeFrame(1000)));
    assert.equal(m.state, "closed");
    assert.equal(m.hasOutgoing, false);
  });
}

Deno.test("WebSocketProtocol (client) masks large frames in segments, reused only once released", () => {
  const client = new WebSocketProtocol({ role: "client" });
  const server = new WebSocketProtocol({ role: "server" });
  // Sizes around the segment boundaries and odd lengths, so that the key
  // is turned to every offset.
  const sizes = [64 * 1024, 256 * 1024 - 14, 256 * 1024 - 13, 700_001, 1 << 20];
  const kept: { chunks: Uint8Array[]; copy: Uint8Array }[] = [];
  for (const [index, size] of sizes.entries()) {
    const payload = randomBytes(size, 100 + index);
    client.send(payload);
    const chunks = client.takeOutgoing();
    assert.ok(chunks.length > 1 || size < 256 * 1024);
    // The last few bytes of a frame never leave as a write of their own.
    assert.ok(chunks.every((chunk) => chunk.length > 1024));
    // The caller's bytes are never modified.
    assert.deepEqual(payload, randomBytes(size, 100 + index));
    for (const chunk of chunks) server.receive(chunk);
    const [event] = server.takeEvents();
    assert.equal(event.type, "message");
    assert.deepEqual(event.type === "message" && event.data, payload);
    // Every other message's chunks are released, the others kept.
    if (index % 2 === 0) { for (const chunk of chunks) client.release(chunk); }
    else kept.push({ chunks, copy: concat(...chunks) });
  }
  // A chunk that was not released is never written over.
  for (const { chunks, copy } of kept) {
    assert.deepEqual(concat(...chunks), copy);
  }
  // Releasing something else, or twice, is harmless.
  client.release(new Uint8Array(300_000));
  client.send(randomBytes(300_000, 7));
  const chunks = client.takeOutgoing();
  for (const chunk of chunks) client.release(chunk);
  for (const chunk of chunks) client.release(chunk);
  client.send(randomBytes(300_000, 8));
  for (const chunk of client.takeOutgoing()) server.receive(chunk);
  const [event] = server.takeEvents();
  assert.deepEqual(
    event.type === "message" && event.data,
    randomBytes(300_000, 8),
  );
});

Deno.test("WebSocketProtocol machines that queue small frames in turn keep their own bytes", () => {
  const random = mulberry32(11);
  const senders = [0, 1, 2].map((i) =>
    new WebSocketProtocol({ role: i === 1 ? "client" : "server" })
  );
  const sent: string[][] = [[], [], []];
  // Enough frames to fill several shared arenas, in a random interleaving,
  // some taken early, some with non-ASCII text that is encoded apart.
  const taken: Uint8Array[][] = [[], [], []];
  for (let n = 0; n < 3000; n++) {
    const i = Math.floor(random() * 3);
    const text = `${n} `.repeat(1 + Math.floor(random() * 60)) +
      (random() < 0.1 ? "é" : "");
    senders[i].send(text);
    sent[i].push(text);
    if (random() < 0.2) taken[i].push(...senders[i].takeOutgoing());
  }
  for (let i = 0; i < 3; i++) {
    taken[i].push(...senders[i].takeOutgoing());
    const receiver = new WebSocketProtocol({
      role: i === 1 ? "server" : "client",
    });
    for (const chunk of taken[i]) receiver.receive(chunk.slice());
    const got = receiver.takeEvents().map((e) =>
      e.type === "message" ? e.data : e.type
    );
    assert.deepEqual(got, sent[i]);
  }
});

Deno.test("WebSocketProtocol copies the caller's binary payload: changing it after send() changes nothing sent", () => {
  for (const role of ROLES) {
    for (const size of [2000, 20_000, 100_000, 600_000]) {
      const sender = new WebSocketProtocol({ role });
      const receiver = new WebSocketProtocol({
        role: role === "client" ? "server" : "client",
      });
      const payload = randomBytes(size, size);
      sender.send(payload);
      payload.fill(0);
      for (const chunk of sender.takeOutgoing()) receiver.receive(chunk);
      const [event] = receiver.takeEvents();
      assert.deepEqual(
        event.type === "message" && event.data,
        randomBytes(size, size),
        `${role}, ${size} bytes`,
      );
    }
  }
});

// ---- Messages in parts -------------------------------------------------

const EMPTY_BYTES = new Uint8Array(0);

function parts(m: WebSocketProtocol): MessagePart[] {
  return m.takeEvents().filter((e): e is MessagePart => e.type === "part");
}

for (const role of ROLES) {
  Deno.test(`${role}: sendPart sends one fragmented message, control frames between its frames`, () => {
    const m = machine(role);
    m.sendPart(encoder.encode("one "), {
      binary: false,
      first: true,
      fin: false,
    });
    assert.throws(() => m.send("other"), TypeError);
    m.ping(encoder.encode("p"));
    m.sendPart(new Uint8Array(2000).fill(0x61), {
      binary: false,
      first: false,
      fin: false,
    });
    m.sendPart(new Uint8Array(0), { binary: false, first: false, fin: true });
    m.send("after");
    const frames = decodeSent(role, concat(...m.takeOutgoing()));
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.payload.length]),
      [
        [Opcode.Text, false, 4],
        [Opcode.Ping, true, 1],
        [Opcode.Continuation, false, 2000],
        [Opcode.Continuation, true, 0],
        [Opcode.Text, true, 5],
      ],
    );
    assert.throws(
      () => m.sendPart(EMPTY_BYTES, { binary: true, first: false, fin: true }),
      TypeError,
    );
  });

  Deno.test(`${role}: streamMessages hands a message out in parts as it arrives`, () => {
    const m = machine(role);
    // A whole message before the switch stays whole.
    m.receive(fromPeer(role, text("whole")));
    m.streamMessages = true;
    const payload = randomBytes(300_000, 3);
    const bytes = fromPeer(
      role,
      binary(payload.subarray(0, 200_000), false),
      ping("x"),
      continuation(payload.subarray(200_000)),
    );
    assert.deepEqual(m.takeEvents(), [{ type: "message", data: "whole" }]);
    const got: MessagePart[] = [];
    for (let i = 0; i < bytes.length; i += 10_000) {
      m.receive(bytes.subarray(i, i + 10_000));
      got.push(...parts(m));
      // Nothing is held whole: each piece is handed out as it arrives.
      assert.equal(m.readTarget(), undefined);
    }
    assert.ok(got.length > 20);
    assert.equal(got[0].first, true);
    assert.ok(got.slice(1).every((p) => !p.first && p.binary));
    assert.deepEqual(got.map((p) => p.fin).filter(Boolean), [true]);
    assert.deepEqual(concat(...got.map((p) => p.data)), payload);
  });

  Deno.test(`${role}: streamed text with invalid UTF-8 fails at once with 1007`, () => {
    const m = machine(role);
    m.streamMessages = true;
    m.receive(fromPeer(role, text("fine ", false)));
    assert.equal(parts(m).length, 1);
    const bad = fromPeer(
      role,
      continuation(new Uint8Array([0xc3, 0x28, 0x41])),
    );
    // Only part of the frame: it fails before the frame is complete.
    m.receive(bad.subarray(0, bad.length - 1));
    assert.equal(m.error?.closeCode, 1007);
  });

  Deno.test(`${role}: a streamed message over maxMessageSize fails with 1009`, () => {
    const m = machine(role, { maxMessageSize: 1000 });
    m.streamMessages = true;
    m.receive(fromPeer(role, binary(new Uint8Array(600), false)));
    assert.equal(m.state, "open");
    m.receive(fromPeer(role, continuation(new Uint8Array(600))));
    assert.equal(m.error?.closeCode, 1009);
  });

  Deno.test(`${role}: with permessage-deflate a message sent in parts is compressed part by part`, () => {
    const offer = negotiatePerMessageDeflate(
      "permessage-deflate; client_max_window_bits",
      { threshold: 0 },
    )!;
    using server = offer.extension;
    using client = acceptPerMessageDeflate(offer.header, { threshold: 0 });
    const [ours, theirs] = role === "client"
      ? [client, server]
      : [server, client];
    const sender = machine(role, { extension: ours });
    const receiver = machine(role === "client" ? "server" : "client", {
      extension: theirs,
    });
    const line = encoder.encode("again and again and again\n".repeat(200));
    for (let message = 0; message < 2; message++) {
      for (let i = 0; i < 3; i++) {
        sender.sendPart(line, { binary: false, first: i === 0, fin: false });
      }
      sender.sendPart(new Uint8Array(0), {
        binary: false,
        first: false,
        fin: true,
      });
      const bytes = concat(...sender.takeOutgoing());
      const peer = new FrameDecoder({
        role: role === "client" ? "server" : "client",
        allowedRsv: 0x40,
      });
      peer.push(bytes);
      const rsv1: boolean[] = [];
      for (let f = peer.next(); f; f = peer.next()) rsv1.push(f.rsv1);
      assert.deepEqual(rsv1, [true, false, false, false]);
      assert.ok(bytes.length < line.length, "compressed");
      // A receiver in parts gets each part's bytes as its frame arrives.
      receiver.streamMessages = message === 1;
      receiver.receive(bytes);
      const events = receiver.takeEvents();
      const text = events.map((e) =>
        e.type === "part"
          ? decoder.decode(e.data)
          : e.type === "message"
          ? e.data
          : ""
      ).join("");
      assert.equal(text, decoder.decode(line).repeat(3));
    }
    // An ordinary message after them still inflates (context takeover).
    sender.send("whole");
    receiver.streamMessages = false;
    receiver.receive(concat(...sender.takeOutgoing()));
    assert.deepEqual(receiver.takeEvents(), [{
      type: "message",
      data: "whole",
    }]);
  });
}

// The close rules, as capabilities the connection reads.

for (const role of ROLES) {
  Deno.test(`WebSocketProtocol (${role}) can ping and never closes by half-close`, () => {
    const m = machine(role);
    assert.equal(m.canPing, true);
    assert.equal(m.closesByHalfClose, false);
    m.close();
    assert.equal(m.canPing, true);
    assert.equal(m.closesByHalfClose, false);
  });

  Deno.test(`WebSocketProtocol (${role}) closesTransportFirst follows RFC 6455 section 7.1.1`, () => {
    // Closed with no closing handshake to wait for: this end sends FIN.
    assert.equal(machine(role).closesTransportFirst, true);
    // After the peer's close frame, only the server closes first.
    const answered = machine(role);
    answered.receive(fromPeer(role, closeFrame(1000)));
    assert.equal(answered.state, "closed");
    assert.equal(answered.closesTransportFirst, role === "server");
    const started = machine(role);
    started.close();
    started.receive(fromPeer(role, closeFrame(1000)));
    assert.equal(started.closesTransportFirst, role === "server");
    // An end that failed the connection closes first, whatever its role.
    const failed = machine(role);
    failed.receive(fromPeer(role, continuation("x")));
    assert.equal(failed.closesTransportFirst, true);
  });
}
