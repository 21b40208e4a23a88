// The HTTP/1.1 request loop of one connection: reads each request head,
// gives the fetch handler a Request whose body streams from the socket,
// writes its Response (Content-Length when the size is known, chunked
// otherwise), and loops while the connection persists. A WebSocket upgrade
// arriving on the connection ends the loop: its head and the bytes after it
// go back to the upgrade path. Framing decisions live in _http1.ts.

import type { Transport } from "../conn.ts";
import { HandshakeError } from "../errors.ts";
import {
  hasToken,
  HeadReader,
  parseRequestHead,
  type RequestHead,
} from "../handshake.ts";
import {
  abortable,
  cancel,
  Deadline,
  Expiry,
  schedule,
} from "../_util/deadline.ts";
import { writeAll } from "../_util/io.ts";
import {
  type BodyDecoder,
  bodyDecoder,
  clientAddress,
  clientKeepsAlive,
  CONTINUE,
  encodeChunk,
  encodeResponseHead,
  expectsContinue,
  type FieldSource,
  LAST_CHUNK,
  LengthDecoder,
  type ParsedHead,
  parseHead,
  requestFraming,
  ResponseFields,
  type ResponseFraming,
  responseHasNoBody,
  type TrustProxy,
} from "./_http1.ts";

/** Facts about the peer of a request (server.ts's PeerInfo). */
export interface PeerInfo {
  /** The peer's address, when the transport is a socket. */
  remoteAddr: Deno.Addr | undefined;
  /** The client's IP address, behind trusted proxies. */
  clientAddr: string | undefined;
}

/** Answers one plain HTTP request. */
export type FetchHandler = (
  request: Request,
  info: PeerInfo,
) => Response | Promise<Response>;

/** The largest request body accepted by default, 16 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024;
/** The default longest wait for the next piece of a request body, 30 s. */
export const DEFAULT_BODY_TIMEOUT = 30_000;
/** The default longest wait for the next request on a connection, 5 s. */
export const DEFAULT_IDLE_TIMEOUT = 5_000;
/** The default most requests served on one connection. */
export const DEFAULT_MAX_REQUESTS = 1000;

/** Settings of {@linkcode serveHttp}. */
export interface HttpLoopOptions {
  /** Whether the socket is TLS (for request URLs). */
  secure?: boolean;
  /** The largest request head, in bytes; larger gets 431. */
  maxHeadSize?: number;
  /** The largest request body, in bytes; larger gets 413. */
  maxBodySize?: number;
  /** Longest wait for the next piece of a body, in ms; 408 past it. */
  bodyTimeout?: number;
  /** Longest wait for the next request, in ms; the connection closes. */
  idleTimeout?: number;
  /** The most requests on one connection; the last gets `Connection: close`. */
  maxRequests?: number;
  /** Which proxies may name the client (see `clientAddress`). */
  trustProxy?: TrustProxy;
  /** Gets errors thrown by the handler (answered with 500). */
  onError?: (error: unknown) => void;
  /**
   * Aborted when the server stops: a connection waiting for a request
   * closes, one serving a request closes after its response.
   */
  stop?: Deadline;
}

/** The first request of a connection, already read. */
export interface FirstRequest {
  /** The head's bytes. */
  head: Uint8Array;
  /** The bytes after the head. */
  rest: Uint8Array;
}

/** A WebSocket upgrade that followed plain requests, for the upgrade path. */
export interface Handoff {
  /** The upgrade request's head. */
  head: Uint8Array;
  /** The parsed head. */
  parsed: RequestHead;
  /** The bytes received after it. */
  rest: Uint8Array;
}

const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);
// The largest body sent in the same write as its head (copied to join it).
const COALESCE_LIMIT = 64 * 1024;
// The largest chunk framed in a pooled scratch buffer.
const MAX_SCRATCH = 256 * 1024;
const SMALL_READ = 16 * 1024;
// Body reads: large, as a body of known size asks for (a 1 MiB upload
// comes in a few reads, not dozens); the buffer is given up after the body.
const LARGE_READ = 256 * 1024;

// Scratch buffers for chunk framing, shared by every connection of the
// process: one is taken for a write and given back once it is written.
const scratchPool: Uint8Array<ArrayBuffer>[] = [];
const SCRATCH_POOL_LIMIT = 16;

function takeScratch(need: number): Uint8Array<ArrayBuffer> | undefined {
  if (need > MAX_SCRATCH + 1024) return undefined;
  return scratchPool.pop() ?? new Uint8Array(MAX_SCRATCH + 1024);
}

// Buffers for a response head (with a small body), shared the same way:
// no new memory per response.
const headBuffers: Uint8Array<ArrayBuffer>[] = [];
const HEAD_BUFFER_SIZE = 4096;
const HEAD_POOL_LIMIT = 64;

function takeHeadBuffer(): Uint8Array<ArrayBuffer> {
  return headBuffers.pop() ?? new Uint8Array(HEAD_BUFFER_SIZE);
}

function giveHeadBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  if (headBuffers.length < HEAD_POOL_LIMIT) headBuffers.push(buffer);
}

