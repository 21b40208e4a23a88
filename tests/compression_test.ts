// permessage-deflate (RFC 7692) over real sockets: dial() with serve() in
// every negotiated mode, with the bytes on the wire read back frame by frame
// and inflated by node:zlib on its own; raw peers that fragment, corrupt,
// bomb or misuse RSV1; the negotiation as both ends see it.

import assert from "node:assert/strict";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { dial, type DialOptions } from "../client.ts";
import type { Conn, Message, Transport } from "../conn.ts";
import {
  ConnectionClosedError,
  DialError,
  HandshakeError,
  ProtocolError,
} from "../errors.ts";
import { encodeFrame, type Frame, FrameDecoder, Opcode } from "../frame.ts";
import { parseResponseHead, type ResponseHead } from "../handshake.ts";
import {
  PerMessageDeflate,
  type PerMessageDeflateOptions,
} from "../extensions/permessage_deflate.ts";
import {
  type Handler,
  serve,
  type ServeOptions,
  type WebSocketServer,
} from "../server.ts";
import {
  closePayload,
  decoder,
  encoder,
  head,
  httpExchange,
  parseClose,
  type RawServer,
  rawServer,
  readHead,
  readRequest,
  readToEnd,
  switchingProtocols,
  upgradeLines,
  writeAll,
} from "./_peers.ts";
import { concat, listenLoopback, mulberry32, randomBytes } from "./_util.ts";

const MiB = 1024 * 1024;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

// ---------------------------------------------------------------------------
// Data.

const WORDS = ("the of and to in is you that it he was for on are as with " +
  "his they at be this have from or one had by word but not what all were " +
  "we when your can said there use an each which she do how their if will " +
  "up other about out many then them these so some her would make like him")
  .split(" ");

/** Chat-like JSON lines, seeded: compressible the way real traffic is. */
function json(length: number, seed: number): string {
  const next = mulberry32(seed);
  const pick = () => WORDS[Math.floor(next() * WORDS.length)];
  let out = "";
  while (out.length < length) {
    out += JSON.stringify({
      id: Math.floor(next() * 1e9),
      room: `room-${Math.floor(next() * 20)}`,
      user: pick() + Math.floor(next() * 100),
      at: 1_700_000_000_000 + Math.floor(next() * 1e9),
      text: Array.from({ length: 3 + Math.floor(next() * 12) }, pick)
        .join(" "),
    }) + "\n";
  }
  return out.slice(0, length);
}

/**
 * A block of noise repeated `copies` times: it compresses to about one block
 * if and only if the compressor's window reaches back `block` bytes.
 */
function probe(block: number, seed: number, copies = 4): Uint8Array {
  const noise = randomBytes(block, seed);
  return concat(...Array.from({ length: copies }, () => noise));
}

function bytesOf(message: Message): Uint8Array {
  return typeof message === "string" ? encoder.encode(message) : message;
}

function endsWithTail(payload: Uint8Array): boolean {
  const n = payload.length;
  return n >= 4 && payload[n - 4] === 0 && payload[n - 3] === 0 &&
    payload[n - 2] === 0xff && payload[n - 1] === 0xff;
}

// ---------------------------------------------------------------------------
// An independent deflate: node:zlib's one-shot functions.

/** Compresses one message as a fresh raw deflate stream, tail stripped. */
function deflate(data: Uint8Array | string, windowBits = 15): Uint8Array {
  const out = deflateRawSync(
    typeof data === "string" ? encoder.encode(data) : data,
    { windowBits, finishFlush: constants.Z_SYNC_FLUSH },
  );
  assert.ok(endsWithTail(out));
  return new Uint8Array(out.subarray(0, out.length - 4));
}

/**
 * Inflates compressed message payloads as one raw deflate stream (context
 * takeover), appending 00 00 ff ff to each.
 */
function inflate(payloads: Uint8Array[], windowBits = 15): Uint8Array {
  const stream = concat(...payloads.flatMap((payload) => [payload, TAIL]));
  return new Uint8Array(inflateRawSync(stream, {
    windowBits: Math.max(windowBits, 9),
    finishFlush: constants.Z_SYNC_FLUSH,
  }));
}

// ---------------------------------------------------------------------------
// The wire.

/** One message as it crossed the wire. */
interface WireMessage {
  opcode: number;
  rsv1: boolean;
  frames: Frame[];
  /** The payloads of its frames, joined (compressed if rsv1). */
  payload: Uint8Array;
}

/**
 * Reads the frames after the HTTP head of one direction of a connection.
 * `role` is the reading end's: a server expects masked frames.
 */
function readWire(
  bytes: Uint8Array,
  role: "client" | "server",
): { messages: WireMessage[]; controls: Frame[] } {
  let start = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) {
      start = i + 4;
      break;
    }
  }
  assert.ok(start > 0, "no HTTP head on the wire");
  const frames = new FrameDecoder({ role, allowedRsv: 0x40 });
  frames.push(bytes.slice(start));
  const messages: WireMessage[] = [];
  const controls: Frame[] = [];
  let current: Frame[] = [];
  for (let frame = frames.next(); frame; frame = frames.next()) {
    if (frame.opcode >= Opcode.Close) {
      controls.push(frame);
      continue;
    }
    current.push(frame);
    if (frame.fin) {
      messages.push({
        opcode: current[0].opcode,
        rsv1: current[0].rsv1,
        frames: current,
        payload: concat(...current.map((f) => f.payload)),
      });
      current = [];
    }
  }
  assert.equal(current.length, 0, "a message was left unfinished");
  return { messages, controls };
}

/** Copies one direction of a proxied connection, keeping every byte. */
async function pipe(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  record: Uint8Array[],
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      record.push(chunk);
      await writeAll(to, chunk);
    }
    await to.closeWrite();
  } catch {
    // A reset ends this direction; the test's own checks say whether it
    // should have happened.
  }
}

/**
 * A TCP proxy on a free loopback port for one connection to `port`: it
 * passes the bytes on untouched (FIN included) and records them.
 */
