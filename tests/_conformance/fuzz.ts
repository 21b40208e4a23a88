// Seeded fuzzers shared by tests/fuzz_test.ts (a fixed seed set, in CI) and
// tools/fuzz.ts (a long run). Every generator is a pure function of its
// seed, so a failing seed is its own reproducer.
//
// Targets:
// - decoder: FrameDecoder fed mutated frame streams at random splits,
//   checked after every chunk against the reference reader in wire.ts.
// - machine: WebSocketProtocol (both roles) likewise, against the
//   reference endpoint: same events, same answers, same failure code, at
//   every prefix.
// - head: HeadReader, parseRequestHead / parseResponseHead and
//   validateUpgradeRequest fed mutated HTTP heads.
// - live: a serve() server over loopback fed garbage handshakes and
//   garbage frames after a valid handshake, while a well-behaved client
//   keeps talking to it.

import { dial } from "../../client.ts";
import type { Conn } from "../../conn.ts";
import { HandshakeError, ProtocolError } from "../../errors.ts";
import { FrameDecoder, MAX_HEADER_SIZE } from "../../frame.ts";
import {
  HeadReader,
  parseRequestHead,
  parseResponseHead,
  validateUpgradeRequest,
} from "../../handshake.ts";
import type { ProtocolEvent } from "../../protocol/machine.ts";
import { WebSocketProtocol } from "../../protocol/rfc6455.ts";
import { serve, type WebSocketServer } from "../../server.ts";
import { mulberry32 } from "../_util.ts";
import type { FuzzJob, FuzzReport } from "./fuzz_worker.ts";
import {
  acceptFor,
  chop,
  closePayload,
  concatBytes,
  encodeSpec,
  type FrameSpec,
  hex as hexBytes,
  OP,
  readHttpHead,
  referenceReceive,
  type RefEvent,
  type RefOutcome,
  sameBytes,
  toBytes,
  toHex,
  WireReader,
  writeFully,
} from "./wire.ts";

/** A fuzz target's name. */
export type FuzzTarget = "decoder" | "machine" | "head" | "live";

/** A broken invariant, with what it takes to reproduce it. */
export interface FuzzFailure {
  target: FuzzTarget;
  seed: number;
  message: string;
  /** The input that broke it, when it is bytes. */
  input?: Uint8Array;
}

