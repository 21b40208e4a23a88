// Opening a tunnel through a proxy, over a connection already open to it:
// the I/O around the CONNECT request (_connect_tunnel.ts) and the SOCKS5
// handshake (_socks5.ts).

import { lookup } from "node:dns/promises";
import type { Transport } from "../conn.ts";
import { ProxyError } from "../errors.ts";
import { abortable, type Deadline } from "../_util/deadline.ts";
import { readHead, writeAll } from "../_util/io.ts";
import {
  basicAuthorization,
  buildConnectRequest,
  parseConnectResponse,
} from "./_connect_tunnel.ts";
import { Socks5Error, Socks5Handshake } from "./_socks5.ts";
import { isIpAddress } from "./_tls.ts";

/** A proxy URL without its credentials, for messages. */
function redact(proxy: string): string {
  return proxy.replace(/\/\/[^@/]*@/, "//");
}

/** A transport that first replays bytes already read past a handshake. */
class PrefixedTransport implements Transport {
  #inner: Transport;
  #prefix: Uint8Array;
  constructor(inner: Transport, prefix: Uint8Array) {
    this.#inner = inner;
    this.#prefix = prefix;
  }
  get localAddr(): Deno.Addr | undefined {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Deno.Addr | undefined {
    return this.#inner.remoteAddr;
  }
  read(p: Uint8Array): Promise<number | null> {
    if (this.#prefix.length === 0) return this.#inner.read(p);
    const n = Math.min(p.length, this.#prefix.length);
    p.set(this.#prefix.subarray(0, n));
    this.#prefix = this.#prefix.subarray(n);
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    return this.#inner.write(p);
  }
  close(): void {
    this.#inner.close();
  }
  closeWrite(): Promise<void> {
    return this.#inner.closeWrite?.() ?? Promise.resolve();
  }
}

function withRest(transport: Transport, rest: Uint8Array): Transport {
  return rest.length > 0 ? new PrefixedTransport(transport, rest) : transport;
}

/**
 * Opens a tunnel to `target` over `transport` (see `openTunnel` in
 * proxy.ts), under a deadline.
 */
export async function tunnel(
  transport: Transport,
  proxy: URL,
  target: { hostname: string; port: number },
  signal: AbortSignal | Deadline,
  resolve: (hostname: string) => Promise<string> = lookupAddress,
): Promise<Transport> {
  const name = redact(proxy.href);
  const username = decodeURIComponent(proxy.username);
  const password = decodeURIComponent(proxy.password);
  if (proxy.protocol === "http:" || proxy.protocol === "https:") {
    await writeAll(
      transport,
      buildConnectRequest(
        target.hostname,
        target.port,
        proxy.username ? basicAuthorization(username, password) : undefined,
      ),
      signal,
    );
    const { head, rest } = await readHead(
      transport,
      16 * 1024,
      signal,
      undefined,
      "response",
    );
    const { ok, response } = parseConnectResponse(head);
    if (!ok) {
      throw new ProxyError(
        `Proxy ${name} refused CONNECT with ${response.status}${
          response.statusText ? ` ${response.statusText}` : ""
        }`,
        { proxy: name, status: response.status, response },
      );
    }
    return withRest(transport, rest);
  }
  if (proxy.protocol === "socks5:" || proxy.protocol === "socks5h:") {
    const host = proxy.protocol === "socks5:" && !isIpAddress(target.hostname)
      ? await resolve(target.hostname)
      : target.hostname;
    const handshake = new Socks5Handshake(
      { host, port: target.port },
      proxy.username ? { username, password } : undefined,
    );
    const buffer = new Uint8Array(512);
    try {
      while (!handshake.done) {
        const out = handshake.output();
        if (out.length > 0) await writeAll(transport, out, signal);
        const n = await abortableRead(transport, buffer, signal);
        if (n === null) {
          throw new Socks5Error("The SOCKS5 proxy closed the connection");
        }
        handshake.receive(buffer.subarray(0, n));
      }
    } catch (error) {
      if (error instanceof Socks5Error) {
        throw new ProxyError(`Proxy ${name}: ${error.message}`, {
          proxy: name,
          status: error.reply,
        });
      }
      throw error;
    }
    return withRest(transport, handshake.rest.slice());
  }
  throw new TypeError(`Unsupported proxy scheme ${proxy.protocol}`);
}

function abortableRead(
  transport: Transport,
  buffer: Uint8Array,
  signal: AbortSignal | Deadline,
): Promise<number | null> {
  return abortable(transport.read(buffer), signal);
}

/** Resolves a name with the system resolver (hosts file included). */
async function lookupAddress(hostname: string): Promise<string> {
  const { address } = await lookup(hostname);
  return address;
}
