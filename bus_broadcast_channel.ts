/**
 * {@linkcode BroadcastChannelBus}: a {@linkcode Bus} over a
 * `BroadcastChannel`, joining the {@linkcode Topics} hubs of the workers of
 * one process. With each worker listening on the same port
 * (`Deno.listen({ port, reusePort: true })`, which needs `--unstable-net`),
 * one process serves from every core and a publish on any worker reaches the
 * subscribers of all of them.
 *
 * @example One worker's hub
 * ```ts ignore
 * import { upgrade } from "@seed/websocket";
 * import { BroadcastChannelBus } from "@seed/websocket/bus-broadcast-channel";
 * import { Topics } from "@seed/websocket/topics";
 *
 * const topics = new Topics({ bus: new BroadcastChannelBus() });
 * const listener = Deno.listen({ port: 8080, reusePort: true });
 * for await (const socket of listener) {
 *   upgrade(socket).then(async (conn) => {
 *     topics.subscribe(conn, "lobby");
 *     for await (const message of conn) topics.publish("lobby", message);
 *   }, () => {});
 * }
 * ```
 *
 * @module
 */

import { BusBase, type BusOptions } from "./bus.ts";

export type { Bus, BusGap, BusMeta, BusStats } from "./bus.ts";

/** Options of {@linkcode BroadcastChannelBus}. */
export interface BroadcastChannelBusOptions extends BusOptions {
  /**
   * The channel's name: buses with the same name hear one another.
   * @default {"seed-websocket-topics"}
   */
  name?: string;
}

/**
 * A bus between the workers (and other contexts) of one process. Every
 * message goes to every bus on the channel, which keeps those of the topics
 * it subscribes to; a channel delivers in order and loses nothing while
 * both ends are open, so the sequence checks only ever see a gap if a
 * worker stalls past the runtime's limits.
 *
 * @example Two buses in one thread
 * ```ts
 * import { BroadcastChannelBus } from "@seed/websocket/bus-broadcast-channel";
 *
 * const a = new BroadcastChannelBus({ name: "example" });
 * const b = new BroadcastChannelBus({ name: "example" });
 * const got = Promise.withResolvers<unknown>();
 * b.onMessage = (_topic, payload) => got.resolve(payload);
 * await b.subscribe("t");
 * a.publish("t", "hi");
 * console.log(await got.promise); // hi
 * await a.close();
 * await b.close();
 * ```
 */
export class BroadcastChannelBus extends BusBase {
  #channel: BroadcastChannel;
  #joined = new Set<string>();

  /**
   * Opens the channel.
   *
   * @param options The channel's name and this node's id.
   */
  constructor(options: BroadcastChannelBusOptions = {}) {
    super(options);
    this.#channel = new BroadcastChannel(
      options.name ?? "seed-websocket-topics",
    );
    this.#channel.onmessage = (event: MessageEvent) => {
      const data = event.data;
      if (!Array.isArray(data) || data.length !== 2) return;
      const [topic, envelope] = data;
      if (!this.#joined.has(topic) || !(envelope instanceof Uint8Array)) {
        return;
      }
      this.receive(topic, envelope);
    };
  }

  protected transmit(topic: string, envelope: Uint8Array): void {
    this.#channel.postMessage([topic, envelope]);
  }

  protected join(topic: string): Promise<void> {
    this.#joined.add(topic);
    return Promise.resolve();
  }

  protected leave(topic: string): Promise<void> {
    this.#joined.delete(topic);
    return Promise.resolve();
  }

  protected shutdown(): Promise<void> {
    this.#joined.clear();
    this.#channel.close();
    return Promise.resolve();
  }
}
