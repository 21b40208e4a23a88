// Received messages waiting for the application: whole messages, or the
// pieces of messages read as streams, and the backpressure that bounds
// them. While they hold `readBufferSize` bytes or more (and nobody waits for
// one), the read loop stops reading the socket, so that a slow reader slows
// the peer down instead of filling memory.

import type { Message, MessagePart } from "../protocol/machine.ts";
import { Signal } from "./_signal.ts";

/** The received messages of one connection, in order. */
export class Inbox {
  #messages: Message[] = [];
  #head = 0;
  #parts: MessagePart[] = [];
  #partsHead = 0;
  #bytes = 0;
  #limit: number;
  #room: Signal;
  #readers = new Signal();
  #skipping = false;
  /**
   * Called when a read has just emptied a queue, while someone needs to
   * know (a close echo waiting for the reader): unset, a read costs no call.
   */
  onEmptied: (() => void) | undefined = undefined;
  /**
   * Whether the application has stopped reading: from then on messages are
   * dropped as they arrive, as there is nobody to keep them for.
   */
  ended = false;
  /** Whether messages are read as streams (set for good once asked). */
  streamed = false;

  /**
   * @param limit The byte count at which reading the socket stops.
   * @param room Notified when the bytes fall back under the limit (and when
   * a reader starts waiting): the read loop waits on it.
   */
  constructor(limit: number, room: Signal) {
    this.#limit = limit;
    this.#room = room;
  }

  /** The bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** How many whole messages wait. */
  get pending(): number {
    return this.#messages.length - this.#head;
  }

  /** Whether a whole message waits. */
  get hasMessage(): boolean {
    return this.#head < this.#messages.length;
  }

  /** The next piece of a streamed message, if any (not taken). */
  get nextPart(): MessagePart | undefined {
    return this.#partsHead < this.#parts.length
      ? this.#parts[this.#partsHead]
      : undefined;
  }

  /** Whether nothing waits, whole or in pieces. */
  get drained(): boolean {
    return this.#head === this.#messages.length &&
      this.#partsHead === this.#parts.length;
  }

  /** Whether the socket should stay unread until the application reads. */
  get full(): boolean {
    return !this.#readers.waiting && this.#bytes >= this.#limit;
  }

  /** Keeps a received message, unless the application stopped reading. */
  push(message: Message): void {
    if (this.ended) return;
    this.#messages.push(message);
    this.#bytes += message.length;
  }

  /** Keeps a received piece, unless its message is being skipped. */
  pushPart(part: MessagePart): void {
    if (this.#skipping) {
      if (part.fin) this.#skipping = false;
      return;
    }
    this.#parts.push(part);
    this.#bytes += part.data.length;
  }

  /** Takes the next whole message (check {@linkcode Inbox.hasMessage}). */
  shift(): Message {
    const message = this.#messages[this.#head];
    this.#messages[this.#head++] = "";
    const emptied = this.#head === this.#messages.length;
    if (emptied) {
      this.#messages = [];
      this.#head = 0;
    }
    this.#took(message.length, emptied);
    return message;
  }

  /** Takes the next piece (check {@linkcode Inbox.nextPart}). */
  takePart(): MessagePart {
    const part = this.#parts[this.#partsHead];
    this.#parts[this.#partsHead++] = undefined as unknown as MessagePart;
    const emptied = this.#partsHead === this.#parts.length;
    if (emptied) {
      this.#parts = [];
      this.#partsHead = 0;
    }
    this.#took(part.data.length, emptied);
    return part;
  }

  /**
   * Drops what is left of the message being read, now and as it arrives
   * (the application gave up on it).
   */
  skipRest(): void {
    while (this.#partsHead < this.#parts.length) {
      if (this.takePart().fin) return;
    }
    this.#skipping = true;
  }

  /**
   * Resolves once messages may have arrived; wakes the read loop, which
   * reads even past the limit while someone waits.
   */
  waitForMessage(): Promise<void> {
    const arrived = this.#readers.wait();
    this.#room.notify();
    return arrived;
  }

  /** Wakes whoever waits for a message (events arrived, or the end). */
  wakeReaders(): void {
    this.#readers.notify();
  }

  #took(bytes: number, emptied: boolean): void {
    this.#bytes -= bytes;
    if (this.#bytes < this.#limit) this.#room.notify();
    if (emptied && this.onEmptied !== undefined) this.onEmptied();
  }
}
