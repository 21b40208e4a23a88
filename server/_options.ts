// The server's options, public (UpgradeOptions, UpgradeSocketOptions,
// ServeOptions and the policies they name), and the one place where they are
// read and normalised for the handshake.

import type { ConnOptions } from "../conn.ts";
import { pickConnOptions } from "../conn/_options.ts";
import type { Topics } from "../fanout/topics.ts";
import type { ProtocolVersion } from "../protocol/machine.ts";
import type { ExtensionNegotiator } from "../extensions/extension.ts";
import {
  perMessageDeflate,
  type PerMessageDeflateOptions,
} from "../extensions/permessage_deflate.ts";
import type { TrustProxy } from "../http/_http1.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../protocol/rfc6455.ts";

/** Facts about the peer, for hooks. */
export interface PeerInfo {
  /** The peer's address, when the transport is a socket. */
  remoteAddr: Deno.Addr | undefined;
  /**
   * The client's IP address: the peer's, or, when the peer is a proxy
   * trusted by the `trustProxy` option, the one it names in `Forwarded`
   * (RFC 7239) or `X-Forwarded-For`. Undefined when the transport has no
   * IP address (a Unix socket, an in-memory pair).
   */
  clientAddr: string | undefined;
}

/**
 * Which origins may connect: `"same-origin"` (an `Origin` whose host is the
 * `Host`, or no `Origin` at all, as non-browser clients send), `"any"`, a
 * list of allowed origins (e.g. `"https://example.com"`), or a function.
 */
export type OriginPolicy =
  | "same-origin"
  | "any"
  | readonly string[]
  | ((origin: string, request: Request) => boolean);

/**
 * How to pick a subprotocol: a list in the server's order of preference, or
 * a function of the client's offer that returns one of them (or undefined).
 */
export type ProtocolPolicy =
  | readonly string[]
  | ((offered: string[], request: Request) => string | undefined);

/** Options of `upgrade()`, shared by `serve()`. */
export interface UpgradeOptions extends ConnOptions {
  /** Subprotocol selection; by default none is selected. */
  protocols?: ProtocolPolicy;
  /**
   * Which origins may connect; others get 403.
   * @default {"same-origin"}
   */
  checkOrigin?: OriginPolicy;
  /**
   * Runs after the request passed every check and before the 101; return a
   * `Response` to refuse the upgrade with it (e.g. 401 for authentication).
   */
  beforeUpgrade?: (
    request: Request,
    info: PeerInfo,
  ) => Response | void | undefined | Promise<Response | void | undefined>;
  /**
   * Answers requests that are not WebSocket upgrades, as a fetch handler,
   * so one port can also serve pages and an API. The connection is HTTP/1.1
   * with keep-alive and pipelining (answered in order), and may be upgraded
   * to a WebSocket by a later request. `request.body` streams the request
   * body (Content-Length or chunked; `100 Continue` is sent when it is first
   * read); `request.signal` aborts when the client disconnects or the server
   * shuts down. The response streams out: with Content-Length when its size
   * is known (a string, bytes, or a `content-length` you set), chunked
   * otherwise. A fallback that throws is answered 500 without details (the
   * error goes to `onError`). By default: 426 Upgrade Required with
   * `Upgrade: websocket`, and the connection closes.
   */
  fallback?: (request: Request, info: PeerInfo) => Response | Promise<Response>;
  /**
   * The largest request body `fallback` may read, in bytes. A request that
   * declares more gets 413 Content Too Large before `fallback` runs; a
   * chunked body that grows past it fails the body stream with a
   * `HandshakeError` of status 413, answered with 413 if `fallback` throws
   * it. Either way the connection closes.
   * @default {16777216} (16 MiB)
   */
  maxBodySize?: number;
  /**
   * Longest wait, in milliseconds, for the next piece of a request body
   * while `fallback` reads it; past it the body stream fails (status 408,
   * answered with 408 if `fallback` throws it) and the connection closes.
   * 0 for none.
   * @default {30000}
   */
  bodyTimeout?: number;
  /**
   * Longest wait, in milliseconds, for the next request on a persistent
   * HTTP connection (from the end of a response to the end of the next
   * head); past it the connection is closed. 0 for none.
   * @default {5000}
   */
  keepAliveTimeout?: number;
  /**
   * The most requests answered on one connection; the last is answered
   * with `Connection: close`.
   * @default {1000}
   */
  maxRequestsPerConnection?: number;
  /**
   * Which reverse proxies may name the client, for
   * {@linkcode PeerInfo.clientAddr}: the number of proxies in front of the
   * server (`1` for one nginx), their addresses, or a function of an
   * address. Their `Forwarded` (RFC 7239) or else `X-Forwarded-For` header
   * is read from the right, skipping trusted proxies. By default none is
   * trusted and `clientAddr` is the peer's address: these headers are
   * trivially forged by a client that connects directly.
   */
  trustProxy?: TrustProxy;
  /**
   * Longest time, in milliseconds, from accepting a socket to the end of
   * the opening handshake.
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * The largest request head accepted, in bytes; larger gets 431.
   * @default {16384}
   */
  maxHeadSize?: number;
  /**
   * The largest message accepted, in bytes; larger closes with 1009.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * The protocol versions accepted: `"13"` (RFC 6455); `"8"` and `"7"` (the
   * hybi drafts of 2011, which frame the same way); `"hixie-76"` and
   * `"hixie-75"`, the legacy drafts, which have no masking and a weaker
   * handshake and so are off unless listed. The version is negotiated from
   * the request's headers. (The numbers 13, 8 and 7 that earlier releases
   * took are still read as the first three.)
   * @default {["13"]}
   */
  versions?: readonly ProtocolVersion[];
  /**
   * permessage-deflate (RFC 7692): `true` or options to answer a client's
   * offer. Off by default: compression costs CPU and about 350 KiB of zlib
   * state per connection with the default window (see the README).
   * @default {false}
   */
  compression?: boolean | PerMessageDeflateOptions;
  /**
   * Extensions to agree to when a client offers them, most preferred first
   * (after permessage-deflate when `compression` is on). A connection runs
   * one extension at most: the first of these that accepts an offer.
   * @default {[]}
   */
  extensions?: readonly ExtensionNegotiator[];
  /**
   * The hub of topics behind each connection's `subscribe()`, `publish()`
   * and `unsubscribe()`. `serve()` makes one on first use, with default
   * options, unless given one here (with a bus, say).
   */
  topics?: Topics;
}

