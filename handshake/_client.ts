// The client's side of the RFC 6455 opening handshake (section 4.1), sans
// I/O: the upgrade request it writes and the checks it makes of the
// server's response.

import { HandshakeError, type HandshakeErrorCode } from "../errors.ts";
import { TOKEN } from "../_util/http_syntax.ts";
import {
  encodeLatin1,
  fieldsOf,
  hasToken,
  headLines,
  PLAIN_VALUE,
  type ResponseHead,
} from "./_head.ts";
import { acceptFor } from "./_key.ts";

/** What {@linkcode buildUpgradeRequest} puts in the request. */
export interface UpgradeRequestInit {
  /** The `ws:` or `wss:` URL. */
  url: URL;
  /** The `Sec-WebSocket-Key` (see {@linkcode createClientKey}). */
  key: string;
  /** The subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** The `Origin` to send, if any. */
  origin?: string;
  /** The `Sec-WebSocket-Extensions` offer, if any. */
  extensions?: string;
  /** More headers (e.g. `Authorization`). */
  headers?: HeadersInit;
}

/**
 * The `Host` header value for a URL: the default port is left out.
 *
 * @param url A `ws:`, `wss:`, `http:` or `https:` URL.
 * @returns The host, with a port when not the scheme's default.
 *
 * @example Default ports
 * ```ts
 * import { hostHeader } from "@seed/websocket/handshake";
 *
 * console.log(hostHeader(new URL("wss://example.com:443/x"))); // example.com
 * console.log(hostHeader(new URL("ws://example.com:8080/x"))); // example.com:8080
 * ```
 */
export function hostHeader(url: URL): string {
  // URL already drops a port that is the scheme's default.
  return url.host;
}

/**
 * Builds a client's upgrade request head.
 *
 * @param init The URL, key, subprotocols, origin, extensions, more headers.
 * @returns The request head's bytes.
 *
 * @example A request offering two subprotocols
 * ```ts
 * import { buildUpgradeRequest, createClientKey } from "@seed/websocket/handshake";
 *
 * const bytes = buildUpgradeRequest({
 *   url: new URL("ws://example.com/chat"),
 *   key: createClientKey(),
 *   protocols: ["chat.v2", "chat.v1"],
 * });
 * console.log(new TextDecoder().decode(bytes).split("\r\n")[0]); // GET /chat HTTP/1.1
 * ```
 */
export function buildUpgradeRequest(
  init: UpgradeRequestInit,
): Uint8Array<ArrayBuffer> {
  return encodeLatin1(upgradeRequestText(init));
}

/** The text of {@linkcode buildUpgradeRequest}'s head. */
export function upgradeRequestText(init: UpgradeRequestInit): string {
  const protocols = init.protocols ?? [];
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw new TypeError(
        `Invalid subprotocol ${JSON.stringify(protocol)}: not a token`,
      );
    }
  }
  const target = (init.url.pathname || "/") + init.url.search;
  const { origin, extensions, key } = init;
  if (
    init.headers === undefined && PLAIN_VALUE.test(key) &&
    (origin === undefined || PLAIN_VALUE.test(origin)) &&
    (!extensions || PLAIN_VALUE.test(extensions))
  ) {
    // The usual request, written directly: the same bytes as through
    // Headers (lower-case names, sorted), without its validation and sort.
    let text = `GET ${target} HTTP/1.1\r\nconnection: Upgrade\r\n` +
      `host: ${hostHeader(init.url)}\r\n`;
    if (origin !== undefined) text += `origin: ${origin}\r\n`;
    if (extensions) text += `sec-websocket-extensions: ${extensions}\r\n`;
    text += `sec-websocket-key: ${key}\r\n`;
    if (protocols.length > 0) {
      text += `sec-websocket-protocol: ${protocols.join(", ")}\r\n`;
    }
    return text + "sec-websocket-version: 13\r\nupgrade: websocket\r\n\r\n";
  }
  const headers = new Headers(init.headers);
  headers.set("Host", hostHeader(init.url));
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Key", key);
  headers.set("Sec-WebSocket-Version", "13");
  if (protocols.length > 0) {
    headers.set("Sec-WebSocket-Protocol", protocols.join(", "));
  }
  if (origin !== undefined) headers.set("Origin", origin);
  if (extensions) headers.set("Sec-WebSocket-Extensions", extensions);
  return headLines(`GET ${target} HTTP/1.1`, headers);
}

