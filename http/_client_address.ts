// Who the client is behind reverse proxies: the peer's address, or, when
// the peer is a proxy the server trusts, the address the proxies forwarded
// in `Forwarded` (RFC 7239) or `X-Forwarded-For`.

import type { FieldSource } from "./_request_head.ts";

/**
 * Which proxies may say who the client is: a count of proxy hops in front
 * of the server, a list of proxy addresses, or a function of an address.
 */
export type TrustProxy =
  | number
  | readonly string[]
  | ((address: string) => boolean);

// The addresses a request passed through, client first, from `Forwarded`
// (RFC 7239) if present, else `X-Forwarded-For`. Undefined entries are
// values that are not addresses (obfuscated or unknown).
function forwardedChain(headers: FieldSource): (string | undefined)[] {
  const forwarded = headers.get("forwarded");
  if (forwarded !== null) {
    const chain: (string | undefined)[] = [];
    for (const element of forwarded.split(",")) {
      let found: string | undefined;
      for (const pair of element.split(";")) {
        const eq = pair.indexOf("=");
        if (eq < 0) continue;
        if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
        found = forwardedNode(pair.slice(eq + 1).trim());
      }
      chain.push(found);
    }
    return chain;
  }
  const xff = headers.get("x-forwarded-for");
  if (xff === null) return [];
  return xff.split(",").map((part) => {
    const value = part.trim();
    return value === "" ? undefined : forwardedNode(value);
  });
}

// A node of `Forwarded: for=` or X-Forwarded-For: an IPv4 address with an
// optional port, or an IPv6 address, bracketed (with a port) or bare.
function forwardedNode(raw: string): string | undefined {
  let value = raw;
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
    value = value.slice(1, -1);
  }
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) return undefined;
    value = value.slice(1, end);
    return /^[0-9A-Fa-f:.]+$/.test(value) && value.includes(":")
      ? value.toLowerCase()
      : undefined;
  }
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?$/.exec(value);
  if (v4) {
    return v4[1].split(".").every((n) => Number(n) <= 255) ? v4[1] : undefined;
  }
  if (/^[0-9A-Fa-f:.]+$/.test(value) && value.includes(":")) {
    return value.toLowerCase();
  }
  return undefined;
}

function trusts(policy: TrustProxy, address: string): boolean {
  if (typeof policy === "function") return policy(address);
  if (typeof policy === "number") return false;
  return policy.includes(address);
}

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy,
 * the nearest address in `Forwarded` / `X-Forwarded-For` that is not a
 * trusted proxy. With a count `n`, the address `n` hops before the peer.
 * A value that is not an address stops the walk at the last good one.
 *
 * @param peer The socket's remote address, if any.
 * @param headers The request's fields.
 * @param policy Which proxies to trust; undefined trusts none.
 * @returns The client's address, or undefined when unknown.
 */
export function clientAddress(
  peer: string | undefined,
  headers: FieldSource,
  policy: TrustProxy | undefined,
): string | undefined {
  if (policy === undefined || peer === undefined) return peer;
  if (typeof policy === "number" && policy <= 0) return peer;
  if (typeof policy !== "number" && !trusts(policy, peer)) return peer;
  const chain = forwardedChain(headers);
  let client = peer;
  let hops = 0;
  for (let i = chain.length - 1; i >= 0; i--) {
    const node = chain[i];
    if (node === undefined) break;
    client = node;
    hops++;
    if (typeof policy === "number") {
      if (hops >= policy) break;
    } else if (!trusts(policy, node)) break;
  }
  return client;
}
