// The HTTP/1.1 request loop of one connection: reads each request head,
// gives the fetch handler a Request whose body streams from the socket,
// writes its Response, and loops while the connection persists. A
// WebSocket upgrade arriving on the connection ends the loop: its head and
// the bytes after it go back to the upgrade path. The framing rules are
// _http1.ts's; reading is _source.ts's and _request_body.ts's, writing
// _response_writer.ts's.

import type { Transport } from "../conn.ts";
import { HandshakeError } from "../errors.ts";
import {
  hasToken,
  HeadReader,
  parseRequestHead,
  type RequestHead,
} from "../handshake.ts";
import type { Deadline } from "../_util/deadline.ts";
import { bodyDecoder } from "./_body_decoder.ts";
import { clientAddress, type TrustProxy } from "./_client_address.ts";
import { IdleTimer } from "./_idle_timer.ts";
import { bodyTooLarge, RequestBody } from "./_request_body.ts";
import {
  clientKeepsAlive,
  expectsContinue,
  requestFraming,
} from "./_request_framing.ts";
import {
  type FieldSource,
  type ParsedHead,
  parseHead,
} from "./_request_head.ts";
import { ResponseFields } from "./_response_head.ts";
import {
  errorResponse,
  internalError,
  ResponseWriter,
} from "./_response_writer.ts";
import { Aborter, makeRequest, requestUrl } from "./_server_request.ts";
import { discardInput, EMPTY, Source } from "./_source.ts";

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

// A handler's result, if it is a final answer.
function finalResponse(response: unknown): Response {
  if (!(response instanceof Response)) {
    throw new TypeError("Fetch handler did not return a Response");
  }
  if (response.status < 200) {
    // Response.error(), or an interim status: not a final answer.
    throw new TypeError(
      `Fetch handler returned a response of status ${response.status}`,
    );
  }
  return response;
}

class HttpLoop {
  #transport: Transport;
  #source: Source;
  #writer: ResponseWriter;
  #handler: FetchHandler;
  #secure: boolean;
  #maxBodySize: number;
  #bodyTimeout: number;
  #idleTimeout: number;
  #maxRequests: number;
  #trustProxy: TrustProxy | undefined;
  #onError: (error: unknown) => void;
  #stop: Deadline | undefined;
  #closed = false;
  #idle: IdleTimer;
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
    this.#maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
    this.#bodyTimeout = options.bodyTimeout ?? DEFAULT_BODY_TIMEOUT;
    this.#idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.#maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
    this.#trustProxy = options.trustProxy;
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.#stop = options.stop;
    this.#writer = new ResponseWriter(transport, this.#source, this.#onError);
    this.#idle = new IdleTimer(this.#idleTimeout, () => this.#close());
    this.#reader = new HeadReader(options.maxHeadSize ?? 16 * 1024);
  }

  async run(first: FirstRequest): Promise<Handoff | undefined> {
    this.#stop?.onAbort(this.#onStop);
    try {
      return await this.#run(first);
    } finally {
      this.#stop?.offAbort(this.#onStop);
      this.#idle.stop();
    }
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
        await this.#writer.writeError(errorResponse(error));
        await this.#lingerAndClose();
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
        // On expiry the socket is closed, which ends the read.
        if (!armed && this.#idleTimeout > 0) {
          this.#idle.arm();
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
      this.#idle.disarm();
    }
  }

  // Serves one request; whether the connection goes on.
  async #serveOne(parsed: ParsedHead, count: number): Promise<boolean> {
    const framing = requestFraming(parsed);
    const href = requestUrl(parsed, this.#secure, this.#transport.localAddr);
    if (framing.kind === "length" && framing.length > this.#maxBodySize) {
      throw bodyTooLarge(this.#maxBodySize);
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
    const request = makeRequest(parsed, href, body, aborter);
    // Without trusted proxies the facts are the connection's: made once.
    const info = this.#trustProxy === undefined
      ? this.#info ??= peerInfo(this.#transport, parsed.headers, undefined)
      : peerInfo(this.#transport, parsed.headers, this.#trustProxy);

    // A server that stops aborts the request's signal (see #onStop): a
    // streaming response is cancelled, and the connection closes after the
    // response.
    this.#current = aborter;
    try {
      const answer = this.#answer(request, info, body, aborter);
      const response = answer instanceof Response ? answer : await answer;
      if (body && (body.failure !== undefined || body.awaitingContinue)) {
        keepAlive = false;
      }
      if (this.#stop?.aborted) keepAlive = false;
      const fields = new ResponseFields(response.headers);
      // The application may end the connection too.
      if (fields.close) keepAlive = false;
      const completed = await this.#writer.respond(
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

  // The handler's response, or the answer to its failure. A Response
  // returned as is is taken without a microtask turn.
  #answer(
    request: Request,
    info: PeerInfo,
    body: RequestBody | undefined,
    aborter: Aborter,
  ): Response | Promise<Response> {
    try {
      const result = this.#handler(request, info);
      if (result instanceof Response) return finalResponse(result);
      return this.#answerLater(result, body, aborter);
    } catch (error) {
      return this.#failed(error, body, aborter);
    }
  }

  async #answerLater(
    result: Promise<Response>,
    body: RequestBody | undefined,
    aborter: Aborter,
  ): Promise<Response> {
    try {
      return finalResponse(await result);
    } catch (error) {
      return this.#failed(error, body, aborter);
    }
  }

  // The answer when the handler failed: the body's own fault when reading
  // it failed, else a 500.
  #failed(
    error: unknown,
    body: RequestBody | undefined,
    aborter: Aborter,
  ): Response {
    if (body?.failure instanceof HandshakeError) {
      return errorResponse(body.failure);
    }
    // An abort the server caused (shutdown, client gone) is no bug.
    if (body?.failure === undefined && !aborter.aborted) this.#onError(error);
    return internalError();
  }

  // Sends FIN, then reads and drops what the peer still sends (bounded), so
  // that closing with unread bytes does not reset the connection before the
  // peer has read our last response.
  async #lingerAndClose(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#transport.closeWrite?.();
      await discardInput(this.#source, this.#stop);
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
