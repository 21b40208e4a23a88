/**
 * {@linkcode RedisBus}: a {@linkcode Bus} over Redis pub/sub, joining the
 * {@linkcode Topics} hubs of many processes and machines. Each topic is a
 * Redis channel (with a prefix); each message travels in the bus envelope,
 * so receivers drop their own messages and detect gaps by sequence number.
 *
 * It keeps two connections: one subscribed (one `SUBSCRIBE` per topic,
 * counted, so a topic is joined once however many hubs use it) and one for
 * publishes, pipelined. A lost connection is opened again after an
 * exponential backoff with full jitter; the subscriptions are renewed and
 * every topic reports a gap (`onGap` with reason `"reconnect"`), since
 * pub/sub keeps nothing for absent subscribers.
 *
 * @example Two processes sharing one room
 * ```ts ignore
 * import { RedisBus } from "@seed/websocket/bus-redis";
 * import { Topics } from "@seed/websocket/topics";
 *
 * const topics = new Topics({
 *   bus: new RedisBus({ hostname: "127.0.0.1", port: 6379 }),
 *   onGap: ({ topic }) => console.warn(`messages on ${topic} may be lost`),
 * });
 * ```
 *
 * @module
 */

import { BusBase, type BusOptions } from "./bus.ts";
import { RespClient } from "./_resp.ts";

export type { Bus, BusGap, BusMeta, BusStats } from "./bus.ts";

const decoder = new TextDecoder();

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
   * `SUBSCRIBE`/`PUBLISH` (Redis 7). On a cluster a channel lives on the
   * shard that owns its slot; this bus talks to the one node it is given,
   * so point it at a single node or at a proxy that routes by slot.
   * @default {false}
   */
  sharded?: boolean;
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
   * The most bytes of publishes held while the publishing connection is
   * down or slow; past it, publishes are dropped (receivers see the gap).
   * @default {8388608}
   */
  maxQueuedBytes?: number;
  /**
   * Random numbers in [0, 1) for the jitter.
   * @default {Math.random}
   */
  random?: () => number;
  /** Called with connection failures and error replies. */
  onError?: (error: unknown) => void;
}

/**
 * A connection that opens itself again: `onUp` runs with each new client,
 * and a lost one is replaced after a jittered exponential backoff.
 */
class Link {
  client: RespClient | undefined;
  #connect: () => Promise<RespClient>;
  #onUp: (client: RespClient, again: boolean) => void;
  #onError: (error: unknown) => void;
  #delay: (attempt: number) => number;
  #abort = new AbortController();
  #sleep:
    | { timer: ReturnType<typeof setTimeout>; resolve: () => void }
    | undefined;
  readonly done: Promise<void>;
  ups = 0;

  constructor(
    connect: (signal: AbortSignal) => Promise<RespClient>,
    onUp: (client: RespClient, again: boolean) => void,
    onError: (error: unknown) => void,
    delay: (attempt: number) => number,
  ) {
    this.#connect = () => connect(this.#abort.signal);
    this.#onUp = onUp;
    this.#onError = onError;
    this.#delay = delay;
    this.done = this.#run();
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    for (let attempt = 0; !signal.aborted;) {
      try {
        const client = await this.#connect();
        if (signal.aborted) {
          client.close();
          await client.closed;
          break;
        }
        attempt = 0;
        this.client = client;
        this.#onUp(client, this.ups++ > 0);
        await client.closed;
        this.client = undefined;
        if (signal.aborted) break;
        this.#onError(new Error("Connection to Redis lost"));
      } catch (error) {
        if (signal.aborted) break;
        this.#onError(error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#sleep = undefined;
          resolve();
        }, this.#delay(attempt++));
        this.#sleep = { timer, resolve };
      });
    }
  }

  async close(): Promise<void> {
    this.#abort.abort();
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
      this.#sleep = undefined;
    }
    this.client?.close();
    await this.done;
  }
}

/**
 * A bus over Redis pub/sub (see the module doc). `ready` resolves once both
 * connections are up the first time; publishes made before are held (up to
 * `maxQueuedBytes`) and subscriptions are made as soon as it connects.
 *
 * @example Publishing and receiving
 * ```ts ignore
 * import { RedisBus } from "@seed/websocket/bus-redis";
 *
 * const a = new RedisBus({ port: 6379 });
 * const b = new RedisBus({ port: 6379 });
 * b.onMessage = (topic, payload, meta) => console.log(topic, payload, meta.seq);
 * await b.subscribe("news");
 * a.publish("news", "hello"); // b prints: news hello 1
 * ```
 */
export class RedisBus extends BusBase {
  /** Resolves once both connections are up for the first time. */
  readonly ready: Promise<void>;
  #prefix: string;
  #commands: { subscribe: string; unsubscribe: string; publish: string };
  #sub: Link;
  #pub: Link;
  #confirmed = new Set<string>(); // channels the server confirmed
  #waiters = new Map<string, (() => void)[]>();
  #held: [string, Uint8Array][] = [];
  #heldBytes = 0;
  #maxQueuedBytes: number;
  #dropped = 0;
  #reconnects = 0;
  #onError: (error: unknown) => void;

