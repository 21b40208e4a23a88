// A request body read from the socket only as the handler reads it: its
// stream pulls bytes through the body decoder, a `100 Continue` goes out at
// the first read when the client waits for one, limits and timeouts apply
// per read, and what the handler leaves unread is drained before the next
// request (or the connection closes).

import { HandshakeError } from "../errors.ts";
import type { Deadline } from "../_util/deadline.ts";
import { writeAll } from "../_util/io.ts";
import { type BodyDecoder, LengthDecoder } from "./_body_decoder.ts";
import { CONTINUE, framingError } from "./_request_framing.ts";
import { fillWithin, LARGE_READ, SMALL_READ, type Source } from "./_source.ts";

/** The answer to a body over `maxSize` bytes (413). */
export function bodyTooLarge(maxSize: number): HandshakeError {
  return framingError(`Request body exceeds ${maxSize} bytes`, 413);
}

// A request body read from the socket on demand: the handler's reads pull
// it through the decoder; what the handler leaves unread is drained before
// the next request.
export class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  failure: unknown = undefined; // what broke the body, for the answer
  continueSent = false;
  #source: Source;
  #decoder: BodyDecoder;
  #expectContinue: boolean;
  #maxSize: number;
  #timeout: number;
  #stop: Deadline | undefined;
  #pulling: Promise<void> | undefined;
  #detached = false;
  #pulled = false; // whether the stream has asked for bytes

  constructor(
    source: Source,
    decoder: BodyDecoder,
    expectContinue: boolean,
    options: { maxSize: number; timeout: number; stop?: Deadline },
  ) {
    this.#source = source;
    this.#decoder = decoder;
    this.#expectContinue = expectContinue;
    this.#maxSize = options.maxSize;
    this.#timeout = options.timeout;
    this.#stop = options.stop;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pulling = this.#pull(controller),
      cancel: () => {
        // The rest is drained (or the connection closed) after the response.
      },
    }, { highWaterMark: 0 });
  }

  get done(): boolean {
    return this.#decoder.done;
  }

  // Whether the peer may still be holding back its body for a 100.
  get awaitingContinue(): boolean {
    return this.#expectContinue && !this.continueSent && !this.#decoder.done;
  }

  async #pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    if (this.#detached) {
      controller.error(new TypeError("Request body is no longer available"));
      return;
    }
    this.#pulled = true;
    try {
      const data = await this.#next();
      // Copied out, so that the read buffer serves the next read: cheaper
      // than a fresh buffer per read.
      for (const chunk of data) controller.enqueue(chunk.slice());
      if (this.#decoder.done) controller.close();
    } catch (error) {
      this.failure ??= error;
      controller.error(error);
    } finally {
      this.#pulling = undefined;
    }
  }

  // Whether the body can be read here rather than through its stream: the
  // stream never asked for bytes, so none are queued in it.
  get untouched(): boolean {
    return !this.#pulled && !this.#detached && !this.stream.locked;
  }

  // Takes the body over from its stream (see untouched): the stream stays
  // locked, and the bytes come from next(), views of the read buffer that
  // are valid until the next call.
  detach(): void {
    this.#detached = true;
    this.stream.getReader();
  }

  // The next body bytes (at least one chunk, unless the body ended).
  next(): Promise<Uint8Array[]> {
    return this.#next();
  }

  async #next(): Promise<Uint8Array[]> {
    if (this.#expectContinue && !this.continueSent) {
      this.continueSent = true;
      await writeAll(this.#source.transport, CONTINUE);
    }
    const source = this.#source;
    const decoder = this.#decoder;
    while (true) {
      if (source.buffered.length > 0) {
        const result = decoder.decode(source.buffered);
        source.buffered = source.buffered.subarray(result.consumed);
        if (decoder.received > this.#maxSize) {
          throw bodyTooLarge(this.#maxSize);
        }
        if (result.data.length > 0 || result.done) return result.data;
      }
      if (decoder.done) return [];
      try {
        await fillWithin(
          source,
          this.#timeout,
          "Reading the request body",
          this.#stop,
          decoder instanceof LengthDecoder
            ? Math.min(LARGE_READ, Math.max(SMALL_READ, decoder.remaining))
            : LARGE_READ,
        );
      } catch (error) {
        if (error instanceof DOMException && error.name === "TimeoutError") {
          throw new HandshakeError("UNEXPECTED_EOF", error.message, {
            status: 408,
            cause: error,
          });
        }
        throw error;
      }
      if (source.ended && source.buffered.length === 0) {
        throw new HandshakeError(
          "UNEXPECTED_EOF",
          "Connection closed in the middle of a request body",
        );
      }
    }
  }

  // Reads and drops what the handler left unread; false when the body can't
  // be brought to its end (the connection must close).
  async drain(): Promise<boolean> {
    this.#detached = true;
    if (this.#pulling) await this.#pulling;
    if (this.failure !== undefined) return false;
    if (this.awaitingContinue) return false;
    try {
      while (!this.#decoder.done) await this.#next();
      return true;
    } catch {
      return false;
    }
  }
}
