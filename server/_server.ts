// The running server behind `serve()`: a coordinator of the accept loop, the
// handshakes in progress, the registry of open connections and the topics
// hub. Each socket is served by #serveSocket, which never rejects.

import type { Conn, Message } from "../conn.ts";
import { ConnectionClosedError, HandshakeError } from "../errors.ts";
import { Topics } from "../fanout/topics.ts";
import { Deadline } from "../_util/deadline.ts";
import { noDelay } from "../_util/io.ts";
import { AcceptLoop, isSocketError } from "./_accept_loop.ts";
import { handshake } from "./_handshake.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type HandshakeSettings,
  handshakeSettings,
  type ServeOptions,
} from "./_options.ts";
import { ConnRegistry } from "./_registry.ts";
import { respond, serverBusy } from "./_respond.ts";
import type { Handler, WebSocketServer } from "../server.ts";

/** A server listening on a socket (see `serve()`). */
export class Server implements WebSocketServer {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #options: ServeOptions;
  readonly #settings: HandshakeSettings;
  readonly #handler: Handler;
  readonly #loop: AcceptLoop;
  readonly #registry = new ConnRegistry();
  #topics: Topics | undefined;
  readonly #handshakes = new Set<Deadline>();
  // Connections serving plain HTTP requests (fallback): no longer in their
  // handshake, so not held against maxHandshakes, but stopped by shutdown.
  readonly #plainHttp = new Set<Deadline>();
  #active = 0; // sockets being served
  #drained: PromiseWithResolvers<void> | undefined;
  #failure: { error: unknown } | undefined;
  readonly #onError: (error: unknown) => void;

  constructor(options: ServeOptions, handler: Handler) {
    this.#options = options;
    this.#topics = options.topics;
    this.#settings = handshakeSettings(
      { ...options, secure: options.cert !== undefined },
      () => this.topics,
    );
    this.#handler = handler;
    this.#onError = options.onError ?? ((error) => console.error(error));
    const listener = options.listener ?? listen(options);
    this.addr = listener.addr as Deno.NetAddr;
    const maxHandshakes = options.maxHandshakes ?? 1024;
    this.#loop = new AcceptLoop(listener, {
      atCapacity: () => this.#handshakes.size >= maxHandshakes,
      serve: (socket) => {
        this.#active++;
        this.#serveSocket(socket);
      },
      onError: this.#onError,
    });
    const onListen = options.onListen ?? ((addr: Deno.NetAddr) => {
      const scheme = options.cert ? "wss" : "ws";
      console.log(`Listening on ${scheme}://${addr.hostname}:${addr.port}/`);
    });
    onListen(this.addr);
    options.signal?.addEventListener("abort", () => this.shutdown(), {
      once: true,
    });
    this.finished = this.#run();
  }

  get connections(): ReadonlySet<Conn> {
    return this.#registry.connections;
  }

  get topics(): Topics {
    return this.#topics ??= new Topics();
  }

  publish(topic: string, data: Message): number {
    return this.#topics?.publish(topic, data) ?? 0;
  }

  subscribers(topic: string): ReadonlySet<Conn> {
    return this.#topics?.subscribers(topic) ?? new Set();
  }

  async shutdown(): Promise<void> {
    if (!this.#loop.stopping) {
      this.#loop.stop();
      for (const handshake of this.#handshakes) handshake.abort();
      for (const http of this.#plainHttp) http.abort();
      this.#registry.closeAll(1001);
    }
    await this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  // Accepts until shutdown, then waits for every socket being served.
  async #run(): Promise<void> {
    await this.#loop.run();
    while (this.#active > 0) {
      this.#drained = Promise.withResolvers<void>();
      await this.#drained.promise;
    }
    if (this.#failure) throw this.#failure.error;
  }

  // Serves one socket; never rejects (an error escaping onError is kept for
  // `finished`).
  async #serveSocket(socket: Deno.Conn): Promise<void> {
    let conn: Conn | undefined;
    try {
      noDelay(socket);
      const { maxConnections = Infinity } = this.#options;
      if (this.#handshakes.size + this.#registry.size >= maxConnections) {
        await respond(socket, serverBusy(), "GET").catch(() => {});
      } else {
        conn = await this.#upgrade(socket);
      }
    } catch (error) {
      this.#failure ??= { error };
    }
    if (conn === undefined) this.#served();
    else this.#serveConn(conn);
  }

  // Runs the handler of an open connection. Not an async function: it waits
  // as long as the connection lives, and a suspended async function holds
  // its whole frame, where a reaction to the handler's promise holds two
  // callbacks.
  #serveConn(conn: Conn): void {
    this.#registry.add(conn);
    let handled: Promise<void>;
    try {
      if (this.#loop.stopping) conn.close(1001).catch(() => {});
      handled = Promise.resolve(this.#handler(conn));
    } catch (error) {
      handled = Promise.reject(error);
    }
    handled.then(
      () => this.#endConn(conn, undefined),
      (error) => this.#endConn(conn, { error }),
    );
  }

  // Closes a connection whose handler is done (1011 if it failed), waits
  // for its end, and counts the socket served.
  async #endConn(conn: Conn, failed: { error: unknown } | undefined) {
    try {
      try {
        if (failed === undefined) await conn.close(1000).catch(() => {});
        else {
          // A peer that closed abnormally is the peer's business; anything
          // else escaping the handler is a bug for the application to see.
          const { error } = failed;
          if (!(error instanceof ConnectionClosedError)) this.#onError(error);
          await conn.close(1011).catch(() => conn.abort());
        }
      } finally {
        await conn.closed;
      }
    } catch (error) {
      this.#failure ??= { error };
    } finally {
      this.#served();
    }
  }

  // One socket less being served.
  #served(): void {
    if (--this.#active === 0) this.#drained?.resolve();
  }

  // The handshake, cancelled by shutdown(); undefined when it failed. Its
  // own function, so that nothing of it stays with the connection.
  async #upgrade(socket: Deno.Conn): Promise<Conn | undefined> {
    const timer = new Deadline(
      this.#options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      "Opening handshake",
    );
    this.#handshakes.add(timer);
    const toPlainHttp = () => {
      this.#handshakes.delete(timer);
      this.#plainHttp.add(timer);
      this.#loop.wake();
    };
    try {
      return await handshake(socket, this.#settings, timer, toPlainHttp);
    } catch (error) {
      // Refused upgrades, fallback pages and timeouts end here: they are
      // the peer's business, not the application's. So are failures of the
      // socket itself (resets, TLS garbage): only errors from the
      // application's hooks are the application's.
      const shutDown = this.#loop.stopping && timer.aborted;
      if (
        !shutDown && !(error instanceof HandshakeError) &&
        !(error instanceof DOMException) && !isSocketError(error)
      ) {
        this.#onError(error);
      }
      return undefined;
    } finally {
      this.#handshakes.delete(timer);
      this.#plainHttp.delete(timer);
      this.#loop.wake();
    }
  }
}

// The server's own listener: TLS with a certificate, else TCP.
function listen(options: ServeOptions): Deno.Listener {
  const hostname = options.hostname ?? "0.0.0.0";
  const port = options.port ?? 8000;
  return options.cert !== undefined && options.key !== undefined
    ? Deno.listenTls({ hostname, port, cert: options.cert, key: options.key })
    : Deno.listen({ hostname, port });
}