function giveScratch(scratch: Uint8Array<ArrayBuffer> | undefined): void {
  if (scratch && scratchPool.length < SCRATCH_POOL_LIMIT) {
    scratchPool.push(scratch);
  }
}
// Bytes and time given to a closing connection to take what the peer was
// still sending, so that our last response is not lost to a reset.
const LINGER_BYTES = 256 * 1024;
const LINGER_MS = 2_000;

/**
 * The peer facts given to hooks: the socket's address and, behind trusted
 * proxies, the client's.
 */
export function peerInfo(
  transport: Transport,
  headers: FieldSource,
  trustProxy: TrustProxy | undefined,
): PeerInfo {
  const remoteAddr = transport.remoteAddr;
  const peer = remoteAddr && "hostname" in remoteAddr
    ? remoteAddr.hostname
    : undefined;
  return {
    remoteAddr,
    clientAddr: clientAddress(peer, headers, trustProxy),
  };
}

// Bytes kept free before and after what a read brings, so that a chunk's
// size line (and a head) and its CRLF (and the last chunk) can be written
// around body bytes in place (see #echo).
const ROOM_BEFORE = 16;
const ROOM_AFTER = 8;
// Large read buffers given up after a body, for the next large body of any
// connection.
const largeBuffers: Uint8Array<ArrayBuffer>[] = [];
const LARGE_POOL_LIMIT = 8;

// The socket's read side, with bytes read but not yet consumed, and at most
// one read in flight, shared by whoever waits for more. The bytes of a read
// buffer before `buffered` are consumed: nothing else refers to them (heads
// and whatever is kept are copied out).
class Source {
  readonly transport: Transport;
  buffered: Uint8Array = EMPTY;
  ended = false;
  #pending: Promise<void> | undefined;
  // The last read's buffer, reused for the next read once its bytes are
  // consumed, and the window of it that reads fill.
  #buffer: Uint8Array<ArrayBuffer> | undefined;
  #window: Uint8Array<ArrayBuffer> | undefined;

  constructor(transport: Transport, initial: Uint8Array) {
    this.transport = transport;
    this.buffered = initial;
  }

  get reading(): boolean {
    return this.#pending !== undefined;
  }

  // The memory of the last read's buffer, which no one else refers to.
  get memory(): ArrayBufferLike | undefined {
    return this.#buffer?.buffer;
  }

  // Hands the last read's buffer over, for a write from it still in
  // flight: the next read takes another.
  detach(): Uint8Array<ArrayBuffer> | undefined {
    const buffer = this.#buffer;
    this.#buffer = this.#window = undefined;
    return buffer;
  }

  // Takes back a buffer handed over by detach() once it is written: pooled
  // when it has a pool's size and no unconsumed bytes lie in it.
  giveBack(buffer: Uint8Array<ArrayBuffer> | undefined): void {
    if (
      buffer !== undefined &&
      buffer.length === LARGE_READ + ROOM_BEFORE + ROOM_AFTER &&
      this.buffered.buffer !== buffer.buffer &&
      largeBuffers.length < LARGE_POOL_LIMIT
    ) {
      largeBuffers.push(buffer);
    }
  }

  // Gives up a large read buffer once a body has been read, so that an
  // idle connection keeps only a small one; it goes to the pool unless
  // unconsumed bytes still lie in it.
  shrink(): void {
    const buffer = this.#buffer;
    if (buffer === undefined || buffer.length <= SMALL_READ + ROOM_BEFORE) {
      return;
    }
    this.#buffer = this.#window = undefined;
    this.giveBack(buffer);
  }

  // Reads once more (or joins the read in flight); never rejects: an error
  // ends the stream.
  fill(size = SMALL_READ): Promise<void> {
    return this.#pending ??= this.#read(size);
  }

  async #read(size: number): Promise<void> {
    let buffer = this.#buffer;
    let window = this.#window;
    if (
      buffer === undefined || window === undefined || window.length < size ||
      this.buffered.length > 0
    ) {
      buffer = size > SMALL_READ ? largeBuffers.pop() : undefined;
      buffer ??= new Uint8Array(size + ROOM_BEFORE + ROOM_AFTER);
      window = buffer.subarray(ROOM_BEFORE, buffer.length - ROOM_AFTER);
    }
    this.#buffer = this.#window = undefined; // not reusable while a read fills it
    try {
      const n = await this.transport.read(window);
      if (n === null) this.ended = true;
      else if (this.buffered.length === 0) {
        this.buffered = window.subarray(0, n);
        this.#buffer = buffer;
        this.#window = window;
      } else {
        const joined = new Uint8Array(this.buffered.length + n);
        joined.set(this.buffered);
        joined.set(window.subarray(0, n), this.buffered.length);
        this.buffered = joined;
      }
    } catch {
      this.ended = true;
    } finally {
      this.#pending = undefined;
    }
  }
}

// Waits for more bytes under a timeout of `ms` (0 for none) and the stop
// deadline; rejects with a TimeoutError or the stop reason.
async function fillWithin(
  source: Source,
  ms: number,
  what: string,
  stop: Deadline | undefined,
  size?: number,
): Promise<void> {
  if (ms <= 0 && stop === undefined) return await source.fill(size);
  using deadline = new Deadline(ms, what);
  const onStop = () => deadline.abort(stop!.reason);
  stop?.onAbort(onStop);
  if (stop?.aborted) deadline.abort(stop.reason);
  try {
    await abortable(source.fill(size), deadline);
  } finally {
    stop?.offAbort(onStop);
  }
}

