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

import type { Conn, ConnOptions, Transport } from "./conn.ts";
import { DialError } from "./errors.ts";
import { DEFAULT_MAX_HEAD_SIZE } from "./handshake.ts";
import type { ExtensionNegotiator } from "./extensions/extension.ts";
import {
  perMessageDeflate,
  type PerMessageDeflateOptions,
} from "./extensions/permessage_deflate.ts";
import { legacyDialer } from "./legacy/mod.ts";
import type { ProtocolVersion } from "./protocol/machine.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./protocol/rfc6455.ts";
import { pickConnOptions } from "./conn/_options.ts";
import { deadline } from "./_util/deadline.ts";
import { closeQuietly, openTransport } from "./dial/_open.ts";
import { dialRfc6455, speaks } from "./dial/_handshake.ts";
import { parseUrl, RedirectChain } from "./dial/_redirects.ts";

export { connectTransport } from "./dial/_open.ts";

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
  version?: ProtocolVersion;
  /**
   * permessage-deflate (RFC 7692): `true` or options to offer it. A server
   * that answers with parameters the offer did not allow fails the dial
   * with `BAD_EXTENSION`.
   * @default {false}
   */
  compression?: boolean | PerMessageDeflateOptions;
  /**
   * Extensions to offer, most preferred first (after permessage-deflate
   * when `compression` is on). The server agrees to one at most; an answer
   * its negotiator does not accept fails the dial with `BAD_EXTENSION`.
   * @default {[]}
   */
  extensions?: readonly ExtensionNegotiator[];
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
  const fail = (cause: unknown, redirects: string[]) =>
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
    throw fail(error, []);
  }
  const chain = new RedirectChain(
    target,
    options.maxRedirects ?? DEFAULT_MAX_REDIRECTS,
    options.headers,
  );
  using timer = deadline(
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    "Opening handshake",
    options.signal,
  );
  let transport: Transport | undefined;
  try {
    // An already aborted dial opens no connection at all.
    timer.throwIfAborted();
    const version = options.version ?? "13";
    const dialLegacy = legacyDialer(version);
    if (!dialLegacy && !speaks(version)) {
      throw new TypeError(
        `Cannot dial: unsupported protocol version ${JSON.stringify(version)}`,
      );
    }
    transport = await openTransport(target, options, timer);
    if (!dialLegacy) {
      const opened = transport;
      transport = undefined; // dialRfc6455 owns it now
      return await dialRfc6455(
        opened,
        options,
        protocols,
        negotiators(options),
        chain,
        timer,
      );
    }
    if (protocols.length > 1) {
      throw new TypeError(
        `Cannot dial: the ${version} protocol asks for one subprotocol at most`,
      );
    }
    // The drafts require an Origin; a client that names none claims the
    // server's own.
    origin = options.origin ??
      `${target.protocol === "wss:" ? "https" : "http"}://${target.host}`;
    return await dialLegacy({
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
  } catch (error) {
    closeQuietly(transport);
    throw fail(error, chain.followed);
  }
}

// The extensions to offer: `compression` is shorthand for permessage-deflate,
// offered first.
function negotiators(options: DialOptions): readonly ExtensionNegotiator[] {
  const { compression, extensions = [] } = options;
  if (!compression) return extensions;
  return [
    perMessageDeflate(compression === true ? {} : compression),
    ...extensions,
  ];
}
