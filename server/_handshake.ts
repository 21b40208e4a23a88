// The server side of the opening handshake, as steps: read the request
// (I/O, see _read_upgrade.ts), tell its protocol (the legacy seam or RFC
// 6455's checks), apply the server's policies (origin, `beforeUpgrade`,
// subprotocol), then answer: the legacy seam's accept, or a 101 with the
// negotiated extension. Any failure is answered with its HTTP status.

import type { Conn, Transport } from "../conn.ts";
import { HandshakeError } from "../errors.ts";
import {
  selectProtocol,
  type UpgradeRequestInfo,
  validateUpgradeRequest,
} from "../handshake.ts";
import { encodeForWrite, type ParsedRequestHead } from "../handshake/_head.ts";
import { upgradeResponseText } from "../handshake/_server.ts";
import { answerExtensions } from "../extensions/negotiation.ts";
import { legacyRequest } from "../legacy/mod.ts";
import type { ProtocolVersion } from "../protocol/machine.ts";
import { peerInfo } from "../http/_server.ts";
import type { Deadline } from "../_util/deadline.ts";
import { writeAll } from "../_util/io.ts";
import type { HandshakeSettings } from "./_options.ts";
import { originAllowed } from "./_origin.ts";
import { type HandshakeState, readUpgrade } from "./_read_upgrade.ts";
import {
  makeRequest,
  requestBuilder,
  type RequestLocation,
  requestUrl,
} from "./_request.ts";
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
  const state: HandshakeState = {
    timer,
    method: "GET",
    answered: false,
    deadlines: undefined,
  };
  try {
    return await upgradeSocket(transport, options, state, onPlainHttp);
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
  } finally {
    timer[Symbol.dispose]();
    state.deadlines?.dispose();
  }
}

// The steps, in order; any failure leaves the answer to handshake().
async function upgradeSocket(
  transport: Transport,
  options: HandshakeSettings,
  state: HandshakeState,
  onPlainHttp?: () => void,
): Promise<Conn> {
  const { head, parsed, rest } = await readUpgrade(
    transport,
    options,
    state,
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
  requireOrigin(options, parsed, url, request);
  if (options.beforeUpgrade) {
    await beforeUpgrade(transport, options, parsed, request, state);
  }
  const protocol = chooseProtocol(options, offered, request);
  if (legacy) {
    state.answered = true;
    return await legacy.accept({
      ...options.connOptions,
      transport,
      rest,
      protocol,
      maxMessageSize: options.maxMessageSize,
      topics: options.topics,
      request: request(),
      secure: options.secure ?? false,
      signal: state.timer,
    });
  }
  return await acceptRfc6455(transport, options, asked!, state.timer, {
    rest,
    protocol,
    origin: asked!.origin ?? "",
    url: url.socketUrl,
    request: made ?? requestBuilder(head, url.href, parsed.method),
  });
}

// The origin policy: 403 for an origin it refuses.
function requireOrigin(
  options: HandshakeSettings,
  parsed: ParsedRequestHead,
  url: RequestLocation,
  request: () => Request,
): void {
  const origin = parsed.fields.get("origin");
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
}

// The `beforeUpgrade` hook: its refusal is written here, and ends the
// handshake.
async function beforeUpgrade(
  transport: Transport,
  options: HandshakeSettings,
  parsed: ParsedRequestHead,
  request: () => Request,
  state: HandshakeState,
): Promise<void> {
  const info = peerInfo(transport, parsed.headers, options.trustProxy);
  const refusal = await options.beforeUpgrade!(request(), info);
  if (refusal) {
    await respond(transport, refusal, state.method);
    throw new HandshakeError(
      "BAD_STATUS",
      `Upgrade refused with status ${refusal.status}`,
      { status: refusal.status },
    );
  }
}

// The subprotocol policy's choice among those offered.
function chooseProtocol(
  options: HandshakeSettings,
  offered: string[],
  request: () => Request,
): string | undefined {
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
  transport: Transport,
  options: HandshakeSettings,
  asked: UpgradeRequestInfo,
  timer: Deadline,
  about: {
    rest: Uint8Array;
    protocol: string | undefined;
    origin: string;
    url: string;
    request: Request | (() => Request);
  },
): Promise<Conn> {
  // Without negotiators the offer is not even parsed, as a server that
  // knows no extension need not.
  const negotiators = options.negotiators;
  const agreed = negotiators.length > 0
    ? answerExtensions(asked.extensions, negotiators)
    : undefined;
  const { protocol } = about;
  await writeAll(
    transport,
    encodeForWrite(upgradeResponseText({
      key: asked.key,
      protocol,
      extensions: agreed?.header || undefined,
    })),
    timer,
  );
  return rfc6455Conn({
    ...options.connOptions,
    maxMessageSize: options.maxMessageSize,
    topics: options.topics,
    origin: about.origin,
    url: about.url,
    request: about.request,
    role: "server",
    transport,
    head: about.rest,
    protocol: protocol ?? "",
    extension: agreed?.extension,
    extensions: agreed?.header ?? "",
    version: String(asked.version) as ProtocolVersion,
  });
}
