/**
 * The error classes of the library.
 *
 * - {@linkcode HandshakeError}: the opening handshake failed. It carries a
 *   stable {@linkcode HandshakeErrorCode} and the HTTP status a server
 *   answers with.
 * - {@linkcode ProtocolError}: a peer broke the protocol on an open
 *   connection. It carries a stable {@linkcode ProtocolErrorCode} and the
 *   close code the connection is failed with ({@linkcode CLOSE_CODES}, the
 *   one map from failure to close code).
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
 * import { DialError, HandshakeError } from "@seed/websocket/errors";
 *
 * function describe(error: unknown): string {
 *   if (error instanceof DialError && error.cause instanceof HandshakeError) {
 *     return `${error.url}: ${error.cause.code}`;
 *   }
 *   return String(error);
 * }
 * ```
 *
 * @module
 */

/**
 * The base of the errors that name a broken rule with a stable `code`:
 * {@linkcode HandshakeError} and {@linkcode ProtocolError}.
 *
 * @example Logging any rule a peer broke
 * ```ts
 * import { WebSocketError } from "@seed/websocket/errors";
 *
 * function describe(error: unknown): string {
 *   return error instanceof WebSocketError ? `${error.name} ${error.code}` : String(error);
 * }
 * ```
 */
export class WebSocketError<Code extends string = string> extends Error {
  /** A stable code naming the broken rule. */
  readonly code: Code;

  /**
   * Creates an error with a code.
   *
   * @param code A stable code naming the broken rule.
   * @param message A sentence-case description without a trailing period.
   * @param cause The underlying error, if any.
   */
  constructor(code: Code, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The stable codes of {@linkcode HandshakeError}: each names one rule of
 * the opening handshake (or of the HTTP request around it) that a peer
 * broke. The README lists them all with their HTTP statuses.
 */
export type HandshakeErrorCode =
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
  // The HTTP path beside the upgrade.
  | "BODY_TOO_LARGE"
  // The peer closed before its head (or body) was complete.
  | "UNEXPECTED_EOF"
  // Redirects followed by the client.
  | "TOO_MANY_REDIRECTS"
  | "REDIRECT_LOOP"
  | "INSECURE_REDIRECT"
  | "BAD_REDIRECT";

/** Options of {@linkcode HandshakeError}. */
export interface HandshakeErrorOptions {
  /** The HTTP status a server answers with; 400 unless said. */
  status?: number;
  /** Headers a server adds to that answer (e.g. `Sec-WebSocket-Version`). */
  headers?: HeadersInit;
  /** The response a client received, for `BAD_STATUS` and friends. */
  response?: { status: number; statusText: string; headers: Headers };
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The opening handshake failed: a request a server refuses (it answers with
 * {@linkcode HandshakeError.status}), or a response a client refuses.
 *
 * @example Reading the status of a refused upgrade
 * ```ts
 * import { HandshakeError } from "@seed/websocket/errors";
 *
 * const error = new HandshakeError("BAD_ORIGIN", "Origin is not allowed", {
 *   status: 403,
 * });
 * console.log(error.code, error.status); // BAD_ORIGIN 403
 * ```
 */
export class HandshakeError extends WebSocketError<HandshakeErrorCode> {
  /** The HTTP status a server answers with; 400 unless said. */
  readonly status: number;
  /** Extra headers for that HTTP answer. */
  readonly headers: Headers;
  /** The HTTP response a client received, when the fault is in it. */
  readonly response?: { status: number; statusText: string; headers: Headers };

  /**
   * Creates a handshake error.
   *
   * @param code A stable code naming the broken rule.
   * @param message A sentence-case description without a trailing period.
   * @param options HTTP status, headers, the response received and cause.
   */
  constructor(
    code: HandshakeErrorCode,
    message: string,
    options: HandshakeErrorOptions = {},
  ) {
    super(code, message, options.cause);
    this.status = options.status ?? 400;
    this.headers = new Headers(options.headers);
    this.response = options.response;
  }
}

/**
 * The stable codes of {@linkcode ProtocolError}: each names one rule of an
 * open connection that a peer broke. {@linkcode CLOSE_CODES} maps each to
 * the close code the connection is failed with.
 */
export type ProtocolErrorCode =
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
  | "BAD_COMPRESSED_DATA"
  | "BAD_CLOSE_CODE"
  | "BAD_CLOSE_PAYLOAD"
  | "UNEXPECTED_EOF";

/**
 * The one map from a protocol failure to its close code (RFC 6455 section
 * 7.4.1): 1007 for data that is not what its type says, 1009 for too
 * large, 1006 (never sent on the wire) for a stream that ended mid-frame,
 * 1002 for the rest.
 *
 * @example
 * ```ts
 * import { CLOSE_CODES } from "@seed/websocket/errors";
 *
 * console.log(CLOSE_CODES.INVALID_UTF8); // 1007
 * ```
 */
export const CLOSE_CODES: Readonly<Record<ProtocolErrorCode, number>> = {
  RESERVED_BITS: 1002,
  RESERVED_OPCODE: 1002,
  FRAGMENTED_CONTROL_FRAME: 1002,
  CONTROL_FRAME_TOO_LONG: 1002,
  UNMASKED_FRAME: 1002,
  MASKED_FRAME: 1002,
  BAD_LENGTH: 1002,
  FRAME_TOO_LARGE: 1009,
  MESSAGE_TOO_LARGE: 1009,
  UNEXPECTED_CONTINUATION: 1002,
  EXPECTED_CONTINUATION: 1002,
  INVALID_UTF8: 1007,
  BAD_COMPRESSED_DATA: 1007,
  BAD_CLOSE_CODE: 1002,
  BAD_CLOSE_PAYLOAD: 1002,
  UNEXPECTED_EOF: 1006,
};

/** Options of {@linkcode ProtocolError}. */
export interface ProtocolErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A peer broke the WebSocket protocol on an open connection; the
 * connection is failed with {@linkcode ProtocolError.closeCode}.
 *
 * @example Reading the close code of a framing error
 * ```ts
 * import { ProtocolError } from "@seed/websocket/errors";
 *
 * const error = new ProtocolError("INVALID_UTF8", "Invalid UTF-8 in a text message");
 * console.log(error.code, error.closeCode); // INVALID_UTF8 1007
 * ```
 */
export class ProtocolError extends WebSocketError<ProtocolErrorCode> {
  /** The close code the connection is failed with, from {@linkcode CLOSE_CODES}. */
  readonly closeCode: number;

  /**
   * Creates a protocol error.
   *
   * @param code A stable code naming the broken rule.
   * @param message A sentence-case description without a trailing period.
   * @param options The cause.
   */
  constructor(
    code: ProtocolErrorCode,
    message: string,
    options: ProtocolErrorOptions = {},
  ) {
    super(code, message, options.cause);
    this.closeCode = CLOSE_CODES[code];
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