function wiretap(port: number): {
  port: number;
  /** The bytes each way, once both directions ended. */
  done: Promise<{ up: Uint8Array; down: Uint8Array }>;
  close(): void;
} {
  const listener = listenLoopback();
  const sockets: Deno.TcpConn[] = [];
  let listening = true;
  const closeAll = () => {
    if (listening) listener.close();
    listening = false;
    for (const socket of sockets.splice(0)) {
      try {
        socket.close();
      } catch {
        // Already closed.
      }
    }
  };
  const done = (async () => {
    try {
      const inbound = await listener.accept();
      sockets.push(inbound);
      listener.close();
      listening = false;
      const outbound = await Deno.connect({ hostname: "127.0.0.1", port });
      sockets.push(outbound);
      const up: Uint8Array[] = [];
      const down: Uint8Array[] = [];
      await Promise.all([
        pipe(inbound, outbound, up),
        pipe(outbound, inbound, down),
      ]);
      return { up: concat(...up), down: concat(...down) };
    } finally {
      closeAll();
    }
  })();
  done.catch(() => {});
  return { port: listener.addr.port, done, close: closeAll };
}

/** Echoes every message; text starting with "plain:" goes back uncompressed. */
async function echo(conn: Conn): Promise<void> {
  for await (const message of conn) {
    const plain = typeof message === "string" && message.startsWith("plain:");
    await conn.send(message, plain ? { compress: false } : undefined);
  }
}

/**
 * Runs one dial() to one serve() through a wiretap: the server echoes,
 * `run` talks as the client, then the client closes. Returns both
 * connections and the bytes each way.
 */
async function tapped(
  serverOptions: ServeOptions,
  clientOptions: DialOptions,
  run: (client: Conn, server: Conn) => Promise<void>,
): Promise<{ client: Conn; server: Conn; up: Uint8Array; down: Uint8Array }> {
  const accepted = Promise.withResolvers<Conn>();
  const errors: unknown[] = [];
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    onError: (error) => errors.push(error),
    pingInterval: 0,
    ...serverOptions,
  }, (conn) => {
    accepted.resolve(conn);
    return echo(conn);
  });
  const tap = wiretap(server.addr.port);
  let client: Conn | undefined;
  try {
    client = await dial(`ws://127.0.0.1:${tap.port}/chat`, {
      pingInterval: 0,
      ...clientOptions,
    });
    const conn = await accepted.promise;
    await run(client, conn);
    assert.deepEqual(await client.close(), {
      code: 1000,
      reason: "",
      wasClean: true,
    });
    assert.equal((await conn.closed).wasClean, true);
    const { up, down } = await tap.done;
    return { client, server: conn, up, down };
  } finally {
    client?.abort();
    tap.close();
    await server.shutdown();
    assert.deepEqual(errors, []);
  }
}

/** Sends each message and expects it echoed intact. */
async function exchange(
  conn: Conn,
  messages: { data: Message; plain?: boolean }[],
): Promise<void> {
  const reader = conn.readable.getReader();
  try {
    for (const [i, { data, plain }] of messages.entries()) {
      await conn.send(data, plain ? { compress: false } : undefined);
      const { value } = await reader.read();
      assert.deepEqual(value, data, `message ${i}`);
    }
  } finally {
    reader.releaseLock();
  }
}

// ---------------------------------------------------------------------------
// Raw peers that speak permessage-deflate by hand.

/** Reads frames, RSV1 allowed, from a socket. */
class WireReader {
  readonly #socket: Transport;
  readonly #decoder: FrameDecoder;
  #eof = false;

  constructor(socket: Transport, role: "client" | "server", rest: Uint8Array) {
    this.#socket = socket;
    this.#decoder = new FrameDecoder({ role, allowedRsv: 0x40 });
    this.#decoder.push(rest.slice());
  }

  async next(): Promise<Frame | null> {
    while (true) {
      const frame = this.#decoder.next();
      if (frame) return frame;
      if (this.#eof) return null;
      const buffer = new Uint8Array(64 * 1024);
      let n: number | null;
      try {
        n = await this.#socket.read(buffer);
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        n = null;
      }
      if (n === null) this.#eof = true;
      else this.#decoder.push(buffer.subarray(0, n));
    }
  }

  async expect(): Promise<Frame> {
    const frame = await this.next();
    if (frame === null) throw new Error("Expected a frame, got end of stream");
    return frame;
  }

  /** Reads frames up to a close frame; returns its code and reason. */
  async expectClose(): Promise<{ code: number; reason: string }> {
    while (true) {
      const frame = await this.expect();
      if (frame.opcode === Opcode.Close) return parseClose(frame.payload);
    }
  }
}

/** A raw client past its handshake, offering `extensions` if given. */
interface DeflateClient extends Disposable {
  socket: Deno.TcpConn;
  response: ResponseHead;
  frames: WireReader;
  /** Writes one frame, masked. */
  send(
    opcode: number,
    payload: Uint8Array | string,
    options?: { fin?: boolean; rsv1?: boolean },
  ): Promise<void>;
}

async function deflateClient(
  port: number,
  extensions?: string,
): Promise<DeflateClient> {
  const socket = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = upgradeLines(port);
    if (extensions !== undefined) {
      lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
    }
    await writeAll(socket, head(lines));
    const { head: bytes, rest } = await readHead(socket);
    const response = parseResponseHead(bytes);
    assert.equal(response.status, 101);
    return {
      socket,
      response,
      frames: new WireReader(socket, "client", rest),
      send: (opcode, payload, options = {}) =>
        writeAll(
          socket,
          encodeFrame({
            opcode,
            payload: typeof payload === "string"
              ? encoder.encode(payload)
              : payload,
            fin: options.fin ?? true,
            rsv1: options.rsv1 ?? false,
          }, { mask: true }),
        ),
      [Symbol.dispose]() {
        try {
          socket.close();
        } catch {
          // Already closed.
        }
      },
    };
  } catch (error) {
    socket.close();
    throw error;
  }
}

/**
 * rawServer(), whose script's failure surfaces where the test awaits
 * `done` even when the client side fails first.
 */
function scripted(
  script: (socket: Deno.TcpConn) => Promise<void>,
  count = 1,
): RawServer {
  const server = rawServer(script, count);
  server.done.catch(() => {});
  return server;
}

/** What a server handler saw of its connection. */
interface Seen {
  conn: Conn;
  messages: Message[];
  error: unknown;
}

/**
 * serve() on a free loopback port with an echoing handler that records
 * what it saw; `seen` settles with each connection's record once it ended.
 */
