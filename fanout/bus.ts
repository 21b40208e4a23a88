/**
 * The bus contract that joins {@linkcode Topics} hubs across workers,
 * processes and machines, the base class its implementations share, and
 * {@linkcode LocalBus}, the in-memory reference implementation.
 *
 * A bus carries `(topic, payload)` pairs between nodes. Each message travels
 * in an envelope holding its origin (the publishing bus's node id, so that a
 * node never hears its own messages back) and a sequence number per topic and
 * publisher, from which receivers detect gaps, duplicates and reordering.
 * An implementation only moves envelopes: {@linkcode BusBase} does the
 * reference counting, the envelope and the sequence checks, so a new bus
 * (NATS, Postgres `LISTEN`/`NOTIFY`, ...) is one small file.
 *
 * @example Two hubs joined by an in-memory bus
 * ```ts
 * import { LocalBus } from "@seed/websocket/bus";
 *
 * const a = new LocalBus();
 * const b = new LocalBus({ group: a.group });
 * const received = Promise.withResolvers<string>();
 * b.onMessage = (topic, payload) => received.resolve(`${topic}: ${payload}`);
 * await b.subscribe("news");
 * a.publish("news", "hello");
 * console.log(await received.promise); // news: hello
 * await a.close();
 * await b.close();
 * ```
 *
 * @module
 */

import { decodeEnvelope, encodeEnvelope } from "./_envelope.ts";

export { decodeEnvelope, encodeEnvelope, type Envelope } from "./_envelope.ts";

/** Where a bus message came from. */
export interface BusMeta {
  /** The node id of the bus that published it. */
  origin: string;
  /** Its sequence number: 1, 2, 3, ... per topic and publisher. */
  seq: number;
  /**
   * Its position in the topic's history, where the bus keeps one (a Redis
   * stream entry id with `RedisBus`'s `history`): what a subscriber that
   * comes back asks for messages after.
   */
  id?: string;
}

/** Why a subscriber may have missed messages on a topic. */
export interface BusGap {
  /** The topic concerned. */
  topic: string;
  /**
   * `"sequence"`: a publisher's sequence number jumped (messages lost on the
   * way, or dropped by the sender while disconnected). `"reconnect"`: the bus
   * lost its connection and subscribed again; anything published meanwhile
   * is gone.
   */
  reason: "sequence" | "reconnect";
  /** For `"sequence"`: the publisher whose numbers jumped. */
  origin?: string;
  /** For `"sequence"`: how many numbers were skipped. */
  missed?: number;
}

/** Counters a bus keeps about what it received. */
export interface BusStats {
  /** Envelopes published by this node. */
  published: number;
  /** Messages handed to `onMessage`. */
  delivered: number;
  /** Messages skipped by publishers' sequence numbers. */
  missed: number;
  /**
   * Messages dropped because their sequence number was not above the last
   * one seen from their publisher (a duplicate, or one that arrived late).
   */
  stale: number;
  /** Envelopes that could not be decoded. */
  malformed: number;
}

/**
 * What every bus implements. A {@linkcode Topics} hub takes one and sets its
 * handlers; one bus serves one hub.
 */
export interface Bus {
  /** This node's id, carried in every envelope it publishes. */
  readonly nodeId: string;
  /** Counters about what was published and received. */
  readonly stats: Readonly<BusStats>;
  /**
   * Called with every message another node published on a topic this bus
   * is subscribed to, in each publisher's order, without duplicates.
   */
  onMessage:
    | ((topic: string, payload: Uint8Array | string, meta: BusMeta) => void)
    | undefined;
  /** Called when messages on a topic may have been missed. */
  onGap: ((gap: BusGap) => void) | undefined;
  /**
   * Sends a message to every other node subscribed to the topic. Never
   * waits: a message that cannot be sent is dropped and shows as a gap at
   * the receivers.
   */
  publish(topic: string, payload: Uint8Array | string): void;
  /**
   * Adds one reference to a topic; the first joins it on the transport.
   * Resolves once messages on it are received.
   */
  subscribe(topic: string): Promise<void>;
  /** Drops one reference to a topic; the last leaves it on the transport. */
  unsubscribe(topic: string): Promise<void>;
  /** Stops the bus and releases its connections. Idempotent. */
  close(): Promise<void>;
}

/** A fresh random node id. */
function randomNodeId(): string {
  return crypto.randomUUID();
}

