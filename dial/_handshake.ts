// The client side of the RFC 6455 opening handshake over an open transport:
// the upgrade request with the extensions' offer, the response (a redirect
// is followed on a new transport), then the checks and the connection.

import type { Conn, Transport } from "../conn.ts";
import { createClientKey, DEFAULT_MAX_HEAD_SIZE } from "../handshake.ts";
import { encodeForWrite, readResponseHead } from "../handshake/_head.ts";
import {
  checkUpgradeResponse,
  upgradeRequestText,
} from "../handshake/_client.ts";
import type { ExtensionNegotiator } from "../extensions/extension.ts";
import {
  acceptExtensions,
  offerExtensions,
} from "../extensions/negotiation.ts";
import type { ProtocolVersion } from "../protocol/machine.ts";
import { pickConnOptions } from "../conn/_options.ts";
import type { Deadline } from "../_util/deadline.ts";
import { readHead, writeAll } from "../_util/io.ts";
import { rfc6455Conn } from "../conn/_rfc6455.ts";
import type { DialOptions } from "../client.ts";
import { closeQuietly, openTransport } from "./_open.ts";
import type { RedirectChain } from "./_redirects.ts";

/**
 * The versions this handshake speaks: `buildUpgradeRequest` sends
 * `Sec-WebSocket-Version: 13`, and the client frames as RFC 6455.
 */
const SPOKEN: ReadonlySet<ProtocolVersion> = new Set<ProtocolVersion>(["13"]);

/** Whether {@linkcode dialRfc6455} speaks a version. */
export function speaks(version: ProtocolVersion): boolean {
  return SPOKEN.has(version);
}

/**
 * Runs the handshake on `transport`, to `chain.url`, following redirects
 * on new transports, and returns the connection. Any transport it holds
 * when it fails is closed.
 */
export async function dialRfc6455(
  transport: Transport,
  options: DialOptions,
  protocols: string[],
  negotiators: readonly ExtensionNegotiator[],
  chain: RedirectChain,
  timer: Deadline,
): Promise<Conn> {
  // Without negotiators there is no offer, and an answer naming any
  // extension fails the response's check (BAD_EXTENSION).
  const offer = negotiators.length > 0
    ? offerExtensions(negotiators)
    : undefined;
  let current: Transport | undefined = transport;
  try {
    while (true) {
      const key = createClientKey();
      await writeAll(
        current,
        encodeForWrite(upgradeRequestText({
          url: chain.url,
          key,
          protocols,
          origin: options.origin,
          headers: chain.headers,
          extensions: offer,
        })),
        timer,
      );
      const { head, rest } = await readHead(
        current,
        options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
        timer,
        undefined,
        "response",
      );
      const response = readResponseHead(head);
      // A 101 is never a redirect.
      if (response.status !== 101 && chain.follow(response)) {
        current.close();
        current = undefined;
        current = await openTransport(chain.url, options, timer);
        continue;
      }
      const agreed = checkUpgradeResponse(response, {
        key,
        protocols,
        extensionsOffered: offer !== undefined,
      });
      return rfc6455Conn({
        ...pickConnOptions(options),
        role: "client",
        transport: current,
        maxMessageSize: options.maxMessageSize,
        extension: negotiators.length > 0
          ? acceptExtensions(agreed.extensions || null, negotiators)
          : undefined,
        head: rest,
        protocol: agreed.protocol,
        extensions: agreed.extensions,
        origin: options.origin,
        url: chain.url.href,
      });
    }
  } catch (error) {
    closeQuietly(current);
    throw error;
  }
}