/** A seeded source of choices. */
export class Rand {
  #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  /** Whether an event of probability p happens. */
  chance(p: number): boolean {
    return this.#next() < p;
  }
  /** One of the items. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }
  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.#next() * 256);
    return out;
  }
}

// ---- Generators ------------------------------------------------------------

/** Random valid UTF-8 of about `n` bytes, all code point lengths. */
export function randomText(r: Rand, n: number): Uint8Array {
  let text = "";
  let size = 0;
  while (size < n) {
    const kind = r.int(0, 9);
    let cp: number;
    if (kind < 5) cp = r.int(0, 0x7f);
    else if (kind < 7) cp = r.int(0x80, 0x7ff);
    else if (kind < 9) {
      cp = r.int(0x800, 0xffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    } else cp = r.int(0x10000, 0x10ffff);
    const char = String.fromCodePoint(cp);
    text += char;
    size += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return toBytes(text);
}

function messageSize(r: Rand): number {
  const roll = r.float();
  if (roll < 0.55) return r.int(0, 16);
  if (roll < 0.85) return r.int(17, 200);
  if (roll < 0.97) return r.int(201, 2000);
  return r.pick([125, 126, 127, 65535, 65536]);
}

const VALID_CLOSE = [
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
  4999,
];

const REFUSED_CLOSE = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];

/** A frame stream: its bytes and where each frame starts. */
export interface Stream {
  bytes: Uint8Array;
  starts: number[];
}

/**
 * A random sequence of frames (masked when the sender is a client): valid
 * messages in fragments, pings and pongs between, and sometimes a close
 * frame, which is now and then one the receiver must refuse.
 */
export function randomStream(r: Rand, masked: boolean): Stream {
  const frames: FrameSpec[] = [];
  const control = () => {
    const opcode = r.chance(0.7) ? OP.ping : OP.pong;
    frames.push({ opcode, payload: r.bytes(r.pick([0, 1, 4, 20, 125])) });
  };
  const messages = r.int(1, 6);
  for (let m = 0; m < messages; m++) {
    if (r.chance(0.2)) control();
    const isText = r.chance(0.5);
    const n = messageSize(r);
    const payload = isText ? randomText(r, n) : r.bytes(n);
    const pieces = r.chance(0.6) ? 1 : r.int(2, 5);
    const cuts = Array.from(
      { length: pieces - 1 },
      () => r.int(0, payload.length),
    ).sort((a, b) => a - b);
    let from = 0;
    for (let p = 0; p < pieces; p++) {
      const to = p === pieces - 1 ? payload.length : cuts[p];
      frames.push({
        opcode: p === 0 ? (isText ? OP.text : OP.binary) : OP.cont,
        payload: payload.subarray(from, to),
        fin: p === pieces - 1,
      });
      if (p < pieces - 1 && r.chance(0.3)) control();
      from = to;
    }
  }
  if (r.chance(0.25)) {
    // Mostly a valid close; sometimes a code or reason that must be refused.
    const roll = r.float();
    const code = roll < 0.7
      ? r.pick(VALID_CLOSE)
      : roll < 0.9
      ? r.pick(REFUSED_CLOSE)
      : r.int(0, 65535);
    const reason = r.chance(0.1)
      ? r.pick([hexBytes("ed a0 80"), hexBytes("c0 af"), hexBytes("ff")])
      : randomText(r, r.int(0, 20));
    frames.push({
      opcode: OP.close,
      payload: r.chance(0.1)
        ? new Uint8Array(0)
        : r.chance(0.03)
        ? r.bytes(1)
        : closePayload(code, reason),
    });
  }
  const parts: Uint8Array[] = [];
  const starts: number[] = [];
  let offset = 0;
  for (const frame of frames) {
    const bytes = encodeSpec(
      { ...frame, maskKey: masked ? Array.from(r.bytes(4)) : undefined },
      masked,
    );
    starts.push(offset);
    parts.push(bytes);
    offset += bytes.length;
  }
  return { bytes: concatBytes(parts), starts };
}

/** Applies 1-3 random mutations: the classic byte-level ones and a few that aim at frame headers. */
export function mutate(r: Rand, stream: Stream): Uint8Array {
  let bytes: Uint8Array = stream.bytes.slice();
  const count = r.int(1, 3);
  for (let k = 0; k < count; k++) {
    const at = () => r.int(0, Math.max(0, bytes.length - 1));
    const header = () =>
      stream.starts.length > 0
        ? Math.min(r.pick(stream.starts) + r.int(0, 1), bytes.length - 1)
        : at();
    switch (r.int(0, 9)) {
      case 0: // flip a bit anywhere
        if (bytes.length) bytes[at()] ^= 1 << r.int(0, 7);
        break;
      case 1: // flip a bit of a frame header (FIN, RSV, opcode, MASK, length)
      case 2:
        if (bytes.length) bytes[header()] ^= 1 << r.int(0, 7);
        break;
      case 3: // set a byte
        if (bytes.length) bytes[at()] = r.int(0, 255);
        break;
      case 4: // truncate
        bytes = bytes.slice(0, at());
        break;
      case 5: { // duplicate a range
        const from = at();
        const to = Math.min(bytes.length, from + r.int(1, 64));
        bytes = concatBytes([
          bytes.subarray(0, to),
          bytes.subarray(from, to),
          bytes.subarray(to),
        ]);
        break;
      }
      case 6: { // delete a range
        const from = at();
        bytes = concatBytes([
          bytes.subarray(0, from),
          bytes.subarray(Math.min(bytes.length, from + r.int(1, 16))),
        ]);
        break;
      }
      case 7: { // insert random bytes
        const pos = r.int(0, bytes.length);
        bytes = concatBytes([
          bytes.subarray(0, pos),
          r.bytes(r.int(1, 16)),
          bytes.subarray(pos),
        ]);
        break;
      }
      case 8: { // a random length: 7-bit, 16-bit or 64-bit, often huge
        if (stream.starts.length === 0 || bytes.length < 2) break;
        const start = Math.min(r.pick(stream.starts), bytes.length - 2);
        const len7 = r.pick([r.int(0, 125), 126, 127]);
        const extra = len7 === 126
          ? r.bytes(2)
          : len7 === 127
          ? r.chance(0.5)
            ? r.bytes(8)
            : new Uint8Array([0, 0, 0, 0, 0, ...r.bytes(3)])
          : new Uint8Array(0);
        bytes = concatBytes([
          bytes.subarray(0, start + 1),
          new Uint8Array([(bytes[start + 1] & 0x80) | len7]),
          extra,
          bytes.subarray(start + 2),
        ]);
        break;
      }
      default: { // splice in random noise of random length at a frame start
        const pos = stream.starts.length ? r.pick(stream.starts) : 0;
        bytes = concatBytes([
          bytes.subarray(0, Math.min(pos, bytes.length)),
          r.bytes(r.int(1, 40)),
          bytes.subarray(Math.min(pos, bytes.length)),
        ]);
      }
    }
  }
  return bytes;
}

/** Random chunks covering the bytes (sometimes one byte each). */
export function randomSplits(r: Rand, bytes: Uint8Array): Uint8Array[] {
  if (bytes.length > 1 && bytes.length < 200 && r.chance(0.1)) {
    return chop(bytes, 1);
  }
  const cuts = new Set<number>();
  const count = r.int(0, Math.min(12, bytes.length));
  for (let i = 0; i < count; i++) {
    cuts.add(r.int(1, Math.max(1, bytes.length - 1)));
  }
  const sorted = [...cuts].filter((c) => c > 0 && c < bytes.length).sort((
    a,
    b,
  ) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...sorted, bytes.length]) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  return chunks;
}

/** A fuzz input: a stream that is valid or mutated. */
function fuzzInput(r: Rand, masked: boolean): Uint8Array {
  const stream = randomStream(r, masked);
  if (r.chance(0.08)) return r.bytes(r.int(0, 64)); // pure noise
  return r.chance(0.25) ? stream.bytes : mutate(r, stream);
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

// ---- Decoder ---------------------------------------------------------------

/** FrameDecoder against the reference reader, at every chunk. */
export function fuzzDecoder(seed: number): FuzzFailure | undefined {
  const r = new Rand(seed);
  const role = r.pick(["client", "server"] as const);
  const maxFrameSize = r.pick([0, 20, 125, 1000, 65536, 64 * 1024 * 1024]);
  const input = fuzzInput(r, role === "server");
  const fail = (message: string): FuzzFailure => ({
    target: "decoder",
    seed,
    message,
    input,
  });
  const decoder = new FrameDecoder({
    role,
    maxFrameSize,
    ownsInput: r.chance(0.5),
  });
  const frames: {
    fin: boolean;
    rsv: number;
    opcode: number;
    payload: Uint8Array;
  }[] = [];
  let pushed = 0;
  for (const chunk of randomSplits(r, input)) {
    decoder.push(chunk.slice());
    pushed += chunk.length;
    let thrown: unknown;
    try {
      for (let frame = decoder.next(); frame; frame = decoder.next()) {
        frames.push({
          fin: frame.fin,
          rsv: (frame.rsv1 ? 4 : 0) | (frame.rsv2 ? 2 : 0) |
            (frame.rsv3 ? 1 : 0),
          opcode: frame.opcode,
          payload: frame.payload.slice(),
        });
      }
    } catch (error) {
      thrown = error;
    }
    if (thrown !== undefined && !(thrown instanceof ProtocolError)) {
      return fail(`next() threw a non-ProtocolError: ${describe(thrown)}`);
    }
    const reader = new WireReader({
      expectMasked: role === "server",
      maxPayload: maxFrameSize,
    });
    reader.push(input.subarray(0, pushed));
    const expected = [];
    for (let f = reader.next(); f; f = reader.next()) expected.push(f);
    if (frames.length !== expected.length) {
      return fail(
        `after ${pushed} bytes: ${frames.length} frames, reference has ${expected.length}`,
      );
    }
    for (let i = 0; i < frames.length; i++) {
      const [a, b] = [frames[i], expected[i]];
      if (
        a.fin !== b.fin || a.rsv !== b.rsv || a.opcode !== b.opcode ||
        !sameBytes(a.payload, b.payload)
      ) {
        return fail(`frame ${i} differs from the reference`);
      }
    }
    if (thrown instanceof ProtocolError) {
      if (!reader.fault) {
        return fail(`threw ${thrown.code} where the reference sees no fault`);
      }
      if (thrown.closeCode !== reader.fault.code) {
        return fail(
          `threw ${thrown.code} (${thrown.closeCode}), reference says ${reader.fault.code}: ${reader.fault.why}`,
        );
      }
      return undefined;
    }
    if (reader.fault) {
      return fail(`no error where the reference faults: ${reader.fault.why}`);
    }
    if (decoder.bufferedBytes > Math.max(maxFrameSize, 0) + MAX_HEADER_SIZE) {
      return fail(
        `buffers ${decoder.bufferedBytes} bytes, over maxFrameSize + a header`,
      );
    }
  }
  return undefined;
}

// ---- Machine ---------------------------------------------------------------

function sameEvent(a: ProtocolEvent, b: RefEvent): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "close" && b.type === "close") {
    return a.code === b.code && a.reason === b.reason;
  }
  const x = (a as { data: string | Uint8Array }).data;
  const y = (b as { data: string | Uint8Array }).data;
  if (typeof x === "string" || typeof y === "string") return x === y;
  return sameBytes(x, y);
}

