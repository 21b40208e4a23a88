// The send path: what the application sends (messages, a stream's frames,
// pings) goes through the machine, which encodes it, to the writer's queue
// at once; the promise says when the send buffer is back under its mark.

import { ConnectionClosedError } from "../errors.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import type {
  Message,
  ProtocolMachine,
  SendOptions,
  SendPartOptions,
} from "../protocol/machine.ts";
import type { Ending } from "./_ending.ts";
import type { Pings } from "./_keepalive.ts";
import type { IdleTimer } from "./_timeouts.ts";
import type { Writer } from "./_writer.ts";

/** What an {@linkcode Outgoing} works with: the connection's other parts. */
export interface OutgoingParts {
  readonly machine: ProtocolMachine;
  readonly writer: Writer;
  readonly ending: Ending;
  readonly pings: Pings;
  readonly idle: IdleTimer | undefined;
}

/** Queues what one connection sends. */
export class Outgoing {
  #parts: OutgoingParts;

  /** @param parts The connection's other parts. */
  constructor(parts: OutgoingParts) {
    this.#parts = parts;
  }

  /**
   * Queues a message now; resolves at once under the send buffer's mark,
   * else once the buffer is back under it. Rejects once closing.
   */
  send(
    data: Message | PreparedMessage,
    options: SendOptions | undefined,
  ): Promise<void> {
    const parts = this.#parts;
    parts.idle?.touch();
    const machine = parts.machine;
    if (parts.ending.done || machine.closeSent) {
      return Promise.reject(this.#closingError());
    }
    try {
      if (!(data instanceof PreparedMessage)) machine.send(data, options);
      else if (machine.sendPrepared) machine.sendPrepared(data, options);
      else machine.send(data.data, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return parts.writer.queued();
  }

  /** Queues one frame of a message sent in pieces, then waits for room. */
  sendPart(data: Uint8Array, options: SendPartOptions): Promise<void> {
    const parts = this.#parts;
    parts.idle?.touch();
    this.#assertOpen();
    parts.machine.sendPart!(data, options);
    return parts.writer.queued();
  }

  /** Sends a ping; resolves with the round-trip time once its pong comes. */
  ping(data: Uint8Array | undefined): Promise<number> {
    const parts = this.#parts;
    const payload = parts.pings.payload(data);
    try {
      this.#assertOpen();
      parts.machine.ping(payload);
    } catch (error) {
      return Promise.reject(error);
    }
    const pong = parts.pings.track(payload);
    parts.writer.enqueue();
    return pong;
  }

  /**
   * Resolves once everything queued so far is written; once the connection
   * has ended, only if nothing accepted was left unwritten.
   */
  flush(): Promise<void> {
    const { writer, ending } = this.#parts;
    if (!ending.done) return writer.flush();
    if (!writer.lost) return Promise.resolve();
    return Promise.reject(
      ending.error(
        "Cannot flush: connection closed before the data was written",
      ),
    );
  }

  #assertOpen(): void {
    const { ending, machine } = this.#parts;
    if (ending.done || machine.closeSent) throw this.#closingError();
  }

  #closingError(): ConnectionClosedError {
    return new ConnectionClosedError(
      this.#parts.ending.info,
      "Cannot send: connection is closing",
    );
  }
}
