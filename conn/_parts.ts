// The parts of one connection, made and wired together in one place, and
// stopped together, exactly once, when it ends.

import type { Conn } from "../conn.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";
import { Closing } from "./_closing.ts";
import { Ending } from "./_ending.ts";
import { Inbox } from "./_inbox.ts";
import { Keepalive, Pings } from "./_keepalive.ts";
import {
  type ConnInit,
  DEFAULT_PING_INTERVAL,
  DEFAULT_PING_TIMEOUT,
  DEFAULT_READ_BUFFER,
  DEFAULT_SEND_BUFFER,
} from "./_options.ts";
import { Outgoing } from "./_outgoing.ts";
import { ReadLoop } from "./_read_loop.ts";
import { Reader } from "./_reader.ts";
import { Signal } from "./_signal.ts";
import type { Transport } from "./_transport.ts";
import { IdleTimer } from "./_timeouts.ts";
import { Writer } from "./_writer.ts";

// How code outside conn.ts reaches a connection's parts: set by Conn itself,
// which alone can read its private field.
let partsOf: ((conn: Conn) => ConnParts) | undefined;

/** Lets {@linkcode whenEnded} reach the parts of any connection. */
export function exposeParts(of: (conn: Conn) => ConnParts): void {
  partsOf = of;
}

/**
 * Calls `hook` with `conn` once its transport is closed, before
 * {@linkcode Conn.closed} resolves (at once if it has already ended): the
 * server's registry lets go of a connection so. A hook shared by many
 * connections costs none of them a closure or a promise. One hook per
 * connection; a later one replaces it.
 */
export function whenEnded(conn: Conn, hook: (conn: Conn) => void): void {
  const parts = partsOf!(conn);
  if (parts.ending.done) hook(conn);
  else parts.endHook = hook;
}

/** Everything a {@linkcode Conn} is made of besides its public fields. */
export class ConnParts {
  /** The connection these are the parts of. */
  readonly owner: Conn;
  readonly transport: Transport;
  readonly machine: ProtocolMachine;
  /** The read loop's wake-up: room in the inbox, a close frame to send. */
  readonly wake: Signal = new Signal();
  readonly ending: Ending;
  readonly inbox: Inbox;
  readonly reader: Reader;
  readonly loop: ReadLoop;
  readonly idle: IdleTimer | undefined;
  readonly outgoing: Outgoing;
  keepalive: Keepalive | undefined = undefined;
  /** Called with the connection as it ends (see {@linkcode whenEnded}). */
  endHook: ((conn: Conn) => void) | undefined = undefined;
  #onClose: (() => void) | undefined;
  // Made on first use: most connections never close by handshake while
  // idle, and many never ping, so an idle connection holds neither.
  #closing: Closing | undefined;
  #writer: Writer | undefined;
  #sendBuffer: number;
  #pings: Pings | undefined;

  /**
   * @param conn The connection, whose settings (closeTimeout, readTimeout,
   * writeTimeout) are read as they are when needed, and whose public
   * methods the timers call (ping, close, abort).
   * @param init What it is made of.
   */
  constructor(conn: Conn, init: ConnInit) {
    this.owner = conn;
    this.transport = init.transport;
    const machine = this.machine = init.machine;
    const wake = this.wake;
    this.#onClose = init.onClose;
    const ending = this.ending = new Ending(machine);
    const readBuffer = init.readBufferSize ?? DEFAULT_READ_BUFFER;
    const inbox = this.inbox = new Inbox(readBuffer, wake);
    this.reader = new Reader(inbox, ending, conn);
    this.#sendBuffer = init.sendBufferSize ?? DEFAULT_SEND_BUFFER;
    const idleTimeout = init.idleTimeout ?? 0;
    this.idle = idleTimeout > 0 ? new IdleTimer(idleTimeout, conn) : undefined;
    this.outgoing = new Outgoing(this);
    this.loop = new ReadLoop(this);
  }

  /** The closing handshake's timing (made on first use). */
  get closing(): Closing {
    let closing = this.#closing;
    if (closing === undefined) {
      closing = this.#closing = new Closing(this.owner, this);
      // Made after the end: it must start no timer.
      if (this.ending.done) closing.stop();
    }
    return closing;
  }

  /**
   * The write side (made on first use: a connection that has sent nothing
   * since its handshake holds no queue).
   */
  get writer(): Writer {
    let writer = this.#writer;
    if (writer === undefined) {
      writer = this.#writer = new Writer(
        this.transport,
        this.machine,
        this.owner,
        this.inbox,
        this.#sendBuffer,
      );
      // Made after the end: it writes nothing.
      if (this.ending.done) writer.stop(undefined);
    }
    return writer;
  }

  /** The pings awaiting their pongs (made on first use). */
  get pings(): Pings {
    return this.#pings ??= new Pings();
  }

  /**
   * Feeds the machine the bytes that followed the handshake, starts the
   * read loop and the keepalive (a protocol without pings, as the legacy
   * drafts, has none).
   */
  start(conn: Conn, init: ConnInit): void {
    const machine = this.machine;
    if (init.head && init.head.length > 0) machine.receive(init.head);
    this.loop.run();
    const interval = init.pingInterval ?? DEFAULT_PING_INTERVAL;
    if (interval <= 0 || !machine.canPing) return;
    const timeout = init.pingTimeout ?? DEFAULT_PING_TIMEOUT;
    this.keepalive = new Keepalive(conn, machine, { interval, timeout });
  }

  /** Drops the connection now, for `reason`. */
  abort(reason: unknown): void {
    if (this.ending.done) return;
    this.ending.aborted = reason;
    this.finish();
  }

  /** Closes the transport and settles everything, exactly once. */
  finish(): void {
    const ending = this.ending;
    if (ending.done) return;
    ending.done = true;
    this.#closing?.stop();
    this.keepalive?.stop();
    this.idle?.stop();
    try {
      this.transport.close();
    } catch {
      // Already closed.
    }
    this.#onClose?.();
    this.endHook?.(this.owner);
    // Made only when someone waits: most connections end with nothing
    // pending.
    const pings = this.#pings;
    const writer = this.#writer;
    const error = pings?.pending || writer?.waiting
      ? ending.error()
      : undefined;
    pings?.rejectAll(error);
    writer?.stop(error);
    this.inbox.wakeReaders();
    this.loop.stop();
    ending.settle();
  }
}
