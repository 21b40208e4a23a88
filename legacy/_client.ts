// The client's side of a draft handshake, sans-I/O: the request it writes
// and the checks it makes of the server's response head.

import { HandshakeError, type HandshakeErrorCode } from "../errors.ts";
import { TOKEN } from "../_util/http_syntax.ts";
import { hasToken } from "../handshake/_head.ts";
import { assertWebSocketUrl, head, resourceName } from "./_head.ts";
import type { LegacyVersion } from "./mod.ts";

/** What a client's handshake request is built from. */
export interface HixieRequestOptions {
  /** The draft to speak. */
  version: LegacyVersion;
  /** The `ws:` or `wss:` URL to dial. */
  url: URL;
  /** The `Origin` header, e.g. `http://example.com`. */
  origin: string;
  /** The subprotocol to ask for; none when undefined. */
  protocol?: string;
  /** The `Sec-WebSocket-Key1` value; required for draft 76. */
  key1?: string;
  /** The `Sec-WebSocket-Key2` value; required for draft 76. */
  key2?: string;
  /** The 8 bytes sent after the head; required for draft 76. */
  key3?: Uint8Array;
  /**
   * Extra header fields, written after the handshake's own (whose names
   * they may not reuse).
   */
  headers?: HeadersInit;
}

/** Field names the handshake writes itself. */
const RESERVED_FIELDS = new Set([
  "host",
  "upgrade",
  "connection",
  "origin",
  "sec-websocket-key1",
  "sec-websocket-key2",
  "sec-websocket-protocol",
  "websocket-protocol",
]);

/** The extra fields of a request, in order and with their case kept. */
function extraFields(init: HeadersInit | undefined): [string, string][] {
  if (init === undefined) return [];
  const pairs: [string, string][] = init instanceof Headers
    ? [...init]
    : Array.isArray(init)
    ? init.map((pair) => {
      if (pair.length !== 2) {
        throw new TypeError(
          "Cannot build the handshake: a header must be a name and a value",
        );
      }
      return [pair[0], pair[1]];
    })
    : Object.entries(init);
  for (const [name] of pairs) {
    if (!TOKEN.test(name)) {
      throw new TypeError(
        `Cannot build the handshake: invalid header name "${name}"`,
      );
    }
    if (RESERVED_FIELDS.has(name.toLowerCase())) {
      throw new TypeError(
        `Cannot build the handshake: the ${name} header is set by the handshake`,
      );
    }
  }
  return pairs;
}

/**
 * Builds a draft-75 or -76 client's request: the head, then for draft 76
 * the 8 bytes of key3. `Host` omits the scheme's default port.
 *
 * @param options The draft, URL, origin, subprotocol, draft-76 keys and
 * extra headers.
 * @returns The bytes to write.
 * @throws {TypeError} For a URL that is not `ws:` / `wss:`, missing draft-76
 * keys, a value with CR, LF or NUL, or an extra header the handshake sets.
 * @throws {RangeError} When `key3` is not 8 bytes long.
 *
 * @example A draft-75 request
 * ```ts
 * import { buildHixieRequest } from "@seed/websocket/hixie";
 *
 * const request = buildHixieRequest({
 *   version: "hixie-75",
 *   url: new URL("ws://example.com/chat"),
 *   origin: "http://example.com",
 * });
 * console.log(new TextDecoder().decode(request).split("\r\n")[0]);
 * // GET /chat HTTP/1.1
 * ```
 */
export function buildHixieRequest(
  options: HixieRequestOptions,
): Uint8Array<ArrayBuffer> {
  const { version, url, origin, protocol } = options;
  assertWebSocketUrl(url);
  const fields: [string, string][] = [
    ["Upgrade", "WebSocket"],
    ["Connection", "Upgrade"],
    ["Host", url.host],
    ["Origin", origin],
  ];
  if (version === "hixie-76") {
    const { key1, key2, key3 } = options;
    if (key1 === undefined || key2 === undefined || key3 === undefined) {
      throw new TypeError(
        "Cannot build a hixie-76 request: key1, key2 and key3 are required",
      );
    }
    if (key3.length !== 8) {
      throw new RangeError(
        `Cannot build a hixie-76 request: key3 must be 8 bytes, got ${key3.length}`,
      );
    }
    fields.push(["Sec-WebSocket-Key1", key1], ["Sec-WebSocket-Key2", key2]);
    if (protocol !== undefined) {
      fields.push(["Sec-WebSocket-Protocol", protocol]);
    }
    fields.push(...extraFields(options.headers));
    const bytes = head(`GET ${resourceName(url)} HTTP/1.1`, fields);
    const out = new Uint8Array(bytes.length + 8);
    out.set(bytes);
    out.set(key3, bytes.length);
    return out;
  }
  if (version !== "hixie-75") {
    throw new TypeError(
      `Cannot build the handshake: unknown version "${version}"`,
    );
  }
  if (protocol !== undefined) fields.push(["WebSocket-Protocol", protocol]);
  fields.push(...extraFields(options.headers));
  return head(`GET ${resourceName(url)} HTTP/1.1`, fields);
}

