/**
 * {@linkcode Topics}: publish/subscribe over connections. Connections
 * subscribe to named topics; a publish encodes its frame once and writes it
 * to every subscriber without waiting for any of them, with a bound on each
 * subscriber's unsent bytes so that one slow reader neither grows memory
 * nor holds up the others. Given a {@linkcode Bus}, publishes reach the
 * subscribers of other workers, processes and machines too.
 *
 * @example A chat room
 * ```ts ignore
 * import { serve } from "@seed/websocket";
 * import { Topics } from "@seed/websocket/topics";
 *
 * const topics = new Topics();
 * serve({ port: 8080 }, async (conn) => {
 *   topics.subscribe(conn, "lobby");
 *   for await (const message of conn) {
 *     topics.publish("lobby", message, { exclude: conn });
 *   }
 * });
 * ```
 *
 * @module
 */

import type { Conn } from "../conn.ts";
import type { Bus, BusGap } from "./bus.ts";
import { PreparedMessage } from "./prepared.ts";
import { QUEUED } from "../conn/_writer.ts";
import { LiveSet } from "../_util/live_set.ts";

export type { Bus, BusGap, BusMeta, BusStats } from "./bus.ts";
export type { Conn } from "../conn.ts";

/** What happens to a subscriber whose unsent bytes exceed the bound. */
export type SlowPolicy = "skip" | "close";

/** Options of {@linkcode Topics}. */
export interface TopicsOptions {
  /**
   * The most bytes a subscriber may have waiting to be written
   * (`conn.bufferedAmount`) for a publish still to be given to it.
   * @default {1048576}
   */
  maxBufferedBytes?: number;
  /**
   * What to do with a subscriber past `maxBufferedBytes`: `"skip"` its copy
   * of this message (it may catch up later), or `"close"` it with
   * `closeCode`.
   * @default {"skip"}
   */
  slowPolicy?: SlowPolicy;
  /**
   * The close code for `slowPolicy: "close"`: 1008 (policy violation) or
   * 1013 (try again later).
   * @default {1008}
   */
  closeCode?: 1008 | 1013;
  /** Called for each subscriber skipped or closed for being slow. */
  onSlow?: (conn: Conn, topic: string, action: SlowPolicy) => void;
  /**
   * Whether a connection that negotiated compression may compress
   * published messages. Such a connection compresses its own copy (its
   * compression context is its own); `false` writes the shared frame to it
   * as is.
   * @default {true}
   */
  compress?: boolean;
  /**
   * A bus to other nodes: local publishes go to it, and its messages go to
   * the local subscribers. The hub sets the bus's handlers.
   */
  bus?: Bus;
  /** Called when messages from the bus on a topic may have been missed. */
  onGap?: (gap: BusGap) => void;
}

/** Options of {@linkcode Topics.publish}. */
export interface PublishOptions {
  /** A subscriber not to send to (the sender itself). */
  exclude?: Conn;
  /** Overrides the hub's `compress` for this message. */
  compress?: boolean;
}

const noop = () => {};

/**
 * A hub of topics. Subscriptions of a connection end by themselves once it
 * closes. Publishing never waits: each subscriber's copy is queued on its
 * connection, or skipped (or the subscriber closed) when the connection
 * already holds more than `maxBufferedBytes` unsent.
 *
 * @example Subscribing, publishing, counting
 * ```ts ignore
 * import { Topics } from "@seed/websocket/topics";
 *
 * const topics = new Topics({ maxBufferedBytes: 256 * 1024, slowPolicy: "close" });
 * topics.subscribe(conn, "room:1");
 * topics.publish("room:1", "hello", { exclude: conn });
 * console.log(topics.subscribers("room:1").size, topics.topicsOf(conn));
 * ```
 */
