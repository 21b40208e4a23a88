// The server's side of the RFC 6455 opening handshake (section 4.2), sans
// I/O: the checks it makes of a client's upgrade request, each failure with
// its exact HTTP status, and the 101 response it answers with.

import { HandshakeError } from "../errors.ts";
import { TOKEN } from "../_util/http_syntax.ts";
import {
  badRequest,
  encodeLatin1,
  fieldsOf,
  hasToken,
  type HeaderSource,
  headerTokens,
  headLines,
  PLAIN_VALUE,
  type RequestHead,
} from "./_head.ts";
import { acceptFor, isValidClientKey } from "./_key.ts";

/** What a valid upgrade request asks for. */
export interface UpgradeRequestInfo {
  /** The `Sec-WebSocket-Key`. */
  key: string;
  /** The `Sec-WebSocket-Version` asked for. */
  version: number;
  /** The subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** The `Sec-WebSocket-Extensions` offer, or null. */
  extensions: string | null;
  /** The `Origin`, or null. */
  origin: string | null;
}

/** Options of {@linkcode validateUpgradeRequest}. */
export interface ValidateRequestOptions {
  /**
   * The `Sec-WebSocket-Version` values accepted. RFC 6455 is 13; 8 and 7 are
   * the hybi drafts of 2011 that frame the same way.
   * @default {[13]}
   */
  versions?: readonly number[];
}

/**
 * Whether a request asks to upgrade to WebSocket at all (its `Upgrade`
 * header lists `websocket`). Others go to a server's HTTP fallback.
 *
 * @param headers The request's headers.
 * @returns Whether it is a WebSocket upgrade attempt.
 *
 * @example Telling upgrades from page loads
 * ```ts
 * import { isUpgradeRequest } from "@seed/websocket/handshake";
 *
 * console.log(isUpgradeRequest(new Headers({ Upgrade: "WebSocket" }))); // true
 * console.log(isUpgradeRequest(new Headers())); // false
 * ```
 */
export function isUpgradeRequest(headers: HeaderSource): boolean {
  return hasToken(headers, "upgrade", "websocket");
}

// The checks every upgrade request passes, RFC 6455 or a legacy draft.

/** Throws `BAD_METHOD` (HTTP 405, `Allow: GET`) unless the method is GET. */
export function requireGet(request: Pick<RequestHead, "method">): void {
  if (request.method !== "GET") {
    throw new HandshakeError(
      "BAD_METHOD",
      `Invalid upgrade request: method ${request.method} is not GET`,
      { status: 405, headers: { Allow: "GET" } },
    );
  }
}

/** Throws `BAD_UPGRADE` (HTTP 400) unless `Connection` lists upgrade. */
export function requireConnectionUpgrade(headers: HeaderSource): void {
  if (!hasToken(headers, "connection", "upgrade")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade request: Connection header does not list upgrade",
      { status: 400 },
    );
  }
}

/**
 * Checks an upgrade request as RFC 6455 section 4.2.1 requires, in a fixed
 * order, each failure a {@linkcode HandshakeError} with its exact HTTP
 * status: method GET (405, `Allow: GET`), HTTP/1.1 or later (400), a `Host`
 * (400), `Upgrade: websocket` and `Connection: upgrade` (400), a supported
 * `Sec-WebSocket-Version` (400 with the supported versions in
 * `Sec-WebSocket-Version`), a key of 16 base64 bytes (400). The origin is
 * the server's business, not checked here.
 *
 * @param request The parsed request head.
 * @param options The versions accepted.
 * @returns The key, version, offered subprotocols, extensions and origin.
 *
 * @example Rejecting a POST
 * ```ts
 * import { validateUpgradeRequest } from "@seed/websocket/handshake";
 *
 * try {
 *   validateUpgradeRequest({ method: "POST", target: "/", version: "1.1", headers: new Headers() });
 * } catch (error) {
 *   console.log((error as { status: number }).status); // 405
 * }
 * ```
 */