/** WebSocketProtocol against the reference endpoint, at every chunk. */
export function fuzzMachine(
  seed: number,
  stats?: Record<string, number>,
): FuzzFailure | undefined {
  const r = new Rand(seed);
  const role = r.pick(["client", "server"] as const);
  const maxMessageSize = r.pick([130, 1000, 70000, 64 * 1024 * 1024]);
  const autoCloseEcho = r.chance(0.5);
  const input = fuzzInput(r, role === "server");
  const fail = (message: string): FuzzFailure => ({
    target: "machine",
    seed,
    message,
    input,
  });
  const machine = new WebSocketProtocol({
    role,
    maxMessageSize,
    ownsInput: r.chance(0.5),
    autoCloseEcho,
  });
  const events: ProtocolEvent[] = [];
  const outgoing = new WireReader({ expectMasked: role === "client" });
  let pushed = 0;
  let ref: RefOutcome = { events: [], replies: [], closeReceived: false };
  // Both size checks are correct (see ReferenceOptions.earlySizeCheck):
  // the machine must follow one of them all along.
  let models = [false, true];
  for (const chunk of randomSplits(r, input)) {
    try {
      machine.receive(chunk.slice());
    } catch (error) {
      return fail(`receive() threw: ${describe(error)}`);
    }
    pushed += chunk.length;
    events.push(...machine.takeEvents());
    for (const bytes of machine.takeOutgoing()) outgoing.push(bytes);
    const prefix = input.subarray(0, pushed);
    const late = referenceReceive(prefix, { role, maxMessageSize });
    const matches = (candidate: RefOutcome) =>
      events.length === candidate.events.length &&
      events.every((e, j) => sameEvent(e, candidate.events[j])) &&
      machine.error?.closeCode === candidate.failCode;
    const consistent = models.filter((earlySizeCheck) =>
      matches(
        earlySizeCheck
          ? referenceReceive(prefix, { role, maxMessageSize, earlySizeCheck })
          : late,
      )
    );
    if (consistent.length === 0) {
      if (
        events.length !== late.events.length ||
        !events.every((e, i) => sameEvent(e, late.events[i]))
      ) {
        return fail(
          `after ${pushed} bytes: events differ from the reference (${events.length} vs ${late.events.length})`,
        );
      }
      return fail(
        machine.error
          ? `failed with ${machine.error.code} (${machine.error.closeCode}) where the reference ${
            late.failCode
              ? `fails with ${late.failCode} (${late.why})`
              : "does not"
          }`
          : `did not fail where the reference fails with ${late.failCode} (${late.why})`,
      );
    }
    models = consistent;
    ref = models[0]
      ? referenceReceive(prefix, { role, maxMessageSize, earlySizeCheck: true })
      : late;
    const error = machine.error;
    if (ref.failCode !== undefined) {
      if (!error) {
        return fail(
          `did not fail where the reference fails with ${ref.failCode} (${ref.why})`,
        );
      }
      if (error.closeCode !== ref.failCode) {
        return fail(
          `failed with ${error.code} (${error.closeCode}), reference ${ref.failCode} (${ref.why})`,
        );
      }
      if (![1002, 1007, 1009].includes(error.closeCode)) {
        return fail(`failed with close code ${error.closeCode}`);
      }
      // Without autoCloseEcho, the failure's close frame waits for close().
      if (machine.state !== (autoCloseEcho ? "closed" : "closing")) {
        return fail(`state ${machine.state} after failing`);
      }
      break;
    }
    if (error) {
      return fail(`failed with ${error.code} where the reference does not`);
    }
    const wanted = ref.closeReceived
      ? (autoCloseEcho ? "closed" : "closing")
      : "open";
    if (machine.state !== wanted) {
      return fail(`state ${machine.state}, expected ${wanted}`);
    }
    for (const event of events) {
      if (event.type === "message" && event.data.length > maxMessageSize) {
        return fail(`delivered a message over maxMessageSize`);
      }
    }
    if (ref.closeReceived) break;
  }
  if (stats) {
    const outcome = ref.failCode !== undefined
      ? `fail ${ref.failCode}`
      : ref.closeReceived
      ? "peer close"
      : "open";
    stats[outcome] = (stats[outcome] ?? 0) + 1;
    const messages = ref.events.filter((e) => e.type === "message").length;
    stats.messages = (stats.messages ?? 0) + messages;
  }
  // What the machine wrote: a pong per ping, then the close it owes.
  let replies = ref.replies;
  if (ref.failCode !== undefined) {
    if (autoCloseEcho) {
      replies = [...replies, { type: "close", code: ref.failCode }];
    }
  } else if (ref.closeReceived && !autoCloseEcho) {
    replies = replies.filter((reply) => reply.type !== "close");
  }
  const written = [];
  for (let f = outgoing.next(); f; f = outgoing.next()) written.push(f);
  if (outgoing.fault || outgoing.buffered > 0) {
    return fail(`wrote a bad or partial frame`);
  }
  if (written.length !== replies.length) {
    return fail(`wrote ${written.length} frames, reference ${replies.length}`);
  }
  for (let i = 0; i < written.length; i++) {
    const [w, want] = [written[i], replies[i]];
    if (want.type === "pong") {
      if (w.opcode !== OP.pong || !sameBytes(w.payload, want.data)) {
        return fail(`frame ${i} is not the pong owed`);
      }
    } else {
      const code = w.payload.length >= 2
        ? w.payload[0] << 8 | w.payload[1]
        : 1005;
      if (w.opcode !== OP.close || code !== want.code) {
        return fail(`frame ${i} is not a close with ${want.code}`);
      }
      if (want.reason && !sameBytes(w.payload.subarray(2), want.reason)) {
        return fail(`the close echo does not carry the peer's reason`);
      }
    }
  }
  // Once failed or closed, more input changes nothing.
  if (machine.error || ref.closeReceived) {
    machine.receive(r.bytes(r.int(1, 64)));
    if (machine.takeEvents().length > 0 || machine.hasOutgoing) {
      return fail("reacted to input after the connection ended");
    }
  }
  // A failure held back for the application closes on close().
  if (machine.error && !autoCloseEcho) {
    machine.close();
    const closing = new WireReader({ expectMasked: role === "client" });
    for (const bytes of machine.takeOutgoing()) closing.push(bytes);
    const frame = closing.next();
    const code = frame && frame.payload.length >= 2
      ? frame.payload[0] << 8 | frame.payload[1]
      : undefined;
    if (
      !frame || frame.opcode !== OP.close ||
      code !== machine.error.closeCode || machine.state !== "closed"
    ) {
      return fail("close() did not send the failure's close frame");
    }
  }
  // A close held back for the application goes out on close().
  if (ref.closeReceived && !autoCloseEcho && !machine.error) {
    const peer = ref.events[ref.events.length - 1] as {
      code: number;
      reason: string;
    };
    machine.close();
    const echo = new WireReader({ expectMasked: role === "client" });
    for (const bytes of machine.takeOutgoing()) echo.push(bytes);
    const frame = echo.next();
    const code = frame && frame.payload.length >= 2
      ? frame.payload[0] << 8 | frame.payload[1]
      : 1005;
    if (
      !frame || frame.opcode !== OP.close || code !== peer.code ||
      machine.state !== "closed"
    ) {
      return fail("close() did not echo the peer's close");
    }
  }
  return undefined;
}

