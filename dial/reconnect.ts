/**
 * A client that comes back: {@linkcode reconnecting} yields a connection,
 * and once it has closed abnormally (or a dial failed for a reason that may
 * pass) dials again after an exponential backoff with full jitter.
 *
 * Messages sent while disconnected are not queued or replayed, and messages
 * in flight when a connection drops may be lost: an application that needs
 * them resends what the server has not acknowledged, on the next connection.
 *
 * @example Staying connected to a feed
 * ```ts ignore
 * import { reconnecting } from "@seed/websocket/reconnect";
 * import { ConnectionClosedError } from "@seed/websocket/errors";
 *
 * for await (const conn of reconnecting("wss://example.com/feed", {
 *   onReconnect: ({ attempt, delay, closed, error }) =>
 *     console.log(`Redial ${attempt} in ${delay} ms`, closed ?? error),
 * })) {
 *   await conn.send("subscribe");
 *   try {
 *     for await (const message of conn) console.log(message);
 *   } catch (error) {
 *     if (!(error instanceof ConnectionClosedError)) throw error;
 *   }
 * }
 * ```
 *
 * @module
 */

import { dial, type DialOptions } from "../client.ts";
import type { CloseInfo, Conn } from "../conn.ts";
import { backoffDelay, sleep } from "../_util/backoff.ts";
import { DialError, HandshakeError, ProxyError } from "../errors.ts";

/** Why a redial happens, given to `onReconnect`. */
export interface ReconnectInfo {
  /**
   * The redial's number since the last connection that opened (or since
   * the first dial): 1 for the first.
   */
  attempt: number;
  /** The wait before this redial, in milliseconds. */
  delay: number;
  /** How the previous connection ended, when one had opened. */
  closed?: CloseInfo;
  /** Why the previous dial failed (a `DialError`), when it failed. */
  error?: unknown;
}

/** Options of {@linkcode reconnecting}: those of `dial()`, and the backoff. */
export interface ReconnectOptions extends DialOptions {
  /**
   * The first redial's longest wait, in milliseconds: each wait is a random
   * duration from 0 up to `min(maxDelay, initialDelay * factor ** (attempt - 1))`
   * ("full jitter", so that many clients do not come back all at once).
   * @default {1000}
   */
  initialDelay?: number;
  /**
   * The longest wait, in milliseconds.
   * @default {30000}
   */
  maxDelay?: number;
  /**
   * How much the longest wait grows per failed redial.
   * @default {2}
   */
  factor?: number;
  /**
   * A source of floats in [0, 1), for the jitter (seed one in tests).
   * @default {Math.random}
   */
  random?: () => number;
  /**
   * How many dials in a row may fail before the iteration throws the last
   * `DialError`.
   * @default {Infinity}
   */
  maxAttempts?: number;
  /** Called before each redial's wait, with why it happens. */
  onReconnect?: (info: ReconnectInfo) => void;
  /**
   * Whether to redial after a connection closed; `byUs` is true when this
   * side called `close()` (a `break` out of its messages, the idle timeout).
   * @default {defaultShouldReconnect}
   */
  shouldReconnect?: (closed: CloseInfo, byUs: boolean) => boolean;
  /**
   * Whether a failed dial may succeed later.
   * @default {isRetryableDialError}
   */
  isRetryable?: (error: unknown) => boolean;
}

/**
 * The default rule for redialling after a close: never after this side
 * closed the connection itself, nor after the server closed it normally
 * (1000: its work is done); after anything else, such as 1001 (going away:
 * a server shutting down or restarting), 1006 (dropped without a close
 * frame), 1011, 1012 (service restart), 1013 (try again later).
 *
 * @param closed How the connection ended.
 * @param byUs Whether this side called `close()`.
 * @returns Whether to redial.
 *
 * @example The rule in three cases
 * ```ts
 * import { defaultShouldReconnect } from "@seed/websocket/reconnect";
 *
 * console.log(defaultShouldReconnect({ code: 1001, reason: "", wasClean: true }, false)); // true
 * console.log(defaultShouldReconnect({ code: 1000, reason: "", wasClean: true }, false)); // false
 * console.log(defaultShouldReconnect({ code: 1006, reason: "", wasClean: false }, true)); // false
 * ```
 */
export function defaultShouldReconnect(
  closed: CloseInfo,
  byUs: boolean,
): boolean {
  return !byUs && closed.code !== 1000;
}

/**
 * Whether a failed dial may succeed later: network errors (refused, reset,
 * unreachable), timeouts, a connection dropped during the handshake, HTTP
 * 5xx and 429 answers, an unreachable proxy or one answering 5xx, SOCKS5
 * failures. Not: other HTTP statuses (401, 403, 404, ...), a handshake the
 * server got wrong, a bad URL or option, certificate errors.
 *
 * @param error What `dial()` rejected with.
 * @returns Whether to try again.
 *
 * @example A refused connection is worth another try
 * ```ts
 * import { isRetryableDialError } from "@seed/websocket/reconnect";
 * import { DialError } from "@seed/websocket/errors";
 *
 * const error = new DialError({
 *   url: "ws://127.0.0.1:1/",
 *   protocol: "",
 *   origin: "",
 *   cause: new Deno.errors.ConnectionRefused("Connection refused"),
 * });
 * console.log(isRetryableDialError(error)); // true
 * ```
 */
export function isRetryableDialError(error: unknown): boolean {
  const cause = error instanceof DialError ? error.cause : error;
  if (cause instanceof HandshakeError) {
    if (cause.code === "UNEXPECTED_EOF") return true;
    const status = cause.response?.status ?? 0;
    return cause.code === "BAD_STATUS" && (status >= 500 || status === 429);
  }
  if (cause instanceof ProxyError) {
    // 0: the proxy was unreachable; 1 to 8: a SOCKS5 reply.
    return cause.status < 100 || cause.status >= 500;
  }
  if (cause instanceof DOMException) return cause.name === "TimeoutError";
  return NETWORK_ERRORS.some((type) => cause instanceof type);
}

