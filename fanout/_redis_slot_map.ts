// A Redis Cluster's slot map as the bus keeps it: learnt from any node that
// answers `CLUSTER SLOTS`, learnt again when a slot moves, one refresh at a
// time, retried with the backoff until it succeeds or the bus closes.

import { sleep } from "../_util/backoff.ts";
import { keySlot, parseSlots } from "./_cluster_slot.ts";
import type { RespClient } from "./_resp.ts";

/** What a {@linkcode SlotMap} asks of its bus. */
export interface SlotMapHooks {
  /** The node given in the options, asked when no other answers. */
  seed: string;
  /** The nodes known now ("host:port"), asked first. */
  nodes(): Iterable<string>;
  /** Opens a client to a node. */
  connect(key: string, signal: AbortSignal): Promise<RespClient>;
  /** A node did not answer, or answered with an error. */
  onError(error: unknown): void;
  /** The wait before the next round of asking, in milliseconds. */
  delay(attempt: number): number;
  /** A new map is in place: move the topics to their owners. */
  loaded(): void;
  /** Aborts once the bus closes: ends the retries and any pending ask. */
  signal: AbortSignal;
}

/** How long one node may take to answer `CLUSTER SLOTS`. */
const ASK_TIMEOUT = 5000;

/** Each slot's owner, and the refresh that keeps them current. */
export class SlotMap {
  #hooks: SlotMapHooks;
  #slots: (string | undefined)[] = []; // slot -> node key
  #refreshing: Promise<void> | undefined;

  /** @param hooks Where to ask, and what to do with the answer. */
  constructor(hooks: SlotMapHooks) {
    this.#hooks = hooks;
  }

  /** The node that owns a channel's slot; undefined before the first map. */
  owner(channel: string): string | undefined {
    return this.#slots[keySlot(channel)];
  }

  /** The refresh under way, if any. */
  get refreshing(): Promise<void> | undefined {
    return this.#refreshing;
  }

  /**
   * Learns the map again (joining a refresh already under way); resolves
   * once it is in place, or once the bus closes.
   */
  refresh(): Promise<void> {
    const { seed, signal } = this.#hooks;
    if (signal.aborted) return Promise.resolve();
    this.#refreshing ??= (async () => {
      for (let attempt = 0; !signal.aborted; attempt++) {
        for (const key of new Set([...this.#hooks.nodes(), seed])) {
          try {
            await this.#load(key);
            this.#hooks.loaded();
            return;
          } catch (error) {
            this.#hooks.onError(error);
          }
        }
        await sleep(this.#hooks.delay(attempt), signal);
      }
    })().finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  async #load(key: string): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ASK_TIMEOUT);
    const signal = AbortSignal.any([controller.signal, this.#hooks.signal]);
    let client: RespClient | undefined;
    try {
      client = await this.#hooks.connect(key, signal);
      this.#slots = parseSlots(await client.command(["CLUSTER", "SLOTS"]), key);
    } finally {
      clearTimeout(timer);
      client?.close();
      await client?.closed;
    }
  }
}
