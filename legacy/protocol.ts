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

import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import type {
  Message,
  ProtocolEvent,
  ProtocolMachine,
  ProtocolState,
} from "../protocol/machine.ts";
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

// Where the parser is within a frame.
/** Expecting a frame type byte. */
const TYPE = 0;
/** Inside a `0x00` text frame, reading until `0xFF`. */
const TEXT = 1;
/** Inside another sentinel frame, discarding until `0xFF`. */
const DISCARD = 2;
/** Reading the length of a length-prefixed frame. */
const LENGTH = 3;
/** Skipping the body of a length-prefixed frame. */
const SKIP = 4;

/**
 * Length bytes carry 7 bits each; 7 of them (49 bits) stay exact in a
 * double, far beyond any sane frame.
 */
const MAX_LENGTH_BYTES = 7;

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
export class HixieProtocol implements ProtocolMachine {
  /** The draft this machine speaks. */
  readonly version: HixieVersion;
  /** Which end of the connection this machine is. */
  readonly role: "client" | "server";
  /** The largest text message accepted, in bytes. */
  readonly maxMessageSize: number;

  #state: ProtocolState = "open";
  #error: ProtocolError | undefined;
  #closeReceived: { code: number; reason: string } | undefined;
  #closeSent = false;
  #autoCloseEcho: boolean;
  #events: ProtocolEvent[] = [];
  #outgoing: Uint8Array[] = [];

  #mode: number = TYPE;
  /** The type byte of the current length-prefixed frame. */
  #frameType = 0;
  /** The length read so far, then the bytes left to skip. */
  #length = 0;
  #lengthBytes = 0;
  /** The bytes of the current sentinel frame seen so far. */
  #size = 0;
  /** The decoded pieces of a text frame that spans chunks. */
  #parts: string[] = [];
  #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  /**
   * Creates a machine in state `open`, after the opening handshake.
   *
   * @param options The draft, the role, and the message size limit.
   * @throws {RangeError} For a negative or non-numeric `maxMessageSize`.
   */
  constructor(options: HixieProtocolOptions) {
    const { version, role, maxMessageSize = 64 * 1024 * 1024 } = options;
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
  }

  /** Where the machine is in its life. */
  get state(): ProtocolState {
    return this.#state;
  }

  /** The error that failed the connection, when the peer broke the protocol. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /**
   * `{ code: 1005, reason: "" }` once the peer's draft-76 closing handshake
   * (`0xFF 0x00`) arrived; the drafts carry no close code.
   */
  get closeReceived(): { code: number; reason: string } | undefined {
    return this.#closeReceived;
  }

  /** Whether the draft-76 closing bytes `0xFF 0x00` were queued. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Always false: the drafts have no pings. */
  get canPing(): boolean {
    return false;
  }

  /** True for draft 75, whose only close is the end of the byte stream. */
  get closesByHalfClose(): boolean {
    return this.version === "hixie-75";
  }

