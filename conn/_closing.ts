// When a connection's closing frames and FIN go, and how long the closing
// handshake may take. The machine decides what is sent (its close rules);
// this decides when: the peer's close frame (or a failure's) is answered once
// the application has been handed every message before it, and the whole
// handshake is bounded by closeTimeout.

import type { ProtocolMachine } from "../protocol/machine.ts";
import { cancel, Expiry, schedule } from "../_util/deadline.ts";
import type { Ending } from "./_ending.ts";
import type { Inbox } from "./_inbox.ts";
import type { Signal } from "./_signal.ts";
import { timeoutError } from "./_timeouts.ts";
import type { Transport } from "./_transport.ts";
import type { Writer } from "./_writer.ts";

/** The connection a {@linkcode Closing} closes. */
export interface ClosingOwner {
  /** Longest wait for the closing handshake, in milliseconds. */
  readonly closeTimeout: number;
  /** Drops the connection. */
  abort(reason?: unknown): void;
}

/** What a {@linkcode Closing} works with: the connection's other parts. */
export interface ClosingParts {
  /** Where FIN goes. */
  readonly transport: Transport;
  /** What sends the close frame. */
  readonly machine: ProtocolMachine;
  /** The messages the application has yet to read. */
  readonly inbox: Inbox;
  /** What writes the close frame. */
  readonly writer: Writer;
  /** The read loop's signal, for when the close frame is sent. */
  readonly wake: Signal;
  /** Where it is noted that this end asked for the close. */
  readonly ending: Ending;
}

/** The closing handshake's timers and FIN, for one connection. */
export class Closing {
  #owner: ClosingOwner;
  #parts: ClosingParts;
  #timer: Expiry | undefined = undefined;
  // The close echo's timer: an immediate (one macrotask) once drained,
  // a timeout while messages wait.
  #echo:
    | ReturnType<typeof setTimeout>
    | ReturnType<typeof setImmediate>
    | undefined = undefined;
  #echoImmediate = false;
  // Reschedules a held echo when the inbox empties; made on first use.
  #onEmptied: (() => void) | undefined = undefined;
  #finSent = false;
  #stopped = false;

  /**
   * @param owner The connection, for its close timeout and to drop it.
   * @param parts Its other parts, looked up as they are needed.
   */
  constructor(owner: ClosingOwner, parts: ClosingParts) {
    this.#owner = owner;
    this.#parts = parts;
  }

  /** Whether a close echo waits for its time. */
  get echoScheduled(): boolean {
    return this.#echo !== undefined;
  }

  /**
   * The closing handshake, from whichever side began it, is bounded by one
   * timer: past closeTimeout the connection is dropped. On the shared timer
   * list of its duration: one platform timer for every connection closing
   * at once.
   */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const timer = this.#timer = new Expiry();
    // A bound method, not a closure: with any closure made here (an arrow
    // function, even one that holds only a local), a client closing
    // thousands of connections a second had every young collection copy
    // and promote about 3 MB of connections already closed (V8's
    // --trace-gc-nvp: 2.9 MB promoted per scavenge, 45 KB with the bound
    // method, nothing else changed). Why V8 keeps them is not known here;
    // the measurement is in bench/RESULTS.md.
    timer.fire = this.#timedOut.bind(this);
    schedule(timer, this.#owner.closeTimeout);
  }

  #timedOut(): void {
    this.#owner.abort(timeoutError("Closing handshake"));
  }

  /**
   * Starts the closing handshake from this end: the close frame, after
   * whatever is queued, and the timer that bounds the handshake. Throws
   * `RangeError` for a code or reason the RFC forbids.
   */
  begin(code: number, reason: string): void {
    const { machine, ending, writer, wake } = this.#parts;
    machine.close(code, reason);
    ending.requested = true;
    this.start();
    const flushed = writer.settled();
    if (machine.closesByHalfClose) {
      // No closing handshake (draft 75): our FIN, after whatever is
      // still queued, is the close, and the peer's FIN ends the read loop.
      flushed.then(() => this.sendFin()).catch(() => {});
    } else {
      flushed.catch(() => {});
    }
    wake.notify();
  }

  /**
   * Schedules the answer to the peer's close frame, or a failure's close
   * frame: once the application has been handed every message that came
   * before it, and one more turn of the event loop, so that its answers to
   * those messages leave first. That turn is a macrotask (setImmediate:
   * every microtask and the I/O already due run first) rather than a timer,
   * which would hold every closing handshake for a millisecond or more. A
   * reader that does not drain them delays the answer at most a second.
   */
  scheduleEcho(): void {
    const machine = this.#parts.machine;
    const pending = machine.closeReceived !== undefined ||
      machine.error !== undefined;
    if (!pending || machine.closeSent || this.#stopped) return;
    this.#cancelEcho();
    const inbox = this.#parts.inbox;
    const drained = inbox.drained;
    // While the echo is held, the inbox says when a read empties it.
    if (!drained) {
      inbox.onEmptied = this.#onEmptied ??= () => this.scheduleEcho();
    }
    this.#echoImmediate = drained;
    this.#echo = drained ? setImmediate(() => this.#echoClose()) : setTimeout(
      () => this.#echoClose(),
      Math.min(1000, this.#owner.closeTimeout / 2),
    );
  }

  /** Sends FIN (closes the write direction), once. */
  sendFin(): Promise<void> {
    if (this.#finSent) return Promise.resolve();
    this.#finSent = true;
    return this.#parts.transport.closeWrite?.() ?? Promise.resolve();
  }

  /** Clears every timer for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) cancel(this.#timer);
    this.#cancelEcho();
  }

  #cancelEcho(): void {
    const timer = this.#echo;
    if (timer === undefined) return;
    this.#echo = undefined;
    this.#parts.inbox.onEmptied = undefined;
    if (this.#echoImmediate) {
      clearImmediate(timer as ReturnType<typeof setImmediate>);
    } else clearTimeout(timer as ReturnType<typeof setTimeout>);
  }

  #echoClose(): void {
    this.#echo = undefined;
    this.#parts.inbox.onEmptied = undefined;
    const { machine, writer, wake } = this.#parts;
    if (this.#stopped || machine.closeSent) return;
    machine.close();
    writer.enqueue();
    wake.notify();
  }
}
