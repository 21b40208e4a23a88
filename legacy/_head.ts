// Writing and reading the heads of the legacy drafts: both sides build a
// head from a start line and fields, and name the resource of a URL.

const encoder = new TextEncoder();

/** Throws `TypeError` for a value that would break the HTTP head. */
function assertFieldValue(name: string, value: string): void {
  if (/[\0\r\n]/.test(value)) {
    throw new TypeError(
      `Cannot build the handshake: the ${name} value contains a control character`,
    );
  }
}

/** Joins a status line and fields into a head that ends with CRLF CRLF. */
export function head(
  start: string,
  fields: [string, string][],
): Uint8Array<ArrayBuffer> {
  let text = `${start}\r\n`;
  for (const [name, value] of fields) {
    assertFieldValue(name, value);
    text += `${name}: ${value}\r\n`;
  }
  return encoder.encode(`${text}\r\n`);
}

/** The resource name of a URL: its path and query. */
export function resourceName(url: URL): string {
  return `${url.pathname || "/"}${url.search}`;
}

/** Throws `TypeError` unless the URL is `ws:` or `wss:`. */
export function assertWebSocketUrl(url: URL): void {
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(
      `Cannot build the handshake: the URL scheme must be ws: or wss:, got ${url.protocol}`,
    );
  }
}
