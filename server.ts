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

import type { Conn, Message, Transport } from "./conn.ts";
import type { Topics } from "./fanout/topics.ts";
import type { ProtocolVersion } from "./protocol/machine.ts";
import { Deadline } from "./_util/deadline.ts";
import { handshake } from "./server/_handshake.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type HandshakeSettings,
  handshakeSettings,
  type ServeOptions,
  type UpgradeSocketOptions,
} from "./server/_options.ts";
import { Server } from "./server/_server.ts";

export type { TrustProxy } from "./http/_http1.ts";
export type {
  OriginPolicy,
  PeerInfo,
  ProtocolPolicy,
  ServeOptions,
  UpgradeOptions,
  UpgradeSocketOptions,
} from "./server/_options.ts";
export { isOriginAllowed } from "./server/_origin.ts";

/**
 * A protocol version a server may accept.
 *
 * @deprecated Use {@linkcode ProtocolVersion}, the one name for a version.
 */
export type ServerVersion = ProtocolVersion;

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
   * The open connections: each joins once its opening handshake is done
   * and leaves once it has closed. A live view, not a copy: iterating it
   * while connections come and go sees the set as it is at each step. For
   * subsets (rooms, channels), see {@linkcode WebSocketServer.topics}.
   *
   * @example Sending to every connection
   * ```ts ignore
   * import { serve } from "@seed/websocket";
   *
   * const server = serve({ port: 8080 }, async (conn) => {
   *   for await (const _ of conn); // keep reading until the peer closes
   * });
   * setInterval(() => {
   *   for (const conn of server.connections) {
   *     conn.send(new Date().toISOString()).catch(() => {});
   *   }
   * }, 1000);
   * ```
   */
  readonly connections: ReadonlySet<Conn>;
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
export async function upgrade(
  transport: Transport,
  options: UpgradeSocketOptions = {},
): Promise<Conn> {
  let settings: HandshakeSettings;
  try {
    settings = handshakeSettings(options);
  } catch (error) {
    // An option out of range: the socket is not served at all.
    transport.close();
    throw error;
  }
  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const timer = new Deadline(timeout, "Opening handshake", options.signal);
  return await handshake(transport, settings, timer);
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
  return new Server(options, handler);
}
