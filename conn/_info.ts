// What the opening handshake settled about a connection, the lineage's
// Conn fields (Origin, Location, Protocol and the upgrade Request): set once
// when the connection is made and never changed, apart from the live parts
// that Conn adds on top.

import type { ProtocolVersion } from "../protocol/machine.ts";
import type { ConnInit } from "./_options.ts";

/**
 * What the opening handshake settled about a connection: the subprotocol,
 * the extensions, the origin, the URL, the version, the addresses and the
 * upgrade request. {@linkcode Conn} extends it with the live connection.
 *
 * @example Logging who connected
 * ```ts ignore
 * import type { ConnectionInfo } from "@seed/websocket/conn";
 *
 * function describe(info: ConnectionInfo): string {
 *   return `${info.url} (${info.protocol || "no subprotocol"}) from ${info.origin}`;
 * }
 * ```
 */
export class ConnectionInfo {
  /** The negotiated subprotocol ("" for none). */
  readonly protocol: string;
  /** The negotiated extensions, as in `Sec-WebSocket-Extensions` ("" for none). */
  readonly extensions: string;
  /** The origin of the connection: the `Origin` sent or received ("" for none). */
  readonly origin: string;
  /** The WebSocket URL, the lineage's location. */
  readonly url: string;
  /** The protocol version spoken: `"13"` (RFC 6455) unless a draft. */
  readonly version: ProtocolVersion;
  /** The local address, when the transport is a socket. */
  readonly localAddr: Deno.Addr | undefined;
  /** The remote address, when the transport is a socket. */
  readonly remoteAddr: Deno.Addr | undefined;

  #request: Request | (() => Request) | undefined;

  /**
   * Records what the handshake agreed.
   *
   * @param init The transport and what the handshake agreed.
   */
  constructor(init: ConnInit) {
    this.protocol = init.protocol ?? "";
    this.extensions = init.extensions ?? "";
    this.origin = init.origin ?? "";
    this.url = init.url;
    this.#request = init.request;
    this.version = init.version ?? "13";
    this.localAddr = init.transport.localAddr;
    this.remoteAddr = init.transport.remoteAddr;
  }

  /** The upgrade request, on the server side (made on first use). */
  get request(): Request | undefined {
    const request = this.#request;
    if (typeof request !== "function") return request;
    return this.#request = request();
  }
}
