// Messages sent from streams (Conn.sendStream()): one frame per chunk, with
// the send buffer's backpressure between frames, and no other message in
// between: sends made meanwhile wait, in order, for the message to end.

import type { PreparedMessage } from "../fanout/prepared.ts";
import type {
  Message,
  SendOptions,
  SendPartOptions,
} from "../protocol/machine.ts";

// The largest frame of a message sent from a stream: larger chunks are
// split, so that the send buffer's mark is honoured between frames.
const STREAM_FRAME_SIZE = 256 * 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Options of {@linkcode Conn.sendStream}. */
export interface SendStreamOptions extends SendOptions {
  /**
   * Whether to send a binary message; by default binary unless the first
   * chunk is a string.
   */
  binary?: boolean;
}

/** A message's payload, in chunks. */
export type StreamSource =
  | ReadableStream<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>;

/** Where a {@linkcode StreamSender} sends: the connection's send path. */
export interface SendSink {
  /** Sends a whole message now. */
  send(data: Message | PreparedMessage, options?: SendOptions): Promise<void>;
  /** Queues one frame, then waits for room. */
  sendPart(data: Uint8Array, options: SendPartOptions): Promise<void>;
}

/** What a {@linkcode StreamSender} closes when a message cannot be ended. */
export interface SendOwner {
  close(code: number, reason: string): Promise<unknown>;
}

/** Sends messages from streams, and keeps other sends behind them. */
export class StreamSender {
  #sink: SendSink;
  #owner: SendOwner;
  // The end of the sends waiting behind a message sent from a stream,
  // defined while there are any.
  #ordered: Promise<void> | undefined = undefined;

  /**
   * @param sink The connection's send path.
   * @param owner The connection.
   */
  constructor(sink: SendSink, owner: SendOwner) {
    this.#sink = sink;
    this.#owner = owner;
  }

  /** Whether sends must wait behind a message sent from a stream. */
  get busy(): boolean {
    return this.#ordered !== undefined;
  }

  /**
   * Sends a whole message once the messages before it have ended (check
   * {@linkcode StreamSender.busy}); its bytes are copied now.
   */
  sendAfter(
    data: Message | PreparedMessage,
    options: SendOptions | undefined,
  ): Promise<void> {
    if (data instanceof Uint8Array) data = data.slice();
    let sent: Promise<void> | undefined;
    const queued = this.#ordered!.then(() => {
      sent = this.#sink.send(data, options);
    });
    this.#order(queued);
    return queued.then(() => sent);
  }

  /** Sends one message from `source`, after the sends before it. */
  sendStream(
    source: StreamSource,
    options: SendStreamOptions | undefined,
  ): Promise<void> {
    const previous = this.#ordered;
    const done = previous === undefined
      ? this.#streamOut(source, options)
      : previous.then(() => this.#streamOut(source, options));
    this.#order(done.then(() => {}, () => {}));
    return done;
  }

  // Makes `step` the end of the ordered sends, cleared once it is done.
  #order(step: Promise<void>): void {
    this.#ordered = step;
    step.then(() => {
      if (this.#ordered === step) this.#ordered = undefined;
    });
  }

  async #streamOut(
    source: StreamSource,
    options: SendStreamOptions | undefined,
  ): Promise<void> {
    const sink = this.#sink;
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
          const data = bytes.subarray(i, i + STREAM_FRAME_SIZE);
          await sink.sendPart(data, { binary, first, fin: false, compress });
          first = false;
        }
      }
      await sink.sendPart(EMPTY, {
        binary: binary ?? true,
        first,
        fin: true,
        compress,
      });
    } catch (error) {
      // A message begun and not ended would hold the connection for good.
      if (!first) {
        this.#owner.close(1011, "Message source failed").catch(() => {});
      }
      throw error;
    }
  }
}
