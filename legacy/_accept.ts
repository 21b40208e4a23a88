// The server side of a draft handshake on a transport: the I/O around the
// sans-I/O pieces. Reached through legacyRequest() in mod.ts.

import type { Conn, ConnInit } from "../conn.ts";
import type { Deadline } from "../_util/deadline.ts";
import type { RequestHead } from "../handshake/_head.ts";
import { readExact, writeAll } from "../_util/io.ts";
import { hixie76Answer } from "./_key.ts";
import { buildHixie75Response, buildHixie76Response } from "./_response.ts";
import { validateHixieRequest } from "./_request.ts";
import { type HixieConnInit, openHixieConn } from "./_conn.ts";

/** What the server side of a draft handshake needs. */
export interface HixieAcceptInit extends HixieConnInit {
  /** The request head, read and parsed. */
  head: RequestHead;
  /** The request, for the connection's `request`. */
  request: Request;
  /** Bytes received after the request head (draft 76: the 8 key bytes). */
  rest: Uint8Array;
  /** Whether the connection runs over TLS (`wss:`). */
  secure: boolean;
  /** The deadline of the opening handshake. */
  signal: Deadline | AbortSignal;
  /** The hub behind the connection's topic methods. */
  topics?: ConnInit["topics"];
}

/**
 * Checks a draft request and answers it. For draft 76 the response head is
 * written as soon as the headers are read, and the 16-byte answer once the
 * 8 key bytes arrive: a proxy holds those bytes until it sees a response.
 */
export async function acceptHixie(init: HixieAcceptInit): Promise<Conn> {
  const { version, transport, head } = init;
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
  return openHixieConn("server", init, {
    head: rest,
    origin: origin ?? "",
    url: `${init.secure ? "wss" : "ws"}://${host}${head.target}`,
    request: init.request,
    topics: init.topics,
  });
}
