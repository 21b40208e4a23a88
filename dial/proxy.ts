/**
 * Proxies for the client: `dial(url, { proxy })` reaches the server through
 * an HTTP proxy (`http://`, or `https://` with TLS to the proxy) with a
 * `CONNECT` tunnel, or through a SOCKS5 proxy (`socks5://` resolves the
 * server's name locally, `socks5h://` lets the proxy resolve it).
 * Credentials go in the URL (`http://user:pass@host:port`): Basic
 * authentication for HTTP proxies, RFC 1929 for SOCKS5. A `wss://` URL gets
 * its TLS inside the tunnel, end to end with the server.
 *
 * Without a `proxy` option, `dial()` reads the conventional environment
 * variables, when the env permission for them is already granted (it never
 * prompts): `https_proxy` / `HTTPS_PROXY` for `wss://`, `http_proxy` /
 * `HTTP_PROXY` for `ws://`, then `all_proxy` / `ALL_PROXY`, each lowercase
 * first; `no_proxy` / `NO_PROXY` lists the hosts to reach directly.
 * `proxy: false` turns all of this off.
 *
 * @example Dialling through a SOCKS5 proxy
 * ```ts ignore
 * import { dial } from "@seed/websocket";
 *
 * await using conn = await dial("wss://example.com/feed", {
 *   proxy: "socks5h://user:secret@127.0.0.1:1080",
 * });
 * ```
 *
 * @module
 */

import type { Transport } from "../conn.ts";
import { isIpAddress } from "./_tls.ts";
import { tunnel } from "./_tunnel.ts";

export { ProxyError } from "../errors.ts";

/** The proxy schemes understood. */
export type ProxyScheme = "http:" | "https:" | "socks5:" | "socks5h:";

/** The environment as `proxyForUrl` reads it: a variable's value, or undefined. */
export type EnvReader = (name: string) => string | undefined;

const DEFAULT_PORTS: Record<ProxyScheme, number> = {
  "http:": 80,
  "https:": 443,
  "socks5:": 1080,
  "socks5h:": 1080,
};

/**
 * Parses a proxy URL. A URL without a scheme (`127.0.0.1:3128`) is an HTTP
 * proxy; the default ports are 80 (`http:`), 443 (`https:`) and 1080
 * (`socks5:`, `socks5h:`).
 *
 * @param proxy The proxy's URL.
 * @returns The parsed URL, with its port filled in.
 * @throws {TypeError} For an invalid URL or an unknown scheme.
 *
 * @example Parsing a SOCKS5 proxy
 * ```ts
 * import { parseProxyUrl } from "@seed/websocket/proxy";
 *
 * const proxy = parseProxyUrl("socks5h://127.0.0.1");
 * console.log(proxy.protocol, proxy.port); // socks5h: 1080
 * ```
 */
export function parseProxyUrl(proxy: string | URL): URL {
  let text = String(proxy).trim();
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`Invalid proxy URL ${redact(text)}`);
  }
  const scheme = url.protocol as ProxyScheme;
  if (!(scheme in DEFAULT_PORTS)) {
    throw new TypeError(
      `Unsupported proxy scheme ${url.protocol} (use http:, https:, socks5: or socks5h:)`,
    );
  }
  return url;
}

/**
 * The port of a parsed proxy URL: its own, or its scheme's default.
 *
 * @param url A URL from {@linkcode parseProxyUrl}.
 * @returns The port.
 *
 * @example The default port of an HTTPS proxy
 * ```ts
 * import { parseProxyUrl, proxyPort } from "@seed/websocket/proxy";
 *
 * console.log(proxyPort(parseProxyUrl("https://proxy.example"))); // 443
 * ```
 */
export function proxyPort(url: URL): number {
  // URL drops a special scheme's default port, which is the proxy's too.
  if (url.port !== "") return Number(url.port);
  return DEFAULT_PORTS[url.protocol as ProxyScheme] ?? 80;
}

/**
 * A proxy URL without its credentials, for messages and logs.
 *
 * @param proxy The proxy's URL.
 * @returns The URL as text, without `user:pass@`.
 *
 * @example Hiding a password
 * ```ts
 * import { redact } from "@seed/websocket/proxy";
 *
 * console.log(redact("http://ann:secret@127.0.0.1:3128")); // http://127.0.0.1:3128
 * ```
 */
export function redact(proxy: string | URL): string {
  return String(proxy).replace(/\/\/[^@/]*@/, "//");
}

/**
 * Whether `no_proxy` exempts a URL: a comma- or space-separated list where
 * `*` matches every host, a name matches itself and its subdomains (a
 * leading `.` or `*.` changes nothing), an IP address matches itself, an
 * IPv4 CIDR block (`10.0.0.0/8`) its addresses, and `host:port` only that
 * port.
 *
 * @param url The URL to be dialled.
 * @param noProxy The list.
 * @returns Whether to connect directly.
 *
 * @example Exempting local hosts
 * ```ts
 * import { isNoProxy } from "@seed/websocket/proxy";
 *
 * const list = "localhost,.internal.example,127.0.0.0/8";
 * console.log(isNoProxy(new URL("ws://api.internal.example/"), list)); // true
 * console.log(isNoProxy(new URL("ws://example.com/"), list)); // false
 * ```
 */
