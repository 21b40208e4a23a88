// The one loop that reads a connection's socket, for the whole life of the
// connection: it pumps bytes into the machine, hands the events on (messages
// to the inbox, pongs to the pings, close frames to the closing handshake),
// starts the writes of what the machine answers, stops reading while the
// inbox is full, and runs the closing handshake to its end: FIN, the peer's
// FIN, the transport closed.

import type { ProtocolMachine } from "../protocol/machine.ts";
import type { Closing } from "./_closing.ts";
import type { Inbox } from "./_inbox.ts";
import type { Pings } from "./_keepalive.ts";
import { ReadBuffer } from "./_read_buffer.ts";
import type { Signal } from "./_signal.ts";
import { type IdleTimer, withTimeout } from "./_timeouts.ts";
import type { Transport } from "./_transport.ts";
import type { Writer } from "./_writer.ts";

// What arrives after the closing handshake is read here and dropped: one
// buffer for every connection, as nobody looks at its contents.
const DISCARD = new Uint8Array(4096);

/** The connection a {@linkcode ReadLoop} reads for. */
export interface ReadLoopOwner {
  /** Longest wait for data from the peer, in milliseconds (0 for none). */
  readonly readTimeout: number;
  /** Drops the connection (a read failed). */
  abort(reason?: unknown): void;
}

/** The parts of a connection the read loop drives. */
export interface ReadLoopParts {
  owner: ReadLoopOwner;
  transport: Transport;
  machine: ProtocolMachine;
  inbox: Inbox;
  writer: Writer;
  closing: Closing;
  pings: Pings;
  idle: IdleTimer | undefined;
  /** Notified whenever the loop may go on (room in the inbox, a close). */
  wake: Signal;
  /** Closes the transport and settles the connection. */
  finish(): void;
}

/** Reads one connection's socket until it is closed. */
export class ReadLoop {
  // The parts are read through one reference rather than copied into
  // fields: a connection's memory is mostly its parts, one per connection.
  #parts: ReadLoopParts;
  #stopped = false;

  constructor(parts: ReadLoopParts) {
    this.#parts = parts;
  }

  /** Ends the loop (the connection is finished). */
  stop(): void {
    this.#stopped = true;
    this.#parts.wake.notify();
  }

  /** Runs until the connection ends; never rejects. */
  async run(): Promise<void> {
    const machine = this.#parts.machine;
    const inbox = this.#parts.inbox;
    const wake = this.#parts.wake;
    // Whether the peer's FIN has been read.
    let eof = false;
    try {
      const reads = new ReadBuffer();
      while (!this.#stopped) {
        this.#dispatch();
        if (machine.hasOutgoing) this.#parts.writer.enqueue();
        if (machine.state === "closed") break;
        if (
          (machine.closeReceived || machine.error) && !machine.closeSent
        ) {
          // Nothing more is read from the peer (it closed, or broke the
          // protocol); wait for our close frame.
          await wake.wait();
          continue;
        }
        // Backpressure, closing or not: what the peer sent before its
        // close frame waits in the socket until the reader makes room.
        if (inbox.full) {
          await wake.wait();
          continue;
        }
        // The rest of a large frame may be read straight into its payload.
        const target = machine.readTarget?.();
        const n = await this.#read(target ?? reads.buffer);
        if (this.#stopped) return;
        if (n === null) {
          eof = true;
          machine.receiveEof();
          this.#dispatch();
          // A half close (draft 75's close) still lets us answer first.
          while (machine.closeReceived && !machine.closeSent) {
            await wake.wait();
            if (this.#stopped) return;
          }
          break;
        }
        if (target) machine.receiveInto!(n);
        else machine.receive(reads.take(n));
      }
      await this.#closeTransport(eof);
    } catch (error) {
      if (!this.#stopped) this.#parts.owner.abort(error);
    }
  }

  // Hands the machine's events on.
  #dispatch(): void {
    const machine = this.#parts.machine;
    const events = machine.takeEvents();
    for (const event of events) {
      switch (event.type) {
        case "message":
          this.#parts.idle?.touch();
          this.#parts.inbox.push(event.data);
          break;
        case "part":
          this.#parts.idle?.touch();
          this.#parts.inbox.pushPart(event);
          break;
        case "pong":
          this.#parts.pings.answer(event.data);
          break;
        case "close":
          this.#parts.closing.start();
          this.#parts.closing.scheduleEcho();
          break;
      }
    }
    if (machine.error && !machine.closeSent && !this.#stopped) {
      // The peer broke the protocol: the failure's close frame is sent as a
      // close echo is, after the answers to the messages before the fault.
      this.#parts.closing.start();
      if (!this.#parts.closing.echoScheduled) {
        this.#parts.closing.scheduleEcho();
      }
    }
    if (events.length > 0) this.#parts.inbox.wakeReaders();
  }

  // One socket read, under the read timeout when one is set.
  #read(buffer: Uint8Array): Promise<number | null> {
    const read = this.#parts.transport.read(buffer);
    const timeout = this.#parts.owner.readTimeout;
    return timeout > 0 ? withTimeout(read, timeout, "Read") : read;
  }

  // After the machine is closed: write what is left, then close. Where it
  // is ours to close first (the server, or anyone failing the connection)
  // and the peer may still be sending, send FIN and wait a bounded time for
  // the peer's, so that our close frame is read before the socket goes; a
  // clean closing handshake (both close frames) leaves nothing to wait for,
  // nor does a peer that already sent its FIN.
  async #closeTransport(eof: boolean): Promise<void> {
    if (this.#stopped) return;
    const { closing, machine, writer } = this.#parts;
    closing.start();
    try {
      await writer.settled();
      const clean = machine.closeReceived !== undefined &&
        machine.error === undefined && !machine.closesByHalfClose;
      if (!eof && !(clean && machine.closesTransportFirst)) {
        // Who sends FIN first is the protocol's close rule.
        if (machine.closesTransportFirst) await closing.sendFin();
        while (!this.#stopped) {
          const n = await this.#read(DISCARD);
          if (n === null) {
            machine.receiveEof();
            break;
          }
        }
      }
    } catch {
      // A reset or a timeout here only means the peer is already gone.
    }
    this.#parts.finish();
  }
}
