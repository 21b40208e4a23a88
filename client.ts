/**
 * The client: {@linkcode dial} opens a WebSocket connection to a `ws://` or
 * `wss://` URL over `Deno.connect` / `Deno.connectTls` (or a stream of your
 * own, through the `connect` option), through a proxy when one is set or
 * named by the environment, follows redirects, runs the opening handshake and
 * returns a {@linkcode Conn}.
 *
 * @example Dialling with a subprotocol and an origin
 * ```ts ignore
 * import { dial } from "@seed/websocket";
 *
 * await using conn = await dial("ws://127.0.0.1:8080/chat", {
 *   protocols: ["chat.v2", "chat.v1"],
 *   origin: "http://127.0.0.1:8080",
 * });
 * console.log(conn.protocol);
 * ```
 *
 * @module
 */

import { Conn, type ConnOptions, type Transport } from "./conn.ts";
import { DialError, HandshakeError, ProxyError } from "./errors.ts";
import {
  buildUpgradeRequest,
  createClientKey,
  DEFAULT_MAX_HEAD_SIZE,
  parseResponseHead,
  validateUpgradeResponse,
} from "./handshake.ts";
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  WebSocketProtocol,
} from "./protocol/rfc6455.ts";
import { abortable, type Deadline, deadline } from "./_util/deadline.ts";
import { pickConnOptions } from "./conn/_options.ts";
import {
  acceptPerMessageDeflate,
  isPerMessageDeflateSupported,
  perMessageDeflateOffer,
  type PerMessageDeflateOptions,
} from "./extensions/permessage_deflate.ts";
import { noDelay, readHead, writeAll } from "./_util/io.ts";
import { dialHixie } from "./legacy/_accept.ts";
import { parseProxyUrl, proxyForUrl, proxyPort, redact } from "./dial/proxy.ts";
import { tunnel } from "./dial/_tunnel.ts";
import { startTls } from "./dial/_tls.ts";

/** What a {@linkcode Connector} is asked to open. */
export interface ConnectTarget {
  /** The host to reach: the server's, or the proxy's (IPv6 without brackets). */
  hostname: string;
  /** The port to reach. */
  port: number;
  /**
   * Whether the stream must be TLS: the server of a `wss://` URL dialled
   * directly, or an `https://` proxy. The connector runs the TLS handshake.
   */
  tls: boolean;
  /** PEM certificates to trust besides the system's (the `caCerts` option). */
  caCerts?: string[];
  /** Whether certificate checks are off (the `insecure` option). */
  insecure?: boolean;
  /** Whether this opens the way to a proxy rather than to the server. */
  proxy: boolean;
  /** The WebSocket URL being dialled. */
  url: URL;
}

/**
 * Opens the byte stream under a connection: TCP, TLS, a Unix socket, an
 * in-memory pair. Rejects when `signal` aborts (a transport that arrives
 * later is closed by `dial()`).
 */
export type Connector = (
  target: ConnectTarget,
  signal: AbortSignal,
) => Promise<Transport>;