function start(
  options: ServeOptions = {},
  handler?: Handler,
): WebSocketServer & {
  url: string;
  errors: unknown[];
  seen: Promise<Seen>;
} {
  const errors: unknown[] = [];
  const seen = Promise.withResolvers<Seen>();
  const server = serve(
    {
      port: 0,
      hostname: "127.0.0.1",
      onListen() {},
      onError: (error) => errors.push(error),
      pingInterval: 0,
      ...options,
    },
    handler ?? (async (conn) => {
      const messages: Message[] = [];
      let error: unknown;
      try {
        for await (const message of conn) {
          messages.push(message);
          await conn.send(message);
        }
      } catch (caught) {
        error = caught;
      }
      await conn.closed;
      seen.resolve({ conn, messages, error });
    }),
  );
  return Object.assign(server, {
    url: `ws://127.0.0.1:${server.addr.port}/chat`,
    errors,
    seen: seen.promise,
  });
}

/** The code of the ProtocolError that failed a connection. */
function failure(error: unknown): string | undefined {
  assert.ok(error instanceof ConnectionClosedError, String(error));
  const cause = error.cause;
  return cause instanceof ProtocolError ? cause.code : undefined;
}

// ---------------------------------------------------------------------------
// dial() with serve() in every mode, checked on the wire.

/** How one direction compresses. */
interface Direction {
  takeover: boolean;
  bits: number;
  threshold: number;
}

interface Mode {
  name: string;
  server: true | PerMessageDeflateOptions;
  client: true | PerMessageDeflateOptions;
  offer: string;
  header: string;
  /** Client to server. */
  up: Direction;
  /** Server to client. */
  down: Direction;
}

const DEFAULT: Direction = { takeover: true, bits: 15, threshold: 1024 };
const OFFER = "permessage-deflate; client_max_window_bits";

const MODES: Mode[] = [
  {
    name: "default parameters",
    server: true,
    client: true,
    offer: OFFER,
    header: "permessage-deflate",
    up: DEFAULT,
    down: DEFAULT,
  },
  {
    name: "server_no_context_takeover asked by the client",
    server: true,
    client: { serverNoContextTakeover: true },
    offer: "permessage-deflate; server_no_context_takeover; " +
      "client_max_window_bits",
    header: "permessage-deflate; server_no_context_takeover",
    up: DEFAULT,
    down: { ...DEFAULT, takeover: false },
  },
  {
    name: "server_no_context_takeover set by the server",
    server: { serverNoContextTakeover: true },
    client: true,
    offer: OFFER,
    header: "permessage-deflate; server_no_context_takeover",
    up: DEFAULT,
    down: { ...DEFAULT, takeover: false },
  },
  {
    name: "client_no_context_takeover offered by the client",
    server: true,
    client: { clientNoContextTakeover: true },
    offer: "permessage-deflate; client_no_context_takeover; " +
      "client_max_window_bits",
    header: "permessage-deflate; client_no_context_takeover",
    up: { ...DEFAULT, takeover: false },
    down: DEFAULT,
  },
  {
    name: "client_no_context_takeover asked by the server",
    server: { clientNoContextTakeover: true },
    client: true,
    offer: OFFER,
    header: "permessage-deflate; client_no_context_takeover",
    up: { ...DEFAULT, takeover: false },
    down: DEFAULT,
  },
  {
    name: "no context takeover either way",
    server: true,
    client: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    offer: "permessage-deflate; server_no_context_takeover; " +
      "client_no_context_takeover; client_max_window_bits",
    header: "permessage-deflate; server_no_context_takeover; " +
      "client_no_context_takeover",
    up: { ...DEFAULT, takeover: false },
    down: { ...DEFAULT, takeover: false },
  },
  {
    name:
      "server_max_window_bits=10 from the client, client_max_window_bits=9 from the server",
    server: { clientMaxWindowBits: 9 },
    client: { serverMaxWindowBits: 10 },
    offer: "permessage-deflate; server_max_window_bits=10; " +
      "client_max_window_bits",
    header: "permessage-deflate; server_max_window_bits=10; " +
      "client_max_window_bits=9",
    up: { ...DEFAULT, bits: 9 },
    down: { ...DEFAULT, bits: 10 },
  },
  {
    name:
      "server_max_window_bits=12 and client_max_window_bits=11 from the server",
    server: { serverMaxWindowBits: 12, clientMaxWindowBits: 11 },
    client: true,
    offer: OFFER,
    header: "permessage-deflate; server_max_window_bits=12; " +
      "client_max_window_bits=11",
    up: { ...DEFAULT, bits: 11 },
    down: { ...DEFAULT, bits: 12 },
  },
  {
    name: "the smaller of both ends' windows (server 9 of 11, client 13)",
    server: { serverMaxWindowBits: 11 },
    client: { serverMaxWindowBits: 9, clientMaxWindowBits: 13 },
    offer: "permessage-deflate; server_max_window_bits=9; " +
      "client_max_window_bits=13",
    header: "permessage-deflate; server_max_window_bits=9; " +
      "client_max_window_bits=13",
    up: { ...DEFAULT, bits: 13 },
    down: { ...DEFAULT, bits: 9 },
  },
  {
    name: "client_max_window_bits=14 offered by the client",
    server: { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    client: { clientMaxWindowBits: 14 },
    offer: "permessage-deflate; client_max_window_bits=14",
    header: "permessage-deflate; client_max_window_bits=14",
    up: { ...DEFAULT, bits: 14 },
    down: DEFAULT,
  },
  {
    name: "9-bit windows and no context takeover either way",
    server: { threshold: 0 },
    client: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 9,
      threshold: 0,
    },
    offer: "permessage-deflate; server_no_context_takeover; " +
      "client_no_context_takeover; server_max_window_bits=9; " +
      "client_max_window_bits=9",
    header: "permessage-deflate; server_no_context_takeover; " +
      "client_no_context_takeover; server_max_window_bits=9; " +
      "client_max_window_bits=9",
    up: { takeover: false, bits: 9, threshold: 0 },
    down: { takeover: false, bits: 9, threshold: 0 },
  },
  {
    name: "threshold 0",
    server: { threshold: 0 },
    client: { threshold: 0 },
    offer: OFFER,
    header: "permessage-deflate",
    up: { ...DEFAULT, threshold: 0 },
    down: { ...DEFAULT, threshold: 0 },
  },
  {
    name: "large thresholds (nothing compressed, everything restored)",
    server: { threshold: Infinity },
    client: { threshold: 4 * MiB },
    offer: OFFER,
    header: "permessage-deflate",
    up: { ...DEFAULT, threshold: 4 * MiB },
    down: { ...DEFAULT, threshold: Infinity },
  },
];

