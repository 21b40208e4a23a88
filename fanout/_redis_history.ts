// A topic's history in a Redis stream: the script that adds a message to
// the stream and publishes it in one step, and the reading back of what a
// subscriber missed, with whether that is all of it.

import { decodeEnvelope } from "./_envelope.ts";
import { type RespClient, RespError, type RespValue } from "./_resp.ts";

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

/**
 * XADD and PUBLISH (or SPUBLISH: `publish`) in one step, so that the
 * published message carries its stream id: "<id> <envelope>". Its keys are
 * the stream; its arguments the window size, the envelope and the channel.
 */
export function historyScript(publish: string): string {
  return `local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2]) ` +
    `redis.call('${publish}', ARGV[3], id .. ' ' .. ARGV[2]) return id`;
}

/** Orders two stream ids ("ms-seq"). */
export function compareIds(a: string, b: string): number {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

const decoder = new TextDecoder();

/** A field of a reply that is a map (RESP3) or a flat list (RESP2). */
export function field(reply: RespValue, name: string): string | undefined {
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
 * Reads the entries of the stream `key` after the id `after`, at most
 * `limit` of them, and says whether nothing between is missing.
 */
export async function readHistory(
  client: RespClient,
  key: string,
  after: string,
  limit: number,
): Promise<HistoryResult> {
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
