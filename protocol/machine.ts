/**
 * The contract between a protocol state machine and the connection that pumps
 * it. A machine does no I/O: bytes go in with `receive()`, and events and
 * bytes to write come out. RFC 6455 ({@linkcode WebSocketProtocol} in
 * `protocol.ts`) and the legacy hixie drafts implement it, so one `Conn`
 * serves them all.
 *
 * @example Pumping a machine by hand
 * ```ts
 * import { WebSocketProtocol } from "@seed/websocket/protocol";
 *
 * const server = new WebSocketProtocol({ role: "server" });
 * // A masked text frame "Hi" (RFC 6455 section 5.7 style).
 * server.receive(new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 0x49, 0x6b]));
 * for (const event of server.takeEvents()) {
 *   if (event.type === "message") server.send(event.data);
 * }
 * const bytes = server.takeOutgoing(); // the echo, ready for the socket
 * console.log(bytes.length); // 1
 * ```
 *
 * @module
 */

import type { ProtocolError } from "../errors.ts";
import type { PreparedMessage } from "../fanout/prepared.ts";

export { MachineBase } from "./_machine_base.ts";

/** A WebSocket message: `string` for text, `Uint8Array` for binary. */
export type Message = string | Uint8Array;

/**
 * Which protocol a connection speaks: RFC 6455 (`"13"`), the hybi drafts
 * that frame as it does (`"8"`, `"7"`), or the legacy drafts
 * (`"hixie-76"`, `"hixie-75"`). The one name for a version everywhere in
 * the library.
 */
export type ProtocolVersion = "13" | "8" | "7" | "hixie-76" | "hixie-75";

/** Something a machine learnt from the bytes it received. */
export type ProtocolEvent =
  | { type: "message"; data: Message }
  | MessagePart
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string };

/**
 * A piece of a message read as a stream (see
 * {@linkcode ProtocolMachine.streamMessages}): the payload of a frame, or of
 * the part of a frame that has arrived so far, in order. The first piece of
 * a message has `first` set (its payload may be empty); the last has `fin`.
 * Text is validated as UTF-8 before its piece is handed out.
 */
export interface MessagePart {
  /** The event's kind. */
  type: "part";
  /** Whether the message is binary (else text). */
  binary: boolean;
  /** The payload bytes of this piece (decompressed, unmasked). */
  data: Uint8Array;
  /** Whether this piece starts a message. */
  first: boolean;
  /** Whether this piece ends its message. */
  fin: boolean;
}

/** Options of {@linkcode ProtocolMachine.sendPart}. */
export interface SendPartOptions extends SendOptions {
  /** Whether the message is binary (else text); read on its first part. */
  binary: boolean;
  /** Whether this part starts a message. */
  first: boolean;
  /** Whether this part ends its message. */
  fin: boolean;
}

/**
 * Where a machine is in its life.
 * - `open`: messages flow both ways.
 * - `closing`: a close frame was sent or received; the handshake is under way.
 *   Or the peer broke the protocol and the failure waits for `close()` (a
 *   machine that leaves its close frames to the connection).
 * - `closed`: the closing handshake is over, or the connection failed; the
 *   transport should be closed.
 */
export type ProtocolState = "open" | "closing" | "closed";

/** Options of {@linkcode ProtocolMachine.send}. */
export interface SendOptions {
  /**
   * Whether a negotiated compression extension may compress this message.
   * @default {true}
   */
  compress?: boolean;
}

/** A sans-I/O WebSocket protocol state machine. */
export interface ProtocolMachine {
  /** Where the machine is in its life. */
  readonly state: ProtocolState;
  /**
   * The error that failed the connection, when the peer broke the protocol.
   * From then on nothing more is read; the failure's close frame is sent at
   * once, or, by a machine that leaves its close frames to the connection,
   * at {@linkcode ProtocolMachine.close}.
   */
  readonly error: ProtocolError | undefined;
  /**
   * The close code and reason the peer sent (1005 / "" when its close frame
   * had none); undefined until a close frame is received.
   */
  readonly closeReceived: { code: number; reason: string } | undefined;
  /** Whether a close frame (or the draft's closing bytes) has been sent. */
  readonly closeSent: boolean;

