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
import { keySlot } from "./_cluster_slot.ts";

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
  /** Resolves once the first connection is up. */
  readonly up: Promise<void>;
  #up = Promise.withResolvers<void>();
  #ups = 0;

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
    this.up = this.#up.promise;
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
        this.#onUp(client, this.#ups++ > 0);
        this.#up.resolve();
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
    this.#up.resolve(); // for anyone still waiting: it never will be
  }
}

// One Redis node: its subscribed connection, its publishing one, the
// subscribed topics whose channels it owns, and publishes held for it.
interface Shard {
  key: string; // "host:port"
  sub: Link;
  pub: Link;
  topics: Set<string>;
  held: [string, Uint8Array][]; // topic, envelope
  heldBytes: number;
}

const SLOTS = 16384;

/**
 * A bus over Redis pub/sub (see the module doc). `ready` resolves once the
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
  /** Resolves once the connections are up for the first time. */
  readonly ready: Promise<void>;
  #options: RedisBusOptions;
  #prefix: string;
  #commands: { subscribe: string; unsubscribe: string; publish: string };
  #cluster: boolean;
  #seed: string;
  #shards = new Map<string, Shard>();
  #slots: (string | undefined)[] = []; // cluster: slot -> shard key
  #refreshing: Promise<void> | undefined;
  #refreshSleep:
    | { timer: ReturnType<typeof setTimeout>; resolve: () => void }
    | undefined;
  #unassigned: [string, Uint8Array][] = []; // cluster, before the slot map
  #confirmed = new Set<string>(); // channels the server confirmed
  #waiters = new Map<string, (() => void)[]>();
  #history: number;
  #script: string;
  #maxQueuedBytes: number;
  #dropped = 0;
  #reconnects = 0;
  #delay: (attempt: number) => number;
  #onError: (error: unknown) => void;
  #closing = new AbortController();

  /**
   * Starts connecting.
   *
   * @param options Where Redis is, the channel prefix, the backoff.
   */
  constructor(options: RedisBusOptions = {}) {
    super(options);
    this.#options = options;
    this.#prefix = options.prefix ?? "topics:";
    this.#cluster = options.cluster ?? false;
    this.#commands = options.sharded || this.#cluster
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
    if (this.#history > 0 && this.#cluster) {
      throw new RangeError("Cannot create bus: history needs a single node");
    }
    this.#script = HISTORY_SCRIPT(this.#commands.publish);
    this.#onError = options.onError ?? (() => {});
    const random = options.random ?? Math.random;
    const base = options.reconnectDelay ?? 50;
    const max = options.maxReconnectDelay ?? 5000;
    this.#delay = (attempt: number) =>
      random() * Math.min(max, base * 2 ** Math.min(attempt, 30));
    const hostname = options.hostname ?? "127.0.0.1";
    this.#seed = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${
      options.port ?? 6379
    }`;
    if (this.#cluster) {
      this.ready = this.#refresh();
    } else {
      const shard = this.#shard(this.#seed);
      this.ready = Promise.all([shard.sub.up, shard.pub.up]).then(() => {});
    }
  }

  /**
   * With `cluster`, learns the slot map again now and moves subscriptions
   * to the nodes that own their slots (done by itself when a node answers
   * `MOVED` or drops a slot's subscribers). Resolves once done.
   *
   * @returns A promise that resolves once the map is current.
   */
  refresh(): Promise<void> {
    return this.#refresh();
  }

  /** Publishes dropped because a publishing connection was down or slow. */
  get dropped(): number {
    return this.#dropped;
  }

  /** How many times a lost connection was opened again. */
  get reconnects(): number {
    return this.#reconnects;
  }

  #connect(key: string, signal: AbortSignal): Promise<RespClient> {
    const colon = key.lastIndexOf(":");
    return RespClient.connect({
      hostname: key.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
      port: Number(key.slice(colon + 1)),
      username: this.#options.username,
      password: this.#options.password,
      protocol: this.#options.protocol,
      signal,
    });
  }

  // The shard of a node, made (and connecting) on first use.
  #shard(key: string): Shard {
    let shard = this.#shards.get(key);
    if (shard) return shard;
    const onError = (error: unknown) => this.#onError(error);
    const connect = (signal: AbortSignal) => this.#connect(key, signal);
    const made: Shard = {
      key,
      topics: new Set(),
      held: [],
      heldBytes: 0,
      sub: new Link(
        connect,
        (client, again) => this.#subscribed(made, client, again),
        onError,
        this.#delay,
      ),
      pub: new Link(
        connect,
        (client, again) => this.#publishing(made, client, again),
        onError,
        this.#delay,
      ),
    };
    shard = made;
    this.#shards.set(key, shard);
    return shard;
  }

  // The shard that owns a topic's channel; in a cluster, undefined until
  // the slot map is known.
  #owner(topic: string): Shard | undefined {
    if (!this.#cluster) return this.#shard(this.#seed);
    const key = this.#slots[keySlot(this.#prefix + topic)];
    return key === undefined ? undefined : this.#shard(key);
  }

  #subscribed(shard: Shard, client: RespClient, again: boolean): void {
    client.onPush = (push) => this.#onPush(shard, push);
    client.onError = (error) => this.#onRespError(error);
    const channels = [...shard.topics].map((topic) => this.#prefix + topic);
    for (const channel of channels) this.#confirmed.delete(channel);
    if (this.#options.sharded || this.#cluster) {
      // One command per channel: a sharded subscription names one slot.
      for (const channel of channels) {
        client.send([this.#commands.subscribe, channel], false);
      }
    } else if (channels.length > 0) {
      client.send([this.#commands.subscribe, ...channels], false);
    }
    if (again) {
      this.#reconnects++;
      // Whatever was published while we were away is gone.
      this.reportGap(shard.topics);
    }
  }

  #publishing(shard: Shard, client: RespClient, again: boolean): void {
    client.onError = (error) => this.#onRespError(error);
    const held = shard.held;
    shard.held = [];
    shard.heldBytes = 0;
    for (const [topic, envelope] of held) this.#send(client, topic, envelope);
    if (again) this.#reconnects++;
  }

  #onRespError(error: RespError): void {
    // A slot moved to another node: learn the new map.
    if (this.#cluster && /^(MOVED|ASK) /.test(error.message)) this.#refresh();
    this.#onError(error);
  }

  #onPush(shard: Shard, push: unknown[]): void {
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
      const key = decoder.decode(channel);
      this.#confirmed.delete(key);
      // A node drops the subscribers of a slot it hands over: follow it.
      const topic = key.slice(this.#prefix.length);
      if (this.#cluster && shard.topics.has(topic)) {
        shard.topics.delete(topic);
        this.reportGap([topic]);
        this.#refresh();
      }
    }
  }

  // Loads the cluster's slot map from any node that answers, then moves
  // topics and held publishes to their owners. Retries with the backoff
  // until it succeeds or the bus closes.
  #refresh(): Promise<void> {
    if (!this.#cluster || this.isClosed) return Promise.resolve();
    this.#refreshing ??= (async () => {
      for (let attempt = 0; !this.isClosed; attempt++) {
        for (const key of new Set([...this.#shards.keys(), this.#seed])) {
          try {
            await this.#loadSlots(key);
            this.#assign();
            return;
          } catch (error) {
            this.#onError(error);
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.#refreshSleep = undefined;
            resolve();
          }, this.#delay(attempt));
          this.#refreshSleep = { timer, resolve };
        });
      }
    })().finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  async #loadSlots(key: string): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 5000);
    const signal = AbortSignal.any([controller.signal, this.#closing.signal]);
    let client: RespClient | undefined;
    try {
      client = await this.#connect(key, signal);
      const reply = await client.command(["CLUSTER", "SLOTS"]);
      if (!Array.isArray(reply)) {
        throw reply instanceof RespError ? reply : new TypeError("Bad reply");
      }
      const slots: (string | undefined)[] = new Array(SLOTS);
      const host = key.slice(0, key.lastIndexOf(":"));
      for (const range of reply as RespValue[][]) {
        const [start, end, master] = range as [number, number, RespValue[]];
        const ip = master[0] instanceof Uint8Array
          ? decoder.decode(master[0])
          : String(master[0] ?? "");
        const node = `${ip === "" ? host : ip.includes(":") ? `[${ip}]` : ip}:${
          master[1]
        }`;
        for (let slot = start; slot <= end; slot++) slots[slot] = node;
      }
      this.#slots = slots;
    } finally {
      clearTimeout(timer);
      client?.close();
      await client?.closed;
    }
  }

  // Puts every subscribed topic on the shard that owns it now.
  #assign(): void {
    const wanted = new Set(this.topics);
    for (const shard of this.#shards.values()) {
      for (const topic of shard.topics) {
        if (wanted.has(topic) && this.#owner(topic) === shard) continue;
        shard.topics.delete(topic);
        const channel = this.#prefix + topic;
        this.#confirmed.delete(channel);
        const client = shard.sub.client;
        if (client && !client.isClosed) {
          client.send([this.#commands.unsubscribe, channel], false);
        }
      }
    }
    for (const topic of wanted) {
      const shard = this.#owner(topic);
      if (!shard || shard.topics.has(topic)) continue;
      shard.topics.add(topic);
      const client = shard.sub.client;
      if (client && !client.isClosed) {
        client.send([this.#commands.subscribe, this.#prefix + topic], false);
      }
    }
    const unassigned = this.#unassigned;
    this.#unassigned = [];
    for (const [topic, envelope] of unassigned) this.transmit(topic, envelope);
  }

  #waitFor(channel: string): Promise<void> {
    if (this.#confirmed.has(channel) || this.isClosed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const waiters = this.#waiters.get(channel) ?? [];
    waiters.push(resolve);
    this.#waiters.set(channel, waiters);
    return promise;
  }

  /** Publishes an envelope, or holds it until its node's connection is up. */
  protected transmit(topic: string, envelope: Uint8Array): void {
    const size = envelope.length + topic.length + 64;
    const shard = this.#owner(topic);
    if (!shard) {
      const held = this.#unassigned;
      if (held.length < this.#maxQueuedBytes / size) {
        held.push([topic, envelope]);
      } else this.#dropped++;
      return;
    }
    const client = shard.pub.client;
    if (client && !client.isClosed) {
      if (client.bufferedAmount + size > this.#maxQueuedBytes) this.#dropped++;
      else this.#send(client, topic, envelope);
    } else if (shard.heldBytes + size > this.#maxQueuedBytes) {
      this.#dropped++;
    } else {
      shard.held.push([topic, envelope]);
      shard.heldBytes += size;
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
    const client = this.#owner(topic)?.pub.client;
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

  /** Subscribes on the node that owns the topic's channel. */
  protected override join(topic: string): Promise<void> {
    const channel = this.#prefix + topic;
    const waiting = this.#waitFor(channel);
    const shard = this.#owner(topic);
    if (shard && !shard.topics.has(topic)) {
      shard.topics.add(topic);
      const client = shard.sub.client;
      if (client && !client.isClosed) {
        client.send([this.#commands.subscribe, channel], false);
      }
    }
    return waiting;
  }

  /** Resolves once the server has confirmed the subscription. */
  protected override joined(topic: string): Promise<void> {
    return this.#waitFor(this.#prefix + topic);
  }

  /** Unsubscribes on the node that owns the topic's channel. */
  protected override leave(topic: string): Promise<void> {
    const channel = this.#prefix + topic;
    for (const shard of this.#shards.values()) {
      if (!shard.topics.delete(topic)) continue;
      const client = shard.sub.client;
      if (client && !client.isClosed) {
        client.send([this.#commands.unsubscribe, channel], false);
      }
    }
    return Promise.resolve();
  }

  /** Releases every connection. */
  protected async shutdown(): Promise<void> {
    for (const waiters of this.#waiters.values()) {
      for (const resolve of waiters) resolve();
    }
    this.#waiters.clear();
    this.#unassigned = [];
    this.#closing.abort();
    if (this.#refreshSleep) {
      clearTimeout(this.#refreshSleep.timer);
      this.#refreshSleep.resolve();
    }
    const closing: Promise<void>[] = [];
    for (const shard of this.#shards.values()) {
      shard.held = [];
      closing.push(shard.sub.close(), shard.pub.close());
    }
    await Promise.all(closing);
    await this.#refreshing;
  }
}
