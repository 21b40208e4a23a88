// The pub/sub side of the Redis protocol as the bus uses it: which commands
// (plain or sharded), how a set of channels is subscribed, and what a push
// from a subscribed connection means.

import type { RespArg } from "./_resp.ts";

/** The command names of one flavour of pub/sub. */
export interface PubSubCommands {
  subscribe: string;
  unsubscribe: string;
  publish: string;
}

/** `SUBSCRIBE`, `UNSUBSCRIBE`, `PUBLISH`: channels shared by every node. */
export const PLAIN: Readonly<PubSubCommands> = {
  subscribe: "SUBSCRIBE",
  unsubscribe: "UNSUBSCRIBE",
  publish: "PUBLISH",
};

/** `SSUBSCRIBE`, `SUNSUBSCRIBE`, `SPUBLISH`: channels owned by a slot (Redis 7). */
export const SHARDED: Readonly<PubSubCommands> = {
  subscribe: "SSUBSCRIBE",
  unsubscribe: "SUNSUBSCRIBE",
  publish: "SPUBLISH",
};

/**
 * The commands that subscribe to `channels`: one for all of them, or with
 * sharded pub/sub one per channel (a sharded subscription names one slot).
 */
export function subscribeCommands(
  commands: Readonly<PubSubCommands>,
  channels: readonly string[],
): RespArg[][] {
  if (commands === SHARDED) {
    return channels.map((channel) => [commands.subscribe, channel]);
  }
  return channels.length > 0 ? [[commands.subscribe, ...channels]] : [];
}

/** What a push from a subscribed connection says. */
export type PubSubEvent =
  /** A message on a channel; `id` is its stream id when history is kept. */
  | { kind: "message"; channel: string; payload: Uint8Array; id?: string }
  /** The server confirmed a subscription. */
  | { kind: "subscribe"; channel: string }
  /** The server ended a subscription (asked for, or a slot handed over). */
  | { kind: "unsubscribe"; channel: string };

const decoder = new TextDecoder();

/** Reads a push; undefined for any other kind, or a malformed one. */
export function parsePush(push: readonly unknown[]): PubSubEvent | undefined {
  const [kind, channelBytes, payload] = push;
  if (!(kind instanceof Uint8Array) || !(channelBytes instanceof Uint8Array)) {
    return undefined;
  }
  const name = decoder.decode(kind);
  const channel = decoder.decode(channelBytes);
  switch (name) {
    case "message":
    case "smessage": {
      if (!(payload instanceof Uint8Array)) return undefined;
      // With history, "<stream id> <envelope>"; an envelope starts with 1.
      if (payload[0] >= 0x30 && payload[0] <= 0x39) {
        const space = payload.indexOf(0x20);
        if (space < 0) return undefined;
        return {
          kind: "message",
          channel,
          payload: payload.subarray(space + 1),
          id: decoder.decode(payload.subarray(0, space)),
        };
      }
      return { kind: "message", channel, payload };
    }
    case "subscribe":
    case "ssubscribe":
      return { kind: "subscribe", channel };
    case "unsubscribe":
    case "sunsubscribe":
      return { kind: "unsubscribe", channel };
    default:
      return undefined;
  }
}
