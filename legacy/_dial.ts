// The client side of a draft handshake on a transport: the I/O around the
// sans-I/O pieces. Reached through legacyDialer() in mod.ts.

import type { Conn } from "../conn.ts";
import type { Deadline } from "../_util/deadline.ts";
import { parseResponseHead } from "../handshake/_head.ts";
import { readExact, readHead, writeAll } from "../_util/io.ts";
import { createHixie76Challenge, verifyHixie76Answer } from "./_key.ts";
import { buildHixieRequest, validateHixieResponse } from "./_client.ts";
import { type HixieConnInit, openHixieConn } from "./_conn.ts";

/** What the client side of a draft handshake needs. */
export interface HixieDialInit extends HixieConnInit {
  /** The `ws:` or `wss:` URL dialled. */
  url: URL;
  /** The `Origin` to send (the drafts require one). */
  origin: string;
  /** Extra header fields for the request. */
  headers?: HeadersInit;
  /** The largest response head accepted, in bytes. */
  maxHeadSize: number;
  /** The deadline of the opening handshake. */
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
  return openHixieConn("client", init, {
    head: rest,
    origin: init.origin,
    url: url.href,
  });
}
