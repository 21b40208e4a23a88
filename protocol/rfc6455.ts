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

import { ProtocolError } from "../errors.ts";
import type { PerMessageExtension } from "../extensions/extension.ts";
import type { PreparedMessage } from "../fanout/prepared.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  fillMaskKey,
  type Frame,
  Opcode,
} from "../frame.ts";
import {
  closePayload,
  failureReason,
  isValidCloseCode,
  parseClosePayload,
} from "./_close_frame.ts";
import { FrameWriter } from "./_frame_writer.ts";
import { MachineBase } from "./_machine_base.ts";
import { MessageReader } from "./_message_reader.ts";
import { MessageSender } from "./_message_sender.ts";
import type * as machine from "./machine.ts";

export { isValidCloseCode } from "./_close_frame.ts";
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

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

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
export class WebSocketProtocol extends MachineBase
  implements machine.ProtocolMachine {
  #autoCloseEcho: boolean;
  #reader: MessageReader;
  // The sending side is made on first use: a connection that has sent
  // nothing since its handshake holds no frame writer.
  #writer: FrameWriter | undefined;
  #sender: MessageSender | undefined;
  #client: boolean;
  #maskKey: (target: Uint8Array, offset: number) => void;
  #extension: PerMessageExtension | undefined;

  /**
   * Creates a machine in the open state.
   *
   * @param options Role, size limit, extension.
   */
  constructor(options: WebSocketProtocolOptions) {
    super(options.role);
    this.#client = options.role === "client";
    this.#maskKey = options.maskKey ?? fillMaskKey;
    this.#extension = options.extension;
    this.#autoCloseEcho = options.autoCloseEcho ?? true;
    this.#reader = new MessageReader({
      role: options.role,
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      extension: options.extension,
      ownsInput: options.ownsInput,
    });
  }

  #frames(): FrameWriter {
    return this.#writer ??= new FrameWriter(this.#client, this.#maskKey);
  }

  #messages(): MessageSender {
    return this.#sender ??= new MessageSender(
      this.#frames(),
      this.#extension,
      this.#client,
    );
  }

  /** Always true: RFC 6455 has pings. */
  get canPing(): boolean {
    return true;
  }

  /** Always false: RFC 6455 closes with a closing handshake. */
  get closesByHalfClose(): boolean {
    return false;
  }

  /** Whether there are bytes to write. */
  get hasOutgoing(): boolean {
    const writer = this.#writer;
    return writer !== undefined && writer.hasOutgoing;
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
    return this.#reader.streamMessages;
  }
  set streamMessages(value: boolean) {
    this.#reader.streamMessages = value;
  }

  /** Whether a message has begun and not yet ended. */
  get inMessage(): boolean {
    return this.#reader.inMessage;
  }

  /**
   * Feeds received bytes. Never throws for bad input.
   *
   * @param data The bytes, in any split.
   */
  receive(data: Uint8Array): void {
    if (this.lifecycle === "closed" || this.peerClose || this.failure) return;
    this.#reader.push(data);
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
    if (this.lifecycle === "closed" || this.peerClose || this.failure) {
      return undefined;
    }
    return this.#reader.payloadTarget();
  }

  /**
   * Reports `n` bytes read into the buffer from
   * {@linkcode WebSocketProtocol.readTarget}.
   *
   * @param n The number of bytes read.
   */
  receiveInto(n: number): void {
    this.#reader.receivedDirect(n);
    this.#decode();
  }

  #decode(): void {
    const reader = this.#reader;
    try {
      for (
        let frame = reader.nextControl(this.events);
        frame;
        frame = reader.nextControl(this.events)
      ) {
        this.#onControl(frame);
        // Whatever follows a close frame is not part of the conversation.
        if (this.peerClose || this.lifecycle === "closed") return;
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#fail(error);
    }
  }

  /** Tells the machine the peer closed the transport. */
  receiveEof(): void {
    this.lifecycle = "closed";
  }

  /**
   * Takes the bytes to write so far.
   *
   * @returns The chunks, in order.
   */
  takeOutgoing(): Uint8Array[] {
    const writer = this.#writer;
    return writer === undefined ? [] : writer.take();
  }

  /**
   * Moves the bytes to write so far onto the end of `into`.
   *
   * @param into Where the chunks go, in order.
   * @returns How many bytes they are.
   */
  takeOutgoingInto(into: Uint8Array[]): number {
    const writer = this.#writer;
    return writer === undefined ? 0 : writer.takeInto(into);
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
    this.#writer?.release(chunk);
  }

  /** Tells the machine every chunk taken so far is written. */
  written(): void {
    this.#writer?.written();
  }

  /**
   * Queues a message: a string as text, bytes as binary.
   *
   * @param data The message.
   * @param options Whether a compression extension may compress it.
   */
  send(data: machine.Message, options?: machine.SendOptions): void {
    this.assertCanSend("send");
    this.#messages().send(data, options);
  }

  /**
   * Queues a message encoded once for many connections: its frame as is on
   * a server without compression, else its data as an ordinary message.
   *
   * @param message The prepared message.
   * @param options Whether a compression extension may compress it.
   */
  sendPrepared(message: PreparedMessage, options?: machine.SendOptions): void {
    this.assertCanSend("send");
    this.#messages().sendPrepared(message, options);
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
  sendPart(data: Uint8Array, options: machine.SendPartOptions): void {
    this.assertCanSend("send");
    this.#messages().sendPart(data, options);
  }

  /**
   * Queues a ping.
   *
   * @param data Up to 125 bytes of application data.
   */
  ping(data: Uint8Array = EMPTY): void {
    this.#queueControl(Opcode.Ping, data, "ping");
  }

  /**
   * Queues an unsolicited pong (a heartbeat the peer need not answer).
   *
   * @param data Up to 125 bytes of application data.
   */
  pong(data: Uint8Array = EMPTY): void {
    this.#queueControl(Opcode.Pong, data, "pong");
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
    if (this.closeQueued) return;
    if (this.failure) {
      // A failure waiting for its close frame: that frame is the answer.
      if (this.lifecycle !== "closed") this.#sendFailure();
      return;
    }
    const received = this.peerClose;
    if (code === undefined && received) {
      this.#echoClose(received.code, encoder.encode(received.reason));
      return;
    }
    if (this.lifecycle === "closed") return;
    this.#sendClose(code ?? 1000, reasonBytes);
  }

  #queueControl(opcode: number, data: Uint8Array, what: string): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot send ${what}: data is not a Uint8Array`);
    }
    if (data.length > 125) {
      throw new RangeError(
        `Cannot send ${what}: data is longer than 125 bytes`,
      );
    }
    this.assertCanSend("send");
    this.#frames().queueFrame(opcode, data, false);
  }

  #sendClose(code: number, reason: Uint8Array): void {
    this.#frames().queueFrame(Opcode.Close, closePayload(code, reason), false);
    this.closeQueued = true;
    this.lifecycle = this.peerClose ? "closed" : "closing";
  }

  // Every violation ends here: one close frame with the error's code, now
  // or, without autoCloseEcho, at close().
  #fail(error: ProtocolError): void {
    this.failure = error;
    this.#reader.reset();
    if (this.closeQueued || this.#autoCloseEcho) this.#sendFailure();
    else this.lifecycle = "closing";
  }

  #sendFailure(): void {
    if (!this.closeQueued) {
      this.#sendClose(this.failure!.closeCode, failureReason(this.failure!));
    }
    this.lifecycle = "closed";
  }

  // A ping is answered at once; a close frame, by the close rules.
  #onControl(frame: Frame): void {
    const { opcode, payload } = frame;
    if (opcode === Opcode.Close) {
      this.#onClose(payload);
    } else if (opcode === Opcode.Ping) {
      this.events.push({ type: "ping", data: payload });
      if (!this.closeQueued) {
        this.#frames().queueFrame(Opcode.Pong, payload, false);
      }
    } else {
      this.events.push({ type: "pong", data: payload });
    }
  }

  #onClose(payload: Uint8Array): void {
    const { code, reason } = parseClosePayload(payload);
    this.peerClose = { code, reason };
    this.events.push({ type: "close", code, reason });
    if (this.closeQueued) this.lifecycle = "closed";
    else if (this.#autoCloseEcho) this.#echoClose(code, payload.subarray(2));
    else this.lifecycle = "closing";
  }

  // Echo the peer's code (and reason), as RFC 6455 section 5.5.1 advises.
  #echoClose(code: number, reason: Uint8Array): void {
    if (code === 1005) {
      this.#frames().queueFrame(Opcode.Close, EMPTY, false);
      this.closeQueued = true;
    } else {
      this.#sendClose(code, reason);
    }
    this.lifecycle = "closed";
  }
}
