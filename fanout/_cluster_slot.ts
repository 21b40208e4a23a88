// Where a channel lives in a Redis Cluster. Its key slot: CRC16 (XMODEM)
// of the key, or of its hash tag (the part between the first "{" and the
// next "}", when not empty), modulo 16384. The node that owns each slot:
// the slot map `CLUSTER SLOTS` answers, by node key ("host:port").

import { RespError, type RespValue } from "./_resp.ts";

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) {
    crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  }
  TABLE[i] = crc & 0xffff;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** CRC16-XMODEM of some bytes. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  }
  return crc;
}

/** The cluster slot (0 to 16383) of a key or channel. */
export function keySlot(key: string): number {
  let bytes = encoder.encode(key);
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % SLOTS;
}

/** How many slots a cluster has. */
export const SLOTS = 16384;

/** A node's key, "host:port", with an IPv6 host in brackets. */
export function nodeKey(host: string, port: number | string): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The host (without brackets) and port of a node's key. */
export function parseNodeKey(key: string): { hostname: string; port: number } {
  const colon = key.lastIndexOf(":");
  return {
    hostname: key.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
    port: Number(key.slice(colon + 1)),
  };
}

/**
 * The slot map from a `CLUSTER SLOTS` reply: for each slot, the key of the
 * node that owns it (its master). A master announced without an address is
 * on the host of `from`, the node that answered.
 */
export function parseSlots(
  reply: RespValue,
  from: string,
): (string | undefined)[] {
  if (!Array.isArray(reply)) {
    throw reply instanceof RespError ? reply : new TypeError("Bad reply");
  }
  const slots: (string | undefined)[] = new Array(SLOTS);
  const host = from.slice(0, from.lastIndexOf(":"));
  for (const range of reply as RespValue[][]) {
    const [start, end, master] = range as [number, number, RespValue[]];
    const ip = master[0] instanceof Uint8Array
      ? decoder.decode(master[0])
      : String(master[0] ?? "");
    const node = ip === ""
      ? `${host}:${master[1]}`
      : nodeKey(ip, master[1] as number);
    for (let slot = start; slot <= end; slot++) slots[slot] = node;
  }
  return slots;
}
