// The server's open connections. A connection is added once its handshake
// is done and leaves by itself once its transport is closed, so the set is
// always the connections that can still be sent to.

import type { Conn } from "../conn.ts";
import { whenEnded } from "../conn/_parts.ts";
import { LiveSet } from "../_util/live_set.ts";

/** The set of a server's open connections. */
export class ConnRegistry {
  // Not a Set: under a churn of connections a Set's replaced hash tables
  // keep closed connections alive through collections (see LiveSet).
  readonly #conns = new LiveSet<Conn>();
  // One function for every connection: a connection leaves through a hook
  // it calls as it ends, before its `closed` resolves, rather than through
  // a promise reaction of its own.
  readonly #remove = (conn: Conn): void => {
    this.#conns.delete(conn);
  };

  /** The open connections: a live view, not a copy. */
  get connections(): ReadonlySet<Conn> {
    return this.#conns;
  }

  /** How many connections are open. */
  get size(): number {
    return this.#conns.size;
  }

  /** Adds an open connection; it is removed once it has closed. */
  add(conn: Conn): void {
    this.#conns.add(conn);
    whenEnded(conn, this.#remove);
  }

  /** Starts closing every open connection with `code`, waiting for none. */
  closeAll(code: number): void {
    for (const conn of this.#conns) conn.close(code).catch(() => {});
  }
}