/** What {@linkcode validateHixieResponse} checks a response against. */
export interface HixieResponseCheck {
  /** The draft the request spoke. */
  version: LegacyVersion;
  /** The response's status code. */
  status: number;
  /** The response's reason phrase. */
  statusText: string;
  /** The response's header fields. */
  headers: Headers;
  /** The URL that was dialled. */
  url: URL;
  /** The `Origin` that was sent. */
  origin: string;
  /** The subprotocol that was asked for, if any. */
  protocol?: string;
}

/**
 * Checks a draft-75 or -76 server's response head. Draft 76 reads the
 * `Sec-WebSocket-Origin`, `-Location` and `-Protocol` fields, draft 75 the
 * `WebSocket-` ones. The location must equal the dialled URL as the draft
 * builds it: scheme, host, the port when not the default, and resource.
 *
 * @param check The response and what was asked for.
 * @throws {HandshakeError} `BAD_STATUS` when the status is not 101,
 * `BAD_UPGRADE` for a wrong `Upgrade` or `Connection`, `BAD_ORIGIN` when the
 * origin is not echoed, `BAD_LOCATION` when the location is not the dialled
 * URL, and `BAD_PROTOCOL` when the subprotocol is not the one asked for (or
 * one comes when none was asked for).
 *
 * @example Checking a draft-76 response
 * ```ts
 * import { validateHixieResponse } from "@seed/websocket/hixie";
 *
 * validateHixieResponse({
 *   version: "hixie-76",
 *   status: 101,
 *   statusText: "WebSocket Protocol Handshake",
 *   headers: new Headers({
 *     "Upgrade": "WebSocket",
 *     "Connection": "Upgrade",
 *     "Sec-WebSocket-Origin": "http://example.com",
 *     "Sec-WebSocket-Location": "ws://example.com/chat",
 *   }),
 *   url: new URL("ws://example.com/chat"),
 *   origin: "http://example.com",
 * });
 * ```
 */
export function validateHixieResponse(check: HixieResponseCheck): void {
  const { status, statusText, headers, url } = check;
  const response = { status, statusText, headers };
  const fail = (code: HandshakeErrorCode, message: string): never => {
    throw new HandshakeError(code, message, { response });
  };
  if (status !== 101) {
    fail("BAD_STATUS", `Unexpected response status ${status}, expected 101`);
  }
  const upgrade = headers.get("upgrade");
  if (upgrade === null || upgrade.trim().toLowerCase() !== "websocket") {
    fail(
      "BAD_UPGRADE",
      `Invalid Upgrade header: expected "WebSocket", got ${
        upgrade === null ? "none" : `"${upgrade}"`
      }`,
    );
  }
  const connection = headers.get("connection");
  if (!hasToken(headers, "connection", "upgrade")) {
    fail(
      "BAD_UPGRADE",
      `Invalid Connection header: expected "Upgrade", got ${
        connection === null ? "none" : `"${connection}"`
      }`,
    );
  }
  const prefix = check.version === "hixie-76" ? "Sec-WebSocket-" : "WebSocket-";
  const origin = headers.get(`${prefix}Origin`);
  if (origin !== check.origin) {
    fail(
      "BAD_ORIGIN",
      `Invalid ${prefix}Origin header: expected "${check.origin}", got ${
        origin === null ? "none" : `"${origin}"`
      }`,
    );
  }
  assertWebSocketUrl(url);
  const expected = `${url.protocol}//${url.host}${resourceName(url)}`;
  const location = headers.get(`${prefix}Location`);
  if (location !== expected) {
    fail(
      "BAD_LOCATION",
      `Invalid ${prefix}Location header: expected "${expected}", got ${
        location === null ? "none" : `"${location}"`
      }`,
    );
  }
  const protocol = headers.get(`${prefix}Protocol`);
  if (check.protocol === undefined) {
    if (protocol !== null) {
      fail(
        "BAD_PROTOCOL",
        `Unexpected ${prefix}Protocol header "${protocol}": no subprotocol was asked for`,
      );
    }
  } else if (protocol !== check.protocol) {
    fail(
      "BAD_PROTOCOL",
      `Invalid ${prefix}Protocol header: expected "${check.protocol}", got ${
        protocol === null ? "none" : `"${protocol}"`
      }`,
    );
  }
}
