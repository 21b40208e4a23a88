/**
 * The server: {@linkcode serve} listens on TCP or TLS, parses each HTTP
 * upgrade itself and hands the handler a {@linkcode Conn};
 * {@linkcode upgrade} does the same on a socket you accepted yourself.
 *
 * @example An echo server
 * ```ts ignore
 * import { serve } from "@seed/websocket";
 *
 * const server = serve({ port: 8080 }, async (conn) => {
 *   for await (const message of conn) await conn.send(message);
 * });
 * await server.finished;
 * ```
 *
 * @module
 */

import {
  Conn,
  type ConnOptions,
  type Message,
  type Transport,
} from "./conn.ts";
import { Topics } from "./fanout/topics.ts";
import { ConnectionClosedError, HandshakeError } from "./errors.ts";
import {
  buildResponseHead,
  buildUpgradeResponse,
  DEFAULT_MAX_HEAD_SIZE,
  isUpgradeRequest,
  parseRequestHead,
  type RequestHead,
  selectProtocol,
  validateUpgradeRequest,
} from "./handshake.ts";
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  WebSocketProtocol,
} from "./protocol/rfc6455.ts";
import { Deadline } from "./_util/deadline.ts";
import { detectVersion } from "./legacy/handshake.ts";
import {
  acceptHixie,
  hixieRequestedProtocols,
  validateHixieRequest,
} from "./legacy/_accept.ts";
import { pickConnOptions } from "./conn/_options.ts";
import {
  negotiatePerMessageDeflate,
  type PerMessageDeflateOptions,
} from "./extensions/permessage_deflate.ts";
import { noDelay, readHead, writeAll } from "./_util/io.ts";
import { peerInfo, serveHttp } from "./http/_server.ts";
import { STATUS_TEXT, type TrustProxy } from "./http/_http1.ts";

export type { TrustProxy } from "./http/_http1.ts";

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

/** Options of {@linkcode upgrade}, shared by {@linkcode serve}. */
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
   * {@linkcode HandshakeError} of status 413, answered with 413 if
   * `fallback` throws it. Either way the connection closes.
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
   * The protocol versions accepted: 13 (RFC 6455); 8 and 7 (the hybi drafts
   * of 2011, which frame the same way); `"hixie-76"` and `"hixie-75"`, the
   * legacy drafts, which have no masking and a weaker handshake and so are
   * off unless listed. The version is negotiated from the request's headers.
   * @default {[13]}
   */
  versions?: readonly ServerVersion[];
  /**
   * permessage-deflate (RFC 7692): `true` or options to answer a client's
   * offer. Off by default: compression costs CPU and about 350 KiB of zlib
   * state per connection with the default window (see the README).
   * @default {false}
   */
  compression?: boolean | PerMessageDeflateOptions;
  /**
   * The hub of topics behind each connection's `subscribe()`, `publish()`
   * and `unsubscribe()`. `serve()` makes one on first use, with default
   * options, unless given one here (with a bus, say).
   */
  topics?: Topics;
}

/**
 * A protocol version a server may accept: 13 (RFC 6455), 8 and 7 (hybi
 * drafts that frame as RFC 6455), and the legacy drafts `"hixie-76"` and
 * `"hixie-75"`, which are off unless listed.
 */
export type ServerVersion = 13 | 8 | 7 | "hixie-76" | "hixie-75";

/** Options of {@linkcode upgrade} for a socket you accepted yourself. */
export interface UpgradeSocketOptions extends UpgradeOptions {
  /** Bytes of the request already read from the socket. */
  head?: Uint8Array;
  /** Whether the socket is TLS (for the request URL). */
  secure?: boolean;
  /** Aborts the handshake. */
  signal?: AbortSignal;
}

/** Options of {@linkcode serve}. */
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
  /** Stops the server when aborted, as {@linkcode WebSocketServer.shutdown}. */
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

