// Shared by the topics benchmarks: server-side connections over sink
// transports, which count the bytes written to them (as a socket's kernel
// buffer would take them) and never send anything back. A stalled sink
// never finishes a write, like a peer that stopped reading.

import { Conn, type Transport } from "../conn.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";

/** Totals across sinks, and a promise for a byte count. */
export class SinkCounter {
  bytes = 0;
  #target = Infinity;
  #reached: PromiseWithResolvers<void> | undefined;

  /** Resolves once `bytes` reaches `target`. */
  until(target: number): Promise<void> {
    this.#target = target;
    this.#reached = Promise.withResolvers<void>();
    if (this.bytes >= target) this.#reached.resolve();
    return this.#reached.promise;
  }

  add(n: number): void {
    this.bytes += n;
    if (this.bytes >= this.#target) this.#reached?.resolve();
  }
}

/** A transport that takes every write at once, or none if stalled. */
export class SinkTransport implements Transport {
  #eof = Promise.withResolvers<number | null>();
  #closed = false;
  constructor(readonly counter: SinkCounter, readonly stalled = false) {}

  read(): Promise<number | null> {
    return this.#eof.promise;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("Transport closed"));
    }
    if (this.stalled) return new Promise(() => {});
    this.counter.add(p.length);
    return Promise.resolve(p.length);
  }

  close(): void {
    this.#closed = true;
    this.#eof.resolve(null);
  }
}

/** A server-side connection over a sink. */
export function sinkConn(counter: SinkCounter, stalled = false): Conn {
  return new Conn({
    role: "server",
    transport: new SinkTransport(counter, stalled),
    machine: new WebSocketProtocol({ role: "server" }),
    url: "ws://sink/",
    pingInterval: 0,
  });
}

/** Percentiles of a sorted array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
