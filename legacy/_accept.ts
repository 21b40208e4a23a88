// The opening handshakes of the legacy drafts (draft-hixie-75 and -76) on a
// transport: the I/O around the sans-I/O pieces in hixie.ts. server.ts and
// client.ts call these once they know the peer speaks a draft.

import {
  Conn,
  type ConnInit,
  type ConnOptions,
  type Transport,
} from "../conn.ts";
import type { Deadline } from "../_util/deadline.ts";
import { HandshakeError } from "../errors.ts";
import {
  buildHixie75Response,
  buildHixie76Response,
  buildHixieRequest,
  createHixie76Challenge,
  hixie76Answer,
  type HixieVersion,
  parseHixie76Key,
  validateHixieResponse,
  verifyHixie76Answer,
} from "./handshake.ts";
import { HixieProtocol } from "./protocol.ts";
import { pickConnOptions } from "../conn/_options.ts";
import { hasToken, parseResponseHead, type RequestHead } from "../handshake.ts";
import { readExact, readHead, writeAll } from "../_util/io.ts";

/** What the server side of a draft handshake needs. */
export interface HixieAcceptInit extends ConnOptions {
  version: HixieVersion;
  transport: Transport;
  head: RequestHead;
  request: Request;
  /** Bytes received after the request head (draft 76: the 8 key bytes). */
  rest: Uint8Array;
  secure: boolean;
  protocol: string | undefined;
  maxMessageSize: number;
  signal: Deadline | AbortSignal;
  /** The hub behind the connection's topic methods. */
  topics?: ConnInit["topics"];
}

/** The subprotocol a draft request asks for (one name, not a list). */
export function hixieRequestedProtocols(
  version: HixieVersion,
  headers: Headers,
): string[] {
  const name = version === "hixie-76"
    ? "sec-websocket-protocol"
    : "websocket-protocol";
  const value = headers.get(name)?.trim();
  return value ? [value] : [];
}

/**
 * Checks a draft request before anything is written, so that a bad one gets
 * its HTTP error: 405 for a method other than GET, 400 for a missing Host,
 * a Connection header without upgrade, or a bad draft-76 key.
 */
export function validateHixieRequest(
  version: HixieVersion,
  head: RequestHead,
): void {
  const headers = head.headers;
  if (head.method !== "GET") {
    throw new HandshakeError(
      "BAD_METHOD",
      `Invalid upgrade request: method ${head.method} is not GET`,
      { status: 405, headers: { Allow: "GET" } },
    );
  }
  if (!headers.get("host")) {
    throw new HandshakeError("BAD_HOST", "Invalid upgrade request: no Host", {
      status: 400,
    });
  }
  if (!hasToken(headers, "connection", "upgrade")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade request: Connection header does not list upgrade",
      { status: 400 },
    );
  }
  if (version === "hixie-76") {
    parseHixie76Key(headers.get("sec-websocket-key1") ?? "");
    parseHixie76Key(headers.get("sec-websocket-key2") ?? "");
  }
}

/**
 * Checks a draft request and answers it. For draft 76 the response head is
 * written as soon as the headers are read, and the 16-byte answer once the
 * 8 key bytes arrive: a proxy holds those bytes until it sees a response.
 */
export async function acceptHixie(init: HixieAcceptInit): Promise<Conn> {
  const { version, transport, head, request } = init;
  const headers = head.headers;
  // Everything is checked before anything is written.
  validateHixieRequest(version, head);
  const host = headers.get("host")!;
  const origin = headers.get("origin") ?? undefined;
  const options = {
    host,
    resource: head.target,
    secure: init.secure,
    origin,
    protocol: init.protocol,
  };
  let rest = init.rest;
  if (version === "hixie-76") {
    const key1 = headers.get("sec-websocket-key1") ?? "";
    const key2 = headers.get("sec-websocket-key2") ?? "";
    await writeAll(transport, buildHixie76Response(options), init.signal);
    const key3 = await readExact(transport, 8, rest, init.signal);
    rest = key3.rest;
    await writeAll(
      transport,
      hixie76Answer(key1, key2, key3.bytes),
      init.signal,
    );
  } else {
    await writeAll(transport, buildHixie75Response(options), init.signal);
  }
  return new Conn({
    role: "server",
    transport,
    machine: new HixieProtocol({
      version,
      role: "server",
      maxMessageSize: init.maxMessageSize,
      autoCloseEcho: false,
    }),
    head: rest,
    protocol: init.protocol ?? "",
    origin: origin ?? "",
    url: `${init.secure ? "wss" : "ws"}://${host}${head.target}`,
    request,
    version,
    topics: init.topics,
    ...pickConnOptions(init),
  });
}

/** What the client side of a draft handshake needs. */
export interface HixieDialInit extends ConnOptions {
  version: HixieVersion;
  transport: Transport;
  url: URL;
  origin: string;
  protocol: string | undefined;
  headers?: HeadersInit;
  maxHeadSize: number;
  maxMessageSize: number;
  signal: Deadline | AbortSignal;
}

/** Runs a draft handshake as the client and returns the connection. */
export async function dialHixie(init: HixieDialInit): Promise<Conn> {
  const { version, transport, url } = init;
  const challenge = version === "hixie-76"
    ? createHixie76Challenge()
    : undefined;
  await writeAll(
    transport,
    buildHixieRequest({
      version,
      url,
      origin: init.origin,
      protocol: init.protocol,
      key1: challenge?.key1,
      key2: challenge?.key2,
      key3: challenge?.key3,
      headers: init.headers,
    }),
    init.signal,
  );
  const { head, rest: afterHead } = await readHead(
    transport,
    init.maxHeadSize,
    init.signal,
  );
  const response = parseResponseHead(head);
  validateHixieResponse({
    version,
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    url,
    origin: init.origin,
    protocol: init.protocol,
  });
  let rest = afterHead;
  if (challenge) {
    const answer = await readExact(transport, 16, rest, init.signal);
    verifyHixie76Answer(challenge.answer, answer.bytes);
    rest = answer.rest;
  }
  return new Conn({
    role: "client",
    transport,
    machine: new HixieProtocol({
      version,
      role: "client",
      maxMessageSize: init.maxMessageSize,
      autoCloseEcho: false,
    }),
    head: rest,
    protocol: init.protocol ?? "",
    origin: init.origin,
    url: url.href,
    version,
    ...pickConnOptions(init),
  });
}
