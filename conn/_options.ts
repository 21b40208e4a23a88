// The per-connection settings: what dial(), serve() and upgrade() accept and
// pass on to every Conn they make (picked from their wider options in one
// place), what a Conn is made of, and the defaults.

import type { ProtocolMachine, ProtocolVersion } from "../protocol/machine.ts";
import type { Topics } from "../fanout/topics.ts";
import type { Transport } from "./_transport.ts";

/** Default of {@linkcode ConnOptions.closeTimeout}. */
export const DEFAULT_CLOSE_TIMEOUT = 10_000;
/** Default of {@linkcode ConnOptions.pingInterval}. */
export const DEFAULT_PING_INTERVAL = 20_000;
/** Default of {@linkcode ConnOptions.pingTimeout}. */
export const DEFAULT_PING_TIMEOUT = 20_000;
/** Default of {@linkcode ConnOptions.readBufferSize}. */
export const DEFAULT_READ_BUFFER = 64 * 1024;
/** Default of {@linkcode ConnOptions.sendBufferSize}. */
export const DEFAULT_SEND_BUFFER = 256 * 1024;

/** Per-connection settings, shared by `dial()` and `serve()`. */
export interface ConnOptions {
  /**
   * Longest wait, in milliseconds, for the peer's part of the closing
   * handshake (its close frame, then the end of the stream) before the
   * connection is dropped.
   * @default {10000}
   */
  closeTimeout?: number;
  /**
   * Longest wait, in milliseconds, for the peer to send anything while the
   * connection is reading; past it the connection is dropped. 0 for none.
   * @default {0}
   */
  readTimeout?: number;
  /**
   * Longest wait, in milliseconds, for one socket write (a peer that stops
   * reading stalls writes); past it the connection is dropped. 0 for none.
   * @default {0}
   */
  writeTimeout?: number;
  /**
   * How many bytes of received messages may wait for the application to read
   * them before the connection stops reading from the socket (backpressure),
   * closing or not: nothing the peer sent before its close frame is dropped.
   * @default {65536}
   */
  readBufferSize?: number;
  /**
   * The send buffer's high-water mark, in bytes. {@linkcode Conn.send}
   * resolves as soon as its message is queued while
   * {@linkcode Conn.bufferedAmount} is at most this; above it, it waits
   * (backpressure) until the socket has taken enough for the buffer to be
   * back at or under the mark. A sender that awaits each send holds at most
   * this plus one message.
   * @default {262144}
   */
  sendBufferSize?: number;
  /**
   * How often, in milliseconds, to send a keepalive ping; 0 for never. With
   * `pingTimeout`, it detects a peer that vanished without closing TCP (or
   * that stalls in the middle of a frame). Protocols without pings (the
   * legacy drafts) send none.
   * @default {20000}
   */
  pingInterval?: number;
  /**
   * How long, in milliseconds, a keepalive ping may wait for its pong before
   * the connection is dropped.
   * @default {20000}
   */
  pingTimeout?: number;
  /**
   * Closes the connection with 1001 once no message has gone either way for
   * this many milliseconds; 0 for never.
   * @default {0}
   */
  idleTimeout?: number;
}

/** Everything a {@linkcode Conn} is made of; `dial()` and `serve()` fill it. */
export interface ConnInit extends ConnOptions {
  /** Which end this is: the server closes the TCP connection first. */
  role: "client" | "server";
  /** The socket. */
  transport: Transport;
  /** The protocol machine, already past its opening handshake. */
  machine: ProtocolMachine;
  /** Bytes received after the handshake, for the machine first. */
  head?: Uint8Array;
  /** The negotiated subprotocol ("" for none). */
  protocol?: string;
  /** The negotiated extensions ("" for none). */
  extensions?: string;
  /** The origin of the connection ("" for none). */
  origin?: string;
  /** The WebSocket URL (the location). */
  url: string;
  /**
   * The upgrade request (server side), or a function that makes it on first
   * use of {@linkcode Conn.request}.
   */
  request?: Request | (() => Request);
  /** The protocol version. */
  version?: ProtocolVersion;
  /** Called once the transport is closed (to free extension state). */
  onClose?: () => void;
  /**
   * The hub behind {@linkcode Conn.subscribe} and {@linkcode Conn.publish}
   * (the server's), or a function that gives it on first use.
   */
  topics?: Topics | (() => Topics);
}

// Every ConnOptions field, for pickConnOptions().
const CONN_OPTION_KEYS = [
  "closeTimeout",
  "readTimeout",
  "writeTimeout",
  "readBufferSize",
  "pingInterval",
  "pingTimeout",
  "idleTimeout",
  "sendBufferSize",
] as const satisfies readonly (keyof ConnOptions)[];

/**
 * The ConnOptions fields of a wider options object, those left unset left
 * out (the connection's defaults apply): fewer fields to copy into every
 * connection.
 */
export function pickConnOptions(options: ConnOptions): ConnOptions {
  const picked: ConnOptions = {};
  for (const key of CONN_OPTION_KEYS) {
    const value = options[key];
    if (value !== undefined) picked[key] = value;
  }
  return picked;
}
