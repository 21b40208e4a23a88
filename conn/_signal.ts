// A one-shot wake-up that many turns may wait on: the read loop waiting for
// something to change, a reader waiting for a message. Its promise is made
// only while someone waits, so that a notification with nobody waiting
// costs nothing; and it keeps the promise and its resolve function only,
// not a resolvers object with a reject nobody calls, as an idle
// connection's reader waits on one for as long as it is idle.

/** Wakes whoever waits, once; the next wait is a new one. */
export class Signal {
  #waiting: Promise<void> | undefined = undefined;
  #wake: (() => void) | undefined = undefined;

  /** Whether someone waits. */
  get waiting(): boolean {
    return this.#waiting !== undefined;
  }

  /** Resolves at the next {@linkcode Signal.notify}. */
  wait(): Promise<void> {
    return this.#waiting ??= new Promise((resolve) => this.#wake = resolve);
  }

  /** Wakes whoever waits (a no-op when nobody does). */
  notify(): void {
    const wake = this.#wake;
    if (wake !== undefined) {
      this.#waiting = this.#wake = undefined;
      wake();
    }
  }
}
