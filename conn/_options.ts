// The per-connection settings that dial(), serve() and upgrade() pass on
// to every Conn they make, picked from their wider options in one place.

import type { ConnOptions } from "../conn.ts";

/** The ConnOptions fields of a wider options object. */
export function pickConnOptions(options: ConnOptions): ConnOptions {
  return {
    closeTimeout: options.closeTimeout,
    readTimeout: options.readTimeout,
    writeTimeout: options.writeTimeout,
    readBufferSize: options.readBufferSize,
    pingInterval: options.pingInterval,
    pingTimeout: options.pingTimeout,
    idleTimeout: options.idleTimeout,
    sendBufferSize: options.sendBufferSize,
  };
}