/** A message of the mode exchange, and what to expect of it. */
interface Sample {
  data: Message;
  plain?: boolean;
  /** The repeat of an earlier sample: context takeover shrinks it. */
  repeatOf?: number;
  /** A window probe's block size. */
  block?: number;
}

function samples(mode: Mode): Sample[] {
  const doc = json(6000, 3);
  const list: Sample[] = [
    { data: "" },
    { data: new Uint8Array(0) },
    { data: json(300, 1) },
    { data: doc },
    { data: encoder.encode(json(6000, 4)) },
    { data: doc, repeatOf: 3 },
    { data: "plain:" + json(6000, 5), plain: true },
    { data: doc, repeatOf: 3 },
    { data: encoder.encode(json(200 * 1024, 6)) },
    { data: "héllo wörld ✓ 🦕 ".repeat(200) },
  ];
  // Blocks just inside and just outside each direction's window
  // (zlib reaches back at most the window minus 262 bytes).
  let seed = 100;
  for (const bits of new Set([mode.up.bits, mode.down.bits])) {
    for (const block of [(1 << bits) - 300, (1 << bits) + 64]) {
      list.push({ data: probe(block, seed++), block });
    }
  }
  return list;
}

/** Checks one direction of a mode's exchange against what it must be. */
function checkDirection(
  what: string,
  direction: Direction,
  sent: Sample[],
  wire: WireMessage[],
): void {
  assert.equal(wire.length, sent.length, `${what}: message count`);
  const compressed: Uint8Array[] = [];
  const originals: Uint8Array[] = [];
  sent.forEach((sample, i) => {
    const at = `${what}: message ${i}`;
    const message = wire[i];
    const original = bytesOf(sample.data);
    assert.equal(
      message.opcode,
      typeof sample.data === "string" ? Opcode.Text : Opcode.Binary,
      at,
    );
    for (const frame of message.frames.slice(1)) {
      assert.equal(frame.rsv1, false, `${at}: RSV1 on a continuation`);
    }
    const fits = (sample.block ?? 0) <= (1 << direction.bits) - 262;
    let expected: boolean | undefined = original.length > 0 &&
      original.length >= direction.threshold && !sample.plain;
    // Without context takeover, a message that does not shrink goes out
    // uncompressed.
    if (expected && !fits && !direction.takeover) expected = undefined;
    if (expected !== undefined) assert.equal(message.rsv1, expected, at);
    if (!message.rsv1) {
      assert.deepEqual(message.payload, original, at);
      return;
    }
    const payload = message.payload;
    assert.ok(!endsWithTail(payload), `${at}: ends with 00 00 ff ff`);
    if (sample.block === undefined) {
      assert.ok(
        payload.length < original.length * 0.6,
        `${at}: ${payload.length} of ${original.length} bytes`,
      );
    } else if (fits) {
      // zlib finds fewer matches in small windows: 0.54 with 9 bits.
      assert.ok(
        payload.length < original.length * 0.75,
        `${at}: a block of ${sample.block} within the window, ` +
          `${payload.length} of ${original.length} bytes`,
      );
    } else {
      assert.ok(
        payload.length > original.length * 0.9,
        `${at}: a block of ${sample.block} beyond a ${direction.bits}-bit ` +
          `window was matched: ${payload.length} of ${original.length} bytes`,
      );
    }
    if (sample.repeatOf !== undefined) {
      const first = wire[sample.repeatOf].payload.length;
      // How far back, in the compressed stream, the last copy begins.
      const last = originals.findLastIndex((bytes) =>
        bytes.length === original.length &&
        bytes.every((byte, j) => byte === original[j])
      );
      const distance = originals.slice(last).reduce((n, b) => n + b.length, 0);
      if (direction.takeover && distance <= (1 << direction.bits) - 262) {
        assert.ok(
          payload.length < first / 4,
          `${at}: context takeover, ${payload.length} vs ${first} bytes`,
        );
      } else if (!direction.takeover) {
        assert.equal(payload.length, first, `${at}: no context takeover`);
      }
    }
    if (!direction.takeover) {
      // Each message restores on its own, within the agreed window.
      assert.deepEqual(inflate([payload], direction.bits), original, at);
    }
    compressed.push(payload);
    originals.push(original);
  });
  if (direction.takeover && compressed.length > 0) {
    // One stream: uncompressed messages between them did not disturb it.
    assert.deepEqual(
      inflate(compressed, direction.bits),
      concat(...originals),
      `${what}: the compressed messages as one stream`,
    );
  }
}

for (const mode of MODES) {
  Deno.test(`dial() and serve() agree on permessage-deflate with ${mode.name}`, async () => {
    const sent = samples(mode);
    const { client, server, up, down } = await tapped(
      { compression: mode.server },
      { compression: mode.client },
      (client) => exchange(client, sent),
    );
    assert.equal(
      server.request?.headers.get("sec-websocket-extensions"),
      mode.offer,
    );
    assert.equal(client.extensions, mode.header);
    assert.equal(server.extensions, mode.header);
    const upWire = readWire(up, "server");
    const downWire = readWire(down, "client");
    checkDirection("client to server", mode.up, sent, upWire.messages);
    checkDirection("server to client", mode.down, sent, downWire.messages);
    // Close frames never carry RSV1.
    for (const frame of [...upWire.controls, ...downWire.controls]) {
      assert.equal(frame.rsv1, false);
    }
  });
}

