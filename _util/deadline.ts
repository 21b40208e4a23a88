// Deadlines and timers for the handshakes and connections, kept cheap: one
// platform timer per distinct duration (not one per handshake or per
// connection), and a deadline that is a plain object with a callback list,
// whose AbortSignal is only made if someone asks for it.

/**
 * A pending expiry in a {@linkcode TimerList}: a node of its doubly linked
 * list, so that cancelling one is O(1) and drops its callback at once.
 */
export class Expiry {
  at = 0;
  fire: (() => void) | undefined = undefined;
  prev: Expiry | undefined = undefined;
  next: Expiry | undefined = undefined;
  list: TimerList | undefined = undefined;
}

/**
 * The expiries of one duration. Every expiry added is `ms` from now, so the
 * list is in deadline order by construction and one timer, armed for its
 * head, serves all of them.
 */
class TimerList {
  readonly ms: number;
  head: Expiry | undefined = undefined;
  tail: Expiry | undefined = undefined;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  armedAt = Infinity;

  constructor(ms: number) {
    this.ms = ms;
  }

  add(expiry: Expiry): void {
    expiry.at = performance.now() + this.ms;
    expiry.list = this;
    expiry.prev = this.tail;
    expiry.next = undefined;
    if (this.tail) this.tail.next = expiry;
    else this.head = expiry;
    this.tail = expiry;
    if (this.timer === undefined) this.#arm();
  }

  remove(expiry: Expiry): void {
    const { prev, next } = expiry;
    if (prev) prev.next = next;
    else this.head = next;
    if (next) next.prev = prev;
    else this.tail = prev;
    expiry.prev = expiry.next = expiry.list = undefined;
    if (this.head === undefined) {
      // Nothing left: no timer stays behind (tests check for leaked ones).
      clearTimeout(this.timer);
      this.timer = undefined;
      lists.delete(this.ms);
    }
    // A timer armed for an earlier head fires early and re-arms itself.
  }

  #arm(): void {
    const head = this.head!;
    const delay = Math.max(0, Math.ceil(head.at - performance.now()));
    this.timer = setTimeout(() => this.#expire(), delay);
  }

  #expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head !== undefined && this.head.at <= now) {
      const expiry = this.head;
      const fire = expiry.fire;
      expiry.fire = undefined;
      this.remove(expiry);
      fire?.();
    }
    if (this.head !== undefined && this.timer === undefined) this.#arm();
  }
}

const lists = new Map<number, TimerList>();

/** Runs `expiry.fire` once `ms` milliseconds have passed, unless cancelled. */
export function schedule(expiry: Expiry, ms: number): void {
  if (expiry.list) expiry.list.remove(expiry);
  let list = lists.get(ms);
  if (list === undefined) {
    list = new TimerList(ms);
    lists.set(ms, list);
  }
  list.add(expiry);
}

/** Cancels a scheduled expiry (a no-op when it is not scheduled). */
export function cancel(expiry: Expiry): void {
  expiry.list?.remove(expiry);
}

/**
 * A deadline for one opening handshake: a timeout, an optional caller's
 * signal and an `abort()` of its own, folded into one abort state. Waiters
 * register callbacks; `signal` is made on first use, for APIs that take an
 * `AbortSignal`.
 */
export class Deadline implements Disposable {
  #aborted = false;
  #reason: unknown = undefined;
  // An array, not a Set: a handshake's reads add and remove a callback
  // each, and a Set under such churn replaces its hash table again and
  // again, each replaced table linked to the next (see LiveSet): one that
  // outlives a young collection keeps the later ones and what they hold
  // alive. There are rarely more than two.
  #callbacks: (() => void)[] | undefined;
  #controller: AbortController | undefined;
  #expiry: Expiry | undefined;
  #parent: AbortSignal | undefined;
  #onParentAbort: (() => void) | undefined;
  #what = "";
  #ms = 0;

  /**
   * @param ms The timeout in milliseconds (0 for none).
   * @param what What times out, for the TimeoutError's message.
   * @param signal A caller's signal that aborts it too.
   */
  constructor(ms: number, what: string, signal?: AbortSignal) {
    if (signal?.aborted) {
      this.abort(signal.reason);
      return;
    }
    if (signal) this.#follow(signal);
    if (ms > 0) {
      this.#what = what;
      this.#ms = ms;
      // A bound method rather than a closure made here (see Closing.start()).
      const expiry = this.#expiry = new Expiry();
      expiry.fire = this.#timedOut.bind(this);
      schedule(expiry, ms);
    }
  }

  #follow(signal: AbortSignal): void {
    this.#parent = signal;
    this.#onParentAbort = () => this.abort(signal.reason);
    signal.addEventListener("abort", this.#onParentAbort, { once: true });
  }

  #timedOut(): void {
    this.abort(
      new DOMException(
        `${this.#what} timed out after ${this.#ms} ms`,
        "TimeoutError",
      ),
    );
  }

  /** Whether it has aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it aborted. */
  get reason(): unknown {
    return this.#reason;
  }

  /** An AbortSignal that follows this deadline, made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts now with `reason` (the first abort wins). */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason ??
      new DOMException("The operation was aborted", "AbortError");
    this.#release();
    this.#controller?.abort(this.#reason);
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (callbacks) { for (const callback of callbacks) callback(); }
  }

  /** Throws the reason when aborted. */
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  /** Calls `callback` once at abort (see {@linkcode Deadline.offAbort}). */
  onAbort(callback: () => void): void {
    const callbacks = this.#callbacks ??= [];
    if (!callbacks.includes(callback)) callbacks.push(callback);
  }

  /** Unregisters a callback of {@linkcode Deadline.onAbort}. */
  offAbort(callback: () => void): void {
    const callbacks = this.#callbacks;
    if (callbacks === undefined) return;
    const at = callbacks.indexOf(callback);
    if (at >= 0) callbacks.splice(at, 1);
  }

  #release(): void {
    if (this.#expiry) cancel(this.#expiry);
    this.#expiry = undefined;
    if (this.#parent) {
      this.#parent.removeEventListener("abort", this.#onParentAbort!);
      this.#parent = undefined;
      this.#onParentAbort = undefined;
    }
  }

  /** Clears the timer and the caller's signal listener. */
  [Symbol.dispose](): void {
    this.#release();
  }
}

/** Creates a deadline of `ms` milliseconds (0 for none), tied to `signal`. */
export function deadline(
  ms: number,
  what: string,
  signal?: AbortSignal,
): Deadline {
  return new Deadline(ms, what, signal);
}

/**
 * Settles with `promise`, or rejects with the abort reason as soon as the
 * deadline (or signal) aborts. `onLate` receives a value that arrives after
 * the abort (to close it).
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: Deadline | AbortSignal,
  onLate?: (value: T) => void,
): Promise<T> {
  if (signal.aborted) {
    promise.then(onLate, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.then(onLate, () => {});
      reject(signal.reason);
    };
    const off = signal instanceof Deadline
      ? (signal.onAbort(onAbort), () => signal.offAbort(onAbort))
      : (signal.addEventListener("abort", onAbort, { once: true }),
        () => signal.removeEventListener("abort", onAbort));
    promise.then(
      (value) => {
        off();
        if (signal.aborted) onLate?.(value);
        else resolve(value);
      },
      (error) => {
        off();
        reject(signal.aborted ? signal.reason : error);
      },
    );
  });
}
