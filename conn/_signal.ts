// A one-shot wake-up that many turns may wait on: the read loop waiting for
// something to change, a reader waiting for a message. Its promise is made
// only while someone waits, so that a notification with nobody waiting
// costs nothing.

/** Wakes whoever waits, once; the next wait is a new one. */
export class Signal {
  #waiting: PromiseWithResolvers<void> | undefined = undefined;

  /** Whether someone waits. */
  get waiting(): boolean {
    return this.#waiting !== undefined;
  }

  /** Resolves at the next {@linkcode Signal.notify}. */
  wait(): Promise<void> {
    return (this.#waiting ??= Promise.withResolvers<void>()).promise;
  }

  /** Wakes whoever waits (a no-op when nobody does). */
  notify(): void {
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve();
    }
  }
}
