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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
 * it subscribes to. The publishes of one turn travel as one channel
 * message. A channel delivers in order, but Deno's drops messages for a
 * receiver that falls too far behind (a worker busy for long while others
 * publish in many turns): the sequence numbers catch it, and `onGap`
 * reports it with reason `"sequence"`.
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
  #batch: Uint8Array[] = [];
  #batchBytes = 0;

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
      if (event.data instanceof Uint8Array) this.#unpack(event.data);
    };
  }

  /** Sends an envelope to the other buses. */
  protected transmit(topic: string, envelope: Uint8Array): void {
    // Everything published in one turn leaves as one message: a channel
    // message costs far more than its bytes, and fewer of them leave a
    // lagging receiver less to drop.
    const name = encoder.encode(topic);
    const record = new Uint8Array(8 + name.length + envelope.length);
    const view = new DataView(record.buffer);
    view.setUint32(0, name.length);
    record.set(name, 4);
    view.setUint32(4 + name.length, envelope.length);
    record.set(envelope, 8 + name.length);
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush());
    this.#batch.push(record);
    this.#batchBytes += record.length;
  }

  #flush(): void {
    const batch = this.#batch;
    const packed = new Uint8Array(this.#batchBytes);
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.isClosed) return;
    let offset = 0;
    for (const record of batch) {
      packed.set(record, offset);
      offset += record.length;
    }
    this.#channel.postMessage(packed);
  }

  #unpack(packed: Uint8Array): void {
    const view = new DataView(
      packed.buffer,
      packed.byteOffset,
      packed.byteLength,
    );
    for (let offset = 0; offset + 8 <= packed.length;) {
      const nameLength = view.getUint32(offset);
      const nameEnd = offset + 4 + nameLength;
      if (nameEnd + 4 > packed.length) return;
      const envelopeLength = view.getUint32(nameEnd);
      const end = nameEnd + 4 + envelopeLength;
      if (end > packed.length) return;
      const topic = decoder.decode(packed.subarray(offset + 4, nameEnd));
      if (this.isSubscribed(topic)) {
        this.receive(topic, packed.subarray(nameEnd + 4, end));
      }
      offset = end;
    }
  }

  /** Releases the transport. */
  protected shutdown(): Promise<void> {
    this.#channel.close();
    return Promise.resolve();
  }
}
