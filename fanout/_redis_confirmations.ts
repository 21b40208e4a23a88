// Which channels the server has confirmed as subscribed, and who waits for
// that: a subscribe resolves only once the server has answered, so that a
// message published right after it is not missed.

/** Confirmed channels, and the waiters of those not confirmed yet. */
export class Confirmations {
  #confirmed = new Set<string>();
  #waiters = new Map<string, (() => void)[]>();
  #closed = false;

  /** The server confirmed `channel`: its waiters resolve. */
  confirm(channel: string): void {
    this.#confirmed.add(channel);
    const waiters = this.#waiters.get(channel);
    this.#waiters.delete(channel);
    for (const resolve of waiters ?? []) resolve();
  }

  /** `channel` is no longer subscribed (or is being subscribed again). */
  forget(channel: string): void {
    this.#confirmed.delete(channel);
  }

  /** Resolves once `channel` is confirmed; at once if it is, or if closed. */
  wait(channel: string): Promise<void> {
    if (this.#confirmed.has(channel) || this.#closed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const waiters = this.#waiters.get(channel) ?? [];
    waiters.push(resolve);
    this.#waiters.set(channel, waiters);
    return promise;
  }

  /** Resolves every waiter, now and from now on: nothing will be confirmed. */
  close(): void {
    this.#closed = true;
    for (const waiters of this.#waiters.values()) {
      for (const resolve of waiters) resolve();
    }
    this.#waiters.clear();
  }
}
