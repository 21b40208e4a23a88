// The bookkeeping every protocol machine keeps alike, and the rules derived
// from it, so that RFC 6455 and the legacy drafts state them once.

import { type CloseInfo, ConnectionClosedError } from "../errors.ts";
import type { ProtocolError } from "../errors.ts";
import type { ProtocolEvent, ProtocolState } from "./machine.ts";

/**
 * The part of a {@linkcode ProtocolMachine} every protocol shares: where
 * the machine is in its life, the failure, the close sent and received, the
 * events not yet taken, and what follows from them (who closes the
 * transport first, how a refused send describes the close). A machine
 * extends it and sets the protected fields as its protocol runs.
 *
 * @example A machine with nothing to say
 * ```ts
 * import { MachineBase } from "@seed/websocket/machine";
 *
 * class Silent extends MachineBase {
 *   get closesByHalfClose(): boolean {
 *     return true;
 *   }
 * }
 * const machine = new Silent("client");
 * console.log(machine.state, machine.closesTransportFirst); // open true
 * ```
 */
export abstract class MachineBase {
  /** Where the machine is in its life, as {@linkcode MachineBase.state} tells. */
  protected lifecycle: ProtocolState = "open";
  /** The violation that failed the connection, if any. */
  protected failure: ProtocolError | undefined;
  /** The peer's close code and reason, once its close arrived. */
  protected peerClose: { code: number; reason: string } | undefined;
  /** Whether our close (frame, closing bytes, or half-close) was queued. */
  protected closeQueued = false;
  /** The events not yet taken, oldest first. */
  protected events: ProtocolEvent[] = [];
  readonly #server: boolean;

  /**
   * Creates the bookkeeping of an open machine.
   *
   * @param role Which end of the connection the machine is.
   */
  constructor(role: "client" | "server") {
    this.#server = role === "server";
  }

  /**
   * Whether closing is only a half-close of the byte stream, with no
   * closing handshake (see {@linkcode ProtocolMachine.closesByHalfClose}).
   */
  abstract get closesByHalfClose(): boolean;

  /** Where the machine is in its life. */
  get state(): ProtocolState {
    return this.lifecycle;
  }

  /** The violation that failed the connection, if any. */
  get error(): ProtocolError | undefined {
    return this.failure;
  }

  /**
   * The peer's close code and reason, once its close arrived (1005 and ""
   * when it carried none, as the drafts' never do).
   */
  get closeReceived(): { code: number; reason: string } | undefined {
    return this.peerClose;
  }

  /** Whether our close frame (or the drafts' closing bytes) was queued. */
  get closeSent(): boolean {
    return this.closeQueued;
  }

  /**
   * Whether this end sends FIN first: the server (RFC 6455 section 7.1.1),
   * an end that failed or had no closing handshake to wait for, and either
   * end of a protocol that closes by half-close.
   */
  get closesTransportFirst(): boolean {
    return this.#server || this.failure !== undefined ||
      this.peerClose === undefined || this.closesByHalfClose;
  }

  /**
   * Takes the events produced so far.
   *
   * @returns The events, oldest first; the machine forgets them.
   */
  takeEvents(): ProtocolEvent[] {
    const events = this.events;
    if (events.length > 0) this.events = [];
    return events;
  }

  /**
   * Throws {@linkcode ConnectionClosedError} once our close was queued or
   * the machine is closed.
   *
   * @param what What is refused, for the message (`Cannot <what>: …`).
   */
  protected assertCanSend(what: string): void {
    if (this.closeQueued || this.lifecycle === "closed") {
      throw new ConnectionClosedError(
        this.closeInfo(),
        `Cannot ${what}: connection is ${this.lifecycle}`,
      );
    }
  }

  /**
   * How the connection ended, or is ending: a failure's close code; the
   * peer's close, clean once ours went too; else, for a half-close
   * protocol, the end of the stream (clean once closed); else 1006.
   *
   * @returns The code, reason and cleanliness.
   */
  protected closeInfo(): CloseInfo {
    if (this.failure) {
      return { code: this.failure.closeCode, reason: "", wasClean: false };
    }
    if (this.peerClose) {
      return { ...this.peerClose, wasClean: this.closeQueued };
    }
    if (this.closesByHalfClose) {
      return { code: 1005, reason: "", wasClean: this.lifecycle === "closed" };
    }
    return { code: 1006, reason: "", wasClean: false };
  }
}
