// The server side of the opening handshake, as steps: read the request
// (I/O, see _read_upgrade.ts), tell its protocol (the legacy seam or RFC
// 6455's checks), apply the server's policies (origin, `beforeUpgrade`,
// subprotocol), then answer: the legacy seam's accept, or a 101 with the
// negotiated extension. Any failure is answered with its HTTP status.

import type { Conn, Transport } from "../conn.ts";
import { HandshakeError } from "../errors.ts";
import {
  buildUpgradeResponse,
  type RequestHead,
  selectProtocol,
  type UpgradeRequestInfo,
  validateUpgradeRequest,
} from "../handshake.ts";
import { answerExtensions } from "../extensions/negotiation.ts";
import type { ExtensionNegotiator } from "../extensions/extension.ts";
import { legacyRequest } from "../legacy/mod.ts";
import type { ProtocolVersion } from "../protocol/machine.ts";
import { pickConnOptions } from "../conn/_options.ts";
import { peerInfo } from "../http/_server.ts";
import type { Deadline } from "../_util/deadline.ts";
import { writeAll } from "../_util/io.ts";
import type { HandshakeSettings, PeerInfo } from "./_options.ts";
import { originAllowed } from "./_origin.ts";
import { readUpgrade } from "./_read_upgrade.ts";
import { makeRequest, requestBuilder, requestUrl } from "./_request.ts";
import { errorResponse, respond } from "./_respond.ts";
import { rfc6455Conn } from "../conn/_rfc6455.ts";

/**
 * Runs the server side of the opening handshake under `timer`, which it
 * disposes of: the timeout, the caller's signal, a server's shutdown.
 * `onPlainHttp` is told when the connection turns to plain HTTP requests.
 */
export async function handshake(
  transport: Transport,
  options: HandshakeSettings,
  timer: Deadline,
  onPlainHttp?: () => void,
): Promise<Conn> {
  using _timer = timer;
  using deadlines = new DisposableStack();
  const state = { timer, method: "GET", answered: false };
  try {
    const { head, parsed, rest } = await readUpgrade(
      transport,
      options,
      state,
      deadlines,
      onPlainHttp,
    );
    const url = requestUrl(parsed, options.secure ?? false);
    // The Request is made only for the hooks that take one (and for
    // Conn.request, on first use).
    let made: Request | undefined;
    const request = () => made ??= makeRequest(head, url.href, parsed.method);
    const legacy = legacyRequest(parsed, options.versions);
    const asked = legacy ? undefined : validateUpgradeRequest(parsed, {
      versions: options.versionNumbers,
    });
    const offered = legacy?.protocols ?? asked!.protocols;
    const protocol = await applyPolicies(
      transport,
      options,
      parsed,
      url,
      offered,
      request,
      state,
    );
    const init = {
      transport,
      rest,
      protocol,
      maxMessageSize: options.maxMessageSize,
      topics: options.topics,
      ...pickConnOptions(options),
    };
    if (legacy) {
      state.answered = true;
      return await legacy.accept({
        ...init,
        request: request(),
        secure: options.secure ?? false,
        signal: state.timer,
      });
    }
    return await acceptRfc6455(init, asked!, options.negotiators, state.timer, {
      origin: parsed.headers.get("origin") ?? "",
      url: url.href.replace(/^http/, "ws"),
      request: made ?? requestBuilder(head, url.href, parsed.method),
    });
  } catch (error) {
    if (
      error instanceof HandshakeError && !state.timer.aborted &&
      !state.answered
    ) {
      // Answer what we can; the socket may already be gone.
      await respond(transport, errorResponse(error), state.method)
        .catch(() => {});
    } else {
      try {
        transport.close();
      } catch {
        // Already closed.
      }
    }
    throw error;
  }
}

/**
 * The server's policies, in order: the origin (403), `beforeUpgrade` (its
 * response, written here), the subprotocol. Returns the subprotocol.
 */
async function applyPolicies(
  transport: Transport,
  options: HandshakeSettings,
  parsed: RequestHead,
  url: URL,
  offered: string[],
  request: () => Request,
  state: { method: string },
): Promise<string | undefined> {
  const origin = parsed.headers.get("origin");
  const allowed = originAllowed(
    options.checkOrigin ?? "same-origin",
    origin,
    url.host,
    request,
  );
  if (!allowed) {
    throw new HandshakeError(
      "BAD_ORIGIN",
      `Origin ${JSON.stringify(origin)} is not allowed`,
      { status: 403 },
    );
  }
  if (options.beforeUpgrade) {
    const info = (): PeerInfo =>
      peerInfo(transport, parsed.headers, options.trustProxy);
    const refusal = await options.beforeUpgrade(request(), info());
    if (refusal) {
      await respond(transport, refusal, state.method);
      throw new HandshakeError(
        "BAD_STATUS",
        `Upgrade refused with status ${refusal.status}`,
        { status: refusal.status },
      );
    }
  }
  const policy = options.protocols ?? [];
  const protocol = typeof policy === "function"
    ? policy(offered, request())
    : selectProtocol(offered, policy);
  if (protocol !== undefined && !offered.includes(protocol)) {
    throw new TypeError(
      `Cannot select subprotocol ${JSON.stringify(protocol)}: not offered`,
    );
  }
  return protocol;
}

/**
 * Answers an RFC 6455 request: negotiates the extension, writes the 101 and
 * returns the connection.
 */
async function acceptRfc6455(
  init: {
    transport: Transport;
    rest: Uint8Array;
    protocol: string | undefined;
    maxMessageSize: number;
    topics: HandshakeSettings["topics"];
  },
  asked: UpgradeRequestInfo,
  negotiators: readonly ExtensionNegotiator[],
  timer: Deadline,
  about: { origin: string; url: string; request: Request | (() => Request) },
): Promise<Conn> {
  // Without negotiators the offer is not even parsed, as a server that
  // knows no extension need not.
  const agreed = negotiators.length > 0
    ? answerExtensions(asked.extensions, negotiators)
    : undefined;
  const { transport, rest, protocol, ...settings } = init;
  await writeAll(
    transport,
    await buildUpgradeResponse({
      key: asked.key,
      protocol,
      extensions: agreed?.header || undefined,
    }),
    timer,
  );
  return rfc6455Conn({
    ...settings,
    ...about,
    role: "server",
    transport,
    head: rest,
    protocol: protocol ?? "",
    extension: agreed?.extension,
    extensions: agreed?.header ?? "",
    version: String(asked.version) as ProtocolVersion,
  });
}
