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
 * pub/sub keeps nothing for absent subscribers. With the `history` option,
 * the last messages of each topic are also kept in a Redis stream, and
 * {@linkcode RedisBus.history} gives a subscriber that comes back what it
 * missed, or tells it that it cannot.
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

import { BusBase, type BusOptions, decodeEnvelope } from "./bus.ts";
import { RespClient, RespError, type RespValue } from "./_resp.ts";

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

/** What {@linkcode RedisBus.history} found. */
export interface HistoryResult {
  /**
   * Whether these are all the messages after the given id: false when some
   * were trimmed from the window already, or past `limit`.
   */
  complete: boolean;
  /** The messages after the id, oldest first, with their ids. */
  messages: HistoryMessage[];
}

/** One message from a topic's history. */
export interface HistoryMessage {
  /** Its stream entry id. */
  id: string;
  /** The node that published it. */
  origin: string;
  /** Its publisher's sequence number. */
  seq: number;
  /** The message. */
  payload: Uint8Array | string;
}

// XADD and PUBLISH in one step, so that the published message carries its
// stream id: "<id> <envelope>".
const HISTORY_SCRIPT = (publish: string) =>
  `local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2]) ` +
  `redis.call('${publish}', ARGV[3], id .. ' ' .. ARGV[2]) return id`;

/** Orders two stream ids ("ms-seq"). */
function compareIds(a: string, b: string): number {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** A field of a reply that is a map (RESP3) or a flat list (RESP2). */
function field(reply: RespValue, name: string): string | undefined {
  let value: RespValue | undefined;
  if (reply instanceof Map) value = reply.get(name);
  else if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const key = reply[i];
      const text = key instanceof Uint8Array ? decoder.decode(key) : key;
      if (text === name) value = reply[i + 1];
    }
  }
  // An entry ([id, fields]) stands for its id.
  if (Array.isArray(value)) value = value[0];
  if (value instanceof Uint8Array) return decoder.decode(value);
  return typeof value === "string" ? value : undefined;
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
  #held: [string, Uint8Array][] = []; // topic, envelope
  #history: number;
  #script: string;
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
    this.#history = options.history ?? 0;
    if (!Number.isSafeInteger(this.#history) || this.#history < 0) {
      throw new RangeError("Cannot create bus: history is not a count");
    }
    this.#script = HISTORY_SCRIPT(this.#commands.publish);
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
    for (const [topic, envelope] of held) this.#send(client, topic, envelope);
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
      // With history, "<stream id> <envelope>"; an envelope starts with 1.
      if (payload[0] >= 0x30 && payload[0] <= 0x39) {
        const space = payload.indexOf(0x20);
        if (space < 0) return;
        const id = decoder.decode(payload.subarray(0, space));
        this.receive(topic, payload.subarray(space + 1), id);
      } else this.receive(topic, payload);
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
      else this.#send(client, topic, envelope);
    } else if (this.#heldBytes + size > this.#maxQueuedBytes) {
      this.#dropped++;
    } else {
      this.#held.push([topic, envelope]);
      this.#heldBytes += size;
    }
  }

  #send(client: RespClient, topic: string, envelope: Uint8Array): void {
    const channel = this.#prefix + topic;
    if (this.#history === 0) {
      client.send([this.#commands.publish, channel, envelope]);
    } else {
      client.send([
        "EVAL",
        this.#script,
        1,
        `${channel}:history`,
        this.#history,
        envelope,
        channel,
      ]);
    }
  }

  /**
   * The messages published on a topic after a given one, from the topic's
   * history (see the `history` option): for a subscriber that comes back
   * with the `meta.id` of the last message it had. `complete` says whether
   * nothing between is missing.
   *
   * @param topic The topic.
   * @param after The id of the last message the subscriber had.
   * @param limit The most messages to return.
   * @returns The messages after it, and whether that is all of them.
   *
   * @example Catching up after a reconnect
   * ```ts ignore
   * const { complete, messages } = await bus.history("room", lastId);
   * if (!complete) console.warn("some messages are gone for good");
   * for (const message of messages) console.log(message.payload);
   * ```
   */
  async history(
    topic: string,
    after: string,
    limit = 10_000,
  ): Promise<HistoryResult> {
    if (this.#history === 0) {
      throw new TypeError("Cannot read history: the bus keeps none");
    }
    if (!/^\d+-\d+$/.test(after)) {
      throw new TypeError(`Cannot read history: invalid id ${after}`);
    }
    const client = this.#pub.client;
    if (!client || client.isClosed) {
      throw new Error("Cannot read history: not connected to Redis");
    }
    const key = `${this.#prefix}${topic}:history`;
    // The range first: anything trimmed meanwhile shows in the info after.
    const [range, info] = await Promise.all([
      client.command(["XRANGE", key, `(${after}`, "+", "COUNT", limit + 1]),
      client.command(["XINFO", "STREAM", key]),
    ]);
    if (range instanceof RespError) throw range;
    const messages: HistoryMessage[] = [];
    for (const entry of range as RespValue[]) {
      const [id, fields] = entry as [Uint8Array, RespValue[]];
      const envelope = decodeEnvelope(fields[1] as Uint8Array);
      if (envelope) messages.push({ id: decoder.decode(id), ...envelope });
    }
    let complete = messages.length <= limit;
    if (messages.length > limit) messages.length = limit;
    if (info instanceof RespError) {
      // No stream: nothing was kept, so nothing can be vouched for.
      return { complete: false, messages };
    }
    // The stream is trimmed from its head: while the given message is still
    // in it, nothing after it is gone. (Once it is not, something after it
    // may be: said to be incomplete, as it cannot be known.)
    const first = field(info, "first-entry");
    if (first === undefined || compareIds(first, after) > 0) complete = false;
    return { complete, messages };
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
