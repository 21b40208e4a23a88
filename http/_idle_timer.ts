// The wait for a connection's next request, timed: one timer per
// connection, re-armed per wait, that closes the connection on expiry.

import { cancel, Expiry, schedule } from "../_util/deadline.ts";

/**
 * Two expiries used in turn: the next wait's is scheduled before the last
 * one's is cancelled, so that the timer list they share never empties (and
 * its platform timer is not cleared and set per request). Only the current
 * one fires `onIdle`.
 */
export class IdleTimer {
  #ms: number;
  #onIdle: () => void;
  #idle = new Expiry();
  #idleOther = new Expiry();
  #current: Expiry | undefined;
  #turn = false;

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
    this.#idle.fire = () => this.#fired(this.#idle);
    this.#idleOther.fire = () => this.#fired(this.#idleOther);
  }

  #fired(expiry: Expiry): void {
    if (expiry === this.#current) this.#onIdle();
  }

  /** Starts the timeout of a wait for the next request. */
  arm(): void {
    this.#turn = !this.#turn;
    const next = this.#turn ? this.#idleOther : this.#idle;
    schedule(next, this.#ms);
    cancel(next === this.#idle ? this.#idleOther : this.#idle);
    this.#current = next;
  }

  /** Ends the wait: left scheduled (see above), but no longer able to fire. */
  disarm(): void {
    this.#current = undefined;
  }

  /** Cancels both expiries, for good. */
  stop(): void {
    cancel(this.#idle);
    cancel(this.#idleOther);
  }
}