// ---- HTTP heads -------------------------------------------------------------

const KEY_CHARS =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function randomCase(r: Rand, text: string): string {
  return Array.from(
    text,
    (c) =>
      r.chance(0.3) ? (r.chance(0.5) ? c.toUpperCase() : c.toLowerCase()) : c,
  ).join("");
}

/** A valid upgrade request head (and its key), or a valid response head. */
export function randomHead(
  r: Rand,
  kind: "request" | "response",
): { bytes: Uint8Array; key: string } {
  let key = "";
  for (let i = 0; i < 21; i++) key += r.pick([...KEY_CHARS]);
  key += r.pick(["A", "Q", "g", "w"]) + "==";
  const lines: string[] = [];
  if (kind === "request") {
    lines.push(
      `GET /${r.pick(["", "chat", "a/b?c=d", "%20x"])} HTTP/1.${
        r.pick([1, 1, 1, 9])
      }`,
    );
    lines.push(
      `${randomCase(r, "Host")}: ${
        r.pick(["example.com", "127.0.0.1:8080", "[::1]:9", "a.b"])
      }`,
    );
    lines.push(
      `${randomCase(r, "Upgrade")}: ${
        r.pick(["websocket", "WebSocket", "h2c, websocket"])
      }`,
    );
    lines.push(
      `${randomCase(r, "Connection")}: ${
        r.pick(["Upgrade", "keep-alive, Upgrade", "upgrade"])
      }`,
    );
    lines.push(`${randomCase(r, "Sec-WebSocket-Key")}: ${key}`);
    lines.push(`${randomCase(r, "Sec-WebSocket-Version")}: 13`);
    if (r.chance(0.3)) {
      lines.push(`Sec-WebSocket-Protocol: ${r.pick(["chat", "a, b", "x.v1"])}`);
    }
    if (r.chance(0.3)) {
      lines.push(
        `Origin: ${r.pick(["http://example.com", "null", "https://a.b:1"])}`,
      );
    }
  } else {
    lines.push(
      `HTTP/1.1 ${
        r.pick([
          "101 Switching Protocols",
          "101",
          "400 Bad Request",
          "426 Upgrade Required",
        ])
      }`,
    );
    lines.push(`${randomCase(r, "Upgrade")}: websocket`);
    lines.push(`${randomCase(r, "Connection")}: Upgrade`);
    lines.push(`Sec-WebSocket-Accept: ${key.slice(0, 27)}=`);
  }
  const extras = r.int(0, 4);
  for (let i = 0; i < extras; i++) {
    lines.push(
      `X-${r.int(0, 999)}:${r.pick(["", " ", "\t"])}${
        r.pick(["v", "a b", "\u00e9", "x".repeat(r.int(0, 300))])
      }`,
    );
  }
  let text = lines.join("\r\n") + "\r\n\r\n";
  if (r.chance(0.3)) text += "\x81\x05hello";
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return { bytes, key };
}

