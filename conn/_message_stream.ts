// Messages received as streams (Conn.nextMessage()): each message's payload
// is handed to the application piece by piece, as it reads, from the pieces
// the inbox holds; while it does not read, the inbox fills and the socket
// stays unread.

import type { Message, ProtocolMachine } from "../protocol/machine.ts";
import type { Ending } from "./_ending.ts";
import type { Inbox } from "./_inbox.ts";
import type { Reader } from "./_reader.ts";

const encoder = new TextEncoder();

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

/** What a {@linkcode MessageStreams} reads from. */
export interface MessageStreamParts {
  readonly inbox: Inbox;
  readonly reader: Reader;
  readonly ending: Ending;
  readonly machine: ProtocolMachine;
}

/** Hands out a connection's messages as streams, one at a time. */
export class MessageStreams {
  #inbox: Inbox;
  #reader: Reader;
  #ending: Ending;
  // The stream of the message being read.
  #current: ReadableStreamDefaultController<Uint8Array> | undefined = undefined;

  /**
   * Switches the connection to reading messages as streams, for good: from
   * the next message the machine begins, it hands out pieces.
   *
   * @param parts The connection's inbox, its reader of whole messages (for
   * those already received), how it ended, and its machine.
   */
  constructor(parts: MessageStreamParts) {
    this.#inbox = parts.inbox;
    this.#reader = parts.reader;
    this.#ending = parts.ending;
    parts.inbox.streamed = true;
    parts.machine.streamMessages = true;
  }

  /**
   * The next message, or null at a normal end. The message being read, if
   * any, is skipped: its stream errors and the rest of it is dropped.
   */
  next(): Promise<MessageStream | null> {
    const current = this.#current;
    if (current !== undefined) {
      current.error(
        new TypeError("Message stream was skipped for the next message"),
      );
      this.#skipRest();
    }
    return this.#next();
  }

  async #next(): Promise<MessageStream | null> {
    const inbox = this.#inbox;
    for (;;) {
      if (inbox.hasMessage) {
        const whole = await this.#reader.next(true);
        return wholeStream(whole.value as Message);
      }
      const part = inbox.nextPart;
      // Pieces of a skipped message were dropped: this one is a first.
      if (part !== undefined) {
        return messageStream(part.binary, this.#partStream());
      }
      if (this.#ending.done) {
        const end = await this.#reader.end();
        if (end.done) return null;
      }
      await inbox.waitForMessage();
    }
  }

  #partStream(): ReadableStream<Uint8Array> {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = this.#current = c;
      },
      pull: () => this.#pull(controller),
      cancel: () => {
        if (this.#current === controller) this.#skipRest();
      },
    }, { highWaterMark: 0 });
  }

  // Hands the next piece of the message being read to its stream.
  async #pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    const inbox = this.#inbox;
    for (;;) {
      if (this.#current !== controller) return;
      if (inbox.nextPart !== undefined) {
        const part = inbox.takePart();
        if (part.data.length > 0) controller.enqueue(part.data);
        if (part.fin) {
          this.#current = undefined;
          controller.close();
        }
        if (part.data.length > 0 || part.fin) return;
        continue;
      }
      if (this.#ending.done) {
        this.#current = undefined;
        controller.error(
          this.#ending.error("Connection closed before the message ended"),
        );
        return;
      }
      await inbox.waitForMessage();
    }
  }

  // The application gave up on the message being read.
  #skipRest(): void {
    this.#current = undefined;
    this.#inbox.skipRest();
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

/** A message received whole, as a stream of one chunk. */
export function wholeStream(message: Message): MessageStream {
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