/** Options of {@linkcode dial}. */
export interface DialOptions extends ConnOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | readonly string[];
  /** The `Origin` header to send, if any. */
  origin?: string;
  /** More request headers (e.g. `Authorization`, `Cookie`). */
  headers?: HeadersInit;
  /** Aborts the dial (not the connection once open). */
  signal?: AbortSignal;
  /**
   * Longest time, in milliseconds, for connecting and the opening handshake.
   * @default {10000}
   */
  handshakeTimeout?: number;
  /** PEM certificates to trust for `wss://`, besides the system's. */
  caCerts?: string[];
  /**
   * The largest message accepted, in bytes.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * The protocol to speak: `"13"` (RFC 6455), or a legacy draft,
   * `"hixie-76"` or `"hixie-75"` (one subprotocol at most; text only).
   * @default {"13"}
   */
  version?: "13" | "hixie-76" | "hixie-75";
  /**
   * permessage-deflate (RFC 7692): `true` or options to offer it. A server
   * that answers with parameters the offer did not allow fails the dial
   * with `BAD_EXTENSION`.
   * @default {false}
   */
  compression?: boolean | PerMessageDeflateOptions;
  /**
   * The largest response head accepted, in bytes.
   * @default {16384}
   */
  maxHeadSize?: number;
  /**
   * Opens the byte stream to the server, or to the proxy when one is used
   * (the tunnel and a `wss://` URL's TLS inside it are then built on top).
   * @default {connectTransport} (TCP with `Deno.connect`, TLS with `Deno.connectTls`)
   */
  connect?: Connector;
  /**
   * The proxy to go through: `http://`, `https://`, `socks5://` (the name is
   * resolved here) or `socks5h://` (the proxy resolves it), credentials as
   * `user:pass@`. `false` connects directly. By default the environment's
   * `https_proxy` / `http_proxy` / `all_proxy` and `no_proxy`, read only
   * where the env permission is granted (see `proxy.ts`).
   * @default {undefined}
   */
  proxy?: string | URL | false;
  /**
   * How many redirects (301, 302, 303, 307, 308 answering the upgrade) to
   * follow; 0 fails on the first. `http:` and `https:` in `Location` mean
   * `ws:` and `wss:`; a redirect from `wss:` to `ws:` is refused, and
   * `Authorization` and `Cookie` headers are not sent to another host.
   * @default {5}
   */
  maxRedirects?: number;
  /**
   * Skips certificate verification for `wss://` and `https://` proxies.
   * For testing against a self-signed server only.
   * @default {false}
   */
  insecure?: boolean;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Resolves `ws://` or `wss://` URLs; anything else fails with BAD_SCHEME. */
function parseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new HandshakeError("BAD_SCHEME", `Invalid URL ${String(url)}`, {
      cause,
    });
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new HandshakeError(
      "BAD_SCHEME",
      `Unsupported URL scheme ${parsed.protocol} (use ws: or wss:)`,
    );
  }
  parsed.hash = "";
  return parsed;
}

/**
 * The default {@linkcode Connector}: TCP with `Deno.connect`, or TLS with
 * `Deno.connectTls` (through `node:tls` when certificate checks are off).
 *
 * @param target Where to connect, and whether with TLS.
 * @param signal Aborts the connection attempt.
 * @returns The open transport.
 *
 * @example Wrapping the default connector to log each connection
 * ```ts ignore
 * import { dial } from "@seed/websocket";
 * import { connectTransport } from "@seed/websocket/client";
 *
 * await dial("ws://127.0.0.1:8080/", {
 *   connect: (target, signal) => {
 *     console.log(`Connecting to ${target.hostname}:${target.port}`);
 *     return connectTransport(target, signal);
 *   },
 * });
 * ```
 */