/** Handles one connection; the connection closes when it returns. */
export type Handler = (conn: Conn) => void | Promise<void>;

/** A running server. */
export interface WebSocketServer extends AsyncDisposable {
  /** The address listened on. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has shut down and every connection ended. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, closes every connection with 1001 (going away) and
   * resolves once they have ended (each bounded by its close timeout).
   */
  shutdown(): Promise<void>;
  /**
   * The hub of topics of this server's connections (see
   * {@linkcode Topics}): the `topics` option, or one made on first use.
   */
  readonly topics: Topics;
  /**
   * Publishes a message to every subscriber of a topic, without waiting
   * for any of them.
   *
   * @param topic The topic.
   * @param data The message.
   * @returns How many local subscribers it was given to.
   */
  publish(topic: string, data: Message): number;
  /**
   * The connections subscribed to a topic here.
   *
   * @param topic The topic.
   * @returns A snapshot of the subscribers.
   */
  subscribers(topic: string): ReadonlySet<Conn>;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Writes an HTTP response and closes the socket. */
async function respond(
  transport: Transport,
  response: Response,
  method: string,
): Promise<void> {
  const body = method === "HEAD" || response.body === null
    ? new Uint8Array(0)
    : new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  headers.set("Content-Length", String(body.length));
  headers.set("Connection", "close");
  const head = buildResponseHead(
    response.status,
    response.statusText || STATUS_TEXT[response.status] || "Unknown",
    headers,
  );
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  try {
    await writeAll(transport, bytes);
    await transport.closeWrite?.();
  } finally {
    transport.close();
  }
}

function errorResponse(error: HandshakeError): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "text/plain; charset=utf-8");
  return new Response(error.message + "\n", {
    status: error.status,
    headers,
  });
}

function upgradeRequired(): Response {
  return new Response("Upgrade Required: this is a WebSocket endpoint\n", {
    status: 426,
    headers: {
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Content-Type": "text/plain; charset=utf-8",
    },
  });
}

// The request's URL, checked as `new Request` would need it.
function requestUrl(head: RequestHead, secure: boolean): URL {
  const host = head.headers.get("host") ?? "";
  let url: URL;
  try {
    url = head.target.startsWith("/")
      ? new URL(head.target, `${secure ? "https" : "http"}://${host}`)
      : new URL(head.target);
    if (!host || url.host === "") throw new TypeError("Missing host");
  } catch (cause) {
    throw new HandshakeError(
      "BAD_HOST",
      "Invalid request: bad Host header or request target",
      { status: 400, cause },
    );
  }
  return url;
}

const ascii = new TextDecoder();

// The upgrade Request, from the bytes of a head that parseRequestHead has
// accepted. Header lines are appended one by one: much cheaper than giving
// `new Request` a Headers to copy, with the same result.
function makeRequest(head: Uint8Array, href: string, method: string): Request {
  const request = method === "GET"
    ? new Request(href)
    : new Request(href, { method });
  const headers = request.headers;
  let text = "";
  let i = 0;
  while (i < head.length && head[i] < 0x80) i++;
  if (i === head.length) text = ascii.decode(head);
  else for (const byte of head) text += String.fromCharCode(byte);
  const lines = text.split("\r\n");
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (line === "") continue;
    const colon = line.indexOf(":");
    headers.append(
      line.slice(0, colon),
      line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ""),
    );
  }
  return request;
}

// Makes the upgrade Request on demand. A function of its own, so that the
// closure holds only these three values.
function requestBuilder(
  head: Uint8Array,
  href: string,
  method: string,
): () => Request {
  return () => makeRequest(head, href, method);
}

// A function of its own, so that the Conn's callback holds only the extension.
function closer(extension: { close(): void }): () => void {
  return () => extension.close();
}

