/**
 * The RFC 6455 protocol state machine, sans-I/O: {@linkcode WebSocketProtocol}
 * turns received bytes into messages, pings, pongs and close events, answers
 * pings and close frames on its own, reassembles fragments under a size
 * limit, validates UTF-8 as it arrives, and maps every violation to its close
 * code in one place. The connection layer only pumps bytes through it.
 *
 * @example A server machine answering a client's close frame
 * ```ts
 * import { WebSocketProtocol } from "@seed/websocket/protocol";
 * import { encodeFrame, Opcode } from "@seed/websocket/frame";
 *
 * const server = new WebSocketProtocol({ role: "server" });
 * server.receive(encodeFrame({ opcode: Opcode.Close, payload: new Uint8Array([0x03, 0xe8]) }, { mask: true }));
 * console.log(server.takeEvents()); // [ { type: "close", code: 1000, reason: "" } ]
 * console.log(server.state, server.takeOutgoing().length); // closed 1
 * ```
 *
 * @module
 */

import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import { concatBytes } from "../_util/bytes.ts";
import type { PerMessageExtension } from "../extensions/extension.ts";
import {
  applyMask,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrameHeader,
  fillMaskKey,
  type Frame,
  FrameDecoder,
  frameHeaderSize,
  Opcode,
} from "../frame.ts";
import type { PreparedMessage } from "../fanout/prepared.ts";
import type {
  Message,
  ProtocolEvent,
  ProtocolMachine,
  ProtocolState,
  SendOptions,
  SendPartOptions,
} from "./machine.ts";

export type {
  Message,
  MessagePart,
  ProtocolEvent,
  ProtocolMachine,
  ProtocolState,
  SendOptions,
  SendPartOptions,
} from "./machine.ts";

/** The default largest message, 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE: number = DEFAULT_MAX_FRAME_SIZE;

/** Options of {@linkcode WebSocketProtocol}. */
export interface WebSocketProtocolOptions {
  /** Which end this machine is: a client masks, a server expects masks. */
  role: "client" | "server";
  /**
   * The largest message accepted, in bytes (after decompression); a larger
   * one fails the connection with 1009 before the excess is buffered.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /** The negotiated per-message extension (permessage-deflate), if any. */
  extension?: PerMessageExtension;
  /**
   * Writes a 4-byte masking key at an offset; by default pooled
   * `crypto.getRandomValues` bytes. For deterministic tests.
   */
  maskKey?: (target: Uint8Array, offset: number) => void;
  /**
   * Whether received chunks belong to the machine, so that payloads may be
   * unmasked in place and handed out as views of them.
   * @default {false}
   */
  ownsInput?: boolean;
  /**
   * Whether the machine sends its close frames on its own: the answer to the
   * peer's close frame, and the close frame that fails the connection when
   * the peer breaks the protocol. When false, the machine stays `closing`
   * (with `closeReceived` or `error` set), reads nothing more, and still
   * accepts `send()` until `close()` sends that frame (with no arguments,
   * the peer's code and reason, or the failure's code): a connection uses
   * this to let the application answer the messages that arrived before the
   * close frame or the fault.
   * @default {true}
   */
  autoCloseEcho?: boolean;
}