function mutateHead(r: Rand, bytes: Uint8Array): Uint8Array {
  const interesting = [0, 9, 10, 13, 32, 58, 0x7f, 0x80, 0xff];
  let out: Uint8Array = bytes.slice();
  const count = r.int(1, 4);
  for (let k = 0; k < count; k++) {
    const at = r.int(0, Math.max(0, out.length - 1));
    switch (r.int(0, 6)) {
      case 0:
        if (out.length) out[at] = r.pick(interesting);
        break;
      case 1:
        if (out.length) out[at] ^= 1 << r.int(0, 7);
        break;
      case 2:
        out = out.slice(0, at);
        break;
      case 3:
        out = concatBytes([
          out.subarray(0, at),
          out.subarray(Math.min(out.length, at + r.int(1, 20))),
        ]);
        break;
      case 4:
        out = concatBytes([
          out.subarray(0, at),
          toBytes(r.pick(["\r\n", "\r\n\r\n", "\n", ":", " ", "\r"])),
          out.subarray(at),
        ]);
        break;
      case 5: {
        const to = Math.min(out.length, at + r.int(1, 200));
        out = concatBytes([
          out.subarray(0, to),
          out.subarray(at, to),
          out.subarray(to),
        ]);
        break;
      }
      default:
        out = concatBytes([
          out.subarray(0, at),
          r.bytes(r.int(1, 30)),
          out.subarray(at),
        ]);
    }
  }
  return out;
}

function firstBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** HeadReader and the head parsers and checks, on mutated heads. */
export function fuzzHead(
  seed: number,
  stats?: Record<string, number>,
): FuzzFailure | undefined {
  const r = new Rand(seed);
  const kind = r.pick(["request", "response"] as const);
  const { bytes: valid, key } = randomHead(r, kind);
  const mutated = r.chance(0.7);
  const input = mutated ? mutateHead(r, valid) : valid;
  const maxSize = r.pick([16, 64, 200, 1024, 16384]);
  const fail = (message: string): FuzzFailure => ({
    target: "head",
    seed,
    message,
    input,
  });
  const reader = new HeadReader(maxSize);
  const blank = firstBlankLine(input);
  let pushed = 0;
  let result: { head: Uint8Array; rest: Uint8Array } | undefined;
  for (const chunk of randomSplits(r, input)) {
    pushed += chunk.length;
    let thrown: unknown;
    try {
      result = reader.push(chunk);
    } catch (error) {
      thrown = error;
    }
    const complete = blank >= 0 && blank + 4 <= pushed;
    if (thrown !== undefined) {
      if (
        !(thrown instanceof HandshakeError) ||
        thrown.code !== "HEADERS_TOO_LARGE" || thrown.status !== 431
      ) {
        return fail(`push() threw ${describe(thrown)}`);
      }
      if (complete && blank <= maxSize) {
        return fail(
          `refused a head of ${blank} bytes under the limit ${maxSize}`,
        );
      }
      if (pushed < maxSize + 4) {
        return fail(
          `refused after ${pushed} bytes, before the limit ${maxSize} could be passed`,
        );
      }
      return undefined;
    }
    if (result) {
      if (!complete || blank > maxSize) {
        return fail(`returned a head the reference does not find`);
      }
      if (!sameBytes(result.head, input.subarray(0, blank + 4))) {
        return fail(`returned the wrong head`);
      }
      if (!sameBytes(result.rest, input.subarray(blank + 4, pushed))) {
        return fail(`returned the wrong rest`);
      }
      break;
    }
    if (complete && blank <= maxSize) {
      return fail(`missed a complete head of ${blank} bytes`);
    }
    if (pushed >= maxSize + 4) return fail(`kept reading past the limit`);
    if (reader.bufferedBytes > maxSize + 4) {
      return fail(`buffers ${reader.bufferedBytes} bytes`);
    }
  }
  const count = (what: string) => {
    if (stats) stats[what] = (stats[what] ?? 0) + 1;
  };
  if (!result) {
    count("no head");
    return undefined;
  }
  try {
    if (kind === "response") {
      parseResponseHead(result.head);
      count("response");
      return undefined;
    }
    const request = parseRequestHead(result.head);
    const info = validateUpgradeRequest(request);
    if (!mutated && info.key !== key) return fail(`validated the wrong key`);
    count("valid upgrade");
  } catch (error) {
    if (!(error instanceof HandshakeError)) {
      return fail(`threw ${describe(error)}`);
    }
    count(error.code);
    if (![400, 405].includes(error.status)) {
      return fail(`answered status ${error.status}`);
    }
    const version = /HTTP\/1\.(\d)/.exec(new TextDecoder().decode(valid))?.[1];
    if (!mutated && kind === "request" && version === "1") {
      return fail(`refused a valid request: ${error.code} ${error.message}`);
    }
  }
  return undefined;
}

// ---- Live server ------------------------------------------------------------

function timeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<"timeout">((resolve) =>
      timer = setTimeout(() => resolve("timeout"), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}

async function readAll(
  socket: Deno.Conn,
  ms: number,
): Promise<Uint8Array | "timeout"> {
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    const buffer = new Uint8Array(65536);
    while (true) {
      let n: number | null;
      try {
        n = await socket.read(buffer);
      } catch {
        n = null; // a reset is an end too
      }
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    return concatBytes(chunks);
  })();
  const result = await timeout(reading, ms);
  if (result === "timeout") {
    socket.close();
    await reading;
  }
  return result;
}