function originAllowed(
  policy: OriginPolicy,
  origin: string | null,
  host: string,
  request: () => Request,
): boolean {
  if (policy === "any") return true;
  if (typeof policy === "function") return policy(origin ?? "", request());
  if (origin === null) return policy === "same-origin";
  if (policy === "same-origin") {
    try {
      const from = new URL(origin);
      return from.host.toLowerCase() === host;
    } catch {
      return false;
    }
  }
  return policy.includes(origin);
}

/**
 * Whether an origin passes a policy.
 *
 * @param policy The policy.
 * @param request The upgrade request.
 * @returns Whether the connection may proceed.
 *
 * @example Same-origin by default
 * ```ts
 * import { isOriginAllowed } from "@seed/websocket/server";
 *
 * const request = new Request("http://example.com/ws", {
 *   headers: { Host: "example.com", Origin: "http://evil.example" },
 * });
 * console.log(isOriginAllowed("same-origin", request)); // false
 * ```
 */
export function isOriginAllowed(
  policy: OriginPolicy,
  request: Request,
): boolean {
  const origin = request.headers.get("origin");
  if (policy === "any" || typeof policy === "function" || origin === null) {
    return originAllowed(policy, origin, "", () => request);
  }
  return originAllowed(
    policy,
    origin,
    new URL(request.url).host,
    () => request,
  );
}

/**
 * Runs the server side of the opening handshake on a socket you accepted,
 * and returns the connection. A request that is not a WebSocket upgrade is
 * answered by `fallback` for as long as the connection persists (a later
 * upgrade on it resolves the promise); without `fallback` it gets 426. A bad
 * request gets its exact HTTP error (400, 403, 405, 426, 431). When the
 * connection ends without an upgrade, the socket is closed and the promise
 * rejects with a {@linkcode HandshakeError}. For a listener of your own,
 * `serve({ listener })` runs an accept loop that survives resets and
 * descriptor exhaustion; a bare `for await` over a listener ends at the
 * first socket reset before its accept.
 *
 * @param transport The accepted socket.
 * @param options Policies, limits, bytes already read.
 * @returns The open connection.
 *
 * @example Upgrading a socket from your own listener
 * ```ts ignore
 * import { upgrade } from "@seed/websocket";
 *
 * using listener = Deno.listen({ port: 8080 });
 * for await (const socket of listener) {
 *   upgrade(socket).then(async (conn) => {
 *     for await (const message of conn) await conn.send(message);
 *   }, () => {});
 * }
 * ```
 */
export function upgrade(
  transport: Transport,
  options: UpgradeSocketOptions = {},
): Promise<Conn> {
  return handshake(
    transport,
    options,
    new Deadline(
      options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      "Opening handshake",
      options.signal,
    ),
  );
}

