/**
 * The sans-I/O protocol state machine of the legacy WebSocket drafts
 * draft-hixie-thewebsocketprotocol-75 and -76 (hybi-00):
 * {@linkcode HixieProtocol}. It implements the same
 * {@linkcode ProtocolMachine} contract as RFC 6455, so one connection layer
 * pumps either.
 *
 * The drafts carry text only. A text frame is `0x00`, UTF-8 bytes, `0xFF`.
 * A frame whose type byte has the high bit set carries a length and is
 * skipped, except that in draft 76 `0xFF 0x00` is the closing handshake.
 * There are no pings, no binary messages and no close codes.
 *
 * @example Echoing a message
 * ```ts
 * import { HixieProtocol } from "@seed/websocket/hixie-protocol";
 *
 * const server = new HixieProtocol({ version: "hixie-76", role: "server" });
 * server.receive(new Uint8Array([0x00, 0x48, 0x69, 0xff])); // "Hi"
 * for (const event of server.takeEvents()) {
 *   if (event.type === "message") server.send(event.data);
 * }
 * console.log(server.takeOutgoing()); // [ Uint8Array(4) [ 0, 72, 105, 255 ] ]
 * ```
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { MachineBase } from "../protocol/_machine_base.ts";
import type * as machine from "../protocol/machine.ts";
import { HixieReader } from "./_protocol_reader.ts";
import type { HixieVersion } from "./handshake.ts";

export type {
  Message,
  ProtocolEvent,
  ProtocolMachine,
  ProtocolState,
  SendOptions,
} from "../protocol/machine.ts";
export type { HixieVersion } from "./handshake.ts";

/** Options of {@linkcode HixieProtocol}. */
export interface HixieProtocolOptions {
  /** The draft to speak. */
  version: HixieVersion;
  /** Which end of the connection this machine is. */
  role: "client" | "server";
  /**
   * The largest text message accepted, in bytes of UTF-8; also bounds the
   * frames that are skipped. A larger one fails the connection with
   * `MESSAGE_TOO_LARGE` (or `FRAME_TOO_LARGE`), close code 1009.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * Whether the peer's close is answered at once, and a violation closes at
   * once. When false, the machine stays `closing` (with `closeReceived` or
   * `error` set), reads nothing more, and still accepts `send()` until
   * `close()`: a connection uses this to let the application answer the
   * messages that arrived before the close or the fault. In draft 75 the
   * peer's close is the end of its stream.
   * @default {true}
   */
  autoCloseEcho?: boolean;
}

const CLOSING_BYTES = new Uint8Array([0xff, 0x00]);

const encoder = new TextEncoder();

/**
 * A sans-I/O state machine for draft-hixie-thewebsocketprotocol-76 and -75:
 * bytes in with {@linkcode HixieProtocol.receive}, events and bytes out with
 * {@linkcode HixieProtocol.takeEvents} and
 * {@linkcode HixieProtocol.takeOutgoing}. It never throws for bad input: a
 * violation sets {@linkcode HixieProtocol.error} and the state `closed` (the
 * drafts have no close frame to fail with; close the transport).
 *
 * Draft 76 closes with the `0xFF 0x00` handshake; draft 75 has none, so
 * {@linkcode HixieProtocol.close} goes straight to `closed`.
 *
 * @example Closing a draft-76 connection
 * ```ts
 * import { HixieProtocol } from "@seed/websocket/hixie-protocol";
 *
 * const client = new HixieProtocol({ version: "hixie-76", role: "client" });
 * client.close();
 * console.log(client.state, client.takeOutgoing()); // closing [ Uint8Array(2) [ 255, 0 ] ]
 * client.receive(new Uint8Array([0xff, 0x00]));
 * console.log(client.state, client.takeEvents()); // closed [ { type: "close", code: 1005, reason: "" } ]
 * ```
 */