export function validateUpgradeRequest(
  request: RequestHead,
  options: ValidateRequestOptions = {},
): UpgradeRequestInfo {
  // The server's own heads are read without making their Headers.
  const headers = fieldsOf(request);
  requireGet(request);
  if (request.version !== "1.1") requireHttp11(request.version);
  const host = headers.get("host");
  if (host === null || host === "" || host.includes(",")) {
    throw new HandshakeError(
      "BAD_HOST",
      "Invalid upgrade request: missing or repeated Host header",
      { status: 400 },
    );
  }
  if (!hasToken(headers, "upgrade", "websocket")) {
    throw new HandshakeError(
      "BAD_UPGRADE",
      "Invalid upgrade request: Upgrade header does not list websocket",
      { status: 400 },
    );
  }
  requireConnectionUpgrade(headers);
  const versions = options.versions ?? [13];
  const versionText = headers.get("sec-websocket-version");
  const version = versionText !== null && /^\d{1,3}$/.test(versionText)
    ? Number(versionText)
    : NaN;
  if (!versions.includes(version)) {
    throw new HandshakeError(
      "BAD_VERSION",
      `Invalid upgrade request: unsupported Sec-WebSocket-Version ${
        JSON.stringify(versionText)
      }`,
      {
        status: 400,
        headers: { "Sec-WebSocket-Version": versions.join(", ") },
      },
    );
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !isValidClientKey(key)) {
    throw new HandshakeError(
      "BAD_KEY",
      "Invalid upgrade request: Sec-WebSocket-Key is not base64 of 16 bytes",
      { status: 400 },
    );
  }
  const protocols = headerTokens(headers, "sec-websocket-protocol");
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw badRequest(
        `Invalid upgrade request: subprotocol ${
          JSON.stringify(protocol)
        } is not a token`,
      );
    }
  }
  return {
    key,
    version,
    protocols,
    extensions: headers.get("sec-websocket-extensions"),
    origin: headers.get("origin"),
  };
}

// Throws `BAD_HTTP_VERSION` (HTTP 400) for a version older than 1.1.
function requireHttp11(version: string): void {
  const [major, minor] = version.split(".").map(Number);
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new HandshakeError(
      "BAD_HTTP_VERSION",
      `Invalid upgrade request: HTTP/${version} is older than 1.1`,
      { status: 400 },
    );
  }
}

/** What {@linkcode buildUpgradeResponse} puts in the 101 response. */
export interface UpgradeResponseInit {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The subprotocol selected, if any. */
  protocol?: string;
  /** The negotiated `Sec-WebSocket-Extensions` value, if any. */
  extensions?: string;
  /** More headers (e.g. `Set-Cookie`). */
  headers?: HeadersInit;
}

/**
 * Builds the `101 Switching Protocols` response head for an upgrade.
 *
 * @param init The key, the selected subprotocol and extensions, more headers.
 * @returns The response head's bytes.
 *
 * @example The RFC 6455 section 1.3 response
 * ```ts
 * import { buildUpgradeResponse } from "@seed/websocket/handshake";
 *
 * const bytes = await buildUpgradeResponse({ key: "dGhlIHNhbXBsZSBub25jZQ==", protocol: "chat" });
 * console.log(new TextDecoder().decode(bytes).includes("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")); // true
 * ```
 */
export function buildUpgradeResponse(
  init: UpgradeResponseInit,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return Promise.resolve(encodeLatin1(upgradeResponseText(init)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The text of {@linkcode buildUpgradeResponse}'s head, synchronously. */
export function upgradeResponseText(init: UpgradeResponseInit): string {
  if (
    init.headers === undefined &&
    (init.protocol === undefined || PLAIN_VALUE.test(init.protocol)) &&
    (!init.extensions || PLAIN_VALUE.test(init.extensions))
  ) {
    // The usual response, written directly: the same bytes as through
    // Headers (lower-case names, sorted), without its validation and sort.
    const accept = acceptFor(init.key);
    let text = "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\n" +
      `sec-websocket-accept: ${accept}\r\n`;
    if (init.extensions) {
      text += `sec-websocket-extensions: ${init.extensions}\r\n`;
    }
    if (init.protocol !== undefined) {
      text += `sec-websocket-protocol: ${init.protocol}\r\n`;
    }
    return text + "upgrade: websocket\r\n\r\n";
  }
  const headers = new Headers(init.headers);
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Accept", acceptFor(init.key));
  if (init.protocol !== undefined) {
    headers.set("Sec-WebSocket-Protocol", init.protocol);
  }
  if (init.extensions) headers.set("Sec-WebSocket-Extensions", init.extensions);
  return headLines("HTTP/1.1 101 Switching Protocols", headers);
}

/**
 * Picks a subprotocol: the first of the server's, in its order of
 * preference, that the client offered.
 *
 * @param offered The client's offer.
 * @param supported The server's subprotocols, most preferred first.
 * @returns The selection, or undefined for none.
 *
 * @example Server preference wins
 * ```ts
 * import { selectProtocol } from "@seed/websocket/handshake";
 *
 * console.log(selectProtocol(["chat.v1", "chat.v2"], ["chat.v2", "chat.v1"])); // chat.v2
 * ```
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string | undefined {
  return supported.find((protocol) => offered.includes(protocol));
}