/** What the client offered, to check the server's response against. */
export interface ValidateResponseOptions {
  /** The key the client sent. */
  key: string;
  /** The subprotocols the client offered. */
  protocols?: readonly string[];
  /** Whether the client offered any extension. */
  extensionsOffered?: boolean;
}

/** What a valid 101 response agreed to. */
export interface UpgradeResponseInfo {
  /** The subprotocol the server selected ("" for none). */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` value ("" for none). */
  extensions: string;
}

/**
 * Checks a server's response as RFC 6455 section 4.1 requires: status 101
 * (`BAD_STATUS`, keeping the response), `Upgrade: websocket` and
 * `Connection: upgrade` (`BAD_UPGRADE`), the accept value (`BAD_ACCEPT`), a
 * subprotocol that was offered (`BAD_PROTOCOL`), no extension that was not
 * (`BAD_EXTENSION`).
 *
 * @param response The parsed response head.
 * @param options What the client sent.
 * @returns The agreed subprotocol and extensions.
 *
 * @example Failing on a 403
 * ```ts
 * import { validateUpgradeResponse } from "@seed/websocket/handshake";
 *
 * try {
 *   await validateUpgradeResponse(
 *     { version: "1.1", status: 403, statusText: "Forbidden", headers: new Headers() },
 *     { key: "dGhlIHNhbXBsZSBub25jZQ==" },
 *   );
 * } catch (error) {
 *   console.log((error as { code: string }).code); // BAD_STATUS
 * }
 * ```
 */
export function validateUpgradeResponse(
  response: ResponseHead,
  options: ValidateResponseOptions,
): Promise<UpgradeResponseInfo> {
  try {
    return Promise.resolve(checkUpgradeResponse(response, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * {@linkcode validateUpgradeResponse}, synchronously. The client's own
 * parsed heads are read without making their `Headers` (made only for the
 * error, which keeps the response).
 */
export function checkUpgradeResponse(
  response: ResponseHead,
  options: ValidateResponseOptions,
): UpgradeResponseInfo {
  const headers = fieldsOf(response);
  const fail = (code: HandshakeErrorCode, message: string): never => {
    // The error keeps the response, for the caller to look at.
    throw new HandshakeError(code, message, {
      response: {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      },
    });
  };
  if (response.status !== 101) {
    fail(
      "BAD_STATUS",
      `Unexpected HTTP status ${response.status} ${response.statusText}`.trim(),
    );
  }
  if (!hasToken(headers, "upgrade", "websocket")) {
    fail(
      "BAD_UPGRADE",
      "Invalid upgrade response: Upgrade header is not websocket",
    );
  }
  if (!hasToken(headers, "connection", "upgrade")) {
    fail(
      "BAD_UPGRADE",
      "Invalid upgrade response: Connection header does not list upgrade",
    );
  }
  const accept = headers.get("sec-websocket-accept");
  if (accept !== acceptFor(options.key)) {
    fail(
      "BAD_ACCEPT",
      "Invalid upgrade response: Sec-WebSocket-Accept does not match the key",
    );
  }
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !(options.protocols ?? []).includes(protocol)) {
    fail(
      "BAD_PROTOCOL",
      `Invalid upgrade response: subprotocol ${
        JSON.stringify(protocol)
      } was not offered`,
    );
  }
  const extensions = headers.get("sec-websocket-extensions") ?? "";
  if (extensions !== "" && !options.extensionsOffered) {
    fail(
      "BAD_EXTENSION",
      `Invalid upgrade response: extension ${
        JSON.stringify(extensions)
      } was not offered`,
    );
  }
  return { protocol, extensions };
}