  /**
   * Whether the protocol has pings (the legacy drafts have none, so a
   * connection keeps no keepalive for them).
   */
  readonly canPing: boolean;
  /**
   * Whether closing is only a half-close of the byte stream: no closing
   * handshake to send or wait for (draft-hixie-75). The connection then
   * sends FIN once what is queued has left.
   */
  readonly closesByHalfClose: boolean;
  /**
   * Whether this end sends FIN first once the machine is closed, by the
   * close rules of the protocol: the server does (RFC 6455 section 7.1.1),
   * as does an end that failed the connection, closed without a closing
   * handshake to wait for, or closes by half-close.
   */
  readonly closesTransportFirst: boolean;

  /**
   * Feeds bytes received from the peer. Never throws for bad input: a
   * violation fails the connection (see {@linkcode ProtocolMachine.error}).
   */
  receive(data: Uint8Array): void;
  /**
   * Where the transport may read the next bytes directly (the rest of a
   * large frame's payload), or undefined to read as usual and call
   * {@linkcode ProtocolMachine.receive}; bytes read there are reported with
   * {@linkcode ProtocolMachine.receiveInto}.
   */
  readTarget?(): Uint8Array | undefined;
  /** Reports `n` bytes read into the buffer from `readTarget()`. */
  receiveInto?(n: number): void;
  /** Tells the machine the peer closed its side of the transport. */
  receiveEof(): void;
  /** Takes the events produced so far, oldest first. */
  takeEvents(): ProtocolEvent[];
  /** Takes the bytes to write so far, in order. */
  takeOutgoing(): Uint8Array[];
  /**
   * Moves the bytes to write so far onto the end of `into`, in order, and
   * returns how many bytes they are: {@linkcode ProtocolMachine.takeOutgoing}
   * without an array of their own, which a connection otherwise pays for
   * every message it sends. Optional.
   */
  takeOutgoingInto?(into: Uint8Array[]): number;
  /** Whether {@linkcode ProtocolMachine.takeOutgoing} has bytes waiting. */
  readonly hasOutgoing: boolean;
  /**
   * Tells the machine a chunk from {@linkcode ProtocolMachine.takeOutgoing}
   * is written, so that it may reuse its memory. A connection calls it only
   * once the chunk will never be read again.
   */
  release?(chunk: Uint8Array): void;
  /**
   * Tells the machine that every chunk taken so far is written, so that it
   * may let go of memory it kept for the frames to come.
   */
  written?(): void;

  /**
   * Queues a message. Throws `TypeError` for a message the protocol cannot
   * carry and {@linkcode ConnectionClosedError} once closing.
   */
  send(data: Message, options?: SendOptions): void;
  /**
   * Queues a message encoded once for many connections; a machine without
   * this sends `message.data` through {@linkcode ProtocolMachine.send}.
   */
  sendPrepared?(message: PreparedMessage, options?: SendOptions): void;
  /**
   * Whether messages that begin from now on are handed out in pieces, as
   * `part` events, each as it arrives, rather than reassembled into one
   * `message` event; the size limit still applies. A message under way
   * keeps the mode it began with. Absent where the protocol cannot stream.
   */
  streamMessages?: boolean;
  /**
   * Queues one frame of a message sent in pieces: the first carries the
   * opcode, the last FIN. No other message may be sent until the last part;
   * control frames may come between parts. Absent where the protocol has no
   * fragmentation.
   */
  sendPart?(data: Uint8Array, options: SendPartOptions): void;
  /** Queues a ping. Throws `TypeError` where the protocol has none. */
  ping(data: Uint8Array): void;
  /** Queues a pong. Throws `TypeError` where the protocol has none. */
  pong(data: Uint8Array): void;
  /**
   * Starts the closing handshake, answers the peer's, or sends the close
   * frame of a failure that waits for it (with the failure's code, whatever
   * `code` says). Throws `RangeError` for a code or reason the RFC forbids;
   * does nothing once a close frame was sent.
   */
  close(code?: number, reason?: string): void;
}