/** Options every bus built on {@linkcode BusBase} takes. */
export interface BusOptions {
  /**
   * This node's id, carried in every envelope it publishes.
   * @default {a random UUID}
   */
  nodeId?: string;
}

/**
 * The shared half of a bus: reference counts per topic, envelopes, sequence
 * numbers and the checks on them. An implementation moves envelopes:
 * it implements {@linkcode BusBase.transmit} and
 * {@linkcode BusBase.shutdown} (and {@linkcode BusBase.join} and
 * {@linkcode BusBase.leave} where subscribing means telling a broker), calls
 * {@linkcode BusBase.receive} with every envelope that arrives and
 * {@linkcode BusBase.reportGap} after it lost messages (a reconnect).
 *
 * @example A bus over an EventTarget, in a few lines
 * ```ts
 * import { BusBase } from "@seed/websocket/bus";
 *
 * const wire = new EventTarget();
 * class EventBus extends BusBase {
 *   #listener = (event: Event) => {
 *     const [topic, envelope] = (event as CustomEvent).detail;
 *     this.receive(topic, envelope);
 *   };
 *   constructor() {
 *     super();
 *     wire.addEventListener("message", this.#listener);
 *   }
 *   protected transmit(topic: string, envelope: Uint8Array): void {
 *     wire.dispatchEvent(new CustomEvent("message", { detail: [topic, envelope] }));
 *   }
 *   protected shutdown(): Promise<void> {
 *     wire.removeEventListener("message", this.#listener);
 *     return Promise.resolve();
 *   }
 * }
 * const bus = new EventBus();
 * await bus.close();
 * ```
 */
