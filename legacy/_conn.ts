// The connection a finished draft handshake opens, on either side: a Conn
// pumping a HixieProtocol machine.

import {
  Conn,
  type ConnInit,
  type ConnOptions,
  type Transport,
} from "../conn.ts";
import { pickConnOptions } from "../conn/_options.ts";
import type { LegacyVersion } from "./mod.ts";
import { HixieProtocol } from "./protocol.ts";

/** What both sides of a draft handshake are given. */
export interface HixieConnInit extends ConnOptions {
  /** The draft to speak. */
  version: LegacyVersion;
  /** The connection's byte stream. */
  transport: Transport;
  /** The subprotocol agreed, if any. */
  protocol: string | undefined;
  /** The largest message accepted, in bytes. */
  maxMessageSize: number;
}

/** What the opened connection learnt from its handshake. */
export interface HixieConnFields {
  /** Bytes received after the handshake: the first frames. */
  head: Uint8Array;
  /** The origin the client named. */
  origin: string;
  /** The URL the connection was opened to. */
  url: string;
  /** The request the server answered. */
  request?: Request;
  /** The hub behind the connection's topic methods. */
  topics?: ConnInit["topics"];
}

/**
 * Opens the connection after a draft handshake. The machine does not echo a
 * close frame by itself: Conn's closing handshake does, under its timeout.
 */
export function openHixieConn(
  role: "client" | "server",
  init: HixieConnInit,
  fields: HixieConnFields,
): Conn {
  return new Conn({
    role,
    transport: init.transport,
    machine: new HixieProtocol({
      version: init.version,
      role,
      maxMessageSize: init.maxMessageSize,
      autoCloseEcho: false,
    }),
    protocol: init.protocol ?? "",
    version: init.version,
    ...fields,
    ...pickConnOptions(init),
  });
}
