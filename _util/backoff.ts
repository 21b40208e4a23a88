// Waiting before trying again, for everything that reconnects (a WebSocket
// redial, a Redis link, a cluster's slot map): an exponential backoff with
// full jitter, where each wait is drawn uniformly below a bound that grows
// per failure, so that many clients that lost the same server do not all
// come back at the same moment. The wait is a timer an abort signal cuts
// short, so that closing never waits out a backoff.

/** How the bound on the waits grows. */
export interface Backoff {
  /** The first bound, in milliseconds. */
  initial: number;
  /** The largest bound, in milliseconds. */
  max: number;
  /**
   * How much the bound grows per attempt.
   * @default {2}
   */
  factor?: number;
  /** Floats in [0, 1), for the jitter. */
  random: () => number;
}

/**
 * The wait before a retry: a random duration below
 * `min(max, initial * factor ** attempt)`.
 *
 * @param attempt How many retries came before this one (0 for the first).
 * @param backoff The bounds and the source of randomness.
 * @returns The wait in milliseconds (not rounded).
 */
export function backoffDelay(attempt: number, backoff: Backoff): number {
  const { initial, max, factor = 2, random } = backoff;
  const bound = Math.min(max, initial * factor ** attempt);
  // A first bound of 0 stays 0, even once `factor ** attempt` overflows
  // (0 * Infinity is NaN).
  return random() * (Number.isNaN(bound) ? 0 : bound);
}

/**
 * Waits `ms` milliseconds, or less if `signal` aborts.
 *
 * @param ms How long to wait.
 * @param signal Cuts the wait short.
 * @returns Whether it waited the whole time (false once the signal aborted).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
