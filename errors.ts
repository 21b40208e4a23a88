/**
 * The error classes of the library.
 *
 * - {@linkcode ProtocolError}: a peer broke the WebSocket or HTTP upgrade
 *   rules. It carries a stable {@linkcode ProtocolErrorCode}, the close code
 *   the connection is failed with, and the HTTP status a server answers with.
 * - {@linkcode DialError}: `dial()` failed; names the URL, protocol and origin.
 * - {@linkcode ConnectionClosedError}: an operation on a closed connection.
 * - {@linkcode ProxyError}: a proxy refused or broke the tunnel.
 *
 * Misuse of the API (a bad argument) throws the built-in `TypeError` or
 * `RangeError`; timeouts use the web-standard `DOMException` named
 * `"TimeoutError"`.
 *
 * @example Telling a protocol fault from a network fault
 * ```ts
 * import { DialError, ProtocolError } from "@seed/websocket/errors";
 *
 * function describe(error: unknown): string {
 *   if (error instanceof DialError && error.cause instanceof ProtocolError) {
 *     return `${error.url}: ${error.cause.code}`;
 *   }
 *   return String(error);
 * }
 * ```
 *
 * @module
 */

/**
 * The stable codes of {@linkcode ProtocolError}. Each names one rule a peer
 * broke; the README lists them all with their close codes and HTTP statuses.
 */
export type ProtocolErrorCode =
  // The lineage's handshake errors.
  | "BAD_SCHEME"
  | "BAD_STATUS"
  | "BAD_UPGRADE"
  | "BAD_ORIGIN"
  | "BAD_LOCATION"
  | "BAD_PROTOCOL"
  | "CHALLENGE_MISMATCH"
  // RFC 6455 opening handshake.
  | "BAD_ACCEPT"
  | "BAD_EXTENSION"
  | "BAD_REQUEST"
  | "BAD_METHOD"
  | "BAD_HTTP_VERSION"
  | "BAD_HOST"
  | "BAD_KEY"
  | "BAD_VERSION"
  | "HEADERS_TOO_LARGE"
  // RFC 6455 framing.
  | "RESERVED_BITS"
  | "RESERVED_OPCODE"
  | "FRAGMENTED_CONTROL_FRAME"
  | "CONTROL_FRAME_TOO_LONG"
  | "UNMASKED_FRAME"
  | "MASKED_FRAME"
  | "BAD_LENGTH"
  | "FRAME_TOO_LARGE"
  | "MESSAGE_TOO_LARGE"
  | "UNEXPECTED_CONTINUATION"
  | "EXPECTED_CONTINUATION"
  | "INVALID_UTF8"
  | "BAD_CLOSE_CODE"
  | "BAD_CLOSE_PAYLOAD"
  | "UNEXPECTED_EOF"
  // Redirects followed by the client.
  | "TOO_MANY_REDIRECTS"
  | "REDIRECT_LOOP"
  | "INSECURE_REDIRECT"
  | "BAD_REDIRECT";

/** Options of {@linkcode ProtocolError}. */
export interface ProtocolErrorOptions {
  /** The close code to fail the connection with (1002, 1007, 1009, ...). */
  closeCode?: number;
  /** The HTTP status a server answers a failed upgrade with. */
  status?: number;
  /** Headers a server adds to that answer (e.g. `Sec-WebSocket-Version`). */
  headers?: HeadersInit;
  /** The response a client received, for `BAD_STATUS` and friends. */
  response?: { status: number; statusText: string; headers: Headers };
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A peer broke the WebSocket protocol or the HTTP upgrade rules.
 *
 * @example Reading the close code of a framing error
 * ```ts
 * import { ProtocolError } from "@seed/websocket/errors";
 *
 * const error = new ProtocolError("INVALID_UTF8", "Invalid UTF-8 in a text message", {
 *   closeCode: 1007,
 * });
 * console.log(error.code, error.closeCode); // INVALID_UTF8 1007
 * ```
 */
export class ProtocolError extends Error {
  /** A stable code naming the broken rule. */
  readonly code: ProtocolErrorCode;
  /** The close code the connection is failed with; 1002 unless said. */
  readonly closeCode: number;
  /** The HTTP status a server answers a failed upgrade with; 400 unless said. */
  readonly status: number;
  /** Extra headers for that HTTP answer. */
  readonly headers: Headers;
  /** The HTTP response a client received, when the fault is in it. */
  readonly response?: { status: number; statusText: string; headers: Headers };