export async function connectTransport(
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Transport> {
  const { hostname, port } = target;
  if (target.tls && !target.insecure) {
    return noDelay(
      await Deno.connectTls({ hostname, port, caCerts: target.caCerts }),
    );
  }
  const socket = noDelay(await Deno.connect({ hostname, port, signal }));
  if (!target.tls) return socket;
  return await startTls(socket, { hostname, insecure: true });
}

/** Splits a ws:/wss: URL into host, port and whether it is secure. */
function endpoint(url: URL): { hostname: string; port: number; tls: boolean } {
  const tls = url.protocol === "wss:";
  return {
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : tls ? 443 : 80,
    tls,
  };
}

/**
 * Opens the transport to a URL's server: directly, or through the proxy,
 * with TLS inside the tunnel for `wss://`.
 */
async function openTransport(
  url: URL,
  options: DialOptions,
  timer: Deadline,
): Promise<Transport> {
  const connect = options.connect;
  const server = endpoint(url);
  const common = {
    caCerts: options.caCerts,
    insecure: options.insecure ?? false,
    url,
  };
  const proxy = options.proxy === false
    ? undefined
    : options.proxy === undefined
    ? proxyForUrl(url)
    : parseProxyUrl(options.proxy);
  // The deadline makes an AbortSignal only when asked: the default
  // connector does without one (a late socket is closed on arrival).
  const opening = (target: ConnectTarget) =>
    abortable(
      connect ? connect(target, timer.signal) : connectTransport(target),
      timer,
      closeQuietly,
    );
  if (proxy === undefined) {
    return await opening({ ...server, ...common, proxy: false });
  }
  const proxyHost = proxy.hostname.replace(/^\[(.*)\]$/, "$1");
  let transport: Transport;
  try {
    transport = await opening({
      hostname: proxyHost,
      port: proxyPort(proxy),
      tls: proxy.protocol === "https:",
      ...common,
      proxy: true,
    });
  } catch (error) {
    // A timeout or an abort is reported as such.
    if (timer.aborted) throw error;
    throw new ProxyError(
      `Cannot reach proxy ${redact(proxy.href)}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { proxy: redact(proxy.href), status: 0, cause: error },
    );
  }
  try {
    transport = await tunnel(transport, proxy, server, timer);
    if (server.tls) {
      transport = await abortable(
        startTls(transport, { hostname: server.hostname, ...common }),
        timer,
        closeQuietly,
      );
    }
    return transport;
  } catch (error) {
    try {
      transport.close();
    } catch {
      // Already closed.
    }
    throw error;
  }
}

// A transport that arrives after the dial gave up is closed; the abort path
// may hand it over more than once.
function closeQuietly(transport: Transport): void {
  try {
    transport.close();
  } catch {
    // Already closed.
  }
}

/**
 * Where a redirect leads: `Location` resolved against the current URL, with
 * `http:`/`https:` mapped to `ws:`/`wss:`.
 */
function redirectTarget(current: URL, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, current.href.replace(/^ws/, "http"));
  } catch (cause) {
    throw new HandshakeError(
      "BAD_REDIRECT",
      `Invalid redirect location ${JSON.stringify(location)}`,
      { cause },
    );
  }
  const scheme =
    { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[
      next.protocol
    ];
  if (scheme === undefined) {
    throw new HandshakeError(
      "BAD_REDIRECT",
      `Unsupported redirect scheme ${next.protocol}`,
    );
  }
  next = new URL(next.href.replace(/^[a-z]+:/, scheme));
  next.hash = "";
  return next;
}

/** Whether two URLs name the same host and port (credentials may follow). */
function sameHost(a: URL, b: URL): boolean {
  const x = endpoint(a), y = endpoint(b);
  if (x.hostname.toLowerCase() !== y.hostname.toLowerCase()) return false;
  // ws://host to wss://host on the default ports is the same server upgraded.
  return x.port === y.port ||
    (!a.port && !b.port && !x.tls && y.tls);
}

/**
 * Opens a WebSocket connection, through a proxy when one is set (or named
 * by the environment) and following up to `maxRedirects` redirects; the
 * handshake timeout covers all of it. Fails with a {@linkcode DialError}
 * naming the URL, the offered subprotocols, the origin and the redirects
 * followed; its `cause` is a {@linkcode HandshakeError} for a protocol fault
 * (`BAD_SCHEME`, `BAD_STATUS` with the response, `BAD_UPGRADE`,
 * `BAD_ACCEPT`, `BAD_PROTOCOL`, `BAD_EXTENSION`, and for redirects
 * `TOO_MANY_REDIRECTS`, `REDIRECT_LOOP`, `INSECURE_REDIRECT`,
 * `BAD_REDIRECT`), a {@linkcode ProxyError} when the proxy refused (its
 * `status`) or could not be reached, a `DOMException` `TimeoutError` past
 * the handshake timeout, the signal's reason when aborted, or a network
 * error.
 *
 * @param url A `ws://` or `wss://` URL.
 * @param options Subprotocols, origin, headers, timeouts, limits, the
 *   connector, the proxy, redirects.
 * @returns The open connection.
 *
 * @example Handling a rejected handshake
 * ```ts ignore
 * import { dial, DialError, HandshakeError } from "@seed/websocket";
 *
 * try {
 *   await dial("ws://127.0.0.1:8080/private");
 * } catch (error) {
 *   if (error instanceof DialError && error.cause instanceof HandshakeError) {
 *     console.log(error.cause.code, error.cause.response?.status); // BAD_STATUS 401
 *   }
 * }
 * ```
 */
export async function dial(
  url: string | URL,
  options: DialOptions = {},
): Promise<Conn> {
  const protocols = typeof options.protocols === "string"
    ? [options.protocols]
    : [...(options.protocols ?? [])];
  // The origin sent; a draft dial fills in a default one below.
  let origin = options.origin ?? "";
  // The URLs redirected to, for the error that ends the chain.
  const redirects: string[] = [];
  const fail = (cause: unknown) =>
    new DialError({
      url: String(url),
      protocol: protocols.join(", "),
      origin,
      cause,
      redirects,
    });
  let target: URL;
  try {
    target = parseUrl(url);
  } catch (error) {
    throw fail(error);
  }
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new RangeError(
      `Invalid maxRedirects ${maxRedirects} (use an integer from 0)`,
    );
  }
  let headers = options.headers;
  using timer = deadline(
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    "Opening handshake",
    options.signal,
  );
  let transport: Transport | undefined;
  try {
    // An already aborted dial opens no connection at all.
    timer.throwIfAborted();
    transport = await openTransport(target, options, timer);
    const version = options.version ?? "13";
    if (version === "hixie-76" || version === "hixie-75") {
      if (protocols.length > 1) {
        throw new TypeError(
          `Cannot dial: the ${version} protocol asks for one subprotocol at most`,
        );
      }
      // The drafts require an Origin; a client that names none claims the
      // server's own.
      origin = options.origin ??
        `${target.protocol === "wss:" ? "https" : "http"}://${target.host}`;
      return await dialHixie({
        version,
        transport,
        url: target,
        origin,
        protocol: protocols[0],
        headers: options.headers,
        maxHeadSize: options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
        maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
        signal: timer,
        ...pickConnOptions(options),
      });
    }
    if (version !== "13") {
      throw new TypeError(
        `Cannot dial: unknown protocol version ${JSON.stringify(version)}`,
      );
    }
    const deflateOptions = options.compression === true
      ? {}
      : options.compression || undefined;
    const offer = deflateOptions && isPerMessageDeflateSupported()
      ? perMessageDeflateOffer(deflateOptions)
      : undefined;
    while (true) {
      const key = createClientKey();
      await writeAll(
        transport,
        buildUpgradeRequest({
          url: target,
          key,
          protocols,
          origin: options.origin,
          headers,
          extensions: offer,
        }),
        timer,
      );
      const { head, rest } = await readHead(
        transport,
        options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
        timer,
        undefined,
        "response",
      );
      const response = parseResponseHead(head);
      const location = response.headers.get("location");
      if (
        maxRedirects > 0 && REDIRECT_STATUSES.has(response.status) &&
        location !== null
      ) {
        transport.close();
        transport = undefined;
        const next = redirectTarget(target, location);
        const chain = () => [target.href, next.href].join(" -> ");
        if (target.protocol === "wss:" && next.protocol === "ws:") {
          throw new HandshakeError(
            "INSECURE_REDIRECT",
            `Refused a redirect from wss: to ws: (${chain()})`,
            { response },
          );
        }
        const visited = [String(parseUrl(url).href), ...redirects];
        if (visited.includes(next.href)) {
          throw new HandshakeError(
            "REDIRECT_LOOP",
            `Redirect loop: ${[...visited, next.href].join(" -> ")}`,
            { response },
          );
        }
        if (redirects.length >= maxRedirects) {
          throw new HandshakeError(
            "TOO_MANY_REDIRECTS",
            `More than ${maxRedirects} redirects: ${
              [...visited, next.href].join(" -> ")
            }`,
            { response },
          );
        }
        redirects.push(next.href);
        if (!sameHost(target, next)) headers = withoutCredentials(headers);
        target = next;
        transport = await openTransport(target, options, timer);
        continue;
      }
      const agreed = await validateUpgradeResponse(response, {
        key,
        protocols,
        extensionsOffered: offer !== undefined,
      });
      const extension = agreed.extensions
        ? acceptPerMessageDeflate(agreed.extensions, deflateOptions)
        : undefined;
      return new Conn({
        role: "client",
        transport,
        machine: new WebSocketProtocol({
          role: "client",
          maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
          ownsInput: true,
          autoCloseEcho: false,
          extension,
        }),
        head: rest,
        protocol: agreed.protocol,
        extensions: agreed.extensions,
        onClose: () => extension?.close(),
        origin: options.origin,
        url: target.href,
        ...pickConnOptions(options),
      });
    }
  } catch (error) {
    try {
      transport?.close();
    } catch {
      // Already closed.
    }
    throw fail(error);
  }
}

/** The headers without those that must not follow a redirect to another host. */
function withoutCredentials(headers: HeadersInit | undefined): Headers {
  const copy = new Headers(headers);
  copy.delete("authorization");
  copy.delete("cookie");
  return copy;
}