export class Topics implements Disposable {
  // Not Sets and Maps keyed by connection: under a churn of connections,
  // their replaced hash tables keep closed connections alive through
  // collections (see LiveSet).
  #subscribers = new Map<string, LiveSet<Conn>>();
  #topicsOf = new WeakMap<Conn, Set<string>>();
  #joining = new Map<string, Promise<void>>(); // bus subscriptions under way
  #maxBufferedBytes: number;
  #slowPolicy: SlowPolicy;
  #closeCode: number;
  #onSlow:
    | ((conn: Conn, topic: string, action: SlowPolicy) => void)
    | undefined;
  #compress: boolean;
  #bus: Bus | undefined;
  #closed = false;

  /**
   * Makes an empty hub.
   *
   * @param options The bound on unsent bytes, its policy, and a bus.
   */
  constructor(options: TopicsOptions = {}) {
    const max = options.maxBufferedBytes ?? 1024 * 1024;
    if (!(max >= 0)) {
      throw new RangeError(
        "Cannot create topics: maxBufferedBytes is negative",
      );
    }
    const policy = options.slowPolicy ?? "skip";
    if (policy !== "skip" && policy !== "close") {
      throw new TypeError(`Cannot create topics: unknown slowPolicy ${policy}`);
    }
    const code = options.closeCode ?? 1008;
    if (code !== 1008 && code !== 1013) {
      throw new RangeError(
        "Cannot create topics: closeCode is not 1008 or 1013",
      );
    }
    this.#maxBufferedBytes = max;
    this.#slowPolicy = policy;
    this.#closeCode = code;
    this.#onSlow = options.onSlow;
    this.#compress = options.compress ?? true;
    this.#bus = options.bus;
    if (this.#bus) {
      this.#bus.onMessage = (topic, payload) => this.#deliver(topic, payload);
      this.#bus.onGap = options.onGap;
    }
  }

  /** The bus this hub publishes to, if any. */
  get bus(): Bus | undefined {
    return this.#bus;
  }

  /**
   * Subscribes a connection to a topic. Idempotent.
   *
   * @param conn The connection.
   * @param topic The topic.
   * @returns A promise that resolves once the topic's messages from the bus
   * arrive here too (at once without a bus). It never rejects.
   */
  subscribe(conn: Conn, topic: string): Promise<void> {
    if (this.#closed) {
      throw new TypeError("Cannot subscribe: topics are closed");
    }
    if (typeof topic !== "string") {
      throw new TypeError("Cannot subscribe: topic is not a string");
    }
    let topics = this.#topicsOf.get(conn);
    if (topics === undefined) {
      topics = new Set();
      this.#topicsOf.set(conn, topics);
      conn.closed.then(() => this.unsubscribeAll(conn), noop);
    }
    if (topics.has(topic)) return Promise.resolve();
    topics.add(topic);
    const conns = this.#subscribers.get(topic);
    if (conns !== undefined) {
      conns.add(conn);
      return this.#joining.get(topic) ?? Promise.resolve();
    }
    this.#subscribers.set(topic, new LiveSet<Conn>().add(conn));
    if (this.#bus === undefined) return Promise.resolve();
    const joining = this.#bus.subscribe(topic).then(noop, noop).finally(() => {
      if (this.#joining.get(topic) === joining) this.#joining.delete(topic);
    });
    this.#joining.set(topic, joining);
    return joining;
  }

  /**
   * Unsubscribes a connection from a topic. Does nothing if it was not
   * subscribed.
   *
   * @param conn The connection.
   * @param topic The topic.
   * @returns Whether it was subscribed.
   */
  unsubscribe(conn: Conn, topic: string): boolean {
    const topics = this.#topicsOf.get(conn);
    if (!topics?.delete(topic)) return false;
    if (topics.size === 0) this.#topicsOf.delete(conn);
    this.#leave(conn, topic);
    return true;
  }

  /**
   * Unsubscribes a connection from every topic (done by itself once the
   * connection closes).
   *
   * @param conn The connection.
   */
  unsubscribeAll(conn: Conn): void {
    const topics = this.#topicsOf.get(conn);
    if (topics === undefined) return;
    this.#topicsOf.delete(conn);
    for (const topic of topics) this.#leave(conn, topic);
  }