/**
 * Whether a close code may be sent in a close frame (RFC 6455 section 7.4):
 * 1000–1003, 1007–1014, and 3000–4999 for libraries and applications.
 *
 * @param code The close code.
 * @returns Whether it may appear on the wire.
 *
 * @example Codes that never go on the wire
 * ```ts
 * import { isValidCloseCode } from "@seed/websocket/protocol";
 *
 * console.log(isValidCloseCode(1000), isValidCloseCode(1005), isValidCloseCode(4000)); // true false true
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999));
}

// Payloads of our own at least this large are written after their header
// without being copied into one buffer with it.
const ZERO_COPY_THRESHOLD = 16 * 1024;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);
// A frame with at least this much still to come is read straight into its
// payload buffer (see readTarget).
const DIRECT_READ_MINIMUM = 128 * 1024;
// Frames up to this size are encoded into the arena (see #queueSmall).
const ARENA_FRAME_LIMIT = 1024;
const ARENA_SIZE = 16 * 1024;
let sharedArena = EMPTY;
let sharedArenaEnd = 0;
// Frames at least this large that are masked, or copied from the caller's
// bytes, are built in segments taken from a small process-wide pool, each
// given back once written (see release): a fresh buffer per message costs
// its allocation and page faults, several times the masking or the copy.
// At most POOL_LIMIT segments are kept.
const SEGMENTED_FRAME = 64 * 1024;
const SEGMENT_SIZE = 256 * 1024;
// A segment has room past SEGMENT_SIZE for a frame's last few bytes, which
// would otherwise leave as a write of their own.
const SEGMENT_SLACK = 1024;
const POOL_LIMIT = 16;
const segmentPool: Uint8Array[] = [];
// Chunks handed out by takeOutgoing() that are views of pooled segments.
const lentSegments = new WeakMap<Uint8Array, Uint8Array>();

// Short ASCII text skips the TextDecoder op call.
function asciiOrDecode(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) return strictDecoder.decode(bytes);
  }
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

// Whether a piece of text is short and ASCII (decoded without a decoder).
function isShortAscii(bytes: Uint8Array): boolean {
  if (bytes.length > 128) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

function invalidUtf8(cause?: unknown): ProtocolError {
  return new ProtocolError(
    "INVALID_UTF8",
    "Received invalid UTF-8 in a text message",
    { cause },
  );
}

/**
 * The RFC 6455 state machine for one connection, either role. Feed it bytes
 * with {@linkcode WebSocketProtocol.receive}; take what it learnt with
 * {@linkcode WebSocketProtocol.takeEvents} and what it must write with
 * {@linkcode WebSocketProtocol.takeOutgoing}. It answers pings with pongs and
 * a close frame with a close frame by itself. A violation by the peer sets
 * `error` and queues the close frame the RFC names (1002, 1007, 1009); the
 * machine is then closed and ignores further input (with `autoCloseEcho`
 * false, the close frame waits for `close()`). Text is validated as it
 * arrives, even inside a frame, so invalid UTF-8 fails at once.
 *
 * @example A client machine sending a message
 * ```ts
 * import { WebSocketProtocol } from "@seed/websocket/protocol";
 *
 * const client = new WebSocketProtocol({ role: "client" });
 * client.send("Hello");
 * const [frame] = client.takeOutgoing();
 * console.log(frame.length); // 11: 2 header bytes, 4 mask bytes, 5 payload bytes
 * ```
 */
export class WebSocketProtocol implements ProtocolMachine {
  #role: "client" | "server";
  #maxMessageSize: number;
  #extension: PerMessageExtension | undefined;
  #maskKey: (target: Uint8Array, offset: number) => void;
  #decoder: FrameDecoder;
  #events: ProtocolEvent[] = [];
  #outgoing: Uint8Array[] = [];
  #state: ProtocolState = "open";
  #error: ProtocolError | undefined;
  #closeReceived: { code: number; reason: string } | undefined;
  #closeSent = false;
  #autoCloseEcho: boolean;
  // The message being reassembled; opcode 0 when none.
  #opcode = 0;
  #compressed = false;
  #parts: Uint8Array[] = [];
  // The decoded pieces of a text message, joined once it ends: one flat
  // string rather than a chain of concatenations.
  #text: string[] = [];
  #size = 0;
  // Text that arrives in pieces (fragments, or a frame taken as it
  // arrives) is decoded piece by piece. Short ASCII pieces need no decoder;
  // one starts at the first other piece: at the start of a message, one
  // that drops a leading BOM as a whole message's decoding does; further
  // in, one that keeps it. Each is made once: a decode call that does not
  // stream leaves it ready for the next message.
  #utf8: TextDecoder | undefined;
  #utf8Inner: TextDecoder | undefined;
  #decoding: TextDecoder | undefined;
  #inText = false;
  // Whether part of the current frame's payload was taken before the frame
  // was complete (its header checks are then done).
  #midFrame = false;
  // Streamed reading: the mode for messages to come, whether the message
  // under way is streamed, whether its first piece is still to be handed
  // out, and the decoder that validates its text.
  #streamMessages = false;
  #streamed = false;
  #partFirst = false;
  #partUtf8: TextDecoder | undefined;
  // Streamed sending: whether a message is under way, its opcode, and
  // whether the extension transforms it.
  #outStreaming = false;
  #outOpcode = 0;
  #outCompressed = false;