/** The largest message the live fuzz server accepts. */
export const LIVE_MAX_MESSAGE = 4096;
const LIVE_BOUND_MS = 5000;

/**
 * A serve() echo server for the live fuzz, with a well-behaved client that
 * must keep getting its echoes while garbage flows on other connections.
 */
export class LiveFuzzer implements AsyncDisposable {
  readonly server: WebSocketServer;
  readonly errors: unknown[] = [];
  #good: Conn | undefined;
  #goodReader: ReadableStreamDefaultReader<string | Uint8Array> | undefined;
  #round = 0;

  constructor() {
    this.server = serve({
      hostname: "127.0.0.1",
      port: 0,
      maxMessageSize: LIVE_MAX_MESSAGE,
      handshakeTimeout: 2000,
      closeTimeout: 2000,
      onListen: () => {},
      onError: (error) => this.errors.push(error),
    }, async (conn) => {
      for await (const message of conn) await conn.send(message);
    });
  }

  get port(): number {
    return this.server.addr.port;
  }

  /** Opens the well-behaved client. */
  async start(): Promise<void> {
    this.#good = await dial(`ws://127.0.0.1:${this.port}/good`);
    this.#goodReader = this.#good.readable.getReader();
  }

  /** One round trip of the well-behaved client; a message when it fails. */
  async checkGood(): Promise<string | undefined> {
    const message = `round ${++this.#round}`;
    const trip = (async () => {
      await this.#good!.send(message);
      return await this.#goodReader!.read();
    })();
    const result = await timeout(trip, LIVE_BOUND_MS);
    if (result === "timeout") {
      return "the well-behaved client got no echo in time";
    }
    if (result.value !== message) {
      return `the well-behaved client got ${String(result.value)}`;
    }
    return undefined;
  }

