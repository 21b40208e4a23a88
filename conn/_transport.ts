// The seam under a connection, which conn.ts re-exports: tunnels, TLS over
// a proxy and Unix sockets plug in here.

/**
 * The byte stream under a connection. `Deno.Conn` and `Deno.TlsConn` are
 * transports as they are; tests use in-memory pairs.
 */
export interface Transport {
  /** Reads into `p`; resolves with the count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `p`; resolves with the count written. `p` may be reused
   * once the promise settles: a transport that keeps bytes longer copies
   * them.
   */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions at once. */
  close(): void;
  /** Closes the write direction (sends FIN), if the transport can. */
  closeWrite?(): Promise<void>;
  /** The local address, for sockets. */
  readonly localAddr?: Deno.Addr;
  /** The remote address, for sockets. */
  readonly remoteAddr?: Deno.Addr;
}
