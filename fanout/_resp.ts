// A small Redis client: RESP2 and RESP3 replies parsed incrementally,
// commands pipelined (everything queued in one turn leaves in one write),
// push messages (pub/sub) handed to a callback. Enough for the Redis bus;
// not a general client.

import { concatBytes } from "../_util/bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;
const LF = 10;

/** An error reply from the server. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RespError";
  }
}

/** A RESP3 push (or, in RESP2, a pub/sub message seen as one). */
export class RespPush {
  constructor(readonly data: RespValue[]) {}
}

/** A value of the protocol. Bulk strings stay bytes: payloads are binary. */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | RespError
  | RespPush
  | RespValue[]
  | Map<RespValue, RespValue>;

/** An argument of a command. */
export type RespArg = string | number | Uint8Array;

/** Encodes one command as an array of bulk strings. */
export function encodeCommand(args: readonly RespArg[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  let size = parts[0].length;
  for (const arg of args) {
    const bytes = arg instanceof Uint8Array ? arg : encoder.encode(String(arg));
    const head = encoder.encode(`$${bytes.length}\r\n`);
    parts.push(head, bytes, CRLF);
    size += head.length + bytes.length + 2;
  }
  return concatBytes(parts, size);
}

const CRLF = new Uint8Array([CR, LF]);

// Thrown inside the parser when the buffer ends mid-value.
const INCOMPLETE = Symbol("incomplete");

/**
 * An incremental parser: push bytes, take whole values. Values split across
 * reads are parsed again from their start once more bytes arrive, so a
 * buffer is kept only while a value is incomplete.
 */
export class RespParser {
  #buffer = new Uint8Array(0);
  #offset = 0;
  #pos = 0;

  /** Adds bytes read from the socket (copied if a part value waits). */
  push(chunk: Uint8Array): void {
    if (this.#offset >= this.#buffer.length) {
      this.#buffer = chunk.slice();
    } else {
      const rest = this.#buffer.subarray(this.#offset);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      this.#buffer = joined;
    }
    this.#offset = 0;
  }

  /** The next whole value, or `undefined` until more bytes arrive. */
  next(): { value: RespValue } | undefined {
    if (this.#offset >= this.#buffer.length) return undefined;
    this.#pos = this.#offset;
    try {
      const value = this.#value();
      this.#offset = this.#pos;
      return { value };
    } catch (error) {
      if (error === INCOMPLETE) return undefined;
      throw error;
    }
  }

  #line(): string {
    const buffer = this.#buffer;
    const start = this.#pos;
    const end = buffer.indexOf(LF, start);
    if (end < 0) throw INCOMPLETE;
    if (end === start || buffer[end - 1] !== CR) {
      throw new TypeError("Invalid reply: line does not end with CRLF");
    }
    this.#pos = end + 1;
    return decoder.decode(buffer.subarray(start, end - 1));
  }

  #int(): number {
    const text = this.#line();
    const n = Number(text);
    if (!Number.isSafeInteger(n)) {
      throw new TypeError(`Invalid reply: bad length ${text}`);
    }
    return n;
  }

  #blob(length: number): Uint8Array {
    const end = this.#pos + length;
    if (end + 2 > this.#buffer.length) throw INCOMPLETE;
    const bytes = this.#buffer.slice(this.#pos, end);
    this.#pos = end + 2;
    return bytes;
  }

  #value(): RespValue {
    if (this.#pos >= this.#buffer.length) throw INCOMPLETE;
    const type = this.#buffer[this.#pos++];
    switch (type) {
      case 0x2b: // + simple string
        return this.#line();
      case 0x2d: // - error
        return new RespError(this.#line());
      case 0x3a: // : integer
        return this.#int();
      case 0x24: { // $ bulk string
        const length = this.#int();
        return length < 0 ? null : this.#blob(length);
      }
      case 0x2a: // * array
      case 0x7e: // ~ set
      case 0x3e: { // > push
        const length = this.#int();
        if (length < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < length; i++) items.push(this.#value());
        return type === 0x3e ? new RespPush(items) : items;
      }
      case 0x25: { // % map
        const length = this.#int();
        const map = new Map<RespValue, RespValue>();
        for (let i = 0; i < length; i++) {
          const key = this.#value();
          map.set(
            key instanceof Uint8Array ? decoder.decode(key) : key,
            this.#value(),
          );
        }
        return map;
      }
      case 0x7c: { // | attributes: parsed and dropped
        const length = this.#int();
        for (let i = 0; i < 2 * length; i++) this.#value();
        return this.#value();
      }
      case 0x5f: // _ null
        this.#line();
        return null;
      case 0x2c: { // , double
        const text = this.#line();
        return text === "inf"
          ? Infinity
          : text === "-inf"
          ? -Infinity
          : Number(text);
      }
      case 0x23: // # boolean
        return this.#line() === "t";
      case 0x28: // ( big number
        return BigInt(this.#line());
      case 0x21: // ! blob error
        return new RespError(decoder.decode(this.#blob(this.#int())));
      case 0x3d: // = verbatim string: "txt:" then the text
        return decoder.decode(this.#blob(this.#int()).subarray(4));
      default:
        throw new TypeError(`Invalid reply: unknown type byte ${type}`);
    }
  }
}

/** Options of {@linkcode RespClient.connect}. */
export interface RespConnectOptions {
  hostname?: string;
  port?: number;
  /** 3 sends `HELLO 3` (pushes arrive as such); 2 keeps RESP2. */
  protocol?: 2 | 3;
  username?: string;
  password?: string;
  /** Bounds the connect and its greeting. */
  signal?: AbortSignal;
}

// Pub/sub replies a RESP2 connection in subscribed mode sends unasked.
const PUBSUB_KINDS = new Set([
  "message",
  "pmessage",
  "smessage",
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
]);

type Pending = PromiseWithResolvers<RespValue> | null;

/** One connection to a Redis server. */
export class RespClient {
  /** Called with each push message (pub/sub). */
  onPush: ((push: RespValue[]) => void) | undefined;
  /** Called with error replies to commands whose replies are discarded. */
  onError: ((error: RespError) => void) | undefined;
  /** Resolves once the connection has ended, for any reason. */
  readonly closed: Promise<void>;
  #conn: Deno.TcpConn;
  #parser = new RespParser();
  #pending: Pending[] = [];
  #pendingHead = 0;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #writing = false;
  #ended = false;
  #resp3 = false;
  #failure: Error | undefined;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.closed = this.#readLoop();
  }

  /** Connects and, for RESP3 or credentials, says `HELLO`. */
  static async connect(options: RespConnectOptions = {}): Promise<RespClient> {
    const conn = await Deno.connect({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 6379,
      signal: options.signal,
    });
    conn.setNoDelay(true);
    const client = new RespClient(conn);
    try {
      const protocol = options.protocol ?? 3;
      if (protocol === 3 || options.password !== undefined) {
        const args: RespArg[] = ["HELLO", protocol];
        if (options.password !== undefined) {
          args.push("AUTH", options.username ?? "default", options.password);
        }
        // An abort closes the connection, which fails the command.
        const signal = options.signal;
        const abort = () => client.close();
        signal?.throwIfAborted();
        signal?.addEventListener("abort", abort, { once: true });
        let reply: RespValue;
        try {
          reply = await client.command(args);
        } finally {
          signal?.removeEventListener("abort", abort);
        }
        if (reply instanceof RespError) throw reply;
        client.#resp3 = protocol === 3;
      }
    } catch (error) {
      client.close();
      await client.closed;
      throw error;
    }
    return client;
  }

  /** Bytes queued and not yet written. */
  get bufferedAmount(): number {
    return this.#outBytes;
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#ended;
  }

  /**
   * Sends a command; resolves with its reply (an error reply is a
   * {@linkcode RespError} value). Rejects if the connection ends first.
   */
  command(args: readonly RespArg[]): Promise<RespValue> {
    if (this.#ended) {
      return Promise.reject(this.#failure ?? new Error("Connection closed"));
    }
    const pending = Promise.withResolvers<RespValue>();
    this.#pending.push(pending);
    this.#enqueue(encodeCommand(args));
    return pending.promise;
  }

  /**
   * Sends a command whose reply is read and dropped (an error reply goes to
   * `onError`), or which has no reply of its own (`SUBSCRIBE` and kin,
   * answered by pushes): `reply: false`.
   */
  send(args: readonly RespArg[], reply = true): void {
    if (this.#ended) return;
    if (reply) this.#pending.push(null);
    this.#enqueue(encodeCommand(args));
  }

  /** Closes the connection; commands waiting for replies reject. Idempotent. */
  close(): void {
    if (this.#ended) return;
    this.#end(new Error("Connection closed"));
  }

  #enqueue(bytes: Uint8Array): void {
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
    if (!this.#writing) {
      this.#writing = true;
      this.#writeLoop();
    }
  }

  async #writeLoop(): Promise<void> {
    // Everything queued in this turn leaves in one write.
    await Promise.resolve();
    try {
      while (this.#out.length > 0 && !this.#ended) {
        const chunks = this.#out;
        this.#out = [];
        const buffer = concatBytes(chunks);
        for (let offset = 0; offset < buffer.length;) {
          offset += await this.#conn.write(buffer.subarray(offset));
        }
        this.#outBytes -= buffer.length;
      }
    } catch (error) {
      this.#end(error as Error);
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (!this.#ended) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          this.#end(
            new Deno.errors.UnexpectedEof("Connection closed by server"),
          );
          break;
        }
        this.#parser.push(buffer.subarray(0, n));
        for (let item = this.#parser.next(); item; item = this.#parser.next()) {
          this.#dispatch(item.value);
        }
      }
    } catch (error) {
      if (!this.#ended) this.#end(error as Error);
    }
  }

  #dispatch(value: RespValue): void {
    if (value instanceof RespPush) {
      this.onPush?.(value.data);
      return;
    }
    if (
      !this.#resp3 && Array.isArray(value) && value.length > 0 &&
      value[0] instanceof Uint8Array &&
      PUBSUB_KINDS.has(decoder.decode(value[0]))
    ) {
      this.onPush?.(value);
      return;
    }
    if (this.#pendingHead >= this.#pending.length) {
      // The answer to a command sent without expecting one (a refused
      // SUBSCRIBE, say) or an unasked reply.
      if (value instanceof RespError) this.onError?.(value);
      return;
    }
    const pending = this.#pending[this.#pendingHead];
    this.#pending[this.#pendingHead++] = null;
    if (
      this.#pendingHead > 1024 && this.#pendingHead * 2 > this.#pending.length
    ) {
      this.#pending = this.#pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
    if (pending) pending.resolve(value);
    else if (value instanceof RespError) this.onError?.(value);
  }

  #end(error: Error): void {
    this.#ended = true;
    this.#failure = error;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    // Commands still waiting will never be answered.
    const pending = this.#pending.slice(this.#pendingHead);
    this.#pending = [];
    this.#pendingHead = 0;
    this.#out = [];
    this.#outBytes = 0;
    for (const entry of pending) entry?.reject(error);
  }
}
