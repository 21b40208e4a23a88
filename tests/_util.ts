// Test helpers: seeded randomness, input splits, and an in-memory duplex
// pair of transports so that client and server can talk without TCP.

import type { Transport } from "../conn.ts";

/** A seeded PRNG (mulberry32): floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded random bytes. */
export function randomBytes(length: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/**
 * Every way the tests feed a decoder: whole, split in two at each byte
 * boundary, and one byte at a time.
 */
export function* everySplit(bytes: Uint8Array): Generator<Uint8Array[]> {
  yield [bytes];
  for (let i = 1; i < bytes.length; i++) {
    yield [bytes.subarray(0, i), bytes.subarray(i)];
  }
  if (bytes.length > 2) {
    yield Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
  }
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// One direction of a memory pipe, with a capacity so that a reader that
// stops reading makes the writer wait, as a socket does.
class Pipe {
  chunks: Uint8Array[] = [];
  bytes = 0;
  ended = false; // the writer sent FIN
  broken = false; // either side closed the whole transport
  #readers: (() => void)[] = [];
  #writers: (() => void)[] = [];
  constructor(readonly capacity: number) {}

  wakeReaders(): void {
    for (const wake of this.#readers.splice(0)) wake();
  }
  wakeWriters(): void {
    for (const wake of this.#writers.splice(0)) wake();
  }
  waitReadable(): Promise<void> {
    return new Promise((resolve) => this.#readers.push(resolve));
  }
  waitWritable(): Promise<void> {
    return new Promise((resolve) => this.#writers.push(resolve));
  }
}

/** A transport over two in-memory pipes. */
export class MemoryTransport implements Transport {
  #in: Pipe;
  #out: Pipe;
  #closed = false;
  /** Every byte written, for assertions. */
  readonly written: Uint8Array[] = [];

  constructor(incoming: Pipe, outgoing: Pipe) {
    this.#in = incoming;
    this.#out = outgoing;
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#closed) throw new Deno.errors.BadResource("Transport closed");
      const pipe = this.#in;
      if (pipe.chunks.length > 0) {
        const chunk = pipe.chunks[0];
        const n = Math.min(p.length, chunk.length);
        p.set(chunk.subarray(0, n));
        if (n === chunk.length) pipe.chunks.shift();
        else pipe.chunks[0] = chunk.subarray(n);
        pipe.bytes -= n;
        pipe.wakeWriters();
        return n;
      }
      if (pipe.broken) {
        throw new Deno.errors.ConnectionReset("Connection reset by peer");
      }
      if (pipe.ended) return null;
      await pipe.waitReadable();
    }
  }

  async write(p: Uint8Array): Promise<number> {
    while (true) {
      if (this.#closed) throw new Deno.errors.BadResource("Transport closed");
      const pipe = this.#out;
      if (pipe.broken || pipe.ended) {
        throw new Deno.errors.BrokenPipe("Broken pipe");
      }
      if (pipe.bytes < pipe.capacity) {
        const n = Math.min(p.length, pipe.capacity - pipe.bytes);
        const copy = p.slice(0, n);
        this.written.push(copy);
        pipe.chunks.push(copy);
        pipe.bytes += n;
        pipe.wakeReaders();
        return n;
      }
      await pipe.waitWritable();
    }
  }

  closeWrite(): Promise<void> {
    this.#out.ended = true;
    this.#out.wakeReaders();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("Transport closed");
    this.#closed = true;
    // Like a socket closed with unread data: the peer sees a reset or EOF.
    this.#out.ended = true;
    this.#in.broken = true;
    this.#in.wakeReaders();
    this.#in.wakeWriters();
    this.#out.wakeReaders();
    this.#out.wakeWriters();
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.#closed;
  }
}

/** Two connected in-memory transports (capacity per direction in bytes). */
export function memoryPair(
  capacity = 64 * 1024,
): [MemoryTransport, MemoryTransport] {
  const ab = new Pipe(capacity);
  const ba = new Pipe(capacity);
  return [new MemoryTransport(ba, ab), new MemoryTransport(ab, ba)];
}

/** Listens on 127.0.0.1 port 0 (a free port). */
export function listenLoopback(): Deno.TcpListener {
  return Deno.listen({ hostname: "127.0.0.1", port: 0 });
}