// A request body read from the socket on demand: the handler's reads pull
// it through the decoder; what the handler leaves unread is drained before
// the next request.
class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  failure: unknown = undefined; // what broke the body, for the answer
  continueSent = false;
  #source: Source;
  #decoder: BodyDecoder;
  #expectContinue: boolean;
  #maxSize: number;
  #timeout: number;
  #stop: Deadline | undefined;
  #pulling: Promise<void> | undefined;
  #detached = false;
  #pulled = false; // whether the stream has asked for bytes

  constructor(
    source: Source,
    decoder: BodyDecoder,
    expectContinue: boolean,
    options: { maxSize: number; timeout: number; stop?: Deadline },
  ) {
    this.#source = source;
    this.#decoder = decoder;
    this.#expectContinue = expectContinue;
    this.#maxSize = options.maxSize;
    this.#timeout = options.timeout;
    this.#stop = options.stop;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pulling = this.#pull(controller),
      cancel: () => {
        // The rest is drained (or the connection closed) after the response.
      },
    }, { highWaterMark: 0 });
  }

  get done(): boolean {
    return this.#decoder.done;
  }

  // Whether the peer may still be holding back its body for a 100.
  get awaitingContinue(): boolean {
    return this.#expectContinue && !this.continueSent && !this.#decoder.done;
  }

  async #pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    if (this.#detached) {
      controller.error(new TypeError("Request body is no longer available"));
      return;
    }
    this.#pulled = true;
    try {
      const data = await this.#next();
      // Copied out, so that the read buffer serves the next read: cheaper
      // than a fresh buffer per read.
      for (const chunk of data) controller.enqueue(chunk.slice());
      if (this.#decoder.done) controller.close();
    } catch (error) {
      this.failure ??= error;
      controller.error(error);
    } finally {
      this.#pulling = undefined;
    }
  }

  // Whether the body can be read here rather than through its stream: the
  // stream never asked for bytes, so none are queued in it.
  get untouched(): boolean {
    return !this.#pulled && !this.#detached && !this.stream.locked;
  }

  // Takes the body over from its stream (see untouched): the stream stays
  // locked, and the bytes come from next(), views of the read buffer that
  // are valid until the next call.
  detach(): void {
    this.#detached = true;
    this.stream.getReader();
  }

  // The next body bytes (at least one chunk, unless the body ended).
  next(): Promise<Uint8Array[]> {
    return this.#next();
  }

  async #next(): Promise<Uint8Array[]> {
    if (this.#expectContinue && !this.continueSent) {
      this.continueSent = true;
      await writeAll(this.#source.transport, CONTINUE);
    }
    const source = this.#source;
    const decoder = this.#decoder;
    while (true) {
      if (source.buffered.length > 0) {
        const result = decoder.decode(source.buffered);
        source.buffered = source.buffered.subarray(result.consumed);
        if (decoder.received > this.#maxSize) {
          throw new HandshakeError(
            "BODY_TOO_LARGE",
            `Request body exceeds ${this.#maxSize} bytes`,
            { status: 413 },
          );
        }
        if (result.data.length > 0 || result.done) return result.data;
      }
      if (decoder.done) return [];
      try {
        await fillWithin(
          source,
          this.#timeout,
          "Reading the request body",
          this.#stop,
          decoder instanceof LengthDecoder
            ? Math.min(LARGE_READ, Math.max(SMALL_READ, decoder.remaining))
            : LARGE_READ,
        );
      } catch (error) {
        if (error instanceof DOMException && error.name === "TimeoutError") {
          throw new HandshakeError("UNEXPECTED_EOF", error.message, {
            status: 408,
            cause: error,
          });
        }
        throw error;
      }
      if (source.ended && source.buffered.length === 0) {
        throw new HandshakeError(
          "UNEXPECTED_EOF",
          "Connection closed in the middle of a request body",
        );
      }
    }
  }

  // Reads and drops what the handler left unread; false when the body can't
  // be brought to its end (the connection must close).
  async drain(): Promise<boolean> {
    this.#detached = true;
    if (this.#pulling) await this.#pulling;
    if (this.failure !== undefined) return false;
    if (this.awaitingContinue) return false;
    try {
      while (!this.#decoder.done) await this.#next();
      return true;
    } catch {
      return false;
    }
  }
}

// The abort state of one request: its signal is made only if the handler
// asks for it (a Request's signal is costly to make and rarely read).
class Aborter {
  aborted = false;
  reason: unknown = undefined;
  #controller: AbortController | undefined;
  #callbacks: (() => void)[] | undefined;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (callbacks) { for (const callback of callbacks) callback(); }
  }

  onAbort(callback: () => void): void {
    if (this.aborted) callback();
    else (this.#callbacks ??= []).push(callback);
  }
}

// A Request whose signal aborts when the client disconnects or the server
// stops.
class ServerRequest extends Request {
  #aborter: Aborter;

  constructor(url: string, init: RequestInit | undefined, aborter: Aborter) {
    super(url, init);
    this.#aborter = aborter;
  }

  override get signal(): AbortSignal {
    return this.#aborter.signal;
  }
}

function errorResponse(error: HandshakeError): Response {
  return new Response(error.message + "\n", {
    status: error.status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function internalError(): Response {
  return new Response("Internal Server Error\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

const SIMPLE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

// The request's URL, as `new Request` needs it; 400 when it can't be made.
// An HTTP/1.0 request may lack a Host: the server's own address stands in.
function requestUrl(
  head: ParsedHead,
  secure: boolean,
  local: Deno.Addr | undefined,
): string {
  let host = head.headers.get("host");
  if (host === null) {
    if (head.version !== "1.0") {
      throw new HandshakeError("BAD_HOST", "Invalid request: missing Host", {
        status: 400,
      });
    }
    host = local && "hostname" in local
      ? (local.hostname.includes(":")
        ? `[${local.hostname}]:${local.port}`
        : `${local.hostname}:${local.port}`)
      : "localhost";
  }
  if (head.target.startsWith("/") && SIMPLE_HOST.test(host)) {
    // The common case: `new Request` parses (and checks) it once.
    return `${secure ? "https" : "http"}://${host}${head.target}`;
  }
  try {
    const url = head.target.startsWith("/")
      ? new URL(head.target, `${secure ? "https" : "http"}://${host}`)
      : new URL(head.target);
    if (url.host === "") throw new TypeError("Missing host");
    return url.href;
  } catch (cause) {
    throw new HandshakeError(
      "BAD_HOST",
      "Invalid request: bad Host header or request target",
      { status: 400, cause },
    );
  }
}

const SENTINEL = Symbol("pending");

// What `promise` settled with within a few microtask turns, or SENTINEL:
// long enough for the body stream of a Response made from a string or
// bytes to report its end, not long enough to hold back a stream that is
// still producing. Cheaper than a race with a timer of microtasks.
async function settledSoon<T>(
  promise: Promise<T>,
): Promise<T | typeof SENTINEL> {
  let value: T | typeof SENTINEL = SENTINEL;
  let failed = false;
  let error: unknown;
  promise.then((v) => value = v, (e) => {
    failed = true;
    error = e;
  });
  await undefined;
  if (value === SENTINEL && !failed) {
    await undefined;
    await undefined;
  }
  if (failed) throw error;
  return value;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("Response body chunk is not bytes");
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// One chunk of the parts' bytes (none if they are empty), after `head`
// and before the last chunk if `last`: in a pooled scratch buffer when it
// fits (given back by the caller once written).
function frameChunk(
  parts: Uint8Array[],
  head: Uint8Array | undefined,
  last: boolean,
): { bytes: Uint8Array; scratch: Uint8Array<ArrayBuffer> | undefined } {
  let size = 0;
  for (const part of parts) size += part.length;
  const sizeLine = size > 0 ? size.toString(16) : "";
  const total = (head?.length ?? 0) + (size > 0 ? sizeLine.length + 4 : 0) +
    size + (last ? LAST_CHUNK.length : 0);
  const scratch = takeScratch(total);
  const out = scratch ? scratch.subarray(0, total) : new Uint8Array(total);
  let o = 0;
  if (head) {
    out.set(head);
    o = head.length;
  }
  if (size > 0) {
    for (let i = 0; i < sizeLine.length; i++) out[o++] = sizeLine.charCodeAt(i);
    out[o++] = 13;
    out[o++] = 10;
    for (const part of parts) {
      out.set(part, o);
      o += part.length;
    }
    out[o++] = 13;
    out[o++] = 10;
  }
  if (last) out.set(LAST_CHUNK, o);
  return { bytes: out, scratch };
}

// One chunk framed around its bytes where they lie in the read buffer: the
// size line (after `head`) goes in the consumed bytes before them, the CRLF
// (and the last chunk) in the free room after them. Undefined when there
// is no room, or bytes after them are still to be read.
function frameInPlace(
  parts: Uint8Array[],
  head: Uint8Array | undefined,
  last: boolean,
  source: Source,
): { bytes: Uint8Array; scratch: undefined } | undefined {
  if (parts.length !== 1 || source.buffered.length > 0) return undefined;
  const data = parts[0];
  if (data.buffer !== source.memory) return undefined;
  const line = data.length.toString(16);
  const before = (head?.length ?? 0) + line.length + 2;
  const after = 2 + (last ? LAST_CHUNK.length : 0);
  const start = data.byteOffset - before;
  const end = data.byteOffset + data.length + after;
  if (start < 0 || end > data.buffer.byteLength) return undefined;
  const out = new Uint8Array(data.buffer, start, end - start);
  let o = 0;
  if (head) {
    out.set(head);
    o = head.length;
  }
  for (let i = 0; i < line.length; i++) out[o++] = line.charCodeAt(i);
  out[o++] = 13;
  out[o++] = 10;
  o += data.length;
  out[o++] = 13;
  out[o++] = 10;
  if (last) out.set(LAST_CHUNK, o);
  return { bytes: out, scratch: undefined };
}

// The parts' bytes after `head`, in one buffer (no copy for a lone part).
function joinParts(
  parts: Uint8Array[],
  head: Uint8Array | undefined,
): Uint8Array {
  if (head === undefined && parts.length === 1) return parts[0];
  let size = head?.length ?? 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let o = 0;
  if (head) {
    out.set(head);
    o = head.length;
  }
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

const DIGITS = /^[0-9]+$/;

/**
 * Serves plain HTTP/1.1 requests on a connection, starting with `first`
 * (already read), until the connection ends (undefined; the transport is
 * closed) or a WebSocket upgrade arrives (its head and the bytes after it;
 * the transport stays open for the upgrade).
 *
 * @param transport The connection.
 * @param first The first request's head and the bytes after it.
 * @param handler Answers each request.
 * @param options Limits, timeouts, hooks.
 * @returns The upgrade that ended the loop, if one did.
 */
export async function serveHttp(
  transport: Transport,
  first: FirstRequest,
  handler: FetchHandler,
  options: HttpLoopOptions = {},
): Promise<Handoff | undefined> {
  const loop = new HttpLoop(transport, first.rest, handler, options);
  return await loop.run(first);
}

class HttpLoop {
  #transport: Transport;
  #source: Source;
  #handler: FetchHandler;
  #secure: boolean;
  #maxHeadSize: number;
  #maxBodySize: number;
  #bodyTimeout: number;
  #idleTimeout: number;
  #maxRequests: number;
  #trustProxy: TrustProxy | undefined;
  #onError: (error: unknown) => void;
  #stop: Deadline | undefined;
  #closed = false;
  // Two idle expiries, used in turn: the next wait's is scheduled before
  // the last one's is cancelled, so that the timer list they share never
  // empties (and its platform timer is not cleared and set per request).
  // Only the current one closes the connection.
  #idle = new Expiry();
  #idleOther = new Expiry();
  #idleCurrent: Expiry | undefined;
  #idleTurn = false;
  #reader: HeadReader;
  #info: PeerInfo | undefined;
  #waiting = false; // for the next request, with none of it received
  #current: Aborter | undefined; // the request being answered
  // One registration per connection: a stop closes a connection waiting
  // for a request, and aborts the signal of the one being answered.
  #onStop = () => {
    if (this.#waiting) this.#close();
    this.#current?.abort(
      new DOMException("Server is shutting down", "AbortError"),
    );
  };

  constructor(
    transport: Transport,
    rest: Uint8Array,
    handler: FetchHandler,
    options: HttpLoopOptions,
  ) {
    this.#transport = transport;
    this.#source = new Source(transport, rest);
    this.#handler = handler;
    this.#secure = options.secure ?? false;
    this.#maxHeadSize = options.maxHeadSize ?? 16 * 1024;
    this.#maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
    this.#bodyTimeout = options.bodyTimeout ?? DEFAULT_BODY_TIMEOUT;
    this.#idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.#maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
    this.#trustProxy = options.trustProxy;
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.#stop = options.stop;
    this.#idle.fire = () => this.#idleFired(this.#idle);
    this.#idleOther.fire = () => this.#idleFired(this.#idleOther);
    this.#reader = new HeadReader(this.#maxHeadSize);
  }

  async run(first: FirstRequest): Promise<Handoff | undefined> {
    this.#stop?.onAbort(this.#onStop);
    try {
      return await this.#run(first);
    } finally {
      this.#stop?.offAbort(this.#onStop);
      cancel(this.#idle);
      cancel(this.#idleOther);
    }
  }

  #idleFired(expiry: Expiry): void {
    if (expiry === this.#idleCurrent) this.#close();
  }

  // Starts the idle timeout of a wait for the next request.
  #armIdle(): void {
    this.#idleTurn = !this.#idleTurn;
    const next = this.#idleTurn ? this.#idleOther : this.#idle;
    schedule(next, this.#idleTimeout);
    cancel(next === this.#idle ? this.#idleOther : this.#idle);
    this.#idleCurrent = next;
  }

  async #run(first: FirstRequest): Promise<Handoff | undefined> {
    let count = 0;
    try {
      let current: { head: Uint8Array; parsed: ParsedHead } | undefined = {
        head: first.head,
        parsed: parseHead(first.head),
      };
      while (true) {
        count++;
        if (
          count > 1 &&
          hasToken(current.parsed.headers, "upgrade", "websocket")
        ) {
          return {
            head: current.head,
            parsed: parseRequestHead(current.head),
            rest: this.#source.buffered.slice(),
          };
        }
        if (!(await this.#serveOne(current.parsed, count))) {
          await this.#lingerAndClose();
          return undefined;
        }
        current = await this.#nextHead();
        if (current === undefined) {
          this.#close();
          return undefined;
        }
      }
    } catch (error) {
      if (error instanceof HandshakeError) {
        // A malformed request: answered, then the connection closes, as
        // its framing can't be trusted.
        await this.#answerAndClose(error);
        return undefined;
      }
      this.#close();
      throw error;
    }
  }

  // Reads the next head; undefined when the peer closed, went idle too long
  // or the server is stopping. The reader is ready for the next head once
  // it has returned one (after a fault, the connection closes).
  async #nextHead(): Promise<
    { head: Uint8Array; parsed: ParsedHead } | undefined
  > {
    const reader = this.#reader;
    const source = this.#source;
    let started = false;
    let armed = false;
    try {
      while (true) {
        let bytes = source.buffered;
        if (!started) {
          // Empty lines before a request line are ignored (RFC 9112 2.2).
          let i = 0;
          while (i < bytes.length && (bytes[i] === 13 || bytes[i] === 10)) {
            i++;
          }
          bytes = bytes.subarray(i);
        }
        if (bytes.length > 0) {
          started = true;
          source.buffered = EMPTY;
          const done = reader.push(bytes);
          if (done) {
            source.buffered = done.rest;
            return { head: done.head, parsed: parseHead(done.head) };
          }
        } else source.buffered = EMPTY;
        if (this.#stop?.aborted && !started) return undefined;
        if (source.ended) return undefined;
        // One timer per connection, re-armed per wait: on expiry the
        // socket is closed, which ends the read.
        if (!armed && this.#idleTimeout > 0) {
          this.#armIdle();
          armed = true;
        }
        this.#waiting = !started;
        try {
          await source.fill();
        } finally {
          this.#waiting = false;
        }
        if (this.#closed) return undefined;
      }
    } finally {
      // Left scheduled (see #armIdle), but no longer able to close.
      this.#idleCurrent = undefined;
    }
  }

  // Serves one request; whether the connection goes on.
  async #serveOne(parsed: ParsedHead, count: number): Promise<boolean> {
    const framing = requestFraming(parsed);
    const href = requestUrl(
      parsed,
      this.#secure,
      this.#transport.localAddr,
    );
    if (framing.kind === "length" && framing.length > this.#maxBodySize) {
      throw new HandshakeError(
        "BODY_TOO_LARGE",
        `Request body exceeds ${this.#maxBodySize} bytes`,
        { status: 413 },
      );
    }
    const method = parsed.method;
    let keepAlive = clientKeepsAlive(parsed) && count < this.#maxRequests;
    const decoder = bodyDecoder(framing);
    const body = decoder
      ? new RequestBody(this.#source, decoder, expectsContinue(parsed), {
        maxSize: this.#maxBodySize,
        timeout: this.#bodyTimeout,
        stop: this.#stop,
      })
      : undefined;
    const aborter = new Aborter();
    // A GET without a body needs no init (its conversion is costly); the
    // header fields are appended one by one, cheaper than as an init.
    let init: RequestInit | undefined;
    if (method !== "GET") {
      init = { method };
      if (body && method !== "HEAD") {
        init.body = body.stream;
        (init as { duplex?: string }).duplex = "half";
      }
    }
    let request: Request;
    try {
      request = new ServerRequest(href, init, aborter);
    } catch (cause) {
      throw new HandshakeError(
        "BAD_HOST",
        "Invalid request: bad Host header or request target",
        { status: 400, cause },
      );
    }
    const headers = request.headers;
    const list = parsed.headers.list;
    for (let i = 0; i < list.length; i += 2) {
      headers.append(list[i], list[i + 1]);
    }
    // Without trusted proxies the facts are the connection's: made once.
    const info = this.#trustProxy === undefined
      ? this.#info ??= peerInfo(this.#transport, parsed.headers, undefined)
      : peerInfo(this.#transport, parsed.headers, this.#trustProxy);

    // A server that stops aborts the request's signal (see #onStop): a
    // streaming response is cancelled, and the connection closes after the
    // response.
    this.#current = aborter;
    try {
      let response: Response;
      try {
        const result = this.#handler(request, info);
        // A Response returned as is is taken without a microtask turn.
        response = result instanceof Response ? result : await result;
        if (!(response instanceof Response)) {
          throw new TypeError("Fetch handler did not return a Response");
        }
        if (response.status < 200) {
          // Response.error(), or an interim status: not a final answer.
          throw new TypeError(
            `Fetch handler returned a response of status ${response.status}`,
          );
        }
      } catch (error) {
        if (body?.failure instanceof HandshakeError) {
          response = errorResponse(body.failure);
        } else {
          // An abort the server caused (shutdown, client gone) is no bug.
          if (body?.failure === undefined && !aborter.aborted) {
            this.#onError(error);
          }
          response = internalError();
        }
      }
      if (body && (body.failure !== undefined || body.awaitingContinue)) {
        keepAlive = false;
      }
      if (this.#stop?.aborted) keepAlive = false;
      const fields = new ResponseFields(response.headers);
      // The application may end the connection too.
      if (fields.close) keepAlive = false;
      const completed = await this.#respond(
        response,
        fields,
        method,
        keepAlive,
        parsed.version === "1.0",
        body,
        aborter,
      );
      if (body) this.#source.shrink();
      if (!completed || !keepAlive) return false;
      if (body && !body.done && !(await body.drain())) return false;
      return !this.#stop?.aborted;
    } finally {
      this.#current = undefined;
    }
  }

  // Writes the response; false when it could not be completed (the peer
  // left, the body failed, or the framing forces a close).
  async #respond(
    response: Response,
    fields: ResponseFields,
    method: string,
    keepAlive: boolean,
    http10: boolean,
    body: RequestBody | undefined,
    aborter: Aborter,
  ): Promise<boolean> {
    const status = response.status;
    const noBody = responseHasNoBody(method, status);
    const declaredText = fields.contentLength;
    let declared = declaredText !== null && DIGITS.test(declaredText)
      ? Number(declaredText)
      : undefined;
    if (declared !== undefined && !Number.isSafeInteger(declared)) {
      declared = undefined;
    }
    const connection = !keepAlive ? "close" : http10 ? "keep-alive" : undefined;
    const stream = response.body;
    if (
      stream !== null && body !== undefined && stream === body.stream &&
      declared === undefined && !noBody && body.untouched
    ) {
      // The request's own body sent back: read here and written as it
      // arrives, without its stream.
      body.detach();
      return await this.#echo(
        response,
        fields,
        method,
        connection,
        http10,
        body,
        aborter,
      );
    }
    let reader: ReadableStreamDefaultReader<unknown> | undefined;
    let ready: Uint8Array | undefined; // the first chunk, read to probe
    let next: Promise<ReadableStreamReadResult<unknown>> | undefined;
    let known = declared;
    let ended = false;
    if (stream === null) {
      // No body is no bytes, whatever a content-length says (except for
      // HEAD, where it announces the length a GET would have).
      known = method === "HEAD" ? declared ?? 0 : 0;
      ended = true;
    } else if (declared === undefined) {
      // Probe: a body whose bytes are all there within a few microtasks (a
      // string, bytes, JSON) has a known size. A stream that is still
      // producing is sent chunked, its head at once.
      try {
        reader = stream.getReader();
        const first = reader.read();
        const quick = await settledSoon(first);
        if (quick === SENTINEL) next = first;
        else if (quick.done) {
          known = 0;
          ended = true;
        } else {
          ready = toBytes(quick.value);
          const second = reader.read();
          const then = await settledSoon(second);
          if (then !== SENTINEL && then.done) {
            known = ready.length;
            ended = true;
          } else next = second;
        }
      } catch (error) {
        this.#onError(error);
        reader?.cancel(error).catch(() => {});
        return await this.#writeError(internalError(), method);
      }
    }
    if (noBody) {
      if (stream !== null && !ended) {
        (reader ?? stream).cancel().catch(() => {});
      }
      const length = method === "HEAD"
        ? known
        : status === 304
        ? declared
        : undefined;
      const into = takeHeadBuffer();
      const head = encodeResponseHead(
        status,
        response.statusText,
        fields,
        { kind: "head", length },
        connection,
        undefined,
        into,
      );
      const written = await this.#write(head);
      giveHeadBuffer(into);
      return written;
    }
    let framing: ResponseFraming;
    let closeAfter = false;
    if (known !== undefined) framing = { kind: "length", length: known };
    else if (http10) {
      // HTTP/1.0 has no chunked coding: the end of the body is the close.
      framing = { kind: "none" };
      closeAfter = true;
    } else framing = { kind: "chunked" };
    // A small body known whole goes out with its head in one write; a
    // large one is not copied for that.
    const joined = ended && ready !== undefined && ready.length > 0 &&
      ready.length <= COALESCE_LIMIT;
    // A head written at once is made in a pooled buffer.
    const into = ended ? takeHeadBuffer() : undefined;
    const head = encodeResponseHead(
      status,
      response.statusText,
      fields,
      framing,
      closeAfter ? "close" : connection,
      joined ? ready : undefined,
      into,
    );
    if (ended) {
      const written = joined || ready === undefined || ready.length === 0
        ? await this.#write(head)
        : await this.#write(head) && await this.#write(ready);
      giveHeadBuffer(into!);
      return written;
    }
    reader ??= stream!.getReader();
    // Watch for the peer leaving while the body streams (once the request
    // body has been read, reading the socket can only find the next request
    // or the end).
    // The client leaving, or the server stopping, cancels the body.
    let gone = false;
    const cancelBody = () => {
      gone = true;
      reader!.cancel(aborter.reason).catch(() => {});
    };
    aborter.onAbort(cancelBody);
    const onGone = () => {
      aborter.abort(new DOMException("Client disconnected", "AbortError"));
    };
    const watch = () => {
      const source = this.#source;
      if (body && !body.done) return;
      if (source.buffered.length > 0 || source.ended || source.reading) return;
      source.fill().then(() => {
        if (source.ended && source.buffered.length === 0) onGone();
      });
    };
    watch();
    let sent = 0;
    let pendingHead: Uint8Array | undefined = head;
    if (ready === undefined) {
      // Nothing to send yet: the head goes now (an event stream's client
      // learns at once that it is connected).
      if (!(await this.#write(head))) {
        onGone();
        return false;
      }
      pendingHead = undefined;
    }
    try {
      while (true) {
        let chunk: Uint8Array;
        if (ready) {
          chunk = ready;
          ready = undefined;
        } else {
          const result = await (next ?? reader.read());
          next = undefined;
          if (gone) return false;
          if (result.done) break;
          chunk = toBytes(result.value);
        }
        if (chunk.length === 0) continue;
        let out: Uint8Array;
        let scratch: Uint8Array<ArrayBuffer> | undefined;
        if (framing.kind === "chunked") {
          scratch = takeScratch(chunk.length + (pendingHead?.length ?? 0) + 24);
          out = encodeChunk(chunk, pendingHead, undefined, scratch);
        } else {
          if (known !== undefined && sent + chunk.length > known) {
            chunk = chunk.subarray(0, known - sent);
          }
          out = pendingHead ? concatBytes(pendingHead, chunk) : chunk;
        }
        pendingHead = undefined;
        sent += chunk.length;
        const written = await this.#write(out);
        giveScratch(scratch);
        if (!written) {
          onGone();
          return false;
        }
        if (known !== undefined && sent >= known) {
          reader.cancel().catch(() => {});
          break;
        }
        watch();
      }
    } catch (error) {
      if (!gone) this.#onError(error);
      if (pendingHead) {
        // Nothing was sent yet: the failure can still be answered.
        reader.cancel(error).catch(() => {});
        return await this.#writeError(internalError(), method);
      }
      return false;
    }
    if (gone) return false;
    const tail = framing.kind === "chunked" ? LAST_CHUNK : EMPTY;
    const last = pendingHead ? concatBytes(pendingHead, tail) : tail;
    if (last.length > 0 && !(await this.#write(last))) return false;
    if (known !== undefined && sent !== known) return false;
    return !closeAfter;
  }

  // Sends the request's body back as the response's, straight from the
  // read buffer: chunked (closed after, for HTTP/1.0), as a stream of
  // unknown length would be, each read framed as one chunk.
  async #echo(
    response: Response,
    fields: ResponseFields,
    method: string,
    connection: "close" | "keep-alive" | undefined,
    http10: boolean,
    body: RequestBody,
    aborter: Aborter,
  ): Promise<boolean> {
    const chunked = !http10;
    let pendingHead: Uint8Array | undefined = encodeResponseHead(
      response.status,
      response.statusText,
      fields,
      chunked ? { kind: "chunked" } : { kind: "none" },
      chunked ? connection : "close",
    );
    // With none of the body there yet, the head goes at once; it goes with
    // the first bytes otherwise (after the 100 that asks for them).
    if (this.#source.buffered.length === 0 && !body.awaitingContinue) {
      if (!(await this.#write(pendingHead))) return false;
      pendingHead = undefined;
    }
    // The next piece is read while the last one is written.
    let ahead: Promise<Uint8Array[]> | undefined;
    while (true) {
      let parts: Uint8Array[];
      try {
        parts = await (ahead ?? body.next());
        ahead = undefined;
      } catch (error) {
        body.failure ??= error;
        if (!aborter.aborted) this.#onError(error);
        // Nothing was sent yet: the failure can still be answered.
        if (pendingHead) {
          return await this.#writeError(internalError(), method);
        }
        return false;
      }
      const last = body.done;
      const out = chunked
        ? frameInPlace(parts, pendingHead, last, this.#source) ??
          frameChunk(parts, pendingHead, last)
        : { bytes: joinParts(parts, pendingHead), scratch: undefined };
      pendingHead = undefined;
      if (out.bytes.length === 0) {
        if (last) return chunked;
        continue;
      }
      // Bytes written from the read buffer take it along: the piece read
      // meanwhile goes into another.
      const source = this.#source;
      const held = out.bytes.buffer === source.memory
        ? source.detach()
        : undefined;
      const writing = this.#write(out.bytes);
      if (!last) {
        ahead = body.next();
        ahead.catch(() => {}); // seen when awaited; the write may fail first
      }
      const written = await writing;
      giveScratch(out.scratch);
      source.giveBack(held);
      if (!written) return false;
      if (last) return chunked;
    }
  }

  async #writeError(response: Response, method: string): Promise<boolean> {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const head = encodeResponseHead(
      response.status,
      "",
      response.headers,
      method === "HEAD"
        ? { kind: "head", length: bytes.length }
        : { kind: "length", length: bytes.length },
      "close",
    );
    await this.#write(method === "HEAD" ? head : concatBytes(head, bytes));
    return false;
  }

  // Whether all of `bytes` was written (false when the peer is gone).
  #write(bytes: Uint8Array): Promise<boolean> {
    try {
      return this.#transport.write(bytes).then(
        (n) => n >= bytes.length || this.#writeRest(bytes.subarray(n)),
        () => false,
      );
    } catch {
      return Promise.resolve(false);
    }
  }

  async #writeRest(bytes: Uint8Array): Promise<boolean> {
    try {
      const transport = this.#transport;
      let n = 0;
      while (n < bytes.length) n += await transport.write(bytes.subarray(n));
      return true;
    } catch {
      return false;
    }
  }

  async #answerAndClose(error: HandshakeError): Promise<void> {
    const response = errorResponse(error);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const head = encodeResponseHead(
      error.status,
      "",
      response.headers,
      { kind: "length", length: bytes.length },
      "close",
    );
    await this.#write(concatBytes(head, bytes));
    await this.#lingerAndClose();
  }

  // Sends FIN, then reads and drops what the peer still sends (bounded), so
  // that closing with unread bytes does not reset the connection before the
  // peer has read our last response.
  async #lingerAndClose(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#transport.closeWrite?.();
      const source = this.#source;
      let dropped = source.buffered.length;
      source.buffered = EMPTY;
      while (!source.ended && dropped < LINGER_BYTES) {
        await fillWithin(source, LINGER_MS, "Closing", this.#stop, LARGE_READ);
        dropped += source.buffered.length;
        source.buffered = EMPTY;
      }
    } catch {
      // Timed out or reset: close now.
    }
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#transport.close();
    } catch {
      // Already closed.
    }
  }
}