export abstract class BusBase implements Bus {
  readonly nodeId: string;
  onMessage:
    | ((topic: string, payload: Uint8Array | string, meta: BusMeta) => void)
    | undefined;
  onGap: ((gap: BusGap) => void) | undefined;
  #stats: BusStats = {
    published: 0,
    delivered: 0,
    missed: 0,
    stale: 0,
    malformed: 0,
  };
  #refs = new Map<string, number>();
  #seq = new Map<string, number>(); // topic -> last number published
  #seen = new Map<string, Map<string, number>>(); // topic -> origin -> last
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * Sets up the shared state.
   *
   * @param options The node id.
   */
  constructor(options: BusOptions = {}) {
    this.nodeId = options.nodeId ?? randomNodeId();
  }

  get stats(): Readonly<BusStats> {
    return this.#stats;
  }

  /** Whether {@linkcode BusBase.close} was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** The topics with at least one reference. */
  get topics(): string[] {
    return [...this.#refs.keys()];
  }

  publish(topic: string, payload: Uint8Array | string): void {
    if (this.#closed) return;
    const seq = (this.#seq.get(topic) ?? 0) + 1;
    this.#seq.set(topic, seq);
    this.#stats.published++;
    this.transmit(topic, encodeEnvelope(this.nodeId, seq, payload));
  }

  subscribe(topic: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const refs = this.#refs.get(topic) ?? 0;
    this.#refs.set(topic, refs + 1);
    if (refs > 0) return this.joined(topic);
    this.#seen.set(topic, new Map());
    return this.join(topic);
  }

  unsubscribe(topic: string): Promise<void> {
    const refs = this.#refs.get(topic);
    if (refs === undefined || this.#closed) return Promise.resolve();
    if (refs > 1) {
      this.#refs.set(topic, refs - 1);
      return Promise.resolve();
    }
    this.#refs.delete(topic);
    this.#seen.delete(topic);
    return this.leave(topic);
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#refs.clear();
      this.#seen.clear();
      this.#closing = this.shutdown();
    }
    return this.#closing;
  }

  /**
   * Checks an envelope that arrived on a topic and hands its message to
   * {@linkcode BusBase.onMessage}: dropped if it is this node's own, not
   * subscribed, malformed or stale; a gap is reported first when its
   * publisher's sequence number jumped.
   *
   * @param topic The topic it arrived on.
   * @param envelope The envelope.
   * @param id Its position in the topic's history, if the bus keeps one.
   */
  protected receive(topic: string, envelope: Uint8Array, id?: string): void {
    const seen = this.#seen.get(topic);
    if (seen === undefined) return; // left meanwhile
    const message = decodeEnvelope(envelope);
    if (message === undefined) {
      this.#stats.malformed++;
      return;
    }
    if (message.origin === this.nodeId) return;
    const last = seen.get(message.origin);
    if (last !== undefined && message.seq <= last) {
      this.#stats.stale++;
      return;
    }
    seen.set(message.origin, message.seq);
    // The first message heard from a publisher starts its count: we may
    // have joined mid-stream.
    if (last !== undefined && message.seq > last + 1) {
      const missed = message.seq - last - 1;
      this.#stats.missed += missed;
      this.onGap?.({
        topic,
        reason: "sequence",
        origin: message.origin,
        missed,
      });
    }
    this.#stats.delivered++;
    const meta: BusMeta = { origin: message.origin, seq: message.seq };
    if (id !== undefined) meta.id = id;
    this.onMessage?.(topic, message.payload, meta);
  }

  /**
   * Reports that messages on subscribed topics may have been missed (after
   * a reconnect), and forgets the publishers' last sequence numbers there so
   * that their next message starts a new count.
   *
   * @param topics The topics concerned; by default every subscribed one.
   */
  protected reportGap(topics?: Iterable<string>): void {
    for (const topic of topics ?? [...this.#refs.keys()]) {
      if (!this.#refs.has(topic)) continue;
      this.#seen.set(topic, new Map());
      this.onGap?.({ topic, reason: "reconnect" });
    }
  }

  /**
   * Resolves once a topic joined earlier receives messages; by default at
   * once. A bus whose join takes a round trip overrides it.
   *
   * @param _topic The topic.
   * @returns A promise that resolves once the topic is joined.
   */
  protected joined(_topic: string): Promise<void> {
    return Promise.resolve();
  }

  /** Sends an envelope to the other nodes. Must not throw nor wait. */
  protected abstract transmit(topic: string, envelope: Uint8Array): void;
  /**
   * Starts receiving a topic; resolves once its messages arrive. By default
   * nothing to do: for a bus that receives every topic and filters with
   * {@linkcode BusBase.isSubscribed}.
   *
   * @param _topic The topic.
   * @returns A promise that resolves once the topic is joined.
   */
  protected join(_topic: string): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Stops receiving a topic; by default nothing to do (see
   * {@linkcode BusBase.join}).
   *
   * @param _topic The topic.
   * @returns A promise that resolves once the topic is left.
   */
  protected leave(_topic: string): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Whether this node is subscribed to a topic (from its first
   * `subscribe()` to its last `unsubscribe()`, until `close()`).
   *
   * @param topic The topic.
   * @returns Whether it is subscribed.
   */
  protected isSubscribed(topic: string): boolean {
    return this.#refs.has(topic);
  }
  /** Releases the transport. Called once. */
  protected abstract shutdown(): Promise<void>;
}

/** A set of {@linkcode LocalBus} instances that hear one another. */
export class LocalBusGroup {
  /** The buses in the group. */
  readonly members: Set<LocalBus> = new Set();
}

/** Options of {@linkcode LocalBus}. */
export interface LocalBusOptions extends BusOptions {
  /**
   * The group to join.
   * @default {a new group}
   */
  group?: LocalBusGroup;
}

/**
 * A bus within one thread: buses of the same {@linkcode LocalBusGroup} hear
 * one another, each message delivered on a later microtask, in order. For
 * tests, and for several hubs in one process.
 *
 * @example Two buses of one group
 * ```ts
 * import { LocalBus } from "@seed/websocket/bus";
 *
 * const a = new LocalBus();
 * const b = new LocalBus({ group: a.group });
 * b.onMessage = (topic, payload, meta) => console.log(topic, payload, meta.seq);
 * await b.subscribe("t");
 * a.publish("t", "one"); // b prints: t one 1
 * await a.close();
 * await b.close();
 * ```
 */
export class LocalBus extends BusBase {
  /** The group this bus belongs to. */
  readonly group: LocalBusGroup;

  /**
   * Joins a group.
   *
   * @param options The group and node id.
   */
  constructor(options: LocalBusOptions = {}) {
    super(options);
    this.group = options.group ?? new LocalBusGroup();
    this.group.members.add(this);
  }

  /** Sends an envelope to the other buses. */
  protected transmit(topic: string, envelope: Uint8Array): void {
    for (const member of this.group.members) {
      if (member !== this && member.isSubscribed(topic)) {
        queueMicrotask(() => member.receive(topic, envelope));
      }
    }
  }

  /** Releases the transport. */
  protected shutdown(): Promise<void> {
    this.group.members.delete(this);
    return Promise.resolve();
  }
}
