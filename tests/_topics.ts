// Connections over in-memory pipes for the topics tests and benchmarks.

import { Conn } from "../conn.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import { memoryPair, type MemoryTransport } from "./_util.ts";

/** A server-side connection and its client, both `Conn`s. */
export function connPair(): { server: Conn; client: Conn } {
  const [a, b] = memoryPair();
  const server = new Conn({
    role: "server",
    transport: a,
    machine: new WebSocketProtocol({ role: "server" }),
    url: "ws://memory/",
    pingInterval: 0,
  });
  const client = new Conn({
    role: "client",
    transport: b,
    machine: new WebSocketProtocol({ role: "client" }),
    url: "ws://memory/",
    pingInterval: 0,
  });
  return { server, client };
}

/**
 * A server-side connection whose peer never reads: once `capacity` bytes
 * sit in the pipe, its writes wait and `bufferedAmount` grows.
 */
export function stalledConn(
  capacity = 1024,
): { server: Conn; peer: MemoryTransport } {
  const [a, b] = memoryPair(capacity);
  const server = new Conn({
    role: "server",
    transport: a,
    machine: new WebSocketProtocol({ role: "server" }),
    url: "ws://memory/",
    pingInterval: 0,
  });
  return { server, peer: b };
}

/**
 * Reads `count` messages from a connection, leaving it open (a `break` out
 * of `for await` would close it).
 */
export async function take(conn: Conn, count: number): Promise<unknown[]> {
  const iterator = conn[Symbol.asyncIterator]();
  const out: unknown[] = [];
  while (out.length < count) {
    const { value, done } = await iterator.next();
    if (done) break;
    out.push(value);
  }
  return out;
}
