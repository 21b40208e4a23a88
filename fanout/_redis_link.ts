// One connection to a Redis node that opens itself again: pub/sub keeps
// nothing for an absent subscriber, so the bus would rather be told at once
// that a connection is back (to subscribe again and report a gap) than
// retry each command.

import { sleep } from "../_util/backoff.ts";
import type { RespClient } from "./_resp.ts";

/**
 * A connection that opens itself again: `onUp` runs with each new client,
 * and a lost one is replaced after the wait `delay(attempt)` gives (attempt
 * counts the failures since the last connection that opened, from 0).
 */
export class Link {
  /** The open client, while there is one. */
  client: RespClient | undefined;
  /** Resolves once the link has stopped for good (after `close()`). */
  readonly done: Promise<void>;
  /** Resolves once the first connection is up (or the link closed). */
  readonly up: Promise<void>;
  #connect: () => Promise<RespClient>;
  #onUp: (client: RespClient, again: boolean) => void;
  #onError: (error: unknown) => void;
  #delay: (attempt: number) => number;
  #abort = new AbortController();
  #up = Promise.withResolvers<void>();
  #ups = 0;

  /**
   * Starts connecting.
   *
   * @param connect Opens a client; the signal aborts once the link closes.
   * @param onUp Called with each new client; `again` is false the first time.
   * @param onError Called with each failed attempt and each lost connection.
   * @param delay The wait before the next attempt, in milliseconds.
   */
  constructor(
    connect: (signal: AbortSignal) => Promise<RespClient>,
    onUp: (client: RespClient, again: boolean) => void,
    onError: (error: unknown) => void,
    delay: (attempt: number) => number,
  ) {
    this.#connect = () => connect(this.#abort.signal);
    this.#onUp = onUp;
    this.#onError = onError;
    this.#delay = delay;
    this.up = this.#up.promise;
    this.done = this.#run();
  }

  /** The open client, or undefined while the link is down. */
  get open(): RespClient | undefined {
    const client = this.client;
    return client && !client.isClosed ? client : undefined;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    for (let attempt = 0; !signal.aborted;) {
      try {
        const client = await this.#connect();
        if (signal.aborted) {
          client.close();
          await client.closed;
          break;
        }
        attempt = 0;
        this.client = client;
        this.#onUp(client, this.#ups++ > 0);
        this.#up.resolve();
        await client.closed;
        this.client = undefined;
        if (signal.aborted) break;
        this.#onError(new Error("Connection to Redis lost"));
      } catch (error) {
        if (signal.aborted) break;
        this.#onError(error);
      }
      await sleep(this.#delay(attempt++), signal);
    }
  }

  /** Stops reconnecting, closes the client and waits until it has closed. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.client?.close();
    await this.done;
    this.#up.resolve(); // for anyone still waiting: it never will be
  }
}
