/**
 * The client: {@linkcode dial} opens a WebSocket connection to a `ws://` or
 * `wss://` URL over `Deno.connect` / `Deno.connectTls`, runs the opening
 * handshake and returns a {@linkcode Conn}.
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
import { DialError, ProtocolError } from "./errors.ts";
import {
  buildUpgradeRequest,
  createClientKey,
  DEFAULT_MAX_HEAD_SIZE,
  parseResponseHead,
  validateUpgradeResponse,
} from "./handshake.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, WebSocketProtocol } from "./protocol.ts";
import { abortable, deadline } from "./_deadline.ts";
import { pickConnOptions } from "./_options.ts";
import {
  acceptPerMessageDeflate,
  isPerMessageDeflateSupported,
  perMessageDeflateOffer,
  type PerMessageDeflateOptions,
} from "./permessage_deflate.ts";
import { noDelay, readHead, writeAll } from "./_io.ts";
import { dialHixie } from "./_legacy.ts";

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
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Resolves `ws://` or `wss://` URLs; anything else fails with BAD_SCHEME. */
function parseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ProtocolError("BAD_SCHEME", `Invalid URL ${String(url)}`, {
      cause,
    });
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new ProtocolError(
      "BAD_SCHEME",
      `Unsupported URL scheme ${parsed.protocol} (use ws: or wss:)`,
    );
  }
  parsed.hash = "";
  return parsed;
}

/** Opens the TCP or TLS connection a URL names. */
export function connectTransport(
  url: URL,
  caCerts?: string[],
): Promise<Transport> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const secure = url.protocol === "wss:";
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const connecting = secure
    ? Deno.connectTls({ hostname, port, caCerts })
    : Deno.connect({ hostname, port });
  return connecting.then(noDelay);
}

/**
 * Opens a WebSocket connection. Fails with a {@linkcode DialError} naming
 * the URL, the offered subprotocols and the origin; its `cause` is a
 * {@linkcode ProtocolError} for a protocol fault (`BAD_SCHEME`,
 * `BAD_STATUS` with the response, `BAD_UPGRADE`, `BAD_ACCEPT`,
 * `BAD_PROTOCOL`, `BAD_EXTENSION`), a `DOMException` `TimeoutError` past the
 * handshake timeout, the signal's reason when aborted, or a network error.
 *
 * @param url A `ws://` or `wss://` URL.
 * @param options Subprotocols, origin, headers, timeouts, limits.
 * @returns The open connection.
 *
 * @example Handling a rejected handshake
 * ```ts ignore
 * import { dial, DialError, ProtocolError } from "@seed/websocket";
 *
 * try {
 *   await dial("ws://127.0.0.1:8080/private");
 * } catch (error) {
 *   if (error instanceof DialError && error.cause instanceof ProtocolError) {
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
  const fail = (cause: unknown) =>
    new DialError({
      url: String(url),
      protocol: protocols.join(", "),
      origin,
      cause,
    });
  let target: URL;
  try {
    target = parseUrl(url);
  } catch (error) {
    throw fail(error);
  }
  using timer = deadline(
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    "Opening handshake",
    options.signal,
  );
  let transport: Transport | undefined;
  try {
    // An already aborted dial opens no connection at all.
    timer.throwIfAborted();
    transport = await abortable(
      connectTransport(target, options.caCerts),
      timer,
      (late) => late.close(),
    );
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
    const key = createClientKey();
    const deflateOptions = options.compression === true
      ? {}
      : options.compression || undefined;
    const offer = deflateOptions && isPerMessageDeflateSupported()
      ? perMessageDeflateOffer(deflateOptions)
      : undefined;
    await writeAll(
      transport,
      buildUpgradeRequest({
        url: target,
        key,
        protocols,
        origin: options.origin,
        headers: options.headers,
        extensions: offer,
      }),
      timer,
    );
    const { head, rest } = await readHead(
      transport,
      options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
      timer,
    );
    const response = parseResponseHead(head);
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
  } catch (error) {
    try {
      transport?.close();
    } catch {
      // Already closed.
    }
    throw fail(error);
  }
}