const NETWORK_ERRORS = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.BrokenPipe,
  Deno.errors.TimedOut,
  Deno.errors.UnexpectedEof,
  Deno.errors.NetworkUnreachable,
  Deno.errors.AddrNotAvailable,
  // A Unix socket whose server is not there yet.
  Deno.errors.NotFound,
];

function checkNumber(name: string, value: number, min: number): void {
  if (!(value >= min) || Number.isNaN(value)) {
    throw new RangeError(`Invalid ${name} ${value} (use a number from ${min})`);
  }
}

/** Resolves with how the connection closed, or undefined if the signal aborts first. */
function closedOrAborted(
  conn: Conn,
  signal?: AbortSignal,
): Promise<CloseInfo | undefined> {
  if (signal === undefined) return conn.closed;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    conn.closed.then((info) => {
      signal.removeEventListener("abort", onAbort);
      resolve(info);
    });
  });
}

// Notes a call to close() on this connection, from the application or a
// `break` out of its messages, so that a close of our own is told apart
// from the server's.
function trackClose(conn: Conn): () => boolean {
  let byUs = false;
  // A close() once the connection has closed (`await using`, say) is not
  // this side's choice.
  let settled = false;
  conn.closed.then(() => settled = true);
  const close = conn.close;
  Object.defineProperty(conn, "close", {
    configurable: true,
    writable: true,
    value(code?: number, reason?: string): Promise<CloseInfo> {
      if (!settled) byUs = true;
      return close.call(conn, code, reason);
    },
  });
  return () => byUs;
}

/**
 * Dials `url` and yields each connection; once it has closed, dials again
 * unless the rule says not to. The iteration ends:
 *
 * - when the loop is left (`break`, `return`, a throw): the current
 *   connection is closed with 1000;
 * - when `options.signal` aborts: the current connection is closed with
 *   1001, a pending wait or dial stops;
 * - when a connection closed and `shouldReconnect` says no: by default when
 *   this side closed it (`conn.close()`, a `break` out of its messages), or
 *   when the server closed it with 1000;
 * - by throwing the `DialError` of a dial that cannot succeed later
 *   (`isRetryable`, e.g. a 403), or of the last of `maxAttempts` failures.
 *
 * The loop's body may return while the connection is still open (handing
 * it to other code): the next one is dialled once it has closed. Each
 * redial first waits a random time up to the backoff bound; the first
 * redial after a connection that opened waits up to `initialDelay`.
 *
 * @param url A `ws://` or `wss://` URL.
 * @param options Those of `dial()` (each dial uses them), and the backoff.
 * @returns An async iterable of connections.
 *
 * @example Reporting each redial
 * ```ts ignore
 * import { reconnecting } from "@seed/websocket/reconnect";
 *
 * const controller = new AbortController();
 * for await (const conn of reconnecting("ws://127.0.0.1:8080/", {
 *   signal: controller.signal,
 *   initialDelay: 500,
 *   maxDelay: 10_000,
 *   onReconnect: (info) => console.log(info.attempt, info.delay, info.closed?.code),
 * })) {
 *   for await (const message of conn) console.log(message);
 * }
 * ```
 */
export function reconnecting(
  url: string | URL,
  options: ReconnectOptions = {},
): AsyncGenerator<Conn, void, undefined> {
  // Checked now, not on the first step of the iteration.
  checkNumber("initialDelay", options.initialDelay ?? 0, 0);
  checkNumber("maxDelay", options.maxDelay ?? 0, 0);
  checkNumber("factor", options.factor ?? 1, 1);
  checkNumber("maxAttempts", options.maxAttempts ?? 1, 1);
  return connections(url, options);
}

async function* connections(
  url: string | URL,
  options: ReconnectOptions,
): AsyncGenerator<Conn, void, undefined> {
  const {
    initialDelay = 1000,
    maxDelay = 30_000,
    factor = 2,
    random = Math.random,
    maxAttempts = Infinity,
    onReconnect,
    shouldReconnect = defaultShouldReconnect,
    isRetryable = isRetryableDialError,
    ...dialOptions
  } = options;
  const signal = options.signal;
  const backoff = { initial: initialDelay, max: maxDelay, factor, random };
  // Redials since the last connection that opened.
  let attempt = 0;
  let failures = 0;
  let previous: Pick<ReconnectInfo, "closed" | "error"> | undefined;
  while (!signal?.aborted) {
    if (previous !== undefined) {
      attempt++;
      const delay = Math.round(backoffDelay(attempt - 1, backoff));
      onReconnect?.({ attempt, delay, ...previous });
      if (!await sleep(delay, signal)) return;
    }
    let conn: Conn;
    try {
      conn = await dial(url, dialOptions);
    } catch (error) {
      if (signal?.aborted) return;
      failures++;
      if (!isRetryable(error) || failures >= maxAttempts) throw error;
      previous = { error };
      continue;
    }
    attempt = 0;
    failures = 0;
    const closedByUs = trackClose(conn);
    let resumed = false;
    try {
      yield conn;
      resumed = true;
    } finally {
      // Left the loop: this connection is done with.
      if (!resumed) await conn.close(1000);
    }
    const closed = await closedOrAborted(conn, signal);
    if (closed === undefined) {
      await conn.close(1001);
      return;
    }
    if (!shouldReconnect(closed, closedByUs())) return;
    previous = { closed };
  }
}