Deno.test("dial() and serve() send every message uncompressed without an agreement", async () => {
  const sent: Sample[] = [{ data: json(5000, 7) }, {
    data: encoder.encode(json(5000, 8)),
  }];
  for (
    const [server, client] of [[true, undefined], [undefined, true]] as const
  ) {
    const result = await tapped(
      { compression: server },
      { compression: client },
      (conn) => exchange(conn, sent),
    );
    assert.equal(result.client.extensions, "");
    assert.equal(result.server.extensions, "");
    assert.equal(
      result.server.request?.headers.get("sec-websocket-extensions") ?? null,
      client ? OFFER : null,
    );
    const off = { takeover: true, bits: 15, threshold: Infinity };
    checkDirection("up", off, sent, readWire(result.up, "server").messages);
    checkDirection(
      "down",
      off,
      sent,
      readWire(result.down, "client").messages,
    );
  }
});

Deno.test("send() with compress: false leaves one message uncompressed and the shared window intact", async () => {
  const doc = json(4000, 9);
  const { up, down } = await tapped(
    { compression: { threshold: 0 } },
    { compression: { threshold: 0 } },
    async (client) => {
      await exchange(client, [
        { data: doc },
        { data: "plain:" + doc, plain: true },
        { data: doc, plain: true },
        { data: doc },
      ]);
    },
  );
  const ups = readWire(up, "server").messages;
  assert.deepEqual(ups.map((m) => m.rsv1), [true, false, false, true]);
  assert.deepEqual(ups[2].payload, encoder.encode(doc));
  // The last message refers back to the first, past two plain ones.
  assert.ok(
    ups[3].payload.length < ups[0].payload.length / 10,
    `${ups[3].payload.length} vs ${ups[0].payload.length} bytes`,
  );
  assert.equal(
    decoder.decode(inflate([ups[0].payload, ups[3].payload])),
    doc + doc,
  );
  // The server echoes "plain:" uncompressed and the others compressed.
  const downs = readWire(down, "client").messages;
  assert.deepEqual(downs.map((m) => m.rsv1), [true, false, true, true]);
  assert.ok(
    downs[3].payload.length < downs[0].payload.length / 10,
    `${downs[3].payload.length} vs ${downs[0].payload.length} bytes`,
  );
});

// ---------------------------------------------------------------------------
// Raw peers: fragmented compressed messages.

Deno.test("serve() restores compressed messages fragmented by a raw client, RSV1 on the first frame only", async () => {
  const server = start({ compression: { threshold: 0 } });
  const raw = await deflateClient(
    server.addr.port,
    "permessage-deflate; server_no_context_takeover",
  );
  assert.equal(
    raw.response.headers.get("sec-websocket-extensions"),
    "permessage-deflate; server_no_context_takeover",
  );
  const text = json(20_000, 10);
  const binary = encoder.encode(json(3000, 11));
  const splits = (n: number): number[][] => [
    [Math.floor(n / 3), Math.floor((2 * n) / 3)], // three frames
    [0], // an empty first frame, then everything
    [n], // everything, then an empty last frame
    Array.from({ length: 10 }, (_, i) => i + 1), // byte by byte at first
  ];
  const expected: Message[] = [];
  for (const data of [text, binary]) {
    const compressed = deflate(data);
    for (const cuts of splits(compressed.length)) {
      const bounds = [0, ...cuts, compressed.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        await raw.send(
          i === 0
            ? (typeof data === "string" ? Opcode.Text : Opcode.Binary)
            : Opcode.Continuation,
          compressed.subarray(bounds[i], bounds[i + 1]),
          { fin: i + 2 === bounds.length, rsv1: i === 0 },
        );
        if (i === 0) {
          // A ping between the fragments is answered at once.
          await raw.send(Opcode.Ping, "between");
          const pong = await raw.frames.expect();
          assert.equal(pong.opcode, Opcode.Pong);
          assert.equal(pong.rsv1, false);
          assert.equal(decoder.decode(pong.payload), "between");
        }
      }
      expected.push(data);
      // The echo comes back compressed, and restores on its own.
      const echoed = await raw.frames.expect();
      assert.equal(echoed.rsv1, true);
      assert.equal(echoed.fin, true);
      assert.ok(!endsWithTail(echoed.payload));
      const restored = inflate([echoed.payload]);
      assert.deepEqual(
        typeof data === "string" ? decoder.decode(restored) : restored,
        data,
      );
    }
  }
  await raw.send(Opcode.Close, closePayload(1000));
  assert.deepEqual(await raw.frames.expectClose(), { code: 1000, reason: "" });
  assert.equal(await raw.frames.next(), null);
  raw.socket.close();
  const seen = await server.seen;
  assert.deepEqual(seen.messages, expected);
  assert.equal(seen.error, undefined);
  await server.shutdown();
  assert.deepEqual(server.errors, []);
});

Deno.test("dial() restores compressed messages fragmented by a raw server, RSV1 on the first frame only", async () => {
  const text = json(10_000, 12);
  const binary = encoder.encode(json(3000, 13));
  const server = scripted(async (socket) => {
    const { request, rest } = await readRequest(socket);
    assert.equal(
      request.headers.get("sec-websocket-extensions"),
      "permessage-deflate; client_no_context_takeover; client_max_window_bits",
    );
    await writeAll(
      socket,
      await switchingProtocols(request, [
        "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover",
      ]),
    );
    const frames = new WireReader(socket, "server", rest);
    for (const data of [text, binary]) {
      const compressed = deflate(data);
      const cuts = [
        0,
        5,
        6,
        Math.floor(compressed.length / 2),
        compressed.length,
      ];
      for (let i = 0; i + 1 < cuts.length; i++) {
        await writeAll(
          socket,
          encodeFrame({
            opcode: i > 0
              ? Opcode.Continuation
              : typeof data === "string"
              ? Opcode.Text
              : Opcode.Binary,
            rsv1: i === 0,
            fin: i + 2 === cuts.length,
            payload: compressed.subarray(cuts[i], cuts[i + 1]),
          }),
        );
      }
      const echoed = await frames.expect();
      assert.equal(echoed.rsv1, true);
      assert.ok(!endsWithTail(echoed.payload));
      // The client promised no context takeover: each restores alone.
      assert.deepEqual(inflate([echoed.payload]), bytesOf(data));
    }
    await writeAll(
      socket,
      encodeFrame({ opcode: Opcode.Close, payload: closePayload(1000) }),
    );
    assert.deepEqual(await frames.expectClose(), { code: 1000, reason: "" });
  });
  const conn = await dial(server.url, {
    compression: { clientNoContextTakeover: true, threshold: 0 },
    pingInterval: 0,
  });
  assert.equal(
    conn.extensions,
    "permessage-deflate; client_no_context_takeover",
  );
  const received: Message[] = [];
  for await (const message of conn) {
    received.push(message);
    await conn.send(message);
  }
  assert.deepEqual(received, [text, binary]);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  await server.done;
});

