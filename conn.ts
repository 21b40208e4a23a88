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

import type { CloseInfo, ProtocolError } from "./errors.ts";
import type { Message, SendOptions } from "./protocol/machine.ts";
import type { PreparedMessage } from "./fanout/prepared.ts";
import type { Topics } from "./fanout/topics.ts";
import { type MessageStream, MessageStreams } from "./conn/_message_stream.ts";
import { type ConnInit, DEFAULT_CLOSE_TIMEOUT } from "./conn/_options.ts";
import { ConnParts, exposeParts } from "./conn/_parts.ts";
import { ConnectionInfo } from "./conn/_info.ts";
import { type SendStreamOptions, StreamSender } from "./conn/_stream_sender.ts";

export type { CloseInfo } from "./errors.ts";
export type {
  Message,
  ProtocolVersion,
  SendOptions,
} from "./protocol/machine.ts";
export type { ConnInit, ConnOptions } from "./conn/_options.ts";
export type { Transport } from "./conn/_transport.ts";
export { ConnectionInfo } from "./conn/_info.ts";
export type { MessageStream } from "./conn/_message_stream.ts";
export type { SendStreamOptions } from "./conn/_stream_sender.ts";

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
export class Conn extends ConnectionInfo
  implements AsyncDisposable, AsyncIterable<Message> {
  /** Longest wait for the closing handshake, in milliseconds. */
  closeTimeout: number;
  /** Longest wait for data from the peer, in milliseconds (0 for none). */
  readTimeout: number;
  /** Longest wait for one socket write, in milliseconds (0 for none). */
  writeTimeout: number;

  #topics: Topics | (() => Topics) | undefined;
  // The inbox, the writer, the read loop, the timers (see ConnParts).
  #p: ConnParts;
  // Made on first use.
  #streams: MessageStreams | undefined;
  #sender: StreamSender | undefined;
  #readable: ReadableStream<Message> | undefined;
  #writable: WritableStream<Message> | undefined;

  static {
    exposeParts((conn) => conn.#p);
  }

  /**
   * Wraps a transport whose opening handshake is done. Users get a `Conn`
   * from `dial()`, `serve()` or `upgrade()`.
   *
   * @param init The transport, the machine and what the handshake agreed.
   */
  constructor(init: ConnInit) {
    super(init);
    this.#topics = init.topics;
    this.closeTimeout = init.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.readTimeout = init.readTimeout ?? 0;
    this.writeTimeout = init.writeTimeout ?? 0;
    this.#p = new ConnParts(this, init);
    this.#p.start(this, init);
  }

  /**
   * Messages from the peer; ends after a normal close, errors with a
   * {@linkcode ConnectionClosedError} otherwise. Cancelling it closes the
   * connection. Made on first use: `for await` over the connection itself
   * reads the same messages without a stream in between.
   */
  get readable(): ReadableStream<Message> {
    return this.#readable ??= this.#p.reader.readable();
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
    return this.#p.ending.closed;
  }

  /**
   * Bytes queued (messages given to {@linkcode Conn.send}, pings, the close
   * frame) and not yet written to the socket.
   */
  get bufferedAmount(): number {
    return this.#p.writer.buffered;
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
    const sender = this.#sender;
    if (sender !== undefined && sender.busy) {
      return sender.sendAfter(data, options);
    }
    return this.#p.outgoing.send(data, options);
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
    if (this.#p.machine.sendPart === undefined) {
      return Promise.reject(
        new TypeError(
          `Cannot send a stream: protocol version ${this.version} has no fragmented messages`,
        ),
      );
    }
    this.#sender ??= new StreamSender(this.#p.outgoing, this);
    return this.#sender.sendStream(source, options);
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
    return this.#p.outgoing.flush();
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
    const p = this.#p;
    if (p.machine.streamMessages === undefined) {
      return Promise.reject(
        new TypeError(
          `Cannot read a message as a stream: protocol version ${this.version} has no fragmented messages`,
        ),
      );
    }
    return (this.#streams ??= new MessageStreams(p)).next();
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
    return this.#p.outgoing.ping(data);
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
    const p = this.#p;
    if (!p.ending.done && !p.machine.closeSent) {
      try {
        p.closing.begin(code, reason);
      } catch (error) {
        return Promise.reject(error);
      }
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
    this.#p.abort(
      reason ?? new DOMException("Connection aborted", "AbortError"),
    );
  }

  /**
   * Iterates over received messages until the connection closes.
   *
   * @returns An async iterator of messages.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this.#p.reader.iterator();
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
}

/** Re-exported for users who pattern-match on failures. */
export type { ProtocolError };