// The server side of the opening handshake, under `timer` (which it
// disposes of): the timeout, the caller's signal, a server's shutdown.
async function handshake(
  transport: Transport,
  options: Omit<UpgradeOptions, "topics"> & {
    topics?: Topics | (() => Topics);
    head?: Uint8Array;
    secure?: boolean;
    signal?: AbortSignal;
    onError?: (error: unknown) => void;
  },
  timer: Deadline,
  onPlainHttp?: () => void,
): Promise<Conn> {
  using _timer = timer;
  using deadlines = new DisposableStack();
  let method = "GET";
  let answered = false;
  try {
    let { head, rest } = await readHead(
      transport,
      options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
      timer,
      options.head,
      "request",
    );
    let parsed = parseRequestHead(head);
    method = parsed.method;
    if (!isUpgradeRequest(parsed.headers)) {
      if (!options.fallback) {
        const response = upgradeRequired();
        await respond(transport, response, method);
        throw new HandshakeError(
          "BAD_UPGRADE",
          "Request is not a WebSocket upgrade",
          { status: response.status },
        );
      }
      // Plain HTTP requests, answered by `fallback` for as long as the
      // connection persists: the loop has its own idle and body timeouts,
      // so the handshake timeout stops; an abort (shutdown, the caller's
      // signal) still ends the connection.
      const stop = deadlines.use(
        new Deadline(0, "HTTP connection", options.signal),
      );
      const outer = timer;
      outer.onAbort(() => stop.abort(outer.reason));
      outer[Symbol.dispose]();
      onPlainHttp?.();
      const handoff = await serveHttp(
        transport,
        { head, rest },
        options.fallback,
        {
          secure: options.secure,
          maxHeadSize: options.maxHeadSize,
          maxBodySize: options.maxBodySize,
          bodyTimeout: options.bodyTimeout,
          idleTimeout: options.keepAliveTimeout,
          maxRequests: options.maxRequestsPerConnection,
          trustProxy: options.trustProxy,
          onError: options.onError,
          stop,
        },
      );
      if (handoff === undefined) {
        // The connection ended (and is closed) without an upgrade.
        answered = true;
        throw new HandshakeError(
          "BAD_UPGRADE",
          "Request is not a WebSocket upgrade",
          { status: 426 },
        );
      }
      // A WebSocket upgrade after plain requests: the handshake goes on
      // from its head, under a timeout of its own.
      ({ head, parsed, rest } = handoff);
      method = parsed.method;
      const later = deadlines.use(
        new Deadline(
          options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
          "Opening handshake",
        ),
      );
      stop.onAbort(() => later.abort(stop.reason));
      timer = later;
    }
    const url = requestUrl(parsed, options.secure ?? false);
    // The Request is made only for the hooks that take one (and for
    // Conn.request, on first use).
    let made: Request | undefined;
    const request = () => made ??= makeRequest(head, url.href, parsed.method);
    const info = (): PeerInfo =>
      peerInfo(transport, parsed.headers, options.trustProxy);
    const versions = options.versions ?? [13];
    // A request that names a Sec-WebSocket-Version is RFC 6455 (or hybi),
    // however broken; only the drafts leave it out.
    const draft = parsed.headers.has("sec-websocket-version")
      ? "13"
      : detectVersion(parsed.headers);
    const legacy = draft === "hixie-76" || draft === "hixie-75"
      ? draft
      : undefined;
    if (legacy && !versions.includes(legacy)) {
      throw new HandshakeError(
        "BAD_VERSION",
        `Invalid upgrade request: the ${legacy} protocol is not enabled`,
        {
          status: 400,
          headers: {
            "Sec-WebSocket-Version": versions.filter((v) =>
              typeof v === "number"
            ).join(", "),
          },
        },
      );
    }
    // A bad draft request gets its HTTP error before anything is written.
    if (legacy) validateHixieRequest(legacy, parsed);
    const asked = legacy ? undefined : validateUpgradeRequest(parsed, {
      versions: versions.filter((v): v is 13 | 8 | 7 => typeof v === "number"),
    });
    const offered = asked?.protocols ??
      hixieRequestedProtocols(legacy!, parsed.headers);
    const origin = parsed.headers.get("origin");
    if (
      !originAllowed(
        options.checkOrigin ?? "same-origin",
        origin,
        url.host,
        request,
      )
    ) {
      throw new HandshakeError(
        "BAD_ORIGIN",
        `Origin ${JSON.stringify(origin)} is not allowed`,
        { status: 403 },
      );
    }
    const refusal = options.beforeUpgrade
      ? await options.beforeUpgrade(request(), info())
      : undefined;
    if (refusal) {
      await respond(transport, refusal, method);
      throw new HandshakeError(
        "BAD_STATUS",
        `Upgrade refused with status ${refusal.status}`,
        { status: refusal.status },
      );
    }
    const policy = options.protocols ?? [];
    const protocol = typeof policy === "function"
      ? policy(offered, request())
      : selectProtocol(offered, policy);
    if (protocol !== undefined && !offered.includes(protocol)) {
      throw new TypeError(
        `Cannot select subprotocol ${JSON.stringify(protocol)}: not offered`,
      );
    }
    if (legacy || !asked) {
      answered = true;
      return await acceptHixie({
        version: legacy!,
        transport,
        head: parsed,
        request: request(),
        rest,
        secure: options.secure ?? false,
        protocol,
        maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
        signal: timer,
        topics: options.topics,
        ...pickConnOptions(options),
      });
    }
    const compression = options.compression;
    const deflate = compression
      ? negotiatePerMessageDeflate(
        asked.extensions,
        compression === true ? {} : compression,
      )
      : undefined;
    await writeAll(
      transport,
      await buildUpgradeResponse({
        key: asked.key,
        protocol,
        extensions: deflate?.header,
      }),
      timer,
    );
    return new Conn({
      role: "server",
      transport,
      machine: new WebSocketProtocol({
        role: "server",
        maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
        ownsInput: true,
        autoCloseEcho: false,
        extension: deflate?.extension,
      }),
      head: rest,
      protocol: protocol ?? "",
      extensions: deflate?.header ?? "",
      onClose: deflate ? closer(deflate.extension) : undefined,
      origin: origin ?? "",
      url: url.href.replace(/^http/, "ws"),
      request: made ?? requestBuilder(head, url.href, method),
      version: String(asked.version) as "13" | "8" | "7",
      topics: options.topics,
      ...pickConnOptions(options),
    });
  } catch (error) {
    if (error instanceof HandshakeError && !timer.aborted && !answered) {
      // Answer what we can; the socket may already be gone.
      await respond(transport, errorResponse(error), method).catch(() => {});
    } else {
      try {
        transport.close();
      } catch {
        // Already closed.
      }
    }
    throw error;
  }
}

