/**
 * {@linkcode Conn}: one WebSocket connection, a thin I/O layer that pumps a
 * transport (a TCP or TLS socket) through a sans-I/O protocol machine. Both
 * `dial()` and `serve()` hand out a `Conn`.
 *
 * @example Echoing every message
 * ```ts
 * import type { Conn } from "@seed/websocket";
 *
 * async function echo(conn: Conn): Promise<void> {
 *   for await (const message of conn) await conn.send(message);
 * }
 * ```
 *
 * @module
 */

import {
  type CloseInfo,
  ConnectionClosedError,
  type ProtocolError,
} from "./errors.ts";
import type {
  Message,
  MessagePart,
  ProtocolMachine,
  ProtocolVersion,
  SendOptions,
} from "./protocol/machine.ts";
import { cancel, Expiry, schedule } from "./_util/deadline.ts";
import { concatBytes } from "./_util/bytes.ts";
import { PreparedMessage } from "./fanout/prepared.ts";
import type { Topics } from "./fanout/topics.ts";

export type { CloseInfo } from "./errors.ts";
export type {
  Message,
  ProtocolVersion,
  SendOptions,
} from "./protocol/machine.ts";

/**
 * The byte stream under a connection. `Deno.Conn` and `Deno.TlsConn` are
 * transports as they are; tests use in-memory pairs.
 */
export interface Transport {
  /** Reads into `p`; resolves with the count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `p`; resolves with the count written. `p` may be reused
   * once the promise settles: a transport that keeps bytes longer copies
   * them.
   */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions at once. */
  close(): void;
  /** Closes the write direction (sends FIN), if the transport can. */
  closeWrite?(): Promise<void>;
  /** The local address, for sockets. */
  readonly localAddr?: Deno.Addr;
  /** The remote address, for sockets. */
  readonly remoteAddr?: Deno.Addr;
}

/**
 * A message received as a stream (see {@linkcode Conn.nextMessage}): its
 * payload arrives frame by frame, or piece by piece within a frame, as the
 * application reads it.
 */
export interface MessageStream {
  /** Whether the message is text or binary. */
  readonly type: "text" | "binary";
  /**
   * The payload bytes (for text, UTF-8 already validated as it arrived).
   * While it is not read, the connection stops reading the socket. Ends
   * with the message; errors with {@linkcode ConnectionClosedError} if the
   * connection ends first. Cancelling it skips the rest of the message.
   */
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * The payload decoded as UTF-8 (for text, and binary known to be text),
   * piece by piece; invalid UTF-8 in a binary message errors the stream.
   * Uses up {@linkcode MessageStream.stream}.
   *
   * @returns The decoded text, in pieces.
   */
  text(): ReadableStream<string>;
}

/** Options of {@linkcode Conn.sendStream}. */
export interface SendStreamOptions extends SendOptions {
  /**
   * Whether to send a binary message; by default binary unless the first
   * chunk is a string.
   */
  binary?: boolean;
}

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

const DEFAULT_CLOSE_TIMEOUT = 10_000;
const DEFAULT_PING_INTERVAL = 20_000;
const DEFAULT_PING_TIMEOUT = 20_000;
const DEFAULT_READ_BUFFER = 64 * 1024;
const DEFAULT_SEND_BUFFER = 256 * 1024;
// The read buffer's bounds (see #run).
const MIN_READ_SIZE = 256;
const MAX_READ_SIZE = 64 * 1024;
// Reads smaller than this are copied out of the reusable read buffer.
const COPY_LIMIT = 16 * 1024;
// What arrives after the closing handshake is read here and dropped: one
// buffer for every connection, as nobody looks at its contents.
const DISCARD = new Uint8Array(4096);
// Chunks smaller than this are coalesced into one write.
const COALESCE_LIMIT = 16 * 1024;
// The largest frame of a message sent from a stream: larger chunks are
// split, so that the send buffer's mark is honoured between frames.
const STREAM_FRAME_SIZE = 256 * 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

function timeoutError(what: string): DOMException {
  return new DOMException(`${what} timed out`, "TimeoutError");
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  return Promise.withResolvers<T>();
}

/**
 * One WebSocket connection, client or server side.
 *
 * The contract: messages arrive through {@linkcode Conn.readable} (or
 * `for await`), as `string` for text and `Uint8Array` for binary. Keep
 * reading: while received messages wait unread, the connection stops reading
 * the socket (backpressure), so pings and close frames wait too. Send with
 * {@linkcode Conn.send} or {@linkcode Conn.writable}: a send is buffered,
 * its promise resolving as soon as the message is queued while the send
 * buffer ({@linkcode Conn.bufferedAmount}) is under `sendBufferSize`, so a
 * peer that stops reading makes senders wait only once that is full;
 * {@linkcode Conn.flush} waits until everything queued is on the socket.
 * Nothing accepted is dropped by `close()`: queued messages leave before
 * the close frame. If the connection fails before they are written,
 * {@linkcode Conn.closed} says so (`wasClean` false) and the next `send()`
 * or `flush()` rejects. Any protocol violation closes the connection with the
 * RFC's close code, once the messages that came before it have been handed
 * to the application and its answers written; {@linkcode Conn.closed} then
 * says how it ended. `close()` runs the closing handshake under a timeout,
 * and every message the peer sent before its close frame is still read;
 * `abort()` drops the socket at once. Sends may be made concurrently; reads
 * are one stream. Messages too large to hold go as streams, frame by frame
 * with backpressure: {@linkcode Conn.nextMessage} receives one (and
 * switches the connection to streamed reading), {@linkcode Conn.sendStream}
 * sends one, with no other message in between.
 *
 * @example Talking to an echo server
 * ```ts ignore
 * import { dial } from "@seed/websocket";
 *
 * await using conn = await dial("ws://127.0.0.1:8080/");
 * await conn.send("Hello");
 * for await (const message of conn) {
 *   console.log(message);
 *   break;
 * }
 * ```
 */
