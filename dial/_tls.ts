// TLS on top of a transport that is already open: a TCP socket, a proxy's
// tunnel, or any byte stream a custom connector returned.
//
// `Deno.startTls` only takes a plain TCP socket; a tunnel inside a TLS
// connection (an https:// proxy) or an in-memory stream needs another TLS
// engine, and `node:tls` can run over any duplex stream.

import tls from "node:tls";
import { Duplex } from "node:stream";
import type { Transport } from "../conn.ts";
import { writeAll } from "../_util/io.ts";

/** How to start TLS over a transport. */
export interface StartTlsOptions {
  /** The server name: sent as SNI and checked against the certificate. */
  hostname: string;
  /** PEM certificates to trust, besides the system's. */
  caCerts?: string[];
  /** Skip certificate verification (testing only). */
  insecure?: boolean;
}

/** Whether a transport is a plain Deno TCP socket. */
function isTcpConn(transport: Transport): transport is Deno.TcpConn {
  return transport.constructor?.name === "TcpConn";
}

/**
 * Runs a TLS client handshake over `transport` and resolves with the
 * encrypted transport (the handshake is done when it resolves).
 */
export async function startTls(
  transport: Transport,
  options: StartTlsOptions,
): Promise<Transport> {
  if (!options.insecure && isTcpConn(transport)) {
    const conn = await Deno.startTls(transport, {
      hostname: options.hostname,
      caCerts: options.caCerts,
    });
    try {
      await conn.handshake();
    } catch (error) {
      // The TCP socket now belongs to the TLS connection: close that.
      conn.close();
      throw error;
    }
    return conn;
  }
  const socket = tls.connect({
    socket: duplexOver(transport),
    // SNI is for names only (RFC 6066 section 3).
    servername: isIpAddress(options.hostname) ? undefined : options.hostname,
    host: options.hostname,
    ca: options.caCerts
      ? [...tls.rootCertificates, ...options.caCerts]
      : undefined,
    rejectUnauthorized: !options.insecure,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      resolve();
    });
    socket.once("error", reject);
  }).catch((error) => {
    socket.destroy();
    throw error;
  });
  return new NodeSocketTransport(socket);
}

/** Whether a string is an IPv4 or IPv6 address literal. */
export function isIpAddress(hostname: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.includes(":");
}

// A Node duplex stream over a transport, for node:tls to write through.
function duplexOver(transport: Transport): Duplex {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      transport.close();
    } catch {
      // Already closed.
    }
  };
  return new Duplex({
    read() {
      const buffer = new Uint8Array(16 * 1024);
      transport.read(buffer).then(
        (n) => this.push(n === null ? null : buffer.subarray(0, n)),
        (error) => this.destroy(closed ? undefined : error),
      );
    },
    write(chunk: Uint8Array, _encoding, callback) {
      writeAll(transport, chunk).then(() => callback(), callback);
    },
    final(callback) {
      (transport.closeWrite?.() ?? Promise.resolve()).then(
        () => callback(),
        () => callback(),
      );
    },
    destroy(error, callback) {
      close();
      callback(error);
    },
  });
}

// Above this many unread bytes the socket is paused, as a socket whose
// reader stops reading would be.
const HIGH_WATER = 256 * 1024;

// A transport over a Node socket (the TLS layer's plaintext side).
class NodeSocketTransport implements Transport {
  #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown = undefined;
  #wake: (() => void) | undefined = undefined;
  #closed = false;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (data: Uint8Array) => {
      const chunk = new Uint8Array(data.buffer, data.byteOffset, data.length);
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: unknown) => {
      this.#error ??= error;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) throw new Deno.errors.BadResource("Transport closed");
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0];
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#queued -= n;
    if (this.#queued <= HIGH_WATER / 2 && this.#socket.isPaused()) {
      this.#socket.resume();
    }
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("Transport closed"));
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    // The socket keeps the chunk until it is written: give it a copy.
    const copy = p.slice();
    return new Promise((resolve, reject) => {
      this.#socket.write(
        copy,
        (error) => error ? reject(error) : resolve(copy.length),
      );
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Transport closed");
    this.#closed = true;
    this.#socket.destroy();
    this.#notify();
  }
}