/**
 * Starts a WebSocket server, in the manner of `Deno.serve`: it listens on
 * `hostname:port` (TLS with `cert` and `key`), upgrades each request and
 * calls `handler` with the connection. When the handler returns, the
 * connection is closed with 1000; when it throws, with 1011 (the error goes
 * to `onError`, never to the peer). A misbehaving client only ever affects
 * its own connection.
 *
 * @param options Where to listen, policies, limits and hooks.
 * @param handler Called with each connection.
 * @returns The running server.
 *
 * @example A chat endpoint on the page's own port
 * ```ts ignore
 * import { serve, type Conn } from "@seed/websocket";
 *
 * const peers = new Set<Conn>();
 * serve({
 *   port: 8080,
 *   fallback: () => new Response("<!doctype html>...", { headers: { "content-type": "text/html" } }),
 * }, async (conn) => {
 *   peers.add(conn);
 *   try {
 *     for await (const message of conn) for (const peer of peers) peer.send(message).catch(() => {});
 *   } finally {
 *     peers.delete(conn);
 *   }
 * });
 * ```
 */
export function serve(handler: Handler): WebSocketServer;
/**
 * Starts a WebSocket server with options (see the overload above).
 *
 * @param options Where to listen, policies, limits and hooks.
 * @param handler Called with each connection.
 * @returns The running server.
 *
 * @example Listening on a free port
 * ```ts ignore
 * import { serve } from "@seed/websocket";
 *
 * const server = serve({ port: 0, hostname: "127.0.0.1" }, (conn) => conn.send("hi"));
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 */
export function serve(
  options: ServeOptions,
  handler: Handler,
): WebSocketServer;
export function serve(
  optionsOrHandler: ServeOptions | Handler,
  maybeHandler?: Handler,
): WebSocketServer {
  const options = typeof optionsOrHandler === "function"
    ? {}
    : optionsOrHandler;
  const handler = typeof optionsOrHandler === "function"
    ? optionsOrHandler
    : maybeHandler;
  if (typeof handler !== "function") {
    throw new TypeError("Cannot serve: handler is not a function");
  }
  // A compression option out of range fails here (RangeError), not in
  // every handshake, offered or not.
  if (typeof options.compression === "object") {
    negotiatePerMessageDeflate(null, options.compression);
  }
  return new Server(options, handler);
}