export class Conn implements AsyncDisposable, AsyncIterable<Message> {
  #readable: ReadableStream<Message> | undefined;
  #writable: WritableStream<Message> | undefined;
  /** The negotiated subprotocol ("" for none). */
  readonly protocol: string;
  /** The negotiated extensions, as in `Sec-WebSocket-Extensions` ("" for none). */
  readonly extensions: string;
  /** The origin of the connection: the `Origin` sent or received ("" for none). */
  readonly origin: string;
  /** The WebSocket URL, the lineage's location. */
  readonly url: string;
  /** The protocol version spoken: `"13"` (RFC 6455) unless a draft. */
  readonly version: ProtocolVersion;
  /** The local address, when the transport is a socket. */
  readonly localAddr: Deno.Addr | undefined;
  /** The remote address, when the transport is a socket. */
  readonly remoteAddr: Deno.Addr | undefined;
  /** Longest wait for the closing handshake, in milliseconds. */
  closeTimeout: number;
  /** Longest wait for data from the peer, in milliseconds (0 for none). */
  readTimeout: number;
  /** Longest wait for one socket write, in milliseconds (0 for none). */
  writeTimeout: number;

  #request: Request | (() => Request) | undefined;
  #topics: Topics | (() => Topics) | undefined;
  #role: "client" | "server";
  #transport: Transport;
  #machine: ProtocolMachine;
  #closeTimer: Expiry | undefined;
  // The close echo's timer: an immediate (one macrotask) once drained,
  // a timeout while messages wait.
  #echoTimer:
    | ReturnType<typeof setTimeout>
    | ReturnType<typeof setImmediate>
    | undefined;
  #echoImmediate = false;
  #finSent = false;
  #onClose: (() => void) | undefined;
  #closed: Deferred<CloseInfo> | undefined; // made on first use
  #closeInfoFinal: CloseInfo | undefined;
  #done = false;
  #aborted: unknown = undefined;
  #closeRequested = false;
  // Received messages waiting for the application.
  #inbox: Message[] = [];
  #inboxHead = 0;
  #inboxBytes = 0;
  #readBufferSize: number;
  #reader: Deferred<void> | undefined; // a pull waiting for a message
  #wake: Deferred<void> | undefined; // the read loop waiting for room
  #readableEnded = false;
  // Writes: chunks queued for the next socket write, and its promise
  // (defined exactly while the queue is not empty).
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #inflightBytes = 0;
  #batch: Batch | undefined;
  #inflight: Batch | undefined; // the batch being written
  #writing: Promise<void> | undefined;
  #sendBufferSize: number;
  // Senders waiting for the send buffer to fall back to its mark.
  #room: Deferred<void> | undefined;
  // Whether the connection ended with accepted bytes not written.
  #lost = false;
  #pings: { data: Uint8Array; start: number; done: Deferred<number> }[] = [];
  #pingCounter = 0;
  #pingInterval: number;
  #pingTimeout: number;
  // Keepalive: one expiry on the shared timer list of its duration, armed
  // either for the next ping or for the pong of the ping in flight.
  #keepalive: Expiry | undefined;
  #idleTimeout: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = 0;
  // Streamed messages. Reading: whether the connection reads messages as
  // streams (for good once asked), the pieces waiting for the application
  // (counted in #inboxBytes), the stream of the message being read, and
  // whether the pieces left of a skipped message are dropped as they come.
  #streamReading = false;
  #parts: MessagePart[] = [];
  #partsHead = 0;
  #current: ReadableStreamDefaultController<Uint8Array> | undefined;
  #skipping = false;
  // Sending: the end of the sends waiting behind a message sent from a
  // stream, defined while there are any.
  #ordered: Promise<void> | undefined;

  /**
   * Wraps a transport whose opening handshake is done. Users get a `Conn`
   * from `dial()`, `serve()` or `upgrade()`.
   *
   * @param init The transport, the machine and what the handshake agreed.
   */
  constructor(init: ConnInit) {
    this.#role = init.role;
    this.#transport = init.transport;
    this.#machine = init.machine;
    this.#onClose = init.onClose;
    this.protocol = init.protocol ?? "";
    this.extensions = init.extensions ?? "";
    this.origin = init.origin ?? "";
    this.url = init.url;
    this.#request = init.request;
    this.#topics = init.topics;
    this.version = init.version ?? "13";
    this.localAddr = init.transport.localAddr;
    this.remoteAddr = init.transport.remoteAddr;
    this.closeTimeout = init.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.readTimeout = init.readTimeout ?? 0;
    this.writeTimeout = init.writeTimeout ?? 0;
    this.#readBufferSize = init.readBufferSize ?? DEFAULT_READ_BUFFER;
    this.#sendBufferSize = init.sendBufferSize ?? DEFAULT_SEND_BUFFER;
    this.#pingInterval = init.pingInterval ?? DEFAULT_PING_INTERVAL;
    this.#pingTimeout = init.pingTimeout ?? DEFAULT_PING_TIMEOUT;
    this.#idleTimeout = init.idleTimeout ?? 0;
    if (init.head && init.head.length > 0) this.#machine.receive(init.head);
    this.#run();
    this.#scheduleKeepalive();
    if (this.#idleTimeout > 0) {
      this.#lastActivity = performance.now();
      this.#idleTimer = setTimeout(() => this.#checkIdle(), this.#idleTimeout);
    }
  }

  /** The upgrade request, on the server side (made on first use). */
  get request(): Request | undefined {
    const request = this.#request;
    if (typeof request !== "function") return request;
    return this.#request = request();
  }