  /**
   * Starts connecting.
   *
   * @param options Where Redis is, the channel prefix, the backoff.
   */
  constructor(options: RedisBusOptions = {}) {
    super(options);
    this.#prefix = options.prefix ?? "topics:";
    this.#commands = options.sharded
      ? {
        subscribe: "SSUBSCRIBE",
        unsubscribe: "SUNSUBSCRIBE",
        publish: "SPUBLISH",
      }
      : {
        subscribe: "SUBSCRIBE",
        unsubscribe: "UNSUBSCRIBE",
        publish: "PUBLISH",
      };
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.#onError = options.onError ?? (() => {});
    const random = options.random ?? Math.random;
    const base = options.reconnectDelay ?? 50;
    const max = options.maxReconnectDelay ?? 5000;
    const delay = (attempt: number) =>
      random() * Math.min(max, base * 2 ** Math.min(attempt, 30));
    const connect = (signal: AbortSignal) =>
      RespClient.connect({
        hostname: options.hostname,
        port: options.port,
        username: options.username,
        password: options.password,
        protocol: options.protocol,
        signal,
      });
    const onError = (error: unknown) => this.#onError(error);
    const subUp = Promise.withResolvers<void>();
    const pubUp = Promise.withResolvers<void>();
    this.#sub = new Link(
      connect,
      (client, again) => {
        this.#subscribed(client, again);
        subUp.resolve();
      },
      onError,
      delay,
    );
    this.#pub = new Link(
      connect,
      (client) => {
        this.#publishing(client);
        pubUp.resolve();
      },
      onError,
      delay,
    );
    this.ready = Promise.all([subUp.promise, pubUp.promise]).then(() => {});
  }

  /** Publishes dropped because the publishing connection was down or slow. */
  get dropped(): number {
    return this.#dropped;
  }

  /** How many times a lost connection was opened again. */
  get reconnects(): number {
    return this.#reconnects;
  }

  #subscribed(client: RespClient, again: boolean): void {
    this.#confirmed.clear();
    client.onPush = (push) => this.#onPush(push);
    client.onError = (error) => this.#onError(error);
    const channels = this.topics.map((topic) => this.#prefix + topic);
    if (channels.length > 0) {
      client.send([this.#commands.subscribe, ...channels], false);
    }
    if (again) {
      this.#reconnects++;
      // Whatever was published while we were away is gone.
      this.reportGap();
    }
  }

  #publishing(client: RespClient): void {
    client.onError = (error) => this.#onError(error);
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    if (!this.#pub.client) return;
    for (const [channel, envelope] of held) {
      client.send([this.#commands.publish, channel, envelope]);
    }
    if (this.#pub.ups > 1) this.#reconnects++;
  }

  #onPush(push: unknown[]): void {
    const [kind, channel, payload] = push;
    if (!(kind instanceof Uint8Array) || !(channel instanceof Uint8Array)) {
      return;
    }
    const name = decoder.decode(kind);
    if (name === "message" || name === "smessage") {
      if (!(payload instanceof Uint8Array)) return;
      const topic = decoder.decode(channel).slice(this.#prefix.length);
      this.receive(topic, payload);
    } else if (name === "subscribe" || name === "ssubscribe") {
      const key = decoder.decode(channel);
      this.#confirmed.add(key);
      const waiters = this.#waiters.get(key);
      this.#waiters.delete(key);
      for (const resolve of waiters ?? []) resolve();
    } else if (name === "unsubscribe" || name === "sunsubscribe") {
      this.#confirmed.delete(decoder.decode(channel));
    }
  }

  #waitFor(channel: string): Promise<void> {
    if (this.#confirmed.has(channel) || this.isClosed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const waiters = this.#waiters.get(channel) ?? [];
    waiters.push(resolve);
    this.#waiters.set(channel, waiters);
    return promise;
  }

  /** Sends an envelope to the other buses. */
  protected transmit(topic: string, envelope: Uint8Array): void {
    const channel = this.#prefix + topic;
    const client = this.#pub.client;
    const size = envelope.length + channel.length + 32;
    if (client && !client.isClosed) {
      if (client.bufferedAmount + size > this.#maxQueuedBytes) this.#dropped++;
      else client.send([this.#commands.publish, channel, envelope]);
    } else if (this.#heldBytes + size > this.#maxQueuedBytes) {
      this.#dropped++;
    } else {
      this.#held.push([channel, envelope]);
      this.#heldBytes += size;
    }
  }

  /** Starts receiving a topic. */
  protected join(topic: string): Promise<void> {
    const channel = this.#prefix + topic;
    const waiting = this.#waitFor(channel);
    const client = this.#sub.client;
    if (client && !client.isClosed) {
      client.send([this.#commands.subscribe, channel], false);
    }
    return waiting;
  }

  /** Resolves once the server has confirmed the subscription. */
  protected override joined(topic: string): Promise<void> {
    return this.#waitFor(this.#prefix + topic);
  }

  /** Stops receiving a topic. */
  protected leave(topic: string): Promise<void> {
    const client = this.#sub.client;
    if (client && !client.isClosed) {
      client.send([this.#commands.unsubscribe, this.#prefix + topic], false);
    }
    return Promise.resolve();
  }

  /** Releases both connections. */
  protected async shutdown(): Promise<void> {
    for (const waiters of this.#waiters.values()) {
      for (const resolve of waiters) resolve();
    }
    this.#waiters.clear();
    this.#held = [];
    await Promise.all([this.#sub.close(), this.#pub.close()]);
  }
}
