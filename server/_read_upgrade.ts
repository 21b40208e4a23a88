// The first step of the server's handshake, all I/O: read the request head,
// and when it is not an upgrade, answer it (426, or `fallback` for as long
// as the HTTP connection persists) until an upgrade request arrives.

import type { Transport } from "../conn.ts";
import { HandshakeError } from "../errors.ts";
import { DEFAULT_MAX_HEAD_SIZE, isUpgradeRequest } from "../handshake.ts";
import { ParsedRequestHead, readRequestHead } from "../handshake/_head.ts";
import { serveHttp } from "../http/_server.ts";
import { Deadline } from "../_util/deadline.ts";
import { readHead } from "../_util/io.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type HandshakeSettings,
} from "./_options.ts";
import { respond, upgradeRequired } from "./_respond.ts";

/**
 * Where a handshake stands, for the steps after this one and for its error
 * path: the deadline it runs under now, the request's method (a HEAD gets
 * no body), whether the socket was already answered and closed, and the
 * deadlines made after plain HTTP requests, for the caller to dispose of.
 */
export interface HandshakeState {
  timer: Deadline;
  method: string;
  answered: boolean;
  // Made only when the connection served plain requests first.
  deadlines: DisposableStack | undefined;
}

/** The upgrade request as read: its bytes, parsed, and what came after. */
export interface UpgradeHead {
  /** The head's bytes. */
  head: Uint8Array;
  /** The parsed head; its `Headers` is made only if asked for. */
  parsed: ParsedRequestHead;
  /** The bytes received after it. */
  rest: Uint8Array;
}

/**
 * Reads the upgrade request: the first head on the socket, or the first
 * upgrade after plain requests answered by `fallback`. Rejects with a
 * `HandshakeError` (426) when the connection ends without one.
 */
export async function readUpgrade(
  transport: Transport,
  options: HandshakeSettings,
  state: HandshakeState,
  onPlainHttp?: () => void,
): Promise<UpgradeHead> {
  const { head, rest } = await readHead(
    transport,
    options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
    state.timer,
    options.head,
    "request",
  );
  const parsed = readRequestHead(head);
  state.method = parsed.method;
  if (isUpgradeRequest(parsed.fields)) return { head, parsed, rest };
  if (!options.fallback) {
    const response = upgradeRequired();
    await respond(transport, response, state.method);
    throw notAnUpgrade(response.status);
  }
  // Plain HTTP requests, answered by `fallback` for as long as the
  // connection persists: the loop has its own idle and body timeouts, so the
  // handshake timeout stops; an abort (shutdown, the caller's signal) still
  // ends the connection.
  const deadlines = state.deadlines = new DisposableStack();
  const stop = deadlines.use(
    new Deadline(0, "HTTP connection", options.signal),
  );
  const outer = state.timer;
  outer.onAbort(() => stop.abort(outer.reason));
  outer[Symbol.dispose]();
  onPlainHttp?.();
  const handoff = await serveHttp(transport, { head, rest }, options.fallback, {
    secure: options.secure,
    maxHeadSize: options.maxHeadSize,
    maxBodySize: options.maxBodySize,
    bodyTimeout: options.bodyTimeout,
    idleTimeout: options.keepAliveTimeout,
    maxRequests: options.maxRequestsPerConnection,
    trustProxy: options.trustProxy,
    onError: options.onError,
    stop,
  });
  if (handoff === undefined) {
    // The connection ended (and is closed) without an upgrade.
    state.answered = true;
    throw notAnUpgrade(426);
  }
  // A WebSocket upgrade after plain requests: the handshake goes on from its
  // head, under a timeout of its own.
  const { method, target, version, headers } = handoff.parsed;
  state.method = method;
  const later = deadlines.use(
    new Deadline(
      options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      "Opening handshake",
    ),
  );
  stop.onAbort(() => later.abort(stop.reason));
  state.timer = later;
  return {
    head: handoff.head,
    parsed: new ParsedRequestHead(method, target, version, headers),
    rest: handoff.rest,
  };
}

function notAnUpgrade(status: number): HandshakeError {
  return new HandshakeError(
    "BAD_UPGRADE",
    "Request is not a WebSocket upgrade",
    { status },
  );
}