  /**
   * Messages from the peer; ends after a normal close, errors with a
   * {@linkcode ConnectionClosedError} otherwise. Cancelling it closes the
   * connection. Made on first use: `for await` over the connection itself
   * reads the same messages without a stream in between.
   */
  get readable(): ReadableStream<Message> {
    return this.#readable ??= new ReadableStream<Message>({
      pull: (controller) =>
        this.#next().then(
          (result) =>
            result.done ? controller.close() : controller.enqueue(result.value),
          (error) => controller.error(error),
        ),
      cancel: () => this.#stopReading(),
    }, { highWaterMark: 0 });
  }

  /**
   * Messages to the peer; closing it closes the connection. Each write
   * resolves as {@linkcode Conn.send} does: once queued while the send
   * buffer is under `sendBufferSize`. Made on first use.
   */
  get writable(): WritableStream<Message> {
    return this.#writable ??= new WritableStream<Message>({
      write: (message) => this.send(message),
      close: () => this.close().then(() => {}),
      abort: () => this.close(1001).then(() => {}),
    });
  }

  /** Resolves with how the connection ended, once the transport is closed. */
  get closed(): Promise<CloseInfo> {
    if (this.#closed === undefined) {
      this.#closed = deferred<CloseInfo>();
      if (this.#closeInfoFinal) this.#closed.resolve(this.#closeInfoFinal);
    }
    return this.#closed.promise;
  }

  /**
   * Bytes queued (messages given to {@linkcode Conn.send}, pings, the close
   * frame) and not yet written to the socket.
   */
  get bufferedAmount(): number {
    return this.#queuedBytes + this.#inflightBytes;
  }

  /**
   * Sends a message: a string as text, a `Uint8Array` as binary, or a
   * {@linkcode PreparedMessage} encoded once for many connections. The
   * message is queued at once, and the promise resolves at once (no socket
   * write waited for) while {@linkcode Conn.bufferedAmount} is at most
   * `sendBufferSize`; above it, once the socket has taken enough for the
   * buffer to be back at or under the mark. Use {@linkcode Conn.flush} to
   * wait until it is written. The message is copied (or encoded) as it is
   * queued: its bytes may be reused as soon as `send()` returns. Rejects
   * with {@linkcode ConnectionClosedError} once the connection is closing,
   * and a pending send rejects if the connection fails first. A message
   * whose send resolved and that then fails to be written is reported by
   * {@linkcode Conn.closed} (`wasClean` false) and by the next `send()` or
   * `flush()`, which reject.
   *
   * @param data The message.
   * @param options Per-message options (compression).
   * @returns A promise that resolves once the message is queued and the send
   * buffer is under its mark.
   *
   * @example Sending text and binary
   * ```ts ignore
   * await conn.send("text");
   * await conn.send(new Uint8Array([1, 2, 3]));
   * await conn.flush(); // both are on the socket
   * ```
   */
  send(
    data: Message | PreparedMessage,
    options?: SendOptions,
  ): Promise<void> {
    if (this.#ordered !== undefined) return this.#sendAfter(data, options);
    return this.#sendNow(data, options);
  }

  // A send made while a message from a stream is under way waits for it to
  // end (and for the sends before it); its bytes are copied now.
  #sendAfter(
    data: Message | PreparedMessage,
    options: SendOptions | undefined,
  ): Promise<void> {
    if (data instanceof Uint8Array) data = data.slice();
    let sent: Promise<void> | undefined;
    const queued = this.#ordered!.then(() => {
      sent = this.#sendNow(data, options);
    });
    this.#order(queued);
    return queued.then(() => sent);
  }

  // Makes `step` the end of the ordered sends, cleared once it is done.
  #order(step: Promise<void>): void {
    this.#ordered = step;
    step.then(() => {
      if (this.#ordered === step) this.#ordered = undefined;
    });
  }

  #sendNow(
    data: Message | PreparedMessage,
    options: SendOptions | undefined,
  ): Promise<void> {
    if (this.#idleTimer !== undefined) this.#lastActivity = performance.now();
    try {
      this.#assertOpen();
      if (!(data instanceof PreparedMessage)) {
        this.#machine.send(data, options);
      } else if (this.#machine.sendPrepared) {
        this.#machine.sendPrepared(data, options);
      } else {
        this.#machine.send(data.data, options);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    this.#enqueue();
    if (this.#queuedBytes + this.#inflightBytes <= this.#sendBufferSize) {
      return Promise.resolve();
    }
    return (this.#room ??= deferred<void>()).promise;
  }

  /**
   * Sends one message whose payload comes from a stream, frame by frame as
   * the chunks come: the first frame carries the opcode, one frame per
   * chunk (chunks over 256 KiB are split), and an empty final frame ends
   * the message once the source is done, so the message may be of any
   * size. Between frames it waits while {@linkcode Conn.bufferedAmount} is
   * over `sendBufferSize` (backpressure). Meanwhile no other message is
   * sent: {@linkcode Conn.send} and further `sendStream()` calls wait until
   * this message ends, while pings, pongs and the close frame may go
   * between its frames. With permessage-deflate the message is compressed
   * as it goes (each frame flushed). String chunks are sent as UTF-8 (a
   * chunk must not end inside a surrogate pair). If the source fails
   * after the first frame, the message cannot be ended: the connection is
   * closed with 1011 and the promise rejects with the source's error. The
   * legacy drafts, which have no fragmentation, reject with `TypeError`.
   *
   * @param source The payload, in chunks: a stream, or any (async)
   * iterable.
   * @param options Binary or text, compression.
   * @returns A promise that resolves once the last frame is queued and the
   * send buffer is under its mark.
   *
   * @example Sending a file as one message
   * ```ts ignore
   * using file = await Deno.open("big.bin");
   * await conn.sendStream(file.readable);
   * ```
   */
  sendStream(
    source:
      | ReadableStream<Uint8Array | string>
      | AsyncIterable<Uint8Array | string>
      | Iterable<Uint8Array | string>,
    options?: SendStreamOptions,
  ): Promise<void> {
    if (this.#machine.sendPart === undefined) {
      return Promise.reject(
        new TypeError(
          `Cannot send a stream: protocol version ${this.version} has no fragmented messages`,
        ),
      );
    }
    const previous = this.#ordered;
    const done = previous === undefined
      ? this.#streamOut(source, options)
      : previous.then(() => this.#streamOut(source, options));
    this.#order(done.then(() => {}, () => {}));
    return done;
  }

  async #streamOut(
    source:
      | ReadableStream<Uint8Array | string>
      | AsyncIterable<Uint8Array | string>
      | Iterable<Uint8Array | string>,
    options: SendStreamOptions | undefined,
  ): Promise<void> {
    const machine = this.#machine;
    let binary = options?.binary;
    const compress = options?.compress;
    let first = true;
    try {
      for await (const chunk of source) {
        let bytes: Uint8Array;
        if (typeof chunk === "string") bytes = encoder.encode(chunk);
        else if (chunk instanceof Uint8Array) bytes = chunk;
        else {
          throw new TypeError(
            "Cannot send a stream: a chunk is not a string or Uint8Array",
          );
        }
        binary ??= typeof chunk !== "string";
        for (let i = 0; i < bytes.length; i += STREAM_FRAME_SIZE) {
          await this.#sendPart(
            bytes.subarray(i, i + STREAM_FRAME_SIZE),
            binary,
            first,
            false,
            compress,
          );
          first = false;
        }
      }
      await this.#sendPart(EMPTY, binary ?? true, first, true, compress);
    } catch (error) {
      // A message begun and not ended would hold the connection for good.
      if (!first && !this.#done && !machine.closeSent) {
        this.close(1011, "Message source failed").catch(() => {});
      }
      throw error;
    }
  }

  // Queues one frame of a message from a stream, then waits for room.
  #sendPart(
    data: Uint8Array,
    binary: boolean,
    first: boolean,
    fin: boolean,
    compress: boolean | undefined,
  ): Promise<void> {
    if (this.#idleTimer !== undefined) this.#lastActivity = performance.now();
    this.#assertOpen();
    this.#machine.sendPart!(data, { binary, first, fin, compress });
    this.#enqueue();
    if (this.#queuedBytes + this.#inflightBytes <= this.#sendBufferSize) {
      return Promise.resolve();
    }
    return (this.#room ??= deferred<void>()).promise;
  }

  /**
   * Resolves once everything queued so far (messages, pings, the close
   * frame) is written to the socket. Rejects with
   * {@linkcode ConnectionClosedError} if the connection ends before that;
   * once it has ended, resolves only if nothing accepted was left unwritten.
   *
   * @returns A promise that resolves once the send buffer is written.
   *
   * @example Making sure a burst has left
   * ```ts ignore
   * for (const line of lines) conn.send(line);
   * await conn.flush();
   * ```
   */
  flush(): Promise<void> {
    if (this.#done) {
      if (!this.#lost) return Promise.resolve();
      return Promise.reject(
        new ConnectionClosedError(
          this.#closeInfo(),
          "Cannot flush: connection closed before the data was written",
          { cause: this.#machine.error ?? this.#aborted },
        ),
      );
    }
    this.#enqueue();
    const last = this.#batch ?? this.#inflight;
    return last ? last.promise : Promise.resolve();
  }

  /**
   * Receives the next message as a stream, for messages too large to hold:
   * its payload is handed out frame by frame (or piece by piece within a
   * frame) as the application reads {@linkcode MessageStream.stream}, and
   * while it does not, the connection stops reading the socket. The first
   * call switches the connection to streamed reading for good: from the
   * next message the protocol begins, every message comes through
   * `nextMessage()` (messages already received whole are handed out first,
   * as streams of one chunk), and reading whole messages through
   * {@linkcode Conn.readable} or `for await` throws `TypeError`.
   * `maxMessageSize` still applies to each message: dial or serve with
   * `maxMessageSize: Infinity` to lift it (memory stays bounded by the
   * read buffer either way). Calling it again before a message's stream
   * is read to its end skips the rest of that message, and errors its
   * stream. Resolves with null once the connection closed normally,
   * rejects with {@linkcode ConnectionClosedError} otherwise; the legacy
   * drafts reject with `TypeError`.
   *
   * @returns The next message, or null at the end.
   *
   * @example Saving each message to a file
   * ```ts ignore
   * for (let i = 0; ; i++) {
   *   const message = await conn.nextMessage();
   *   if (message === null) break;
   *   using file = await Deno.create(`message-${i}.bin`);
   *   await message.stream.pipeTo(file.writable);
   * }
   * ```
   */
  nextMessage(): Promise<MessageStream | null> {
    const machine = this.#machine;
    if (machine.streamMessages === undefined) {
      return Promise.reject(
        new TypeError(
          `Cannot read a message as a stream: protocol version ${this.version} has no fragmented messages`,
        ),
      );
    }
    if (!this.#streamReading) {
      this.#streamReading = true;
      machine.streamMessages = true;
    }
    const current = this.#current;
    if (current !== undefined) {
      current.error(
        new TypeError("Message stream was skipped for the next message"),
      );
      this.#skipRest();
    }
    return this.#nextStream();
  }

  async #nextStream(): Promise<MessageStream | null> {
    for (;;) {
      if (this.#inboxHead < this.#inbox.length) {
        const whole = await this.#next(true);
        return wholeStream(whole.value as Message);
      }
      if (this.#partsHead < this.#parts.length) {
        // Pieces of a skipped message were dropped: this one is a first.
        const part = this.#parts[this.#partsHead];
        return messageStream(part.binary, this.#partStream());
      }
      if (this.#done) {
        const end = await this.#end();
        if (end.done) return null;
      }
      this.#reader ??= deferred<void>();
      this.#wakeLoop();
      await this.#reader.promise;
    }
  }

  #partStream(): ReadableStream<Uint8Array> {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = this.#current = c;
      },
      pull: () => this.#pullPart(controller),
      cancel: () => {
        if (this.#current === controller) this.#skipRest();
      },
    }, { highWaterMark: 0 });
  }

  // Hands the next piece of the message being read to its stream.
  async #pullPart(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    for (;;) {
      if (this.#current !== controller) return;
      if (this.#partsHead < this.#parts.length) {
        const part = this.#takePart();
        if (part.data.length > 0) controller.enqueue(part.data);
        if (part.fin) {
          this.#current = undefined;
          controller.close();
        }
        if (part.data.length > 0 || part.fin) return;
        continue;
      }
      if (this.#done) {
        this.#current = undefined;
        controller.error(
          new ConnectionClosedError(
            this.#closeInfo(),
            "Connection closed before the message ended",
            { cause: this.#machine.error ?? this.#aborted },
          ),
        );
        return;
      }
      this.#reader ??= deferred<void>();
      this.#wakeLoop();
      await this.#reader.promise;
    }
  }

  #takePart(): MessagePart {
    const part = this.#parts[this.#partsHead];
    this.#parts[this.#partsHead++] = undefined as unknown as MessagePart;
    if (this.#partsHead === this.#parts.length) {
      this.#parts = [];
      this.#partsHead = 0;
    }
    this.#inboxBytes -= part.data.length;
    if (this.#inboxBytes < this.#readBufferSize) this.#wakeLoop();
    if (this.#partsHead === 0 && this.#echoTimer !== undefined) {
      this.#scheduleCloseEcho();
    }
    return part;
  }

  // The application gave up on the message being read: what is left of it
  // is dropped, now and as it arrives.
  #skipRest(): void {
    this.#current = undefined;
    while (this.#partsHead < this.#parts.length) {
      if (this.#takePart().fin) return;
    }
    this.#skipping = true;
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds once
   * its pong arrives. Rejects if the connection closes first.
   *
   * @param data Up to 125 bytes; by default a fresh 4-byte counter.
   * @returns The round-trip time in milliseconds.
   *
   * @example Measuring latency
   * ```ts ignore
   * const ms = await conn.ping();
   * console.log(`round trip: ${ms.toFixed(1)} ms`);
   * ```
   */
  ping(data?: Uint8Array): Promise<number> {
    let payload: Uint8Array;
    if (data === undefined) {
      const counter = ++this.#pingCounter;
      payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, counter);
    } else {
      payload = data.slice();
    }
    try {
      this.#assertOpen();
      this.#machine.ping(payload);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = deferred<number>();
    this.#pings.push({ data: payload, start: performance.now(), done });
    this.#flush().catch(() => {});
    return done.promise;
  }

  /**
   * Starts the closing handshake and resolves once the connection is closed,
   * by the handshake or by {@linkcode Conn.closeTimeout}. Idempotent: later
   * calls resolve with the same result.
   *
   * @param code The close code to send.
   * @param reason Up to 123 bytes of UTF-8.
   * @returns How the connection ended.
   *
   * @example Closing with a reason
   * ```ts ignore
   * const { code, wasClean } = await conn.close(1000, "bye");
   * ```
   */
  close(code: number = 1000, reason: string = ""): Promise<CloseInfo> {
    if (!this.#done && !this.#machine.closeSent) {
      try {
        this.#machine.close(code, reason);
      } catch (error) {
        return Promise.reject(error);
      }
      this.#closeRequested = true;
      this.#startClosing();
      const flushed = this.#flush();
      if (this.#machine.closesByHalfClose) {
        // No closing handshake (draft 75): our FIN, after whatever is
        // still queued, is the close, and the peer's FIN ends the read loop.
        flushed.then(() => this.#sendFin()).catch(() => {});
      } else {
        flushed.catch(() => {});
      }
      this.#wakeLoop();
    }
    return this.closed;
  }

  /**
   * Drops the connection now, without a closing handshake. Pending sends,
   * reads and pings reject; {@linkcode Conn.closed} resolves with 1006.
   *
   * @param reason Why, passed to pending operations as the cause.
   *
   * @example Giving up on a peer
   * ```ts ignore
   * conn.abort();
   * ```
   */
  abort(reason?: unknown): void {
    if (this.#done) return;
    this.#aborted = reason ??
      new DOMException("Connection aborted", "AbortError");
    this.#finish();
  }

  /**
   * Iterates over received messages until the connection closes.
   *
   * @returns An async iterator of messages.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: () => this.#next(),
      return: async () => {
        await this.#stopReading();
        return { value: undefined, done: true };
      },
    };
  }

  /** Closes the connection (see {@linkcode Conn.close}). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Subscribes this connection to a topic of its server's hub (see
   * {@linkcode Topics}); the subscription ends when the connection closes.
   * Resolves once the hub's bus (if any) delivers the topic here.
   *
   * @param topic The topic.
   * @returns A promise that resolves once subscribed.
   *
   * @example Joining a room
   * ```ts ignore
   * await conn.subscribe("room:lobby");
   * ```
   */
  subscribe(topic: string): Promise<void> {
    return this.#hub("subscribe").subscribe(this, topic);
  }

  /**
   * Ends this connection's subscription to a topic.
   *
   * @param topic The topic.
   * @returns Whether it was subscribed.
   *
   * @example Leaving a room
   * ```ts ignore
   * conn.unsubscribe("room:lobby");
   * ```
   */
  unsubscribe(topic: string): boolean {
    return this.#hub("unsubscribe").unsubscribe(this, topic);
  }

  /**
   * Publishes a message to every other subscriber of a topic (this
   * connection excluded), without waiting for any of them.
   *
   * @param topic The topic.
   * @param data The message.
   * @returns How many local subscribers it was given to.
   *
   * @example Relaying what a member says to the rest of the room
   * ```ts ignore
   * for await (const message of conn) conn.publish("room:lobby", message);
   * ```
   */
  publish(topic: string, data: Message): number {
    return this.#hub("publish").publish(topic, data, { exclude: this });
  }

  #hub(what: string): Topics {
    const topics = this.#topics;
    if (topics === undefined) {
      throw new TypeError(
        `Cannot ${what}: the connection has no topics hub (serve() gives one)`,
      );
    }
    if (typeof topics !== "function") return topics;
    return this.#topics = topics();
  }

  #assertOpen(): void {
    if (this.#done || this.#machine.closeSent) {
      throw new ConnectionClosedError(
        this.#closeInfo(),
        "Cannot send: connection is closing",
      );
    }
  }

  #closeInfo(): CloseInfo {
    const received = this.#machine.closeReceived;
    return {
      code: received?.code ?? 1006,
      reason: received?.reason ?? "",
      wasClean: this.#aborted === undefined && received !== undefined &&
        this.#machine.closeSent,
    };
  }

  // ---- Reading -------------------------------------------------------

  // The next received message; done after a normal close, a rejection
  // with ConnectionClosedError after any other. Messages already received
  // are handed out before the end is reported.
  #next(streamed = false): Promise<IteratorResult<Message>> {
    if (this.#streamReading && !streamed) {
      return Promise.reject(
        new TypeError(
          "Cannot read a whole message: the connection reads messages as streams",
        ),
      );
    }
    if (this.#inboxHead < this.#inbox.length) {
      const message = this.#inbox[this.#inboxHead];
      this.#inbox[this.#inboxHead++] = "";
      if (this.#inboxHead === this.#inbox.length) {
        this.#inbox = [];
        this.#inboxHead = 0;
      }
      this.#inboxBytes -= message.length;
      if (this.#inboxBytes < this.#readBufferSize) this.#wakeLoop();
      if (this.#inboxHead === 0 && this.#echoTimer !== undefined) {
        this.#scheduleCloseEcho();
      }
      return Promise.resolve({ value: message, done: false });
    }
    if (this.#done) return this.#end();
    this.#reader ??= deferred<void>();
    this.#wakeLoop();
    return this.#reader.promise.then(() => this.#next());
  }

  #end(): Promise<IteratorResult<Message>> {
    const info = this.#closeInfo();
    const normal = this.#readableEnded || info.wasClean &&
        (info.code === 1000 || info.code === 1001 || info.code === 1005 ||
          this.#closeRequested);
    this.#readableEnded = true;
    if (normal) return Promise.resolve({ value: undefined, done: true });
    const cause = this.#machine.error ?? this.#aborted;
    return Promise.reject(
      new ConnectionClosedError(info, undefined, { cause }),
    );
  }

  // The application stopped reading (a cancelled stream, a `break` out of
  // `for await`): the connection closes.
  async #stopReading(): Promise<void> {
    this.#readableEnded = true;
    await this.close();
  }

  #wakeLoop(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake.resolve();
    }
  }

  #deliver(message: Message): void {
    if (this.#idleTimer !== undefined) this.#lastActivity = performance.now();
    // Every message is kept for the reader, closing or not: backpressure
    // (see #run) bounds the inbox, and closeTimeout the closing handshake.
    // Only once the application has stopped reading is there nobody to
    // keep them for.
    if (this.#readableEnded) return;
    this.#inbox.push(message);
    this.#inboxBytes += message.length;
  }

  #deliverPart(part: MessagePart): void {
    if (this.#idleTimer !== undefined) this.#lastActivity = performance.now();
    if (this.#skipping) {
      if (part.fin) this.#skipping = false;
      return;
    }
    this.#parts.push(part);
    this.#inboxBytes += part.data.length;
  }

  #dispatch(): void {
    const events = this.#machine.takeEvents();
    for (const event of events) {
      switch (event.type) {
        case "message":
          this.#deliver(event.data);
          break;
        case "part":
          this.#deliverPart(event);
          break;
        case "pong":
          this.#onPong(event.data);
          break;
        case "close":
          this.#startClosing();
          this.#scheduleCloseEcho();
          break;
      }
    }
    if (this.#machine.error && !this.#machine.closeSent && !this.#done) {
      // The peer broke the protocol: the failure's close frame is sent as a
      // close echo is, after the answers to the messages before the fault.
      this.#startClosing();
      if (this.#echoTimer === undefined) this.#scheduleCloseEcho();
    }
    if (events.length > 0 && this.#reader) {
      const reader = this.#reader;
      this.#reader = undefined;
      reader.resolve();
    }
  }

  // The closing handshake, from whichever side began it, is bounded by one
  // timer: past closeTimeout the socket is dropped.
  #startClosing(): void {
    if (this.#closeTimer !== undefined || this.#done) return;
    // On the shared timer list of its duration: one platform timer for
    // every connection closing at once.
    const timer = this.#closeTimer = new Expiry();
    timer.fire = () => this.abort(timeoutError("Closing handshake"));
    schedule(timer, this.closeTimeout);
  }

  #scheduleKeepalive(): void {
    // A protocol without pings (the legacy drafts) has no keepalive.
    if (this.#pingInterval <= 0 || this.#done || !this.#machine.canPing) {
      return;
    }
    const keepalive = this.#keepalive ??= new Expiry();
    keepalive.fire = () => this.#sendKeepalive();
    schedule(keepalive, this.#pingInterval);
  }

  #sendKeepalive(): void {
    // Closing (or failing): no pong would be read.
    if (this.#done || this.#machine.state !== "open") return;
    const pong = this.ping();
    const keepalive = this.#keepalive!;
    keepalive.fire = () => this.abort(timeoutError("Keepalive ping"));
    schedule(keepalive, this.#pingTimeout);
    pong.then(() => {
      cancel(keepalive);
      this.#scheduleKeepalive();
    }, () => {});
  }

  #checkIdle(): void {
    if (this.#done) return;
    const idle = performance.now() - this.#lastActivity;
    if (idle >= this.#idleTimeout) {
      this.#idleTimer = undefined;
      this.close(1001, "Idle timeout").catch(() => {});
    } else {
      this.#idleTimer = setTimeout(
        () => this.#checkIdle(),
        this.#idleTimeout - idle,
      );
    }
  }

  // The peer's close frame is answered once the application has been handed
  // every message that came before it, and one more turn of the event loop,
  // so that its answers to those messages leave before the close frame. A
  // failure's close frame (the machine has an error) waits the same way.
  // That turn is a macrotask (setImmediate: every microtask and the I/O
  // already due run first) rather than a timer, which would hold every
  // closing handshake for a millisecond or more. A reader that does not
  // drain them delays the answer at most a second.
  #scheduleCloseEcho(): void {
    const machine = this.#machine;
    const pending = machine.closeReceived !== undefined ||
      machine.error !== undefined;
    if (!pending || machine.closeSent || this.#done) return;
    this.#cancelCloseEcho();
    const drained = this.#inboxHead === this.#inbox.length &&
      this.#partsHead === this.#parts.length;
    this.#echoImmediate = drained;
    this.#echoTimer = drained
      ? setImmediate(() => this.#echoClose())
      : setTimeout(
        () => this.#echoClose(),
        Math.min(1000, this.closeTimeout / 2),
      );
  }

  #cancelCloseEcho(): void {
    const timer = this.#echoTimer;
    if (timer === undefined) return;
    this.#echoTimer = undefined;
    if (this.#echoImmediate) {
      clearImmediate(timer as ReturnType<typeof setImmediate>);
    } else clearTimeout(timer as ReturnType<typeof setTimeout>);
  }

  #echoClose(): void {
    this.#echoTimer = undefined;
    if (this.#done || this.#machine.closeSent) return;
    this.#machine.close();
    this.#flush().catch(() => {});
    this.#wakeLoop();
  }

  #onPong(data: Uint8Array): void {
    const index = this.#pings.findIndex((ping) =>
      ping.data.length === data.length &&
      ping.data.every((byte, i) => byte === data[i])
    );
    if (index < 0) return; // unsolicited
    const now = performance.now();
    // A pong answers its ping and every ping sent before it.
    for (const ping of this.#pings.splice(0, index + 1)) {
      ping.done.resolve(now - ping.start);
    }
  }

  // The one loop that reads the socket, for the whole life of the
  // connection: it pumps bytes into the machine, hands events on, writes
  // what the machine answers, and runs the closing handshake to its end.
  async #run(): Promise<void> {
    try {
      // The read buffer adapts: small while the peer sends little (an idle
      // connection holds only this), doubling while reads fill it.
      let size = MIN_READ_SIZE;
      let buffer = new Uint8Array(size);
      while (!this.#done) {
        this.#dispatch();
        if (this.#machine.hasOutgoing) this.#flush().catch(() => {});
        if (this.#machine.state === "closed") break;
        if (
          (this.#machine.closeReceived || this.#machine.error) &&
          !this.#machine.closeSent
        ) {
          // Nothing more is read from the peer (it closed, or broke the
          // protocol); wait for our close frame.
          this.#wake = deferred<void>();
          await this.#wake.promise;
          continue;
        }
        // Backpressure, closing or not: what the peer sent before its
        // close frame waits in the socket until the reader makes room.
        if (
          this.#reader === undefined &&
          this.#inboxBytes >= this.#readBufferSize
        ) {
          this.#wake = deferred<void>();
          await this.#wake.promise;
          continue;
        }
        // The rest of a large frame may be read straight into its payload.
        const target = this.#machine.readTarget?.();
        const n = await this.#read(target ?? buffer);
        if (this.#done) return;
        if (n === null) {
          this.#machine.receiveEof();
          this.#dispatch();
          // A half close (draft 75's close) still lets us answer first.
          while (this.#machine.closeReceived && !this.#machine.closeSent) {
            this.#wake = deferred<void>();
            await this.#wake.promise;
            if (this.#done) return;
          }
          break;
        }
        if (target) {
          this.#machine.receiveInto!(n);
          continue;
        }
        const resize = n === size && size < MAX_READ_SIZE
          ? size * 2
          : n < size >> 2 && size > MIN_READ_SIZE
          ? size >> 1
          : size;
        if (n < COPY_LIMIT && resize === size) {
          // The machine may keep views of what it receives (a partial
          // frame, a binary message): a small read is copied out, so the
          // read buffer is reused and a view never pins a large buffer.
          this.#machine.receive(buffer.slice(0, n));
        } else {
          this.#machine.receive(buffer.subarray(0, n));
          size = resize;
          buffer = new Uint8Array(size);
        }
      }
      await this.#closeTransport();
    } catch (error) {
      if (!this.#done) {
        this.#aborted = error;
        this.#finish();
      }
    }
  }

  // One socket read, under the read timeout when one is set.
  #read(buffer: Uint8Array): Promise<number | null> {
    const read = this.#transport.read(buffer);
    if (this.readTimeout > 0) {
      return withTimeout(read, this.readTimeout, "Read");
    }
    return read;
  }

  // After the machine is closed: write what is left, send FIN where it is
  // ours to close first (the server, or anyone failing the connection),
  // then wait a bounded time for the peer's FIN before closing.
  async #closeTransport(): Promise<void> {
    this.#startClosing();
    try {
      await this.#flush();
      // Who sends FIN first is the protocol's close rule.
      if (this.#machine.closesTransportFirst) await this.#sendFin();
      while (!this.#done) {
        const n = await this.#read(DISCARD);
        if (n === null) {
          this.#machine.receiveEof();
          break;
        }
      }
    } catch {
      // A reset or a timeout here only means the peer is already gone.
    }
    this.#finish();
  }

  #sendFin(): Promise<void> {
    if (this.#finSent) return Promise.resolve();
    this.#finSent = true;
    return this.#transport.closeWrite?.() ?? Promise.resolve();
  }

  // Closes the transport and settles everything, exactly once.
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#closeTimer) cancel(this.#closeTimer);
    this.#cancelCloseEcho();
    if (this.#keepalive) {
      cancel(this.#keepalive);
      this.#keepalive.fire = undefined;
    }
    clearTimeout(this.#idleTimer);
    try {
      this.#transport.close();
    } catch {
      // Already closed.
    }
    this.#onClose?.();
    const info = this.#closeInfo();
    if (this.#queuedBytes + this.#inflightBytes > 0) this.#lost = true;
    this.#inflightBytes = 0;
    this.#queuedBytes = 0;
    const room = this.#room;
    const batch = this.#batch;
    // The batch on the socket settles too, whether its write then fails
    // (the transport is closed) or never returns.
    const inflight = this.#inflight;
    this.#room = this.#batch = this.#inflight = undefined;
    if (this.#queue.length > 0) this.#queue = [];
    // Made only when someone waits: most connections end with nothing
    // pending.
    if (this.#pings.length > 0 || room || batch || inflight) {
      const error = new ConnectionClosedError(info, undefined, {
        cause: this.#machine.error ?? this.#aborted,
      });
      for (const ping of this.#pings.splice(0)) ping.done.reject(error);
      room?.reject(error);
      batch?.reject(error);
      inflight?.reject(error);
    }
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.resolve();
    this.#wakeLoop();
    this.#closeInfoFinal = info;
    this.#closed?.resolve(info);
  }

  // ---- Writing -------------------------------------------------------

  // Moves the machine's outgoing bytes to the write queue now (so that
  // bufferedAmount counts them); resolves once they are on the socket.
  // Bytes queued in one turn share one write.
  #flush(): Promise<void> {
    if (this.#done) {
      return Promise.reject(
        new ConnectionClosedError(
          this.#closeInfo(),
          "Cannot send: connection is closed",
        ),
      );
    }
    this.#enqueue();
    return this.#batch?.promise ?? this.#writing ?? Promise.resolve();
  }

  // #flush without a promise, while open: the send path.
  #enqueue(): void {
    if (this.#machine.hasOutgoing) this.#takeOutgoing();
    if (this.#batch !== undefined && !this.#writing) {
      this.#writing = this.#writeLoop();
    }
  }

  #takeOutgoing(): void {
    const queue = this.#queue;
    for (const chunk of this.#machine.takeOutgoing()) {
      queue.push(chunk);
      this.#queuedBytes += chunk.length;
    }
    if (queue.length > 0) this.#batch ??= new Batch();
  }

  // Wakes the senders waiting for room once the buffer is back at its mark.
  #checkRoom(): void {
    const room = this.#room;
    if (
      room !== undefined &&
      this.#queuedBytes + this.#inflightBytes <= this.#sendBufferSize
    ) {
      this.#room = undefined;
      room.resolve();
    }
  }

  async #writeLoop(): Promise<void> {
    // Let the rest of this turn queue its frames too, and while the
    // application keeps queuing (a loop of awaited sends, which resolve at
    // once under the mark) or taking messages from the inbox (answering a
    // read that brought many), let it go on: one write instead of many. A
    // bounded number of microtasks, never a timer; past the mark senders
    // wait for this write anyway.
    await Promise.resolve();
    let pending = this.#inbox.length - this.#inboxHead;
    let queued = this.#queuedBytes;
    for (
      let spins = 0, still = 0;
      still < 4 && spins < 1024 && queued < this.#sendBufferSize;
      spins++
    ) {
      await Promise.resolve();
      const now = this.#inbox.length - this.#inboxHead;
      still = now === pending && this.#queuedBytes === queued ? still + 1 : 0;
      pending = now;
      queued = this.#queuedBytes;
    }
    try {
      this.#takeOutgoing();
      while (this.#queue.length > 0 && !this.#done) {
        const chunks = this.#queue;
        const batch = this.#batch!;
        this.#queue = [];
        this.#batch = undefined;
        this.#inflight = batch;
        this.#inflightBytes = this.#queuedBytes;
        this.#queuedBytes = 0;
        for (const buffer of coalesce(chunks)) {
          await this.#writeAll(buffer);
          if (this.#done) return;
          // Written: a large chunk (never a copy) may be reused.
          if (buffer.length >= COALESCE_LIMIT) this.#machine.release?.(buffer);
        }
        this.#inflight = undefined;
        batch.resolve();
        this.#takeOutgoing();
      }
    } catch (error) {
      if (!this.#done) {
        this.#aborted = error;
        this.#finish();
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeAll(buffer: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < buffer.length) {
      const write = this.#transport.write(buffer.subarray(offset));
      const n = this.writeTimeout > 0
        ? await withTimeout(write, this.writeTimeout, "Write")
        : await write;
      if (this.#done) return;
      offset += n;
      this.#inflightBytes -= n;
      if (this.#room !== undefined) this.#checkRoom();
    }
  }
}

// The completion of one batch of writes. Its promise is made only when
// someone waits for it (flush(), close()): a send under the mark never does,
// and a broadcast makes one batch per connection per turn.
class Batch {
  #deferred: Deferred<void> | undefined;
  #settled: { ok: boolean; error?: unknown } | undefined;

  get promise(): Promise<void> {
    if (this.#deferred === undefined) {
      const made = this.#deferred = deferred<void>();
      const settled = this.#settled;
      if (settled?.ok === true) made.resolve();
      else if (settled !== undefined) made.reject(settled.error);
    }
    return this.#deferred.promise;
  }

  resolve(): void {
    if (this.#deferred !== undefined) this.#deferred.resolve();
    else this.#settled ??= { ok: true };
  }

  reject(error: unknown): void {
    const made = this.#deferred;
    if (made === undefined) {
      this.#settled ??= { ok: false, error };
      return;
    }
    made.reject(error);
    // Whoever asked for the promise may have let it go.
    made.promise.catch(() => {});
  }
}

// A MessageStream around its payload stream.
function messageStream(
  binary: boolean,
  stream: ReadableStream<Uint8Array>,
): MessageStream {
  return {
    type: binary ? "binary" : "text",
    stream,
    text: () =>
      stream.pipeThrough(new TextDecoderStream("utf-8", { fatal: true })),
  };
}

// A message received whole, as a stream of one chunk.
function wholeStream(message: Message): MessageStream {
  const text = typeof message === "string";
  const bytes = text ? encoder.encode(message) : message;
  return messageStream(
    !text,
    new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.length > 0) controller.enqueue(bytes);
        controller.close();
      },
    }),
  );
}

// Joins runs of small chunks so that many frames leave in one write.
function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  if (chunks.length === 1) return chunks;
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flushRun = () => {
    if (run.length > 0) out.push(concatBytes(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const chunk of chunks) {
    if (chunk.length >= COALESCE_LIMIT) {
      flushRun();
      out.push(chunk);
    } else {
      run.push(chunk);
      runBytes += chunk.length;
      if (runBytes >= COALESCE_LIMIT * 4) flushRun();
    }
  }
  flushRun();
  return out;
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Re-exported for users who pattern-match on failures. */
export type { ProtocolError };
