// An RFC 6455 connection once its opening handshake is done, for either end:
// `dial()` and the server's handshake both make theirs here, so the machine's
// settings for a socket-backed connection are written once.

import { Conn, type ConnInit } from "../conn.ts";
import type { PerMessageExtension } from "../extensions/extension.ts";
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  WebSocketProtocol,
} from "../protocol/rfc6455.ts";

/** What an RFC 6455 connection is made of besides its machine. */
export interface Rfc6455ConnInit extends Omit<ConnInit, "machine" | "onClose"> {
  /**
   * The largest message accepted, in bytes.
   * @default {67108864}
   */
  maxMessageSize?: number;
  /** The negotiated extension, if any; freed when the transport closes. */
  extension?: PerMessageExtension;
}

/**
 * The connection, over a machine that owns its input (the connection hands
 * it buffers it never reuses) and leaves echoing the peer's close to the
 * connection.
 */
export function rfc6455Conn(init: Rfc6455ConnInit): Conn {
  const { maxMessageSize, extension, ...rest } = init;
  return new Conn({
    ...rest,
    machine: new WebSocketProtocol({
      role: init.role,
      maxMessageSize: maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      ownsInput: true,
      autoCloseEcho: false,
      extension,
    }),
    onClose: extension?.close && closer(extension),
  });
}

// A function of its own, so that the Conn's callback holds only the
// extension.
function closer(extension: PerMessageExtension): () => void {
  return () => extension.close?.();
}