// ---------------------------------------------------------------------------
// Raw peers: RSV1 misuse, corrupt data, bombs.

/**
 * Connects a raw client (offering `offer`), runs `attack`, and returns the
 * close frame the server answered with and what its handler saw.
 */
async function attack(
  options: ServeOptions,
  offer: string | undefined,
  script: (raw: DeflateClient) => Promise<void>,
): Promise<{
  close: { code: number; reason: string };
  closedAt: number;
  seen: Seen;
}> {
  const server = start(options);
  try {
    let close: { code: number; reason: string };
    let closedAt: number;
    {
      using raw = await deflateClient(server.addr.port, offer);
      await script(raw);
      // A server that let the script pass would answer this ping.
      await raw.send(Opcode.Ping, "still open?");
      const frame = await raw.frames.expect();
      closedAt = performance.now();
      assert.equal(frame.opcode, Opcode.Close, "the server did not close");
      close = parseClose(frame.payload);
      // The server closes TCP first; then so does the client.
      assert.equal(await raw.frames.next(), null);
    }
    return { close, closedAt, seen: await server.seen };
  } finally {
    await server.shutdown();
    assert.deepEqual(server.errors, []);
  }
}

Deno.test("serve() closes with 1002 on RSV1 in a continuation frame", async () => {
  const compressed = deflate(json(2000, 14));
  for (const firstRsv1 of [true, false]) {
    const first = firstRsv1 ? compressed.subarray(0, 100) : encoder.encode("a");
    const { close, seen } = await attack(
      { compression: true },
      "permessage-deflate",
      async (raw) => {
        await raw.send(Opcode.Text, first, { fin: false, rsv1: firstRsv1 });
        await raw.send(Opcode.Continuation, compressed.subarray(100), {
          rsv1: true,
        });
      },
    );
    assert.equal(close.code, 1002);
    assert.match(close.reason, /continuation frame with RSV1/);
    assert.equal(failure(seen.error), "RESERVED_BITS");
  }
});

Deno.test("serve() closes with 1002 on RSV1 in a control frame", async () => {
  for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
    const { close, seen } = await attack(
      { compression: true },
      "permessage-deflate",
      (raw) =>
        raw.send(
          opcode,
          opcode === Opcode.Close ? closePayload(1000) : "x",
          { rsv1: true },
        ),
    );
    assert.equal(close.code, 1002, `opcode ${opcode}`);
    assert.match(close.reason, /control frame with RSV1/);
    assert.equal(failure(seen.error), "RESERVED_BITS");
  }
});

Deno.test("serve() closes with 1002 on RSV1 when compression was not negotiated", async () => {
  const compressed = deflate("Hello, Hello, Hello, Hello");
  const cases: [ServeOptions, string | undefined][] = [
    [{ compression: true }, undefined], // not offered
    [{}, "permessage-deflate"], // not accepted
    [{ compression: true }, "permessage-deflate; server_max_window_bits=8"],
  ];
  for (const [options, offer] of cases) {
    const { close, seen } = await attack(options, offer, async (raw) => {
      assert.equal(raw.response.headers.get("sec-websocket-extensions"), null);
      await raw.send(Opcode.Text, compressed, { rsv1: true });
    });
    assert.equal(close.code, 1002, String(offer));
    assert.equal(failure(seen.error), "RESERVED_BITS");
    assert.equal(seen.conn.extensions, "");
  }
});

Deno.test("dial() closes with 1002 on RSV1 in a control frame from the server", async () => {
  const server = scripted(async (socket) => {
    const { request, rest } = await readRequest(socket);
    await writeAll(
      socket,
      await switchingProtocols(request, [
        "Sec-WebSocket-Extensions: permessage-deflate",
      ]),
    );
    await writeAll(
      socket,
      encodeFrame({
        opcode: Opcode.Ping,
        rsv1: true,
        payload: new Uint8Array(1),
      }),
    );
    const frames = new WireReader(socket, "server", rest);
    const close = await frames.expectClose();
    assert.equal(close.code, 1002);
  });
  const conn = await dial(server.url, { compression: true, pingInterval: 0 });
  await assert.rejects(async () => {
    for await (const _ of conn) {
      // Nothing arrives.
    }
  }, (error) => failure(error) === "RESERVED_BITS");
  assert.equal((await conn.closed).code, 1006);
  await server.done;
});

Deno.test("serve() closes with 1007 on corrupt compressed data", async () => {
  const valid = deflate(json(3000, 15));
  const cases: [string, (raw: DeflateClient) => Promise<void>][] = [
    [
      "an invalid block type",
      (raw) =>
        raw.send(Opcode.Binary, new Uint8Array([0xff, 0xff, 0xff]), {
          rsv1: true,
        }),
    ],
    [
      "a distance too far back",
      (raw) =>
        raw.send(Opcode.Text, new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]), {
          rsv1: true,
        }),
    ],
    ["a corrupt second fragment", async (raw) => {
      await raw.send(Opcode.Text, valid.subarray(0, 50), {
        fin: false,
        rsv1: true,
      });
      await raw.send(Opcode.Continuation, new Uint8Array(40).fill(0xff));
    }],
  ];
  for (const [name, script] of cases) {
    const { close, seen } = await attack(
      { compression: true },
      "permessage-deflate",
      script,
    );
    assert.equal(close.code, 1007, name);
    assert.match(close.reason, /^Cannot inflate message: /, name);
    assert.equal(failure(seen.error), "BAD_COMPRESSED_DATA", name);
    assert.deepEqual(seen.messages, [], name);
  }
});

Deno.test("serve() closes with 1007 on compressed text that inflates to invalid UTF-8", async () => {
  const { close, seen } = await attack(
    { compression: true },
    "permessage-deflate",
    (raw) =>
      raw.send(Opcode.Text, deflate(new Uint8Array([0x68, 0xc3, 0x28])), {
        rsv1: true,
      }),
  );
  assert.equal(close.code, 1007);
  assert.equal(failure(seen.error), "INVALID_UTF8");
});

