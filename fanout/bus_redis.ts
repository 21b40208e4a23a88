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

import { BusBase } from "./bus.ts";
import { backoffDelay } from "../_util/backoff.ts";
import { RespClient, type RespError } from "./_resp.ts";
import { nodeKey, parseNodeKey } from "./_cluster_slot.ts";
import { Confirmations } from "./_redis_confirmations.ts";
import {
  type HistoryResult,
  historyScript,
  readHistory,
} from "./_redis_history.ts";
import type { RedisBusOptions } from "./_redis_options.ts";
import {
  parsePush,
  PLAIN,
  type PubSubCommands,
  SHARDED,
  subscribeCommands,
} from "./_redis_pubsub.ts";
import { Shard, type ShardHooks } from "./_redis_shard.ts";
import { SlotMap } from "./_redis_slot_map.ts";

export type { Bus, BusGap, BusMeta, BusStats } from "./bus.ts";
export type { HistoryMessage, HistoryResult } from "./_redis_history.ts";
export type { RedisBusOptions } from "./_redis_options.ts";

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
  #commands: Readonly<PubSubCommands>;
  #seed: string;
  #shards = new Map<string, Shard>();
  #hooks: ShardHooks;
  #slotMap: SlotMap | undefined; // with `cluster`
  #unassigned: [string, Uint8Array][] = []; // cluster, before the slot map
  #confirmations = new Confirmations();
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
    const cluster = options.cluster ?? false;
    this.#commands = options.sharded || cluster ? SHARDED : PLAIN;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.#history = options.history ?? 0;
    if (!Number.isSafeInteger(this.#history) || this.#history < 0) {
      throw new RangeError("Cannot create bus: history is not a count");
    }
    if (this.#history > 0 && cluster) {
      throw new RangeError("Cannot create bus: history needs a single node");
    }
    this.#script = historyScript(this.#commands.publish);
    this.#onError = options.onError ?? (() => {});
    const backoff = {
      initial: options.reconnectDelay ?? 50,
      max: options.maxReconnectDelay ?? 5000,
      random: options.random ?? Math.random,
    };
    this.#delay = (attempt: number) => backoffDelay(attempt, backoff);
    this.#hooks = {
      connect: (key, signal) => this.#connect(key, signal),
      subscribed: (shard, client, again) =>
        this.#subscribed(shard, client, again),
      publishing: (shard, client, again) =>
        this.#publishing(shard, client, again),
      onError: (error) => this.#onError(error),
      delay: this.#delay,
    };
    this.#seed = nodeKey(options.hostname ?? "127.0.0.1", options.port ?? 6379);
    if (cluster) {
      this.#slotMap = new SlotMap({
        seed: this.#seed,
        nodes: () => this.#shards.keys(),
        connect: this.#hooks.connect,
        onError: this.#hooks.onError,
        delay: this.#delay,
        loaded: () => this.#assign(),
        signal: this.#closing.signal,
      });
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
    return RespClient.connect({
      ...parseNodeKey(key),
      username: this.#options.username,
      password: this.#options.password,
      protocol: this.#options.protocol,
      signal,
    });
  }

  // The shard of a node, made (and connecting) on first use.
  #shard(key: string): Shard {
    let shard = this.#shards.get(key);
    if (!shard) {
      shard = new Shard(key, this.#hooks);
      this.#shards.set(key, shard);
    }
    return shard;
  }

  // The shard that owns a topic's channel; in a cluster, undefined until
  // the slot map is known.
  #owner(topic: string): Shard | undefined {
    if (!this.#slotMap) return this.#shard(this.#seed);
    const key = this.#slotMap.owner(this.#prefix + topic);
    return key === undefined ? undefined : this.#shard(key);
  }

  #subscribed(shard: Shard, client: RespClient, again: boolean): void {
    client.onPush = (push) => this.#onPush(shard, push);
    client.onError = (error) => this.#onRespError(error);
    const channels = [...shard.topics].map((topic) => this.#prefix + topic);
    for (const channel of channels) this.#confirmations.forget(channel);
    for (const command of subscribeCommands(this.#commands, channels)) {
      client.send(command, false);
    }
    if (again) {
      this.#reconnects++;
      // Whatever was published while we were away is gone.
      this.reportGap(shard.topics);
    }
  }

  #publishing(shard: Shard, client: RespClient, again: boolean): void {
    client.onError = (error) => this.#onRespError(error);
    for (const [topic, envelope] of shard.takeHeld()) {
      this.#send(client, topic, envelope);
    }
    if (again) this.#reconnects++;
  }

  #onRespError(error: RespError): void {
    // A slot moved to another node: learn the new map.
    if (this.#slotMap && /^(MOVED|ASK) /.test(error.message)) this.#refresh();
    this.#onError(error);
  }

  #onPush(shard: Shard, push: unknown[]): void {
    const event = parsePush(push);
    if (event === undefined) return;
    const { channel } = event;
    const topic = channel.slice(this.#prefix.length);
    if (event.kind === "message") {
      this.receive(topic, event.payload, event.id);
    } else if (event.kind === "subscribe") {
      this.#confirmations.confirm(channel);
    } else {
      this.#confirmations.forget(channel);
      // A node drops the subscribers of a slot it hands over: follow it.
      if (this.#slotMap && shard.topics.has(topic)) {
        shard.topics.delete(topic);
        this.reportGap([topic]);
        this.#refresh();
      }
    }
  }

  // With `cluster`, learns the slot map again; then `#assign` moves the
  // topics and held publishes to their owners.
  #refresh(): Promise<void> {
    if (!this.#slotMap || this.isClosed) return Promise.resolve();
    return this.#slotMap.refresh();
  }

  // Puts every subscribed topic on the shard that owns it now.
  #assign(): void {
    const wanted = new Set(this.topics);
    for (const shard of this.#shards.values()) {
      for (const topic of shard.topics) {
        if (wanted.has(topic) && this.#owner(topic) === shard) continue;
        shard.topics.delete(topic);
        const channel = this.#prefix + topic;
        this.#confirmations.forget(channel);
        shard.subscription([this.#commands.unsubscribe, channel]);
      }
    }
    for (const topic of wanted) {
      const shard = this.#owner(topic);
      if (!shard || shard.topics.has(topic)) continue;
      shard.topics.add(topic);
      shard.subscription([this.#commands.subscribe, this.#prefix + topic]);
    }
    const unassigned = this.#unassigned;
    this.#unassigned = [];
    for (const [topic, envelope] of unassigned) this.transmit(topic, envelope);
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
    const client = shard.pub.open;
    if (client) {
      if (client.bufferedAmount + size > this.#maxQueuedBytes) this.#dropped++;
      else this.#send(client, topic, envelope);
    } else if (!shard.hold(topic, envelope, size, this.#maxQueuedBytes)) {
      this.#dropped++;
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
    const client = this.#owner(topic)?.pub.open;
    if (!client) throw new Error("Cannot read history: not connected to Redis");
    const key = `${this.#prefix}${topic}:history`;
    return await readHistory(client, key, after, limit);
  }

  /** Subscribes on the node that owns the topic's channel. */
  protected override join(topic: string): Promise<void> {
    const channel = this.#prefix + topic;
    const waiting = this.#confirmations.wait(channel);
    const shard = this.#owner(topic);
    if (shard && !shard.topics.has(topic)) {
      shard.topics.add(topic);
      shard.subscription([this.#commands.subscribe, channel]);
    }
    return waiting;
  }

  /** Resolves once the server has confirmed the subscription. */
  protected override joined(topic: string): Promise<void> {
    return this.#confirmations.wait(this.#prefix + topic);
  }

  /** Unsubscribes on the node that owns the topic's channel. */
  protected override leave(topic: string): Promise<void> {
    const channel = this.#prefix + topic;
    for (const shard of this.#shards.values()) {
      if (shard.topics.delete(topic)) {
        shard.subscription([this.#commands.unsubscribe, channel]);
      }
    }
    return Promise.resolve();
  }

  /** Releases every connection. */
  protected async shutdown(): Promise<void> {
    this.#confirmations.close();
    this.#unassigned = [];
    this.#closing.abort();
    const shards = [...this.#shards.values()];
    await Promise.all(shards.map((shard) => shard.close()));
    await this.#slotMap?.refreshing;
  }
}
