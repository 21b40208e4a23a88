// How a connection ends: whether it has, why (an abort's reason, the
// machine's error), whether this end asked for the close, and the close
// information every pending operation and `Conn.closed` report.

import { type CloseInfo, ConnectionClosedError } from "../errors.ts";
import type { ProtocolMachine } from "../protocol/machine.ts";

/**
 * Whether the messages of a connection that ended so end normally (rather
 * than with an error): a clean close with a normal code, or one this end
 * asked for.
 */
export function endsNormally(info: CloseInfo, requested: boolean): boolean {
  return info.wasClean &&
    (info.code === 1000 || info.code === 1001 || info.code === 1005 ||
      requested);
}

/** The end of one connection, as it is known so far. */
export class Ending {
  /** Whether the connection has ended (the transport is closed). */
  done = false;
  /** Why it was dropped (an abort, a failed read or write), if it was. */
  aborted: unknown = undefined;
  /** Whether this end started the closing handshake. */
  requested = false;
  #machine: ProtocolMachine;
  #closed: PromiseWithResolvers<CloseInfo> | undefined = undefined;
  #final: CloseInfo | undefined = undefined;

  /** @param machine What saw the close frames. */
  constructor(machine: ProtocolMachine) {
    this.#machine = machine;
  }

  /** How the connection ended, from what the machine saw. */
  get info(): CloseInfo {
    const machine = this.#machine;
    const received = machine.closeReceived;
    return {
      code: received?.code ?? 1006,
      reason: received?.reason ?? "",
      wasClean: this.aborted === undefined && received !== undefined &&
        machine.closeSent,
    };
  }

  /** Why pending operations fail once the connection has ended. */
  error(message?: string): ConnectionClosedError {
    return new ConnectionClosedError(this.info, message, {
      cause: this.#machine.error ?? this.aborted,
    });
  }

  /** Resolves with {@linkcode Ending.info} once ended; made on first use. */
  get closed(): Promise<CloseInfo> {
    if (this.#closed === undefined) {
      this.#closed = Promise.withResolvers<CloseInfo>();
      if (this.#final) this.#closed.resolve(this.#final);
    }
    return this.#closed.promise;
  }

  /** The connection has ended: {@linkcode Ending.closed} resolves. */
  settle(): void {
    this.done = true;
    const info = this.#final = this.info;
    this.#closed?.resolve(info);
  }
}
