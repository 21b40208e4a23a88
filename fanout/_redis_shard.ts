// One Redis node as the bus sees it: its subscribed connection, its
// publishing one, the subscribed topics whose channels it owns, and the
// publishes held while its publishing connection is down.

import { Link } from "./_redis_link.ts";
import type { RespArg, RespClient } from "./_resp.ts";

/** What a {@linkcode Shard} asks of its bus. */
export interface ShardHooks {
  /** Opens a client to the node `key` ("host:port"). */
  connect(key: string, signal: AbortSignal): Promise<RespClient>;
  /** The subscribed connection is up (`again`: not for the first time). */
  subscribed(shard: Shard, client: RespClient, again: boolean): void;
  /** The publishing connection is up (`again`: not for the first time). */
  publishing(shard: Shard, client: RespClient, again: boolean): void;
  /** A connection failed or was lost. */
  onError(error: unknown): void;
  /** The wait before a reconnect attempt, in milliseconds. */
  delay(attempt: number): number;
}

/** A node's two connections, its topics and its held publishes. */
export class Shard {
  /** The node, "host:port" (an IPv6 host in brackets). */
  readonly key: string;
  /** The subscribed connection. */
  readonly sub: Link;
  /** The publishing connection. */
  readonly pub: Link;
  /** The topics subscribed on this node, renewed on each reconnect. */
  readonly topics: Set<string> = new Set();
  #held: [string, Uint8Array][] = []; // topic, envelope
  #heldBytes = 0;

  /**
   * Starts connecting both connections.
   *
   * @param key The node, "host:port".
   * @param hooks How to connect, and what to do once connected.
   */
  constructor(key: string, hooks: ShardHooks) {
    this.key = key;
    const connect = (signal: AbortSignal) => hooks.connect(key, signal);
    const onError = (error: unknown) => hooks.onError(error);
    const delay = (attempt: number) => hooks.delay(attempt);
    this.sub = new Link(
      connect,
      (client, again) => hooks.subscribed(this, client, again),
      onError,
      delay,
    );
    this.pub = new Link(
      connect,
      (client, again) => hooks.publishing(this, client, again),
      onError,
      delay,
    );
  }

  /**
   * Sends a command on the subscribed connection if it is up, expecting no
   * reply (the answer comes as a push). While it is down nothing is sent:
   * the connection subscribes to `topics` once it is back.
   */
  subscription(args: readonly RespArg[]): void {
    this.sub.open?.send(args, false);
  }

  /**
   * Holds a publish until the publishing connection is up.
   *
   * @returns False, holding nothing, when that would pass `maxBytes`.
   */
  hold(
    topic: string,
    envelope: Uint8Array,
    size: number,
    maxBytes: number,
  ): boolean {
    if (this.#heldBytes + size > maxBytes) return false;
    this.#held.push([topic, envelope]);
    this.#heldBytes += size;
    return true;
  }

  /** Takes the held publishes, oldest first. */
  takeHeld(): [string, Uint8Array][] {
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    return held;
  }

  /** Drops the held publishes and closes both connections. */
  async close(): Promise<void> {
    this.#held = [];
    await Promise.all([this.sub.close(), this.pub.close()]);
  }
}
