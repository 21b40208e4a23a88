// The byte stream under a dialled connection: straight to the server, or to
// a proxy and through its tunnel (with TLS inside it for `wss:`), each piece
// cut short by the dial's deadline.

import type { Transport } from "../conn.ts";
import { ProxyError } from "../errors.ts";
import { abortable, type Deadline } from "../_util/deadline.ts";
import { noDelay } from "../_util/io.ts";
import type { ConnectTarget, DialOptions } from "../client.ts";
import {
  parseProxyUrl,
  proxyForUrl,
  proxyPort,
  readEnvQuietly,
  redact,
} from "./proxy.ts";
import { tunnel } from "./_tunnel.ts";
import { startTls } from "./_tls.ts";

/**
 * The default `Connector`: TCP with `Deno.connect`, or TLS with
 * `Deno.connectTls` (through `node:tls` when certificate checks are off).
 *
 * @param target Where to connect, and whether with TLS.
 * @param signal Aborts the connection attempt.
 * @returns The open transport.
 *
 * @example Wrapping the default connector to log each connection
 * ```ts ignore
 * import { dial } from "@seed/websocket";
 * import { connectTransport } from "@seed/websocket/client";
 *
 * await dial("ws://127.0.0.1:8080/", {
 *   connect: (target, signal) => {
 *     console.log(`Connecting to ${target.hostname}:${target.port}`);
 *     return connectTransport(target, signal);
 *   },
 * });
 * ```
 */
export async function connectTransport(
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Transport> {
  const { hostname, port } = target;
  if (target.tls && !target.insecure) {
    return noDelay(
      await Deno.connectTls({ hostname, port, caCerts: target.caCerts }),
    );
  }
  const socket = noDelay(await Deno.connect({ hostname, port, signal }));
  if (!target.tls) return socket;
  return await startTls(socket, { hostname, insecure: true });
}

/** A ws:/wss: URL's host, port and whether it is secure. */
export function endpoint(
  url: URL,
): { hostname: string; port: number; tls: boolean } {
  const tls = url.protocol === "wss:";
  return {
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : tls ? 443 : 80,
    tls,
  };
}

/**
 * Opens the transport to a URL's server: directly, or through the proxy,
 * with TLS inside the tunnel for `wss://`.
 */
export async function openTransport(
  url: URL,
  options: DialOptions,
  timer: Deadline,
): Promise<Transport> {
  const connect = options.connect;
  const server = endpoint(url);
  const common = {
    caCerts: options.caCerts,
    insecure: options.insecure ?? false,
    url,
  };
  const proxy = options.proxy === false
    ? undefined
    : options.proxy === undefined
    ? proxyForUrl(url, envReader())
    : parseProxyUrl(options.proxy);
  // The deadline makes an AbortSignal only when asked: the default
  // connector does without one (a late socket is closed on arrival).
  const opening = (target: ConnectTarget) =>
    abortable(
      connect ? connect(target, timer.signal) : connectTransport(target),
      timer,
      closeQuietly,
    );
  if (proxy === undefined) {
    return await opening({ ...server, ...common, proxy: false });
  }
  let transport: Transport;
  try {
    transport = await opening({
      hostname: proxy.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: proxyPort(proxy),
      tls: proxy.protocol === "https:",
      ...common,
      proxy: true,
    });
  } catch (error) {
    // A timeout or an abort is reported as such.
    if (timer.aborted) throw error;
    throw new ProxyError(
      `Cannot reach proxy ${redact(proxy.href)}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { proxy: redact(proxy.href), status: 0, cause: error },
    );
  }
  try {
    transport = await tunnel(transport, proxy, server, timer);
    if (server.tls) {
      transport = await abortable(
        startTls(transport, { hostname: server.hostname, ...common }),
        timer,
        closeQuietly,
      );
    }
    return transport;
  } catch (error) {
    closeQuietly(transport);
    throw error;
  }
}

// The env permission for all of the environment, queried once: Deno keeps
// a status it updates on every later query, request or revoke, so reading
// its state is as good as a new query, for none of the cost (a query costs
// microseconds, several times a read).
let envStatus: Deno.PermissionStatus | undefined;

/**
 * Reads the proxy variables of the environment as `readEnvQuietly` does
 * (only where the env permission is granted, never prompting): directly
 * when all of the environment is granted (`--allow-env`, `-A`), else
 * through `readEnvQuietly`, which asks for each variable.
 */
function envReader(): (name: string) => string | undefined {
  try {
    envStatus ??= Deno.permissions.querySync({ name: "env" });
  } catch {
    return readEnvQuietly;
  }
  return envStatus.state === "granted" ? readGrantedEnv : readEnvQuietly;
}

function readGrantedEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Closes a transport that may be closed already: one that arrived after the
 * dial gave up (the abort path may hand it over more than once), or one
 * given up on.
 */
export function closeQuietly(transport: Transport | undefined): void {
  try {
    transport?.close();
  } catch {
    // Already closed.
  }
}