  #leave(conn: Conn, topic: string): void {
    const conns = this.#subscribers.get(topic)!;
    conns.delete(conn);
    if (conns.size === 0) {
      this.#subscribers.delete(topic);
      this.#bus?.unsubscribe(topic).catch(noop);
    }
  }

  /**
   * Publishes a message: to every local subscriber of the topic but
   * `exclude`, and to the bus. The frame is encoded once and shared.
   *
   * @param topic The topic.
   * @param data Text or binary.
   * @param options A subscriber to leave out, and compression.
   * @returns How many local subscribers were given the message.
   */
  publish(
    topic: string,
    data: string | Uint8Array,
    options?: PublishOptions,
  ): number {
    if (this.#closed) throw new TypeError("Cannot publish: topics are closed");
    if (typeof data !== "string" && !(data instanceof Uint8Array)) {
      throw new TypeError("Cannot publish: data is not a string or Uint8Array");
    }
    this.#bus?.publish(topic, data);
    return this.#deliver(topic, data, options);
  }

  #deliver(
    topic: string,
    data: string | Uint8Array,
    options?: PublishOptions,
  ): number {
    const conns = this.#subscribers.get(topic);
    if (conns === undefined) return 0;
    const exclude = options?.exclude;
    const compress = options?.compress ?? this.#compress;
    const sendOptions = compress ? undefined : { compress: false };
    const max = this.#maxBufferedBytes;
    let prepared: PreparedMessage | undefined;
    let sent = 0;
    conns.forEach((conn) => {
      if (conn === exclude) return;
      // Counts a message from the moment send() queues it, so a burst in
      // one turn meets the bound too.
      if (conn.bufferedAmount > max) {
        this.#slow(conn, topic);
        return;
      }
      prepared ??= new PreparedMessage(data);
      // Never waited for: a slow subscriber must not hold up the others. A
      // send that fails means the connection is closing; its subscriptions
      // end once it has closed.
      const queued = conn.send(prepared, sendOptions);
      // The usual answer, queued under the mark, never rejects: guarding
      // it would cost a promise and a microtask per subscriber.
      if (queued !== QUEUED) queued.catch(noop);
      sent++;
    });
    return sent;
  }

  #slow(conn: Conn, topic: string): void {
    const action = this.#slowPolicy;
    if (action === "close") {
      // Leaves every topic now so that later publishes skip it silently.
      this.unsubscribeAll(conn);
      conn.close(this.#closeCode, "Too slow to keep up").catch(noop);
    }
    this.#onSlow?.(conn, topic, action);
  }

  /**
   * The subscribers of a topic, as a snapshot.
   *
   * @param topic The topic.
   * @returns The subscribed connections (`size` counts them).
   */
  subscribers(topic: string): ReadonlySet<Conn> {
    return new Set(this.#subscribers.get(topic));
  }

  /**
   * How many connections subscribe to a topic.
   *
   * @param topic The topic.
   * @returns The count.
   */
  subscriberCount(topic: string): number {
    return this.#subscribers.get(topic)?.size ?? 0;
  }

  /**
   * The topics a connection subscribes to, as a snapshot.
   *
   * @param conn The connection.
   * @returns Its topics.
   */
  topicsOf(conn: Conn): ReadonlySet<string> {
    return new Set(this.#topicsOf.get(conn));
  }

  /** The topics with at least one local subscriber. */
  get topics(): string[] {
    return [...this.#subscribers.keys()];
  }

  /**
   * Drops every subscription and detaches from the bus (which stays open:
   * close it yourself). Connections stay open. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const topic of this.#subscribers.keys()) {
      this.#bus?.unsubscribe(topic).catch(noop);
    }
    this.#subscribers.clear();
    this.#topicsOf = new WeakMap();
    if (this.#bus) {
      this.#bus.onMessage = undefined;
      this.#bus.onGap = undefined;
    }
  }

  /** Same as {@linkcode Topics.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