  /**
   * Creates a protocol error.
   *
   * @param code A stable code naming the broken rule.
   * @param message A sentence-case description without a trailing period.
   * @param options Close code, HTTP status and cause.
   */
  constructor(
    code: ProtocolErrorCode,
    message: string,
    options: ProtocolErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ProtocolError";
    this.code = code;
    this.closeCode = options.closeCode ?? 1002;
    this.status = options.status ?? 400;
    this.headers = new Headers(options.headers);
    this.response = options.response;
  }
}

/** What a {@linkcode DialError} names. */
export interface DialErrorInit {
  /** The URL that was dialled. */
  url: string;
  /** The subprotocols that were offered, comma-separated ("" for none). */
  protocol: string;
  /** The origin that was sent ("" for none). */
  origin: string;
  /** Why it failed: a `ProtocolError`, a network error or a timeout. */
  cause: unknown;
  /** The URLs redirected to, in order, when redirects were followed. */
  redirects?: readonly string[];
}

/**
 * `dial()` failed. Names what was dialled; `cause` says why.
 *
 * @example Reporting a failed dial
 * ```ts
 * import { DialError } from "@seed/websocket/errors";
 *
 * const error = new DialError({
 *   url: "ws://127.0.0.1:1/",
 *   protocol: "",
 *   origin: "",
 *   cause: new Error("Connection refused"),
 * });
 * console.log(error.message); // Cannot dial ws://127.0.0.1:1/: Connection refused
 * ```
 */
export class DialError extends Error {
  /** The URL that was dialled. */
  readonly url: string;
  /** The subprotocols that were offered, comma-separated ("" for none). */
  readonly protocol: string;
  /** The origin that was sent ("" for none). */
  readonly origin: string;
  /** The URLs redirected to, in order (empty when none was followed). */
  readonly redirects: readonly string[];

  /**
   * Creates a dial error.
   *
   * @param init The URL, protocol, origin and cause.
   */
  constructor(init: DialErrorInit) {
    const why = init.cause instanceof Error
      ? init.cause.message
      : String(init.cause);
    super(`Cannot dial ${init.url}: ${why}`, { cause: init.cause });
    this.name = "DialError";
    this.url = init.url;
    this.protocol = init.protocol;
    this.origin = init.origin;
    this.redirects = init.redirects ?? [];
  }
}

/** How a connection ended: the close code and reason, and whether cleanly. */
export interface CloseInfo {
  /** The close code received (1005 if the close frame had none, 1006 if none came). */
  code: number;
  /** The close reason received ("" if none). */
  reason: string;
  /** Whether the closing handshake completed. */
  wasClean: boolean;
}

/**
 * An operation on a connection that is closed or closing, or a read that the
 * end of an abnormal close interrupted.
 *
 * @example Handling a send after close
 * ```ts
 * import { ConnectionClosedError } from "@seed/websocket/errors";
 *
 * const error = new ConnectionClosedError({ code: 1006, reason: "", wasClean: false });
 * console.log(error.code, error.wasClean); // 1006 false
 * ```
 */
export class ConnectionClosedError extends Error {
  /** The close code of the connection. */
  readonly code: number;
  /** The close reason of the connection. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;

  /**
   * Creates a connection-closed error.
   *
   * @param info How the connection ended.
   * @param message A description; a default names the code.
   * @param options The underlying cause, if any.
   */
  constructor(info: CloseInfo, message?: string, options?: ErrorOptions) {
    super(
      message ??
        `Connection closed with code ${info.code}${
          info.reason ? `: ${info.reason}` : ""
        }`,
      options,
    );
    this.name = "ConnectionClosedError";
    this.code = info.code;
    this.reason = info.reason;
    this.wasClean = info.wasClean;
  }
}

/** What a {@linkcode ProxyError} names. */
export interface ProxyErrorInit {
  /** The proxy, as a URL without its credentials. */
  proxy: string;
  /**
   * The HTTP status of a refused `CONNECT` (e.g. 407, 403, 502), or the
   * SOCKS5 reply code (1 to 8), or 0 when the proxy broke the protocol.
   */
  status: number;
  /** The HTTP response of a refused `CONNECT`, when there was one. */
  response?: { status: number; statusText: string; headers: Headers };
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A proxy refused to open the tunnel, or broke its protocol. A failed
 * `dial()` carries it as its `cause`.
 *
 * @example Telling a proxy's refusal apart
 * ```ts
 * import { ProxyError } from "@seed/websocket/errors";
 *
 * const error = new ProxyError("Proxy refused CONNECT with 407 Proxy Authentication Required", {
 *   proxy: "http://127.0.0.1:3128",
 *   status: 407,
 * });
 * console.log(error.status); // 407
 * ```
 */
export class ProxyError extends Error {
  /** The proxy, as a URL without its credentials. */
  readonly proxy: string;
  /** The HTTP status, the SOCKS5 reply code, or 0 for a protocol fault. */
  readonly status: number;
  /** The HTTP response of a refused `CONNECT`, when there was one. */
  readonly response?: { status: number; statusText: string; headers: Headers };

  /**
   * Creates a proxy error.
   *
   * @param message A sentence-case description without a trailing period.
   * @param init The proxy, the status and the cause.
   */
  constructor(message: string, init: ProxyErrorInit) {
    super(message, { cause: init.cause });
    this.name = "ProxyError";
    this.proxy = init.proxy;
    this.status = init.status;
    this.response = init.response;
  }
}
