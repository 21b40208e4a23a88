// A deadline for one opening handshake: a timeout and an optional caller's
// signal folded into one AbortSignal, with a timer that is always cleared.

/** A signal that aborts at a timeout or with a caller's signal. */
export interface Deadline extends Disposable {
  readonly signal: AbortSignal;
}

/** Creates a deadline of `ms` milliseconds (0 for none), tied to `signal`. */
export function deadline(
  ms: number,
  what: string,
  signal?: AbortSignal,
): Deadline {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const timer = ms > 0
    ? setTimeout(
      () =>
        controller.abort(
          new DOMException(`${what} timed out after ${ms} ms`, "TimeoutError"),
        ),
      ms,
    )
    : undefined;
  return {
    signal: controller.signal,
    [Symbol.dispose]() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it
 * aborts. `onLate` receives a value that arrives after the abort (to close it).
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
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
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) onLate?.(value);
        else resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(signal.aborted ? signal.reason : error);
      },
    );
  });
}