export function isNoProxy(url: URL, noProxy: string): boolean {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase()
    .replace(/\.$/, "");
  const port = url.port ||
    (url.protocol === "wss:" || url.protocol === "https:" ? "443" : "80");
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    let entryPort: string | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1];
      entryPort = bracketed[2];
    } else if (/^[^:]+:\d+$/.test(entry)) {
      [entry, entryPort] = entry.split(":");
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entry.includes("/")) {
      if (inCidr(hostname, entry)) return true;
      continue;
    }
    entry = entry.replace(/^\*?\./, "").replace(/\.$/, "");
    if (hostname === entry) return true;
    if (!isIpAddress(entry) && hostname.endsWith(`.${entry}`)) return true;
  }
  return false;
}

function ipv4ToNumber(text: string): number | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const parts = match.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>>
    0;
}

function inCidr(hostname: string, block: string): boolean {
  const [base, bits] = block.split("/");
  const address = ipv4ToNumber(hostname);
  const network = ipv4ToNumber(base);
  const prefix = Number(bits);
  if (
    address === undefined || network === undefined ||
    !Number.isInteger(prefix) || prefix < 0 || prefix > 32
  ) return false;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return ((address & mask) >>> 0) === ((network & mask) >>> 0);
}

/**
 * Reads an environment variable only if the env permission for it is
 * already granted: never prompts, never throws.
 *
 * @param name The variable's name.
 * @returns Its value, or undefined when unset or not granted.
 *
 * @example Reading a variable that may be off limits
 * ```ts
 * import { readEnvQuietly } from "@seed/websocket/proxy";
 *
 * console.log(readEnvQuietly("HTTPS_PROXY") ?? "no proxy");
 * ```
 */
export function readEnvQuietly(name: string): string | undefined {
  try {
    const status = Deno.permissions.querySync({ name: "env", variable: name });
    if (status.state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The proxy the environment names for a URL, or undefined for a direct
 * connection: `https_proxy` / `HTTPS_PROXY` for `wss://`, `http_proxy` /
 * `HTTP_PROXY` for `ws://`, then `all_proxy` / `ALL_PROXY` (lowercase first,
 * empty values skipped), unless `no_proxy` / `NO_PROXY` exempts the URL.
 *
 * @param url The URL to be dialled.
 * @param env Reads a variable; by default the process environment, read
 *   only where the env permission is granted.
 * @returns The proxy's URL, or undefined.
 *
 * @example With an explicit environment
 * ```ts
 * import { proxyForUrl } from "@seed/websocket/proxy";
 *
 * const env: Record<string, string> = {
 *   HTTPS_PROXY: "http://127.0.0.1:3128",
 *   NO_PROXY: "localhost",
 * };
 * const read = (name: string) => env[name];
 * console.log(proxyForUrl(new URL("wss://example.com/"), read)?.host); // 127.0.0.1:3128
 * console.log(proxyForUrl(new URL("wss://localhost/"), read)); // undefined
 * ```
 */
export function proxyForUrl(
  url: URL,
  env: EnvReader = readEnvQuietly,
): URL | undefined {
  const pick = (...names: string[]) => {
    for (const name of names) {
      const value = env(name)?.trim();
      if (value) return value;
    }
    return undefined;
  };
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const proxy =
    (secure
      ? pick("https_proxy", "HTTPS_PROXY")
      : pick("http_proxy", "HTTP_PROXY")) ?? pick("all_proxy", "ALL_PROXY");
  if (proxy === undefined) return undefined;
  const noProxy = pick("no_proxy", "NO_PROXY");
  if (noProxy !== undefined && isNoProxy(url, noProxy)) return undefined;
  return parseProxyUrl(proxy);
}

/** Options of {@linkcode openTunnel}. */
export interface OpenTunnelOptions {
  /** Aborts the tunnel's handshake. */
  signal?: AbortSignal;
  /**
   * Resolves a name to an address, for `socks5:`.
   * @default {the system resolver, hosts file included}
   */
  resolve?: (hostname: string) => Promise<string>;
}

/** Where a tunnel leads. */
export interface TunnelTarget {
  /** The server's name or address (IPv6 without brackets). */
  hostname: string;
  /** The server's port. */
  port: number;
}

/**
 * Opens a tunnel to `target` over `transport`, a connection already open to
 * the proxy (TLS to an `https:` proxy), and resolves with the tunnel. A
 * refusal rejects with a {@linkcode ProxyError} carrying the HTTP status or
 * the SOCKS5 reply code.
 *
 * @param transport The connection to the proxy.
 * @param proxy The proxy's URL (its scheme picks the protocol; credentials
 *   in it are sent).
 * @param target Where the tunnel leads.
 * @param options A signal, and the resolver for `socks5:`.
 * @returns The tunnel, a transport to the target.
 *
 * @example A tunnel through an HTTP proxy, by hand
 * ```ts ignore
 * import { openTunnel, parseProxyUrl } from "@seed/websocket/proxy";
 *
 * const proxy = parseProxyUrl("http://127.0.0.1:3128");
 * const socket = await Deno.connect({ hostname: "127.0.0.1", port: 3128 });
 * const tunnel = await openTunnel(socket, proxy, { hostname: "example.com", port: 80 });
 * ```
 */
export function openTunnel(
  transport: Transport,
  proxy: URL,
  target: TunnelTarget,
  options: OpenTunnelOptions = {},
): Promise<Transport> {
  // Without a signal, one that never aborts.
  const signal = options.signal ?? new AbortController().signal;
  return tunnel(transport, proxy, target, signal, options.resolve);
}