export class HixieProtocol extends MachineBase
  implements machine.ProtocolMachine {
  /** The draft this machine speaks. */
  readonly version: HixieVersion;
  /** Which end of the connection this machine is. */
  readonly role: "client" | "server";
  /** The largest text message accepted, in bytes. */
  readonly maxMessageSize: number;

  #autoCloseEcho: boolean;
  #outgoing: Uint8Array[] = [];
  #reader: HixieReader;

  /**
   * Creates a machine in state `open`, after the opening handshake.
   *
   * @param options The draft, the role, and the message size limit.
   * @throws {RangeError} For a negative or non-numeric `maxMessageSize`.
   */
  constructor(options: HixieProtocolOptions) {
    const { version, role, maxMessageSize = 64 * 1024 * 1024 } = options;
    super(role);
    this.#autoCloseEcho = options.autoCloseEcho ?? true;
    if (version !== "hixie-76" && version !== "hixie-75") {
      throw new TypeError(
        `Cannot create the protocol: unknown version "${version}"`,
      );
    }
    if (role !== "client" && role !== "server") {
      throw new TypeError(`Cannot create the protocol: unknown role "${role}"`);
    }
    if (!(maxMessageSize >= 0)) {
      throw new RangeError(
        `Cannot create the protocol: maxMessageSize must be a non-negative number, got ${maxMessageSize}`,
      );
    }
    this.version = version;
    this.role = role;
    this.maxMessageSize = maxMessageSize;
    this.#reader = new HixieReader(version === "hixie-76", maxMessageSize);
  }

  /** Always false: the drafts have no pings. */
  get canPing(): boolean {
    return false;
  }

  /** True for draft 75, whose only close is the end of the byte stream. */
  get closesByHalfClose(): boolean {
    return this.version === "hixie-75";
  }

  /** Whether {@linkcode HixieProtocol.takeOutgoing} has bytes waiting. */
  get hasOutgoing(): boolean {
    return this.#outgoing.length > 0;
  }

  /**
   * Feeds bytes received from the peer; any split of the stream into chunks
   * gives the same events. Ignored once the machine is closed.
   *
   * @param data The bytes, which the machine does not keep.
   */
  receive(data: Uint8Array): void {
    // Nothing after the peer's close belongs to the conversation.
    if (this.lifecycle === "closed" || this.peerClose || this.failure) return;
    try {
      if (this.#reader.read(data, this.events)) this.#receiveClose();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#fail(error);
    }
  }

  /** Handles the peer's draft-76 closing handshake. */
  #receiveClose(): void {
    this.peerClose = { code: 1005, reason: "" };
    if (!this.closeQueued && this.#autoCloseEcho) {
      this.#outgoing.push(CLOSING_BYTES.slice());
      this.closeQueued = true;
    }
    this.lifecycle = this.closeQueued ? "closed" : "closing";
    this.events.push({ type: "close", code: 1005, reason: "" });
  }

  /**
   * Fails the connection: records the error and closes (the drafts have no
   * close code: the transport is closed), emitting nothing; without
   * autoCloseEcho, `close()` closes.
   */
  #fail(error: ProtocolError): void {
    this.failure = error;
    this.#reader.reset();
    this.lifecycle = this.#autoCloseEcho ? "closed" : "closing";
  }

  /** Tells the machine the peer closed its side of the transport. */
  receiveEof(): void {
    // Draft 75 has no closing handshake: the end of the stream is its close.
    this.#reader.reset();
    if (
      this.version === "hixie-75" && !this.failure && !this.peerClose &&
      this.lifecycle !== "closed"
    ) {
      this.peerClose = { code: 1005, reason: "" };
      if (!this.closeQueued && !this.#autoCloseEcho) {
        // Half closed: our answer (closing the transport) comes at close().
        this.lifecycle = "closing";
        this.events.push({ type: "close", code: 1005, reason: "" });
        return;
      }
      // Our answer is closing the transport too, with no bytes to send.
      this.closeQueued = true;
    }
    this.lifecycle = "closed";
  }

  /**
   * Takes the bytes to write so far, in order.
   *
   * @returns The chunks; the machine forgets them.
   */
  takeOutgoing(): Uint8Array[] {
    const outgoing = this.#outgoing;
    this.#outgoing = [];
    return outgoing;
  }

  /**
   * Queues a text message as `0x00`, its UTF-8 bytes, `0xFF`.
   *
   * @param data The text; the drafts carry no binary data.
   * @throws {TypeError} For anything but a string.
   * @throws {ConnectionClosedError} Once the connection is closing or closed.
   */
  send(data: machine.Message): void {
    if (typeof data !== "string") {
      throw new TypeError(
        `Cannot send binary data: the ${this.version} protocol carries text only`,
      );
    }
    this.assertCanSend("send message");
    const bytes = encoder.encode(data);
    const frame = new Uint8Array(bytes.length + 2);
    frame.set(bytes, 1);
    frame[frame.length - 1] = 0xff;
    this.#outgoing.push(frame);
  }
  /**
   * Always throws: the drafts have no ping frames.
   *
   * @param _data Unused.
   * @throws {TypeError} Always.
   */
  ping(_data: Uint8Array): void {
    throw new TypeError(
      `Cannot send a ping: the ${this.version} protocol has no ping frames`,
    );
  }

  /**
   * Always throws: the drafts have no pong frames.
   *
   * @param _data Unused.
   * @throws {TypeError} Always.
   */
  pong(_data: Uint8Array): void {
    throw new TypeError(
      `Cannot send a pong: the ${this.version} protocol has no pong frames`,
    );
  }

  /**
   * Starts closing. Draft 76 queues `0xFF 0x00` and waits in `closing` for
   * the peer's; draft 75 has no closing handshake and goes to `closed` (close
   * the transport). After a violation that waits for it (see
   * `autoCloseEcho`), goes to `closed`: the transport is closed, with no
   * closing bytes. Does nothing once closed or once the closing bytes went.
   *
   * @param _code Ignored: the drafts carry no close code.
   * @param _reason Ignored: the drafts carry no close reason.
   */
  close(_code?: number, _reason?: string): void {
    if (this.lifecycle === "closed" || this.closeQueued) return;
    if (this.failure) {
      // A failure: the transport is closed, with no closing bytes.
      this.lifecycle = "closed";
      return;
    }
    if (this.peerClose) {
      // Answering the peer's close.
      if (this.version === "hixie-76") {
        this.#outgoing.push(CLOSING_BYTES.slice());
      }
      this.closeQueued = true;
      this.lifecycle = "closed";
      return;
    }
    if (this.version === "hixie-75") {
      // Nothing goes on the wire: closing our side of the transport is the
      // close; the peer's end of stream completes it.
      this.closeQueued = true;
      this.lifecycle = "closing";
      return;
    }
    this.#outgoing.push(CLOSING_BYTES.slice());
    this.closeQueued = true;
    this.lifecycle = "closing";
  }
}