  /** Garbage (a mutated upgrade request), then FIN: an HTTP answer and a close. */
  async garbageHandshake(seed: number): Promise<FuzzFailure | undefined> {
    const r = new Rand(seed);
    const { bytes } = randomHead(r, "request");
    const input = r.chance(0.1) ? r.bytes(r.int(0, 300)) : mutateHead(r, bytes);
    const fail = (message: string): FuzzFailure => ({
      target: "live",
      seed,
      message,
      input,
    });
    const socket = await Deno.connect({
      hostname: "127.0.0.1",
      port: this.port,
    });
    try {
      for (const chunk of randomSplits(r, input)) {
        await writeFully(socket, chunk);
      }
      await socket.closeWrite();
    } catch {
      // The server may answer and close before reading it all.
    }
    const answer = await readAll(socket, LIVE_BOUND_MS);
    try {
      socket.close();
    } catch {
      // Closed on timeout.
    }
    if (answer === "timeout") {
      return fail("the server neither answered nor closed in time");
    }
    let line = "";
    for (let i = 0; i < answer.length && answer[i] !== 13; i++) {
      line += String.fromCharCode(answer[i]);
    }
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(line)?.[1];
    if (!status) {
      return fail(`the server answered ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (!["101", "400", "403", "405", "426", "431"].includes(status)) {
      return fail(`the server answered status ${status}`);
    }
    return undefined;
  }

  /** A valid handshake, then a mutated frame stream, then FIN. */
  async garbageFrames(seed: number): Promise<FuzzFailure | undefined> {
    const r = new Rand(seed);
    const input = fuzzInput(r, true);
    const fail = (message: string): FuzzFailure => ({
      target: "live",
      seed,
      message,
      input,
    });
    const socket = await Deno.connect({
      hostname: "127.0.0.1",
      port: this.port,
    });
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    let answer: Uint8Array | "timeout";
    try {
      await writeFully(
        socket,
        toBytes(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
      const head = await readHttpHead(socket);
      if (!head?.head.startsWith("HTTP/1.1 101 ")) {
        return fail("the upgrade was refused");
      }
      if (!head.head.includes(await acceptFor(key))) {
        return fail("wrong accept");
      }
      try {
        for (const chunk of randomSplits(r, input)) {
          await writeFully(socket, chunk);
        }
        await socket.closeWrite();
      } catch {
        // The server may fail the connection before reading it all.
      }
      const tail = await readAll(socket, LIVE_BOUND_MS);
      answer = tail === "timeout" ? tail : concatBytes([head.rest, tail]);
    } finally {
      try {
        socket.close();
      } catch {
        // Closed on timeout.
      }
    }
    if (answer === "timeout") return fail("the connection did not end in time");
    // Either size check is correct (see ReferenceOptions.earlySizeCheck).
    const refs = [false, true].map((earlySizeCheck) =>
      referenceReceive(input, {
        role: "server",
        maxMessageSize: LIVE_MAX_MESSAGE,
        earlySizeCheck,
      })
    );
    const reader = new WireReader({ expectMasked: false });
    reader.push(answer);
    const frames = [];
    for (let f = reader.next(); f; f = reader.next()) frames.push(f);
    if (reader.fault || reader.buffered > 0) {
      return fail("the server sent a bad or partial frame");
    }
    const closeAt = frames.findIndex((f) => f.opcode === OP.close);
    if (closeAt >= 0 && closeAt !== frames.length - 1) {
      return fail("the server sent frames after its close frame");
    }
    const close = closeAt >= 0 ? frames[closeAt] : undefined;
    const code = close
      ? (close.payload.length >= 2
        ? close.payload[0] << 8 | close.payload[1]
        : 1005)
      : undefined;
    const owed = (ref: RefOutcome) =>
      ref.failCode ??
        (ref.closeReceived
          ? (ref.events[ref.events.length - 1] as { code: number }).code
          : undefined);
    const ref = refs.find((candidate) => owed(candidate) === code);
    if (!ref) {
      return fail(
        `the server closed with ${
          code ?? "no close frame"
        }, the reference owes ${owed(refs[0]) ?? "none"} (${
          refs[0].why ?? "no fault"
        })`,
      );
    }
    // Echoes and pongs: each in order, a prefix of what the reference saw.
    const messages = ref.events.filter((e) => e.type === "message");
    const pings = ref.events.filter((e) => e.type === "ping");
    let m = 0, p = 0;
    for (const f of frames) {
      if (f.opcode === OP.pong) {
        const want = pings[p++];
        if (!want || !sameBytes(f.payload, want.data)) {
          return fail("a pong that answers no ping");
        }
      } else if (f.opcode === OP.text || f.opcode === OP.binary) {
        const want = messages[m++];
        const data = want &&
          (typeof want.data === "string" ? toBytes(want.data) : want.data);
        if (
          !data || !sameBytes(f.payload, data) ||
          (f.opcode === OP.text) !== (typeof want.data === "string")
        ) {
          return fail(
            `an echo that is not the next message: ${toHex(f.payload, 16)}`,
          );
        }
      }
    }
    return undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#good?.close();
    } finally {
      this.#goodReader?.releaseLock();
      await this.server.shutdown();
    }
  }
}

/** One live seed: every third a garbage handshake, else garbage frames. */
export function liveOne(
  fuzzer: LiveFuzzer,
  seed: number,
): Promise<FuzzFailure | undefined> {
  return seed % 3 === 0
    ? fuzzer.garbageHandshake(seed)
    : fuzzer.garbageFrames(seed);
}

/** Runs one seed of an in-process target. */
export function fuzzOne(
  target: "decoder" | "machine" | "head",
  seed: number,
  stats?: Record<string, number>,
): FuzzFailure | undefined {
  try {
    return target === "decoder"
      ? fuzzDecoder(seed)
      : target === "machine"
      ? fuzzMachine(seed, stats)
      : fuzzHead(seed, stats);
  } catch (error) {
    return {
      target,
      seed,
      message: `the fuzzer itself threw: ${describe(error)}`,
    };
  }
}

/** What a worker run found. */
export interface WorkerRun {
  failures: FuzzFailure[];
  stats: Record<string, number>;
}

/**
 * Runs `count` seeds of an in-process target from `from` in a worker. A
 * seed that runs longer than `boundMs` is a failure: the worker is stopped
 * and the seed reported.
 */
export function runInWorker(
  target: "decoder" | "machine" | "head",
  from: number,
  count: number,
  boundMs = 10_000,
): Promise<WorkerRun> {
  const worker = new Worker(new URL("./fuzz_worker.ts", import.meta.url), {
    type: "module",
  });
  const failures: FuzzFailure[] = [];
  let current = from;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<WorkerRun>((resolve) => {
    const finish = (stats: Record<string, number>) => {
      clearTimeout(timer);
      worker.terminate();
      resolve({ failures, stats });
    };
    const watch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        failures.push({
          target,
          seed: current,
          message: `did not finish within ${boundMs} ms`,
        });
        finish({});
      }, boundMs);
    };
    worker.onmessage = ({ data }: MessageEvent<FuzzReport>) => {
      if (data.type === "seed") {
        current = data.seed;
        watch();
      } else if (data.type === "failure") {
        failures.push(data.failure);
      } else {
        finish(data.stats);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      failures.push({
        target,
        seed: current,
        message: `the worker failed: ${event.message}`,
      });
      finish({});
    };
    watch();
    worker.postMessage({ target, from, count } satisfies FuzzJob);
  });
}

/** A failure as text, with the command that reproduces it. */
export function formatFailure(failure: FuzzFailure): string {
  const lines = [
    `FAIL ${failure.target} seed ${failure.seed}: ${failure.message}`,
    `  reproduce: deno run -A tools/fuzz.ts --target ${failure.target} --seed ${failure.seed} --runs 1`,
  ];
  if (failure.input) {
    lines.push(
      `  input (${failure.input.length} bytes): ${toHex(failure.input, 256)}`,
    );
  }
  return lines.join("\n");
}
