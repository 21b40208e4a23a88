// Pings and their pongs: matching each pong to the ping it answers (and
// every ping sent before it), and the keepalive that pings an idle peer and
// drops it when no pong comes back in time.

import type { ProtocolState } from "../protocol/machine.ts";
import { cancel, Expiry, schedule } from "../_util/deadline.ts";
import { timeoutError } from "./_timeouts.ts";

interface Ping {
  data: Uint8Array;
  start: number;
  done: PromiseWithResolvers<number>;
}

/** The pings in flight, oldest first, waiting for their pongs. */
export class Pings {
  #pings: Ping[] = [];
  #counter = 0;

  /** Whether a ping waits for its pong. */
  get pending(): boolean {
    return this.#pings.length > 0;
  }

  /**
   * A ping's payload: a copy of `data`, or by default a fresh 4-byte
   * counter.
   */
  payload(data?: Uint8Array): Uint8Array {
    if (data !== undefined) return data.slice();
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, ++this.#counter);
    return payload;
  }

  /** Resolves with the round-trip time once a pong answers `data`. */
  track(data: Uint8Array): Promise<number> {
    const done = Promise.withResolvers<number>();
    this.#pings.push({ data, start: performance.now(), done });
    return done.promise;
  }

  /**
   * A pong arrived: it answers its ping and every ping sent before it. An
   * unsolicited one answers none.
   */
  answer(data: Uint8Array): void {
    const index = this.#pings.findIndex((ping) =>
      ping.data.length === data.length &&
      ping.data.every((byte, i) => byte === data[i])
    );
    if (index < 0) return;
    const now = performance.now();
    for (const ping of this.#pings.splice(0, index + 1)) {
      ping.done.resolve(now - ping.start);
    }
  }

  /** No pong will come: every ping in flight rejects with `error`. */
  rejectAll(error: unknown): void {
    for (const ping of this.#pings.splice(0)) ping.done.reject(error);
  }
}

/** The connection a {@linkcode Keepalive} pings. */
export interface Pingable {
  /** Sends a ping; resolves once its pong arrives. */
  ping(): Promise<number>;
  /** Drops the connection. */
  abort(reason?: unknown): void;
}

/** The keepalive's timing, in milliseconds. */
export interface KeepaliveTimes {
  /** From a pong (or the start) to the next ping. */
  interval: number;
  /** How long a ping may wait for its pong. */
  timeout: number;
}

/**
 * Pings every `interval` milliseconds and drops the connection when a pong
 * takes longer than `timeout`: it detects a peer that vanished without
 * closing TCP, or that stalls in the middle of a frame. It is its own entry
 * on the shared timer list of its duration (one platform timer for every
 * connection), armed either for the next ping or for the pong of the ping
 * in flight: no separate entry and no new callback per turn, as every idle
 * connection holds one.
 */
export class Keepalive extends Expiry {
  #target: Pingable;
  #machine: { readonly state: ProtocolState };
  // Numbers rather than the options object: one less object per connection.
  #interval: number;
  #timeout: number;
  // Whether the timer is armed for a pong rather than for the next ping.
  #awaitingPong = false;
  #stopped = false;
  // What the timer list calls, made once (it clears `fire` as it calls):
  // a bound method, which holds no context object as an arrow would.
  #onTimer: () => void = this.#expired.bind(this);

  /**
   * @param target The connection.
   * @param machine Its protocol machine: pings go only while it is open.
   * @param times How often to ping, and how long a pong may take.
   */
  constructor(
    target: Pingable,
    machine: { readonly state: ProtocolState },
    times: KeepaliveTimes,
  ) {
    super();
    this.#target = target;
    this.#machine = machine;
    this.#interval = times.interval;
    this.#timeout = times.timeout;
    this.#arm(false, this.#interval);
  }

  /** Clears the timer for good. */
  stop(): void {
    this.#stopped = true;
    cancel(this);
    this.fire = undefined;
  }

  #arm(awaitingPong: boolean, ms: number): void {
    if (this.#stopped) return;
    this.#awaitingPong = awaitingPong;
    this.fire = this.#onTimer;
    schedule(this, ms);
  }

  #expired(): void {
    if (this.#awaitingPong) {
      this.#target.abort(timeoutError("Keepalive ping"));
      return;
    }
    // Closing (or failing): no pong would be read.
    if (this.#stopped || this.#machine.state !== "open") return;
    const pong = this.#target.ping();
    this.#arm(true, this.#timeout);
    pong.then(() => {
      cancel(this);
      this.#arm(false, this.#interval);
    }, () => {});
  }
}
