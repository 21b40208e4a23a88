// The configuration a client-role process receives as its one argument.

/** What the runner asks of a client process. */
export interface ClientConfig {
  /** The echo server's port on 127.0.0.1. */
  port: number;
  /** The server's process id, for its CPU time. */
  serverPid: number;
  /** Connections. */
  conns: number;
  /** The message size in bytes. */
  size: number;
  /** Binary (true) or text (false) messages. */
  binary: boolean;
  /** Messages in flight per connection. */
  window: number;
  /** Milliseconds of load before measuring. */
  warmup: number;
  /** Milliseconds measured. */
  duration: number;
}

/** The message every client sends: ASCII text or bytes of `size`. */
export function messageOf(config: ClientConfig): string | Uint8Array {
  const bytes = new Uint8Array(config.size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + (i % 26);
  return config.binary ? bytes : new TextDecoder().decode(bytes);
}