  /**
   * Whether this end sends FIN first: the server, an end that failed or had
   * no closing handshake to wait for, and either end of draft 75.
   */
  get closesTransportFirst(): boolean {
    return this.role === "server" || this.#error !== undefined ||
      this.#closeReceived === undefined || this.closesByHalfClose;
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
    const n = data.length;
    let i = 0;
    // Nothing after the peer's close belongs to the conversation.
    while (
      i < n && this.#state !== "closed" && !this.#closeReceived && !this.#error
    ) {
      switch (this.#mode) {
        case TYPE: {
          const type = data[i++];
          if (type === 0x00) {
            this.#mode = TEXT;
            this.#size = 0;
          } else if (type & 0x80) {
            this.#mode = LENGTH;
            this.#frameType = type;
            this.#length = 0;
            this.#lengthBytes = 0;
          } else {
            this.#mode = DISCARD;
            this.#size = 0;
          }
          break;
        }
        case TEXT:
          i = this.#readText(data, i);
          break;
        case DISCARD: {
          const end = data.indexOf(0xff, i);
          const stop = end === -1 ? n : end;
          this.#size += stop - i;
          if (this.#size > this.maxMessageSize) {
            return this.#tooLarge("FRAME_TOO_LARGE", "frame");
          }
          if (end === -1) return;
          i = end + 1;
          this.#mode = TYPE;
          break;
        }
        case LENGTH: {
          const b = data[i++];
          this.#length = this.#length * 128 + (b & 0x7f);
          this.#lengthBytes++;
          if (this.#length > this.maxMessageSize) {
            return this.#tooLarge("FRAME_TOO_LARGE", "frame");
          }
          if (b & 0x80) {
            if (this.#lengthBytes >= MAX_LENGTH_BYTES) {
              return this.#fail(
                new ProtocolError(
                  "BAD_LENGTH",
                  `Invalid frame length: more than ${MAX_LENGTH_BYTES} length bytes`,
                ),
              );
            }
            break;
          }
          if (this.#length === 0) {
            this.#mode = TYPE;
            if (this.version === "hixie-76" && this.#frameType === 0xff) {
              this.#receiveClose();
            }
          } else {
            this.#mode = SKIP;
          }
          break;
        }
        case SKIP: {
          const take = Math.min(this.#length, n - i);
          i += take;
          this.#length -= take;
          if (this.#length === 0) this.#mode = TYPE;
          break;
        }
      }
    }
  }

  /** Reads text frame bytes from `data` at `start`; returns the new offset. */
  #readText(data: Uint8Array, start: number): number {
    const end = data.indexOf(0xff, start);
    const stop = end === -1 ? data.length : end;
    const size = this.#size + stop - start;
    if (size > this.maxMessageSize) {
      this.#tooLarge("MESSAGE_TOO_LARGE", "message");
      return data.length;
    }
    try {
      if (end !== -1 && this.#size === 0) {
        // The whole frame sits in this chunk: decode the view, no copies.
        this.#message(this.#decoder.decode(data.subarray(start, end)));
      } else {
        if (stop > start) {
          this.#parts.push(
            this.#decoder.decode(data.subarray(start, stop), { stream: true }),
          );
        }
        if (end !== -1) {
          this.#parts.push(this.#decoder.decode());
          const text = this.#parts.join("");
          this.#parts = [];
          this.#message(text);
        }
      }
    } catch (cause) {
      this.#parts = [];
      this.#fail(
        new ProtocolError("INVALID_UTF8", "Invalid UTF-8 in a text message", {
          cause,
        }),
      );
      return data.length;
    }
    this.#size = size;
    if (end === -1) return data.length;
    this.#mode = TYPE;
    return end + 1;
  }

  /** Emits a received text message. */
  #message(data: string): void {
    this.#events.push({ type: "message", data });
  }

  /** Handles the peer's draft-76 closing handshake. */
  #receiveClose(): void {
    this.#closeReceived = { code: 1005, reason: "" };
    if (!this.#closeSent && this.#autoCloseEcho) {
      this.#outgoing.push(CLOSING_BYTES.slice());
      this.#closeSent = true;
    }
    this.#state = this.#closeSent ? "closed" : "closing";
    this.#events.push({ type: "close", code: 1005, reason: "" });
  }

  /** Fails the connection for a message or frame over the limit. */
  #tooLarge(code: "MESSAGE_TOO_LARGE" | "FRAME_TOO_LARGE", what: string): void {
    this.#fail(
      new ProtocolError(
        code,
        `The ${what} exceeds the limit of ${this.maxMessageSize} bytes`,
      ),
    );
  }

  /**
   * Fails the connection: records the error and closes (the drafts have no
   * close code: the transport is closed), emitting nothing; without
   * autoCloseEcho, `close()` closes.
   */
  #fail(error: ProtocolError): void {
    this.#error = error;
    this.#parts = [];
    this.#state = this.#autoCloseEcho ? "closed" : "closing";
  }

  /** Tells the machine the peer closed its side of the transport. */
  receiveEof(): void {
    // Draft 75 has no closing handshake: the end of the stream is its close.
    this.#parts = [];
    if (
      this.version === "hixie-75" && !this.#error && !this.#closeReceived &&
      this.#state !== "closed"
    ) {
      this.#closeReceived = { code: 1005, reason: "" };
      if (!this.#closeSent && !this.#autoCloseEcho) {
        // Half closed: our answer (closing the transport) comes at close().
        this.#state = "closing";
        this.#events.push({ type: "close", code: 1005, reason: "" });
        return;
      }
      // Our answer is closing the transport too, with no bytes to send.
      this.#closeSent = true;
    }
    this.#state = "closed";
  }

  /**
   * Takes the events produced so far, oldest first.
   *
   * @returns The events; the machine forgets them.
   */
  takeEvents(): ProtocolEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
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
  send(data: Message): void {
    if (typeof data !== "string") {
      throw new TypeError(
        `Cannot send binary data: the ${this.version} protocol carries text only`,
      );
    }
    if (this.#state === "closed" || this.#closeSent) {
      throw new ConnectionClosedError(
        this.#closeInfo(),
        `Cannot send message: connection is ${this.#state}`,
      );
    }
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
    if (this.#state === "closed" || this.#closeSent) return;
    if (this.#error) {
      // A failure: the transport is closed, with no closing bytes.
      this.#state = "closed";
      return;
    }
    if (this.#closeReceived) {
      // Answering the peer's close.
      if (this.version === "hixie-76") {
        this.#outgoing.push(CLOSING_BYTES.slice());
      }
      this.#closeSent = true;
      this.#state = "closed";
      return;
    }
    if (this.version === "hixie-75") {
      // Nothing goes on the wire: closing our side of the transport is the
      // close; the peer's end of stream completes it.
      this.#closeSent = true;
      this.#state = "closing";
      return;
    }
    this.#outgoing.push(CLOSING_BYTES.slice());
    this.#closeSent = true;
    this.#state = "closing";
  }

  /** How the connection ended, for {@linkcode ConnectionClosedError}. */
  #closeInfo(): { code: number; reason: string; wasClean: boolean } {
    if (this.#error) {
      return { code: this.#error.closeCode, reason: "", wasClean: false };
    }
    if (this.#closeReceived) {
      return { ...this.#closeReceived, wasClean: this.#closeSent };
    }
    if (this.#state === "closing") {
      return { code: 1005, reason: "", wasClean: false };
    }
    // Draft 75 ends by closing the transport; draft 76 should not.
    return this.version === "hixie-75"
      ? { code: 1005, reason: "", wasClean: true }
      : { code: 1006, reason: "", wasClean: false };
  }
}