/** Options of `upgrade()` for a socket you accepted yourself. */
export interface UpgradeSocketOptions extends UpgradeOptions {
  /** Bytes of the request already read from the socket. */
  head?: Uint8Array;
  /** Whether the socket is TLS (for the request URL). */
  secure?: boolean;
  /** Aborts the handshake. */
  signal?: AbortSignal;
}

/** Options of `serve()`. */
export interface ServeOptions extends UpgradeOptions {
  /**
   * The port to listen on; 0 picks a free one.
   * @default {8000}
   */
  port?: number;
  /**
   * The address to listen on.
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /** Stops the server when aborted, as `WebSocketServer.shutdown()`. */
  signal?: AbortSignal;
  /** Called once listening; by default logs the address. */
  onListen?: (addr: Deno.NetAddr) => void;
  /**
   * Called with errors that escape a handler (the connection is closed with
   * 1011) or break a handshake; by default logs them.
   */
  onError?: (error: unknown) => void;
  /** PEM certificate chain: with `key`, the server speaks TLS (`wss://`). */
  cert?: string;
  /** PEM private key for `cert`. */
  key?: string;
  /**
   * The most connections (open or in their handshake) served at once;
   * sockets past it get 503 Service Unavailable.
   * @default {Infinity}
   */
  maxConnections?: number;
  /**
   * The most opening handshakes in progress at once (slow or idle sockets
   * that have not finished their request). At the cap the server stops
   * accepting until one ends: later clients wait in the kernel's listen
   * backlog, and are served a moment later, rather than refused.
   * @default {1024}
   */
  maxHandshakes?: number;
  /**
   * A listener to accept from instead of opening one: your own
   * `Deno.listen` (for `reusePort`, a Unix socket, or a port handed over by
   * a supervisor). `hostname`, `port`, `cert` and `key` are then ignored,
   * and shutting the server down closes it.
   */
  listener?: Deno.Listener;
}

/** Default of {@linkcode UpgradeOptions.handshakeTimeout}. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * The options as the handshake reads them, read once: versions in one
 * spelling and as the numbers `Sec-WebSocket-Version` carries, the
 * extensions to negotiate, the message limit with its default, and the
 * topics hub (the server's is made on first use).
 */
export interface HandshakeSettings
  extends Omit<UpgradeSocketOptions, "topics" | "versions" | "extensions"> {
  /** The versions accepted. */
  versions: readonly ProtocolVersion[];
  /** The `Sec-WebSocket-Version` numbers accepted. */
  versionNumbers: readonly number[];
  /** The extensions offered to clients, preferred first. */
  negotiators: readonly ExtensionNegotiator[];
  /** The largest message accepted, in bytes. */
  maxMessageSize: number;
  /** The hub behind the connections' topic methods. */
  topics?: Topics | (() => Topics);
  /** Where errors of the HTTP fallback go. */
  onError?: (error: unknown) => void;
  /** The connections' settings, picked from the options once. */
  connOptions: ConnOptions;
}

/**
 * Reads the options for the handshake. An option out of range (a
 * compression setting) fails here, with a RangeError, not in every
 * handshake.
 */
export function handshakeSettings(
  options: UpgradeSocketOptions & { onError?: (error: unknown) => void },
  topics: Topics | (() => Topics) | undefined = options.topics,
): HandshakeSettings {
  // The numbers 13, 8 and 7 are an older spelling of "13", "8" and "7".
  const versions = (options.versions ?? ["13"]).map((version) =>
    String(version) as ProtocolVersion
  );
  const { compression, extensions = [] } = options;
  return {
    ...options,
    versions,
    // The drafts have no number, and so no Sec-WebSocket-Version.
    versionNumbers: versions.map(Number).filter(Number.isInteger),
    negotiators: compression
      ? [
        perMessageDeflate(compression === true ? {} : compression),
        ...extensions,
      ]
      : extensions,
    maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    topics,
    connOptions: pickConnOptions(options),
  };
}
