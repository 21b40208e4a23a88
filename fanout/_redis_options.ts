// The options of RedisBus: where Redis is, how channels are named, how
// lost connections are opened again, and what is kept for late subscribers.

import type { BusOptions } from "./bus.ts";

/** Options of {@linkcode RedisBus}. */
export interface RedisBusOptions extends BusOptions {
  /**
   * The Redis server's host.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The Redis server's port.
   * @default {6379}
   */
  port?: number;
  /** The user for `AUTH` (with `password`). */
  username?: string;
  /** The password for `AUTH`. */
  password?: string;
  /**
   * The protocol version: 3 (`HELLO 3`, pushes apart from replies) or 2.
   * @default {3}
   */
  protocol?: 2 | 3;
  /**
   * Prepended to each topic to make its channel name.
   * @default {"topics:"}
   */
  prefix?: string;
  /**
   * Sharded pub/sub: `SSUBSCRIBE`/`SPUBLISH` instead of
   * `SUBSCRIBE`/`PUBLISH` (Redis 7), on the one node given. For a cluster,
   * use `cluster`.
   * @default {false}
   */
  sharded?: boolean;
  /**
   * Redis Cluster: the node given is a seed from which the bus learns the
   * slot map (`CLUSTER SLOTS`); each topic's channel is subscribed and
   * published with sharded pub/sub on the node owning its slot, with two
   * connections per node. A slot that moves (a `MOVED` reply, or the node
   * dropping its subscribers) makes it learn the map again; the topics
   * concerned report a gap. Not with `history`.
   * @default {false}
   */
  cluster?: boolean;
  /**
   * The first reconnect delay's upper bound, in milliseconds; it doubles
   * per failed attempt up to `maxReconnectDelay`, and each delay is drawn
   * uniformly below it (full jitter).
   * @default {50}
   */
  reconnectDelay?: number;
  /**
   * The largest reconnect delay, in milliseconds.
   * @default {5000}
   */
  maxReconnectDelay?: number;
  /**
   * Random numbers in [0, 1) for the jitter.
   * @default {Math.random}
   */
  random?: () => number;
  /**
   * The most bytes of publishes held while the publishing connection is
   * down or slow; past it, publishes are dropped (receivers see the gap).
   * @default {8388608}
   */
  maxQueuedBytes?: number;
  /**
   * Keeps about this many recent messages per topic in a Redis stream
   * (`XADD ... MAXLEN ~ N`, in one script with the publish), so that a
   * subscriber that comes back can fetch what it missed with
   * {@linkcode RedisBus.history}; each message's `meta.id` is its place in
   * the stream. 0 keeps none. Every node publishing on a topic must use the
   * same setting.
   * @default {0}
   */
  history?: number;
  /** Called with connection failures and error replies. */
  onError?: (error: unknown) => void;
}
