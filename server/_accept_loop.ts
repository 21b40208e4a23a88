// The server's accept loop. Nothing a client does can end it: a socket reset
// before it was accepted, or any other failure of one accept, is skipped;
// running out of descriptors (EMFILE, ENFILE) or memory backs off and
// retries. Only closing the listener ends it.

/** What the loop asks of the server. */
export interface AcceptHooks {
  /** Whether as many handshakes as allowed are in progress. */
  atCapacity(): boolean;
  /** Serves one accepted socket, without waiting for it. */
  serve(socket: Deno.Conn): void;
  /** Told of failures of the machine (out of descriptors). */
  onError(error: unknown): void;
}

/** Accepts sockets from a listener until it is stopped. */
export class AcceptLoop {
  readonly #listener: Deno.Listener;
  readonly #hooks: AcceptHooks;
  #stopping = false;
  // Resolved when the loop may go on: a handshake slot came free, a back-off
  // ended, or the loop is stopping.
  #slot: PromiseWithResolvers<void> | undefined;

  constructor(listener: Deno.Listener, hooks: AcceptHooks) {
    this.#listener = listener;
    this.#hooks = hooks;
  }

  /** Whether {@linkcode AcceptLoop.stop} was called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Accepts until stopped; resolves once it accepts no more. */
  async run(): Promise<void> {
    let backoff = 0;
    while (!this.#stopping) {
      if (this.#hooks.atCapacity()) {
        // At the cap: leave new clients in the kernel's backlog until a
        // handshake ends, instead of refusing them.
        this.#slot = Promise.withResolvers<void>();
        await this.#slot.promise;
        continue;
      }
      let socket: Deno.Conn;
      try {
        socket = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#stopping || isListenerClosed(error)) break;
        // One client's socket failed between the kernel's accept and ours
        // (reset, aborted, gone before its address was read).
        if (isSocketError(error)) continue;
        // Out of descriptors or another failure of the machine: say so,
        // wait (5 ms doubling to 1 s, as Go's net/http does), retry.
        this.#hooks.onError(error);
        backoff = Math.min(1000, backoff === 0 ? 5 : backoff * 2);
        await this.#pause(backoff);
        continue;
      }
      this.#hooks.serve(socket);
    }
  }

  /** Lets the loop go on, if it waits for a handshake slot. */
  wake(): void {
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.resolve();
  }

  /** Closes the listener and ends the loop, even in a pause. */
  stop(): void {
    this.#stopping = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    this.#slot?.resolve();
  }

  // A pause of the loop that stop() cuts short.
  #pause(ms: number): Promise<void> {
    const pause = this.#slot = Promise.withResolvers<void>();
    const timer = setTimeout(pause.resolve, ms);
    return pause.promise.finally(() => {
      clearTimeout(timer);
      if (this.#slot === pause) this.#slot = undefined;
    });
  }
}

// The listener was closed (by stop() or by its owner): the loop ends.
function isListenerClosed(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

const SOCKET_ERRORS: (new (...args: never[]) => Error)[] = [
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.BrokenPipe,
  Deno.errors.UnexpectedEof,
  Deno.errors.InvalidData, // a TLS record that is not one
  Deno.errors.TimedOut,
  Deno.errors.BadResource, // closed under a pending read
  Deno.errors.Interrupted,
];

/**
 * Whether an error is a failure of a socket: the peer's doing, or the
 * network's, never the application's.
 */
export function isSocketError(error: unknown): boolean {
  return SOCKET_ERRORS.some((type) => error instanceof type);
}