  /**
   * Creates a machine in the open state.
   *
   * @param options Role, size limit, extension.
   */
  constructor(options: WebSocketProtocolOptions) {
    this.#role = options.role;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#extension = options.extension;
    this.#maskKey = options.maskKey ?? fillMaskKey;
    this.#autoCloseEcho = options.autoCloseEcho ?? true;
    this.#decoder = new FrameDecoder({
      role: options.role,
      // A compressed frame may be as large as the message it inflates to.
      maxFrameSize: this.#maxMessageSize,
      allowedRsv: options.extension ? 0x40 : 0,
      ownsInput: options.ownsInput,
    });
  }

  /** Where the machine is in its life. */
  get state(): ProtocolState {
    return this.#state;
  }

  /** The violation that failed the connection, if any. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /** The peer's close code and reason, once its close frame arrived. */
  get closeReceived(): { code: number; reason: string } | undefined {
    return this.#closeReceived;
  }

  /** Whether a close frame has been queued. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Always true: RFC 6455 has pings. */
  get canPing(): boolean {
    return true;
  }

  /** Always false: RFC 6455 closes with a closing handshake. */
  get closesByHalfClose(): boolean {
    return false;
  }

  /**
   * Whether this end sends FIN first: the server (RFC 6455 section 7.1.1),
   * or an end that failed or had no closing handshake to wait for.
   */
  get closesTransportFirst(): boolean {
    return this.#role === "server" || this.#error !== undefined ||
      this.#closeReceived === undefined;
  }

  /** Whether there are bytes to write. */
  get hasOutgoing(): boolean {
    return this.#outgoing.length > 0 || this.#arenaEnd > this.#arenaStart;
  }

  /**
   * Whether messages that begin from now on are handed out in pieces as
   * `part` events (each frame, or each piece of a frame as it arrives)
   * rather than as whole `message` events. The size limit still applies
   * (`maxMessageSize: Infinity` for none); a message under way keeps its
   * mode.
   * @default {false}
   */
  get streamMessages(): boolean {
    return this.#streamMessages;
  }
  set streamMessages(value: boolean) {
    this.#streamMessages = value;
  }

  /** Whether a message has begun and not yet ended. */
  get inMessage(): boolean {
    return this.#opcode !== 0 || this.#decoder.inFrame;
  }

  /**
   * Feeds received bytes. Never throws for bad input.
   *
   * @param data The bytes, in any split.
   */
  receive(data: Uint8Array): void {
    if (this.#state === "closed" || this.#closeReceived || this.#error) return;
    this.#decoder.push(data);
    this.#decode();
  }

  /**
   * Where the transport may read the rest of a large frame directly (see
   * `FrameDecoder.payloadTarget`), or undefined to read as usual and call
   * {@linkcode WebSocketProtocol.receive}.
   *
   * @returns The buffer to read into, if any.
   */
  readTarget(): Uint8Array | undefined {
    if (
      this.#state === "closed" || this.#closeReceived || this.#error ||
      this.#streamMessages || this.#streamed
    ) {
      // A streamed message is taken as it arrives, never held whole.
      return undefined;
    }
    return this.#decoder.payloadTarget(DIRECT_READ_MINIMUM);
  }

  /**
   * Reports `n` bytes read into the buffer from
   * {@linkcode WebSocketProtocol.readTarget}.
   *
   * @param n The number of bytes read.
   */
  receiveInto(n: number): void {
    this.#decoder.receivedDirect(n);
    this.#decode();
  }

  #decode(): void {
    const decoder = this.#decoder;
    try {
      for (let frame = decoder.next(); frame; frame = decoder.next()) {
        this.#onFrame(frame, true);
        // Whatever follows a close frame is not part of the conversation.
        if (this.#closeReceived || this.#state === "closed") return;
      }
      // A text frame under way is validated as far as it has arrived, so
      // that invalid UTF-8 fails at once, not when the frame is complete.
      if (
        decoder.bufferedBytes > 0 && this.#takesPartial(decoder.pendingHeader)
      ) {
        const part = decoder.takePartial();
        if (part) this.#onFrame(part, false);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#fail(error);
    }
  }

  // Whether the frame under way (its first header byte, -1 for none) is
  // text whose payload may be looked at before it is complete: not a
  // compressed one, which is validated once inflated.
  #takesPartial(first: number): boolean {
    if (first < 0) return false;
    const opcode = first & 0x0f;
    if (opcode >= Opcode.Close) return false;
    // A streamed message is taken as it arrives, compressed or not.
    if (
      opcode === Opcode.Continuation ? this.#streamed : this.#streamMessages
    ) {
      return true;
    }
    if ((first & 0x40) !== 0) return false;
    return opcode === Opcode.Text ||
      (opcode === Opcode.Continuation && this.#opcode === Opcode.Text &&
        !this.#compressed);
  }

  /** Tells the machine the peer closed the transport. */
  receiveEof(): void {
    this.#state = "closed";
  }

  /**
   * Takes the events produced so far.
   *
   * @returns The events, oldest first.
   */
  takeEvents(): ProtocolEvent[] {
    const events = this.#events;
    if (events.length > 0) this.#events = [];
    return events;
  }

  /**
   * Takes the bytes to write so far.
   *
   * @returns The chunks, in order.
   */
  takeOutgoing(): Uint8Array[] {
    this.#cutArena();
    const outgoing = this.#outgoing;
    if (outgoing.length > 0) this.#outgoing = [];
    return outgoing;
  }

  /**
   * Tells the machine a chunk from
   * {@linkcode WebSocketProtocol.takeOutgoing} is written, so that its memory
   * may be reused for later frames. Optional; never call it for a chunk that
   * may still be read.
   *
   * @param chunk The chunk, as taken.
   */
  release(chunk: Uint8Array): void {
    const segment = lentSegments.get(chunk);
    if (segment === undefined) return;
    lentSegments.delete(chunk);
    if (segmentPool.length < POOL_LIMIT) segmentPool.push(segment);
  }

  /**
   * Queues a message: a string as text, bytes as binary.
   *
   * @param data The message.
   * @param options Whether a compression extension may compress it.
   */
  send(data: Message, options?: SendOptions): void {
    this.#assertCanSend();
    if (this.#outStreaming) this.#streamUnderWay();
    let opcode: number;
    let payload: Uint8Array;
    if (typeof data === "string") {
      opcode = Opcode.Text;
      if (
        data.length <= ARENA_FRAME_LIMIT && this.#extension === undefined &&
        this.#queueSmall(0x81, undefined, data, data.length)
      ) {
        return;
      }
      payload = encoder.encode(data);
    } else if (data instanceof Uint8Array) {
      opcode = Opcode.Binary;
      payload = data;
    } else {
      throw new TypeError("Cannot send message: not a string or Uint8Array");
    }
    let rsv1 = false;
    if (this.#extension && options?.compress !== false) {
      const compressed = this.#extension.compress(payload);
      if (compressed) {
        payload = compressed;
        rsv1 = true;
      }
    }
    // Bytes of our own (encoded text, a compressed payload) may be written
    // as they are; the caller's may change once send() has returned.
    this.#queueFrame(opcode, payload, rsv1, payload !== data);
  }

  /**
   * Queues a message encoded once for many connections: its frame as is on
   * a server without compression, else its data as an ordinary message.
   *
   * @param message The prepared message.
   * @param options Whether a compression extension may compress it.
   */
  sendPrepared(message: PreparedMessage, options?: SendOptions): void {
    const compressible = this.#extension !== undefined &&
      options?.compress !== false;
    if (this.#role === "client" || compressible) {
      this.send(message.data, options);
      return;
    }
    this.#assertCanSend();
    if (this.#outStreaming) this.#streamUnderWay();
    this.#cutArena();
    this.#outgoing.push(message.frame);
  }

  /**
   * Queues one frame of a message sent in pieces: the first part carries
   * the opcode (and RSV1 when the extension compresses the message
   * incrementally), the others are continuations, the last has FIN. Until
   * the last part, `send()` throws; control frames may come in between.
   *
   * @param data The part's payload (may be empty); copied as needed.
   * @param options Binary or text, first, last, and compression.
   *
   * @example A text message in two frames
   * ```ts
   * import { WebSocketProtocol } from "@seed/websocket/protocol";
   *
   * const server = new WebSocketProtocol({ role: "server" });
   * const hi = new TextEncoder().encode("Hi");
   * server.sendPart(hi, { binary: false, first: true, fin: false });
   * server.sendPart(hi, { binary: false, first: false, fin: true });
   * console.log(server.takeOutgoing()[0]); // Uint8Array(8) [ 1, 2, 72, 105, 128, 2, 72, 105 ]
   * ```
   */
  sendPart(data: Uint8Array, options: SendPartOptions): void {
    this.#assertCanSend();
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("Cannot send part: data is not a Uint8Array");
    }
    const { first, fin } = options;
    let payload: Uint8Array | undefined = data;
    if (first) {
      if (this.#outStreaming) this.#streamUnderWay();
      this.#outOpcode = options.binary ? Opcode.Binary : Opcode.Text;
      const extension = this.#extension;
      payload = extension?.compressPart && options.compress !== false
        ? extension.compressPart(data, true, fin)
        : undefined;
      this.#outCompressed = payload !== undefined;
      payload ??= data;
    } else if (!this.#outStreaming) {
      throw new TypeError("Cannot send part: no message is under way");
    } else if (this.#outCompressed) {
      payload = this.#extension!.compressPart!(data, false, fin)!;
    }
    this.#outStreaming = !fin;
    this.#queueFrame(
      first ? this.#outOpcode : Opcode.Continuation,
      payload,
      first && this.#outCompressed,
      payload !== data,
      fin,
    );
  }

  #streamUnderWay(): never {
    throw new TypeError(
      "Cannot send message: a message sent in parts is under way",
    );
  }

  /**
   * Queues a ping.
   *
   * @param data Up to 125 bytes of application data.
   */
  ping(data: Uint8Array = EMPTY): void {
    this.#assertControlPayload(data, "ping");
    this.#assertCanSend();
    this.#queueFrame(Opcode.Ping, data, false);
  }

  /**
   * Queues an unsolicited pong (a heartbeat the peer need not answer).
   *
   * @param data Up to 125 bytes of application data.
   */
  pong(data: Uint8Array = EMPTY): void {
    this.#assertControlPayload(data, "pong");
    this.#assertCanSend();
    this.#queueFrame(Opcode.Pong, data, false);
  }

  /**
   * Starts the closing handshake, or completes it if the peer started it;
   * after a violation that waits for it (`autoCloseEcho` false), sends the
   * failure's close frame, whatever `code` says. Does nothing once a close
   * frame was sent.
   *
   * @param code A close code that may be sent (see
   * {@linkcode isValidCloseCode}); when omitted, the peer's code and reason
   * if its close frame came first, else 1000.
   * @param reason Up to 123 bytes of UTF-8.
   */
  close(code?: number, reason: string = ""): void {
    if (code !== undefined && !isValidCloseCode(code)) {
      throw new RangeError(`Cannot close: invalid close code ${code}`);
    }
    const reasonBytes = encoder.encode(reason);
    if (reasonBytes.length > 123) {
      throw new RangeError("Cannot close: reason is longer than 123 bytes");
    }
    if (this.#closeSent) return;
    if (this.#error) {
      // A failure waiting for its close frame: that frame is the answer.
      if (this.#state !== "closed") this.#sendFailure();
      return;
    }
    const received = this.#closeReceived;
    if (code === undefined && received) {
      this.#echoClose(received.code, encoder.encode(received.reason));
      return;
    }
    if (this.#state === "closed") return;
    this.#sendClose(code ?? 1000, reasonBytes);
  }

  #assertCanSend(): void {
    if (this.#closeSent || this.#state === "closed") {
      const received = this.#closeReceived;
      throw new ConnectionClosedError(
        {
          code: received?.code ?? 1006,
          reason: received?.reason ?? "",
          wasClean: false,
        },
        "Cannot send: connection is closing",
      );
    }
  }

  #assertControlPayload(data: Uint8Array, what: string): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot send ${what}: data is not a Uint8Array`);
    }
    if (data.length > 125) {
      throw new RangeError(
        `Cannot send ${what}: data is longer than 125 bytes`,
      );
    }
  }

  #sendClose(code: number, reason: Uint8Array): void {
    const payload = new Uint8Array(2 + reason.length);
    payload[0] = code >>> 8;
    payload[1] = code & 0xff;
    payload.set(reason, 2);
    this.#queueFrame(Opcode.Close, payload, false);
    this.#closeSent = true;
    this.#state = this.#closeReceived ? "closed" : "closing";
  }

  // Small frames are encoded straight into an append-only arena shared by
  // every machine of the process; the bytes a machine queued since its last
  // take leave as one chunk, so many frames cost one write and no
  // allocation each, and an idle connection holds no arena of its own.
  // A machine's region is [#arenaStart, #arenaEnd) of #arena; once another
  // machine has appended after it, its next frame starts a new region.
  #arena = EMPTY;
  #arenaStart = 0;
  #arenaEnd = 0;

  #cutArena(): void {
    if (this.#arenaEnd > this.#arenaStart) {
      this.#outgoing.push(
        this.#arena.subarray(this.#arenaStart, this.#arenaEnd),
      );
      this.#arenaStart = this.#arenaEnd;
    }
  }

  #reserve(n: number): number {
    if (sharedArena.length - sharedArenaEnd < n) {
      // Taken chunks keep the old arena alive; the new one starts empty.
      sharedArena = new Uint8Array(ARENA_SIZE);
      sharedArenaEnd = 0;
    }
    if (this.#arena !== sharedArena || this.#arenaEnd !== sharedArenaEnd) {
      this.#cutArena();
      this.#arena = sharedArena;
      this.#arenaStart = sharedArenaEnd;
    }
    const at = sharedArenaEnd;
    this.#arenaEnd = sharedArenaEnd = at + n;
    return at;
  }

  // Gives back the end of the region reserved last (by this machine, in the
  // same synchronous step).
  #unreserve(at: number): void {
    this.#arenaEnd = sharedArenaEnd = at;
  }

  // Encodes a frame of at most ARENA_FRAME_LIMIT bytes into the arena,
  // from bytes or from a string; false (and nothing queued) for a string
  // that is not ASCII, which the caller then encodes as UTF-8.
  #queueSmall(
    first: number,
    payload: Uint8Array | undefined,
    text: string | undefined,
    length: number,
  ): boolean {
    const masked = this.#role === "client";
    const headerSize = (length < 126 ? 2 : 4) + (masked ? 4 : 0);
    const at = this.#reserve(headerSize + length);
    const a = this.#arena;
    a[at] = first;
    let o = at + 2;
    if (length < 126) {
      a[at + 1] = (masked ? 0x80 : 0) | length;
    } else {
      a[at + 1] = (masked ? 0x80 : 0) | 126;
      a[at + 2] = length >>> 8;
      a[at + 3] = length & 0xff;
      o = at + 4;
    }
    let k0 = 0, k1 = 0, k2 = 0, k3 = 0;
    if (masked) {
      this.#maskKey(a, o);
      k0 = a[o];
      k1 = a[o + 1];
      k2 = a[o + 2];
      k3 = a[o + 3];
      o += 4;
    }
    if (text !== undefined) {
      for (let i = 0; i < length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) {
          this.#unreserve(at);
          return false;
        }
        a[o + i] = c;
      }
      if (!masked) return true;
      payload = a.subarray(o, o + length);
    }
    const p = payload!;
    if (!masked) {
      a.set(p, o);
      return true;
    }
    let i = 0;
    for (const end = length - 3; i < end; i += 4) {
      a[o + i] = p[i] ^ k0;
      a[o + i + 1] = p[i + 1] ^ k1;
      a[o + i + 2] = p[i + 2] ^ k2;
      a[o + i + 3] = p[i + 3] ^ k3;
    }
    // At most three bytes are left, at offsets 0, 1 and 2 of the key.
    for (; i < length; i++) {
      a[o + i] = p[i] ^ ((i & 3) === 0 ? k0 : (i & 3) === 1 ? k1 : k2);
    }
    return true;
  }

  #queueFrame(
    opcode: number,
    payload: Uint8Array,
    rsv1: boolean,
    owned = false,
    fin = true,
  ): void {
    const length = payload.length;
    if (length <= ARENA_FRAME_LIMIT) {
      this.#queueSmall(
        (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode,
        payload,
        undefined,
        length,
      );
      return;
    }
    this.#cutArena();
    const masked = this.#role === "client";
    const headerSize = frameHeaderSize(length, masked);
    const frame = { opcode, rsv1, fin };
    if (
      masked ? length >= SEGMENTED_FRAME : !owned && length >= SEGMENTED_FRAME
    ) {
      this.#queueSegmented(frame, payload, headerSize, masked);
    } else if (masked) {
      // Mask into our own buffer: the caller's bytes are never modified.
      const out = new Uint8Array(headerSize + length);
      this.#maskKey(out, headerSize - 4);
      const key = out.subarray(headerSize - 4, headerSize);
      encodeFrameHeader(out, frame, length, key);
      // A native copy, then the key XORed in place a 32-bit word at a
      // time (source and target share their alignment): several times
      // faster than masking byte by byte from the caller's buffer.
      const body = out.subarray(headerSize);
      body.set(payload);
      applyMask(body, key, body);
      this.#outgoing.push(out);
    } else if (owned && length >= ZERO_COPY_THRESHOLD) {
      const header = new Uint8Array(headerSize);
      encodeFrameHeader(header, frame, length);
      this.#outgoing.push(header, payload);
    } else {
      const out = new Uint8Array(headerSize + length);
      encodeFrameHeader(out, frame, length);
      out.set(payload, headerSize);
      this.#outgoing.push(out);
    }
  }

  // A large frame copied into pooled segments: the header and the start of
  // the payload in the first, the rest after it, each payload part copied
  // natively then, for a client, masked in place with the key turned to its
  // offset.
  #queueSegmented(
    frame: { opcode: number; rsv1: boolean; fin: boolean },
    payload: Uint8Array,
    headerSize: number,
    masked: boolean,
  ): void {
    const length = payload.length;
    let segment = segmentPool.pop() ??
      new Uint8Array(SEGMENT_SIZE + SEGMENT_SLACK);
    let key: Uint8Array | undefined;
    if (masked) {
      this.#maskKey(segment, headerSize - 4);
      key = segment.slice(headerSize - 4, headerSize);
    }
    encodeFrameHeader(segment, frame, length, key);
    const turned = new Uint8Array(4);
    let offset = headerSize;
    for (let i = 0; i < length;) {
      let n = Math.min(SEGMENT_SIZE - offset, length - i);
      if (length - i - n <= SEGMENT_SLACK) n = length - i;
      const body = segment.subarray(offset, offset + n);
      body.set(payload.subarray(i, i + n));
      if (key) {
        for (let j = 0; j < 4; j++) turned[j] = key[(i + j) & 3];
        applyMask(body, turned, body);
      }
      const chunk = segment.subarray(0, offset + n);
      lentSegments.set(chunk, segment);
      this.#outgoing.push(chunk);
      i += n;
      if (i < length) {
        segment = segmentPool.pop() ??
          new Uint8Array(SEGMENT_SIZE + SEGMENT_SLACK);
        offset = 0;
      }
    }
  }

  // Every violation ends here: one close frame with the error's code, now
  // or, without autoCloseEcho, at close().
  #fail(error: ProtocolError): void {
    this.#error = error;
    this.#parts = [];
    this.#text = [];
    this.#inText = false;
    this.#decoding = undefined;
    this.#partUtf8 = undefined;
    if (this.#closeSent || this.#autoCloseEcho) {
      this.#sendFailure();
    } else {
      this.#state = "closing";
    }
  }

  #sendFailure(): void {
    const error = this.#error!;
    if (!this.#closeSent) {
      // The reason names the rule broken; it never carries internals.
      let reason = encoder.encode(error.message);
      if (reason.length > 123) reason = encoder.encode(error.code);
      this.#sendClose(error.closeCode, reason);
    }
    this.#state = "closed";
  }

  // A frame, or with `end` false the part of its payload that arrived so
  // far (text only: see #takesPartial).
  #onFrame(frame: Frame, end: boolean): void {
    const { opcode } = frame;
    if (opcode >= Opcode.Close) {
      if (frame.rsv1) {
        throw new ProtocolError(
          "RESERVED_BITS",
          "Received a control frame with RSV1 set",
        );
      }
      if (opcode === Opcode.Close) this.#onClose(frame.payload);
      else if (opcode === Opcode.Ping) {
        this.#events.push({ type: "ping", data: frame.payload });
        if (!this.#closeSent) {
          this.#queueFrame(Opcode.Pong, frame.payload, false);
        }
      } else {
        this.#events.push({ type: "pong", data: frame.payload });
      }
      return;
    }
    if (this.#midFrame) {
      // The rest of a frame whose header was checked with its first part.
    } else if (opcode === Opcode.Continuation) {
      if (this.#opcode === 0) {
        throw new ProtocolError(
          "UNEXPECTED_CONTINUATION",
          "Received a continuation frame without a message to continue",
        );
      }
      if (frame.rsv1) {
        throw new ProtocolError(
          "RESERVED_BITS",
          "Received a continuation frame with RSV1 set",
        );
      }
    } else {
      if (this.#opcode !== 0) {
        throw new ProtocolError(
          "EXPECTED_CONTINUATION",
          "Received a new message before the previous one ended",
        );
      }
      this.#opcode = opcode;
      this.#compressed = frame.rsv1;
      this.#size = 0;
      this.#streamed = this.#partFirst = this.#streamMessages;
    }
    let payload = frame.payload;
    if (this.#compressed) {
      payload = this.#extension!.decompress(
        payload,
        frame.fin,
        this.#maxMessageSize,
      );
    }
    this.#size += payload.length;
    if (this.#size > this.#maxMessageSize) {
      throw new ProtocolError(
        "MESSAGE_TOO_LARGE",
        `Received a message over the limit of ${this.#maxMessageSize} bytes`,
      );
    }
    this.#midFrame = !end;
    const fin = frame.fin && end;
    if (this.#streamed) this.#onPart(payload, fin);
    else if (this.#opcode === Opcode.Text) this.#onText(payload, fin);
    else this.#onBinary(payload, fin);
    if (!end) return;
    if (fin) {
      this.#opcode = 0;
      this.#streamed = false;
      this.#decoder.continuationLimit = Infinity;
    } else if (!this.#compressed) {
      // The next fragment may carry only what is left of the allowance, so
      // an oversized message fails on its header, before its payload is
      // buffered.
      this.#decoder.continuationLimit = this.#maxMessageSize - this.#size;
    }
  }

  #onText(payload: Uint8Array, fin: boolean): void {
    if (fin && !this.#inText) {
      let text: string;
      try {
        text = payload.length <= 64
          ? asciiOrDecode(payload)
          : strictDecoder.decode(payload);
      } catch (error) {
        throw invalidUtf8(error);
      }
      this.#events.push({ type: "message", data: text });
      return;
    }
    // Fragments are validated as they come, so invalid UTF-8 fails at once.
    this.#inText = !fin;
    let decoder = this.#decoding;
    if (decoder === undefined && isShortAscii(payload)) {
      this.#text.push(
        String.fromCharCode.apply(null, payload as unknown as number[]),
      );
    } else {
      if (decoder === undefined) {
        // #size already counts this piece.
        decoder = this.#decoding = this.#size === payload.length
          ? this.#utf8 ??= new TextDecoder("utf-8", { fatal: true })
          : this.#utf8Inner ??= new TextDecoder("utf-8", {
            fatal: true,
            ignoreBOM: true,
          });
      }
      try {
        this.#text.push(decoder.decode(payload, { stream: !fin }));
      } catch (error) {
        throw invalidUtf8(error);
      }
    }
    if (fin) {
      const text = this.#text;
      this.#text = [];
      this.#events.push({
        type: "message",
        data: text.length === 1 ? text[0] : text.join(""),
      });
      this.#decoding = undefined;
    }
  }

  // A piece of a streamed message: handed out as it is, text validated
  // first (invalid UTF-8 fails at once, with 1007).
  #onPart(payload: Uint8Array, fin: boolean): void {
    const first = this.#partFirst;
    if (payload.length === 0 && !first && !fin) return;
    const binary = this.#opcode === Opcode.Binary;
    if (!binary) {
      const utf8 = this.#partUtf8 ??= new TextDecoder("utf-8", {
        fatal: true,
      });
      try {
        utf8.decode(payload, { stream: !fin });
      } catch (error) {
        throw invalidUtf8(error);
      }
    }
    this.#partFirst = false;
    this.#events.push({ type: "part", binary, data: payload, first, fin });
  }

  #onBinary(payload: Uint8Array, fin: boolean): void {
    if (payload.length > 0) this.#parts.push(payload);
    if (!fin) return;
    const data = this.#parts.length === 0
      ? new Uint8Array(0)
      : concatBytes(this.#parts, this.#size);
    this.#parts = [];
    this.#events.push({ type: "message", data });
  }

  #onClose(payload: Uint8Array): void {
    let code = 1005;
    let reason = "";
    if (payload.length === 1) {
      throw new ProtocolError(
        "BAD_CLOSE_PAYLOAD",
        "Received a close frame with a 1-byte payload",
      );
    }
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidCloseCode(code)) {
        throw new ProtocolError(
          "BAD_CLOSE_CODE",
          `Received a close frame with invalid code ${code}`,
        );
      }
      try {
        reason = strictDecoder.decode(payload.subarray(2));
      } catch (error) {
        throw invalidUtf8(error);
      }
    }
    this.#closeReceived = { code, reason };
    this.#events.push({ type: "close", code, reason });
    if (this.#closeSent) {
      this.#state = "closed";
    } else if (this.#autoCloseEcho) {
      this.#echoClose(code, payload.subarray(2));
    } else {
      this.#state = "closing";
    }
  }

  // Echo the peer's code (and reason), as RFC 6455 section 5.5.1 advises.
  #echoClose(code: number, reason: Uint8Array): void {
    if (code === 1005) {
      this.#queueFrame(Opcode.Close, EMPTY, false);
      this.#closeSent = true;
    } else {
      this.#sendClose(code, reason);
    }
    this.#state = "closed";
  }
}
