// The application's side of received messages: the next whole message from
// the inbox, waiting while there is none, and the end of the messages (done
// after a normal close, an error after any other), for `for await` and
// `Conn.readable`. Messages already received are handed out before the end
// is reported.

import type { Message } from "../protocol/machine.ts";
import type { Ending } from "./_ending.ts";
import { endsNormally } from "./_ending.ts";
import type { Inbox } from "./_inbox.ts";

/** What a {@linkcode Reader} closes when the application stops reading. */
export interface ReaderOwner {
  close(): Promise<unknown>;
}

/** Hands one connection's received messages to the application. */
export class Reader {
  #inbox: Inbox;
  #ending: Ending;
  #owner: ReaderOwner;
  // The retry after a wait, made once: an idle connection's reader waits
  // for as long as it is idle, and a closure per wait would hold a context.
  #again: () => Promise<IteratorResult<Message>> = this.next.bind(this, false);

  /**
   * @param inbox Where the messages wait.
   * @param ending How the connection ended, once it has.
   * @param owner The connection, closed when the application stops reading.
   */
  constructor(inbox: Inbox, ending: Ending, owner: ReaderOwner) {
    this.#inbox = inbox;
    this.#ending = ending;
    this.#owner = owner;
  }

  /**
   * The next message; done after a normal close, a rejection with
   * `ConnectionClosedError` after any other. `streamed` is for the
   * connection's message streams, which take whole messages too.
   */
  next(streamed = false): Promise<IteratorResult<Message>> {
    const inbox = this.#inbox;
    if (inbox.streamed && !streamed) {
      return Promise.reject(
        new TypeError(
          "Cannot read a whole message: the connection reads messages as streams",
        ),
      );
    }
    if (inbox.hasMessage) {
      return Promise.resolve({ value: inbox.shift(), done: false });
    }
    if (this.#ending.done) return this.end();
    return inbox.waitForMessage().then(this.#again);
  }

  /** The end of the messages, once the connection has ended. */
  end(): Promise<IteratorResult<Message>> {
    const inbox = this.#inbox;
    const ending = this.#ending;
    const normal = inbox.ended || endsNormally(ending.info, ending.requested);
    inbox.ended = true;
    if (normal) return Promise.resolve({ value: undefined, done: true });
    return Promise.reject(ending.error());
  }

  /**
   * The application stopped reading (a cancelled stream, a `break` out of
   * `for await`): the connection closes.
   */
  async stop(): Promise<void> {
    this.#inbox.ended = true;
    await this.#owner.close();
  }

  /** The messages as a stream; cancelling it closes the connection. */
  readable(): ReadableStream<Message> {
    return new ReadableStream<Message>({
      pull: (controller) =>
        this.next().then(
          (result) =>
            result.done ? controller.close() : controller.enqueue(result.value),
          (error) => controller.error(error),
        ),
      cancel: () => this.stop(),
    }, { highWaterMark: 0 });
  }

  /** The messages for `for await`; leaving the loop closes the connection. */
  iterator(): AsyncIterator<Message> {
    return new Messages(this);
  }
}

// The iterator `for await` holds for as long as it reads a connection: an
// object with methods rather than one with two closures, as it lives as
// long as the connection.
class Messages implements AsyncIterator<Message> {
  #reader: Reader;

  constructor(reader: Reader) {
    this.#reader = reader;
  }

  next(): Promise<IteratorResult<Message>> {
    return this.#reader.next();
  }

  async return(): Promise<IteratorResult<Message>> {
    await this.#reader.stop();
    return { value: undefined, done: true };
  }
}