class Server implements WebSocketServer {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  #listener: Deno.Listener;
  #options: ServeOptions;
  #handler: Handler;
  #upgradeOptions: Omit<ServeOptions, "topics"> & {
    secure: boolean;
    topics: () => Topics;
  };
  #topics: Topics | undefined;
  #conns = new Set<Conn>();
  #handshakes = new Set<Deadline>();
  // Connections serving plain HTTP requests (fallback): no longer in their
  // handshake, so not held against maxHandshakes, but stopped by shutdown.
  #plainHttp = new Set<Deadline>();
  #active = 0; // sockets being served
  #drained: PromiseWithResolvers<void> | undefined;
  #failure: { error: unknown } | undefined;
  #stopping = false;
  // Resolved when the accept loop may go on: a handshake slot came free,
  // a back-off ended, or the server is stopping.
  #slot: PromiseWithResolvers<void> | undefined;
  #onError: (error: unknown) => void;

  constructor(options: ServeOptions, handler: Handler) {
    this.#options = options;
    this.#topics = options.topics;
    this.#upgradeOptions = {
      ...options,
      secure: options.cert !== undefined,
      topics: () => this.topics,
    };
    this.#handler = handler;
    this.#onError = options.onError ?? ((error) => console.error(error));
    const hostname = options.hostname ?? "0.0.0.0";
    const port = options.port ?? 8000;
    this.#listener = options.listener ??
      (options.cert !== undefined && options.key !== undefined
        ? Deno.listenTls({
          hostname,
          port,
          cert: options.cert,
          key: options.key,
        })
        : Deno.listen({ hostname, port }));
    this.addr = this.#listener.addr as Deno.NetAddr;
    const onListen = options.onListen ?? ((addr: Deno.NetAddr) => {
      const scheme = options.cert ? "wss" : "ws";
      console.log(`Listening on ${scheme}://${addr.hostname}:${addr.port}/`);
    });
    onListen(this.addr);
    options.signal?.addEventListener("abort", () => this.shutdown(), {
      once: true,
    });
    this.finished = this.#accept();
  }

  // The accept loop. Nothing a client does can end it: a socket reset
  // before it was accepted, or any other failure of one accept, is skipped;
  // running out of descriptors (EMFILE, ENFILE) or memory backs off and
  // retries. Only closing the listener (shutdown) ends it.
  async #accept(): Promise<void> {
    const maxHandshakes = this.#options.maxHandshakes ?? 1024;
    let backoff = 0;
    while (!this.#stopping) {
      if (this.#handshakes.size >= maxHandshakes) {
        // At the cap: leave new clients in the kernel's backlog until a
        // handshake ends, instead of refusing them.
        this.#slot = Promise.withResolvers<void>();
        await this.#slot.promise;
        continue;
      }
      let socket: Deno.Conn;
      try {
        socket = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#stopping || isListenerClosed(error)) break;
        // One client's socket failed between the kernel's accept and ours
        // (reset, aborted, gone before its address was read).
        if (isSocketError(error)) continue;
        // Out of descriptors or another failure of the machine: say so,
        // wait (5 ms doubling to 1 s, as Go's net/http does), retry.
        this.#onError(error);
        backoff = Math.min(1000, backoff === 0 ? 5 : backoff * 2);
        await this.#pause(backoff);
        continue;
      }
      this.#active++;
      this.#serveSocket(socket);
    }
    while (this.#active > 0) {
      this.#drained = Promise.withResolvers<void>();
      await this.#drained.promise;
    }
    if (this.#failure) throw this.#failure.error;
  }

  // Serves one socket; never rejects (an error escaping onError is kept for
  // `finished`).
  async #serveSocket(socket: Deno.Conn): Promise<void> {
    try {
      noDelay(socket);
      const { maxConnections = Infinity } = this.#options;
      if (this.#handshakes.size + this.#conns.size >= maxConnections) {
        const busy = new Response("Server busy: try again later\n", {
          status: 503,
          headers: { "Retry-After": "1" },
        });
        await respond(socket, busy, "GET").catch(() => {});
        return;
      }
      const conn = await this.#upgrade(socket);
      if (conn === undefined) return;
      this.#conns.add(conn);
      try {
        if (this.#stopping) conn.close(1001).catch(() => {});
        await this.#handler(conn);
        await conn.close(1000).catch(() => {});
      } catch (error) {
        // A peer that closed abnormally is the peer's business; anything
        // else escaping the handler is a bug for the application to see.
        if (!(error instanceof ConnectionClosedError)) this.#onError(error);
        await conn.close(1011).catch(() => conn.abort());
      } finally {
        await conn.closed;
        this.#conns.delete(conn);
      }
    } catch (error) {
      this.#failure ??= { error };
    } finally {
      if (--this.#active === 0) this.#drained?.resolve();
    }
  }

  // The handshake, cancelled by shutdown(); undefined when it failed. Its
  // own function, so that nothing of it stays with the connection.
  async #upgrade(socket: Deno.Conn): Promise<Conn | undefined> {
    const timer = new Deadline(
      this.#options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      "Opening handshake",
    );
    this.#handshakes.add(timer);
    const toPlainHttp = () => {
      this.#handshakes.delete(timer);
      this.#plainHttp.add(timer);
      this.#freeSlot();
    };
    try {
      return await handshake(
        socket,
        this.#upgradeOptions,
        timer,
        toPlainHttp,
      );
    } catch (error) {
      // Refused upgrades, fallback pages and timeouts end here: they are
      // the peer's business, not the application's.
      // So are failures of the socket itself (resets, TLS garbage): only
      // errors from the application's hooks are the application's.
      const shutDown = this.#stopping && timer.aborted;
      if (
        !shutDown && !(error instanceof HandshakeError) &&
        !(error instanceof DOMException) && !isSocketError(error)
      ) {
        this.#onError(error);
      }
      return undefined;
    } finally {
      this.#handshakes.delete(timer);
      this.#plainHttp.delete(timer);
      this.#freeSlot();
    }
  }

  // Lets the accept loop go on, if it waits for a handshake slot.
  #freeSlot(): void {
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.resolve();
  }

  // A pause of the accept loop that shutdown() cuts short.
  #pause(ms: number): Promise<void> {
    const pause = this.#slot = Promise.withResolvers<void>();
    const timer = setTimeout(pause.resolve, ms);
    return pause.promise.finally(() => {
      clearTimeout(timer);
      if (this.#slot === pause) this.#slot = undefined;
    });
  }

  get topics(): Topics {
    return this.#topics ??= new Topics();
  }

  publish(topic: string, data: Message): number {
    return this.#topics?.publish(topic, data) ?? 0;
  }

  subscribers(topic: string): ReadonlySet<Conn> {
    return this.#topics?.subscribers(topic) ?? new Set();
  }

  async shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      this.#slot?.resolve();
      for (const handshake of this.#handshakes) handshake.abort();
      for (const http of this.#plainHttp) http.abort();
      for (const conn of this.#conns) conn.close(1001).catch(() => {});
    }
    await this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

// The listener was closed (by shutdown or by its owner): the loop ends.
function isListenerClosed(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

const SOCKET_ERRORS: (new (...args: never[]) => Error)[] = [
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.BrokenPipe,
  Deno.errors.UnexpectedEof,
  Deno.errors.InvalidData, // a TLS record that is not one
  Deno.errors.TimedOut,
  Deno.errors.BadResource, // closed under a pending read
  Deno.errors.Interrupted,
];

// A failure of the socket under a handshake: the peer's doing, or the
// network's, never the application's.
function isSocketError(error: unknown): boolean {
  return SOCKET_ERRORS.some((type) => error instanceof type);
}
