/**
 * WebSocket client and server for Deno, on raw TCP and TLS sockets.
 *
 * {@linkcode dial} opens a connection; {@linkcode serve} starts a server
 * whose handler receives each connection; both give a {@linkcode Conn}:
 * messages in through a `ReadableStream` (or `for await`), out through
 * `send()` or a `WritableStream`, with backpressure, `ping()`, a timed
 * closing handshake, typed errors and the RFC's close codes. The protocol
 * itself (frames, handshakes, the state machine) is sans-I/O and exported
 * from its own entrypoints.
 *
 * @example An echo server and a client, in one script
 * ```ts
 * import { dial, serve } from "@seed/websocket";
 *
 * const server = serve({ port: 0, onListen() {} }, async (conn) => {
 *   for await (const message of conn) await conn.send(message);
 * });
 * const conn = await dial(`ws://127.0.0.1:${server.addr.port}/`);
 * await conn.send("Hello");
 * for await (const message of conn) {
 *   console.log(message); // Hello
 *   break;
 * }
 * await server.shutdown();
 * ```
 *
 * @module
 */

export {
  type Connector,
  type ConnectTarget,
  dial,
  type DialOptions,
} from "./client.ts";
export {
  type ReconnectInfo,
  reconnecting,
  type ReconnectOptions,
} from "./dial/reconnect.ts";
export {
  type Handler,
  isOriginAllowed,
  type OriginPolicy,
  type PeerInfo,
  type ProtocolPolicy,
  serve,
  type ServeOptions,
  type ServerVersion,
  type TrustProxy,
  upgrade,
  type UpgradeOptions,
  type UpgradeSocketOptions,
  type WebSocketServer,
} from "./server.ts";
export {
  Conn,
  type ConnInit,
  type ConnOptions,
  type Message,
  type MessageStream,
  type ProtocolVersion,
  type SendOptions,
  type SendStreamOptions,
  type Transport,
} from "./conn.ts";
export {
  CLOSE_CODES,
  type CloseInfo,
  ConnectionClosedError,
  DialError,
  type DialErrorInit,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeErrorOptions,
  ProtocolError,
  type ProtocolErrorCode,
  type ProtocolErrorOptions,
  WebSocketError,
} from "./errors.ts";
export { CloseCode, Opcode } from "./frame.ts";
export type { PerMessageDeflateOptions } from "./extensions/permessage_deflate.ts";
export type { ExtensionNegotiator } from "./extensions/extension.ts";
export { PreparedMessage } from "./fanout/prepared.ts";
export { Topics, type TopicsOptions } from "./fanout/topics.ts";
