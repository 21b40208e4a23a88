// The timers that drop or close a connection for lack of progress: a socket
// read or write that takes too long (readTimeout, writeTimeout), and no
// message either way for too long (idleTimeout).

/** The error a connection is dropped with when `what` took too long. */
export function timeoutError(what: string): DOMException {
  return new DOMException(`${what} timed out`, "TimeoutError");
}

/**
 * Settles as `promise` does, or rejects with a `TimeoutError` once `ms`
 * milliseconds have passed first; the timer is cleared either way.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  const late = Promise.withResolvers<never>();
  const timer = setTimeout(() => late.reject(timeoutError(what)), ms);
  return Promise.race([promise, late.promise]).finally(() =>
    clearTimeout(timer)
  );
}

/** What an {@linkcode IdleTimer} closes. */
export interface Closable {
  close(code: number, reason: string): Promise<unknown>;
}

/**
 * Closes a connection with 1001 once no message has gone either way for
 * `ms` milliseconds. Messages only note the time ({@linkcode IdleTimer.touch});
 * the one timer, when it fires early, re-arms for the time that is left.
 */
export class IdleTimer {
  #ms: number;
  #target: Closable;
  #last: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, target: Closable) {
    this.#ms = ms;
    this.#target = target;
    this.#last = performance.now();
    this.#timer = setTimeout(() => this.#check(), ms);
  }

  /** Notes a message sent or received. */
  touch(): void {
    if (this.#timer !== undefined) this.#last = performance.now();
  }

  /** Clears the timer for good. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const idle = performance.now() - this.#last;
    if (idle >= this.#ms) {
      this.#timer = undefined;
      this.#target.close(1001, "Idle timeout").catch(() => {});
    } else {
      this.#timer = setTimeout(() => this.#check(), this.#ms - idle);
    }
  }
}