/**
 * `mebibytes` MiB of zeros as one compressed message: about 1 KiB per MiB,
 * built without ever holding the inflated bytes.
 */
function bomb(mebibytes: number): Uint8Array {
  using deflater = new PerMessageDeflate({
    role: "client",
    threshold: 0,
    level: 9,
  });
  const zeros = new Uint8Array(MiB);
  const first = deflater.compress(zeros)!;
  // With a window full of zeros, every later MiB compresses the same way.
  const steady = deflater.compress(zeros)!;
  const parts: Uint8Array[] = [first];
  for (let i = 1; i < mebibytes; i++) parts.push(TAIL, steady);
  return concat(...parts);
}

/** How many bytes a raw deflate stream inflates to, counted in a stream. */
async function inflatedSize(compressed: Uint8Array): Promise<number> {
  // 00 00 ff ff ends the last block; 03 00 is an empty final block.
  const stream = new Blob([
    compressed as Uint8Array<ArrayBuffer>,
    TAIL,
    new Uint8Array([0x03, 0x00]),
  ]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  let size = 0;
  for await (const chunk of stream) size += chunk.length;
  return size;
}

Deno.test("serve() closes with 1009 on a deflate bomb, quickly and in bounded memory", async () => {
  const payload = bomb(128);
  assert.ok(payload.length < 256 * 1024, `${payload.length} bytes`);
  assert.equal(await inflatedSize(payload), 128 * MiB);
  const frame = encodeFrame(
    { opcode: Opcode.Binary, rsv1: true, payload },
    { mask: true },
  );
  // deno-lint-ignore no-explicit-any
  const gc = (globalThis as any).gc as (() => void) | undefined;
  gc?.();
  let started = 0;
  let rss = 0;
  const { close, closedAt, seen } = await attack(
    { compression: true, maxMessageSize: MiB },
    "permessage-deflate",
    async (raw) => {
      rss = Deno.memoryUsage().rss;
      started = performance.now();
      await writeAll(raw.socket, frame);
    },
  );
  const elapsed = closedAt - started;
  const grown = Deno.memoryUsage().rss - rss;
  assert.equal(close.code, 1009);
  assert.equal(failure(seen.error), "MESSAGE_TOO_LARGE");
  assert.deepEqual(seen.messages, []);
  assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
  assert.ok(grown < 32 * MiB, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`);
});

Deno.test("serve() restores a compressed message of exactly maxMessageSize and closes with 1009 one byte over", async () => {
  for (const [size, code] of [[65536, 1000], [65537, 1009]] as const) {
    const { close, seen } = await attack(
      { compression: true, maxMessageSize: 65536 },
      "permessage-deflate",
      async (raw) => {
        await raw.send(Opcode.Binary, deflate(new Uint8Array(size)), {
          rsv1: true,
        });
        if (code === 1000) {
          const echoed = await raw.frames.expect();
          assert.deepEqual(inflate([echoed.payload]), new Uint8Array(size));
          await raw.send(Opcode.Close, closePayload(1000));
        }
      },
    );
    assert.equal(close.code, code, `${size} bytes`);
    assert.equal(seen.messages.length, code === 1000 ? 1 : 0);
  }
});

// ---------------------------------------------------------------------------
// Negotiation over the wire.

Deno.test("serve() declines offers it cannot honour and the connection opens uncompressed", async () => {
  const cases: [ServeOptions["compression"], string][] = [
    [true, "permessage-deflate; server_max_window_bits=8"],
    [true, "permessage-deflate; x-unknown"],
    [true, "permessage-deflate; server_no_context_takeover=1"],
    [true, "permessage-deflate; client_max_window_bits=16"],
    [
      true,
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ],
    [true, "x-webkit-deflate-frame"],
    // A server that limits the client's window needs the client's consent.
    [{ clientMaxWindowBits: 10 }, "permessage-deflate"],
  ];
  for (const [compression, offer] of cases) {
    const server = start({ compression });
    try {
      using raw = await deflateClient(server.addr.port, offer);
      assert.equal(
        raw.response.headers.get("sec-websocket-extensions"),
        null,
        offer,
      );
      // Messages over the default threshold come back uncompressed.
      const text = json(3000, 16);
      await raw.send(Opcode.Text, text);
      const echoed = await raw.frames.expect();
      assert.equal(echoed.rsv1, false, offer);
      assert.equal(decoder.decode(echoed.payload), text, offer);
      await raw.send(Opcode.Close, closePayload(1000));
      await raw.frames.expectClose();
      assert.equal(await raw.frames.next(), null);
      raw.socket.close();
      assert.equal((await server.seen).conn.extensions, "", offer);
    } finally {
      await server.shutdown();
    }
    assert.deepEqual(server.errors, [], offer);
  }
});

Deno.test("serve() answers the first permessage-deflate offer it can honour", async () => {
  const cases: [string, string][] = [
    [
      "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
      "permessage-deflate",
    ],
    [
      "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover",
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      'permessage-deflate; x-foo, permessage-deflate; server_max_window_bits="10"',
      "permessage-deflate; server_max_window_bits=10",
    ],
  ];
  for (const [offer, answer] of cases) {
    const server = start({ compression: { threshold: 0 } });
    try {
      using raw = await deflateClient(server.addr.port, offer);
      assert.equal(
        raw.response.headers.get("sec-websocket-extensions"),
        answer,
      );
      await raw.send(Opcode.Text, deflate("Hello, Hello, Hello"), {
        rsv1: true,
      });
      const echoed = await raw.frames.expect();
      assert.equal(echoed.rsv1, true);
      assert.equal(
        decoder.decode(inflate([echoed.payload])),
        "Hello, Hello, Hello",
      );
      await raw.send(Opcode.Close, closePayload(1000));
      await raw.frames.expectClose();
      assert.equal(await raw.frames.next(), null);
      raw.socket.close();
      assert.equal((await server.seen).conn.extensions, answer);
    } finally {
      await server.shutdown();
    }
  }
});

Deno.test("serve() rejects a malformed Sec-WebSocket-Extensions with 400 when compression is on", async () => {
  const server = start({ compression: true });
  try {
    const response = await httpExchange(
      server.addr.port,
      head([
        ...upgradeLines(server.addr.port),
        'Sec-WebSocket-Extensions: permessage-deflate; x="unterminated',
      ]),
    );
    assert.equal(response.status, 400);
    assert.match(response.body, /Sec-WebSocket-Extensions/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("dial() fails with BAD_EXTENSION on an answer its offer did not allow", async () => {
  const cases: [DialOptions["compression"], string[]][] = [
    [true, ["permessage-deflate; x-unknown"]],
    [true, ["permessage-deflate; client_max_window_bits"]], // no value
    [{ clientMaxWindowBits: 10 }, [
      "permessage-deflate; client_max_window_bits=12",
    ]],
    [{ serverMaxWindowBits: 10 }, [
      "permessage-deflate; server_max_window_bits=12",
    ]],
    [{ serverMaxWindowBits: 10 }, ["permessage-deflate"]],
    [{ serverNoContextTakeover: true }, ["permessage-deflate"]],
    [true, ["permessage-deflate; server_max_window_bits=7"]],
    [true, ["permessage-deflate; server_no_context_takeover=yes"]],
    [true, [
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ]],
    [true, ["permessage-deflate, permessage-deflate"]],
    [true, ["permessage-deflate", "permessage-deflate"]], // two header lines
    [true, ["x-webkit-deflate-frame"]],
    [true, ["permessage-deflate, x-webkit-deflate-frame"]],
    [true, ["permessage-deflate; client_max_window_bits=10;"]], // syntax
    [undefined, ["permessage-deflate"]], // nothing offered
  ];
  let index = 0;
  const server = scripted(async (socket) => {
    const [compression, answers] = cases[index++];
    const { request } = await readRequest(socket);
    assert.equal(
      request.headers.has("sec-websocket-extensions"),
      compression !== undefined,
    );
    await writeAll(
      socket,
      await switchingProtocols(
        request,
        answers.map((answer) => `Sec-WebSocket-Extensions: ${answer}`),
      ),
    );
    // The client gives up and closes without a word.
    assert.equal((await readToEnd(socket)).length, 0);
  }, cases.length);
  for (const [compression, answers] of cases) {
    const error = await dial(server.url, { compression }).then(
      (conn) => {
        conn.abort();
        return undefined;
      },
      (error) => error,
    );
    assert.ok(error instanceof DialError, `${answers}: ${error}`);
    assert.ok(error.cause instanceof HandshakeError, String(error.cause));
    assert.equal(error.cause.code, "BAD_EXTENSION", String(answers));
    assert.doesNotMatch(error.cause.message, /\.$/);
  }
  await server.done;
});

Deno.test("dial() accepts client_max_window_bits=8 and then sends every message uncompressed", async () => {
  const text = json(5000, 17);
  const server = scripted(async (socket) => {
    const { request, rest } = await readRequest(socket);
    await writeAll(
      socket,
      await switchingProtocols(request, [
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8",
      ]),
    );
    const frames = new WireReader(socket, "server", rest);
    await writeAll(
      socket,
      encodeFrame({ opcode: Opcode.Text, rsv1: true, payload: deflate(text) }),
    );
    const echoed = await frames.expect();
    assert.equal(echoed.rsv1, false);
    assert.equal(decoder.decode(echoed.payload), text);
    await writeAll(
      socket,
      encodeFrame({ opcode: Opcode.Close, payload: closePayload(1000) }),
    );
    await frames.expectClose();
  });
  const conn = await dial(server.url, {
    compression: { threshold: 0 },
    pingInterval: 0,
  });
  assert.equal(
    conn.extensions,
    "permessage-deflate; client_max_window_bits=8",
  );
  for await (const message of conn) await conn.send(message);
  assert.equal((await conn.closed).code, 1000);
  await server.done;
});

Deno.test("serve() with compression gives Deno's built-in WebSocket an uncompressed connection", async () => {
  const server = start({ compression: { threshold: 0 } });
  try {
    const ws = new WebSocket(server.url);
    ws.binaryType = "arraybuffer";
    const received: (string | Uint8Array)[] = [];
    const sent = [json(5000, 18), encoder.encode(json(5000, 19))];
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onclose = resolve;
    });
    await new Promise<void>((resolve) => {
      ws.onopen = () => resolve();
    });
    assert.equal(ws.extensions, "");
    const done = Promise.withResolvers<void>();
    ws.onmessage = (event) => {
      received.push(
        typeof event.data === "string"
          ? event.data
          : new Uint8Array(event.data),
      );
      if (received.length === sent.length) done.resolve();
    };
    for (const message of sent) ws.send(message);
    await done.promise;
    assert.deepEqual(received, sent);
    ws.close(1000);
    const event = await closed;
    assert.equal(event.code, 1000);
    assert.equal(event.wasClean, true);
    const seen = await server.seen;
    assert.equal(seen.conn.extensions, "");
    assert.equal(
      seen.conn.request?.headers.get("sec-websocket-extensions"),
      null,
    );
    assert.deepEqual(seen.messages, sent);
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("serve() throws a RangeError at once for a compression option out of range", () => {
  for (
    const compression of [
      { serverMaxWindowBits: 8 },
      { clientMaxWindowBits: 16 },
      { level: 10 },
      { memLevel: 0 },
      { threshold: -1 },
    ]
  ) {
    assert.throws(
      () =>
        serve({
          port: 0,
          hostname: "127.0.0.1",
          onListen() {},
          compression,
        }, () => {}),
      RangeError,
      JSON.stringify(compression),
    );
  }
});

Deno.test("dial() with compression gets an uncompressed connection from Deno.upgradeWebSocket()", async () => {
  let offered: string | null = null;
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
  }, (request) => {
    offered = request.headers.get("sec-websocket-extensions");
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
  try {
    const conn = await dial(`ws://127.0.0.1:${server.addr.port}/`, {
      compression: { threshold: 0 },
      pingInterval: 0,
    });
    assert.equal(offered, OFFER);
    assert.equal(conn.extensions, "");
    await exchange(conn, [{ data: json(3000, 20) }, {
      data: encoder.encode(json(3000, 21)),
    }]);
    assert.equal((await conn.close()).wasClean, true);
  } finally {
    await server.shutdown();
  }
});
