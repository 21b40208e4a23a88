// A lean echo server on raw `Deno.listen`, for measuring clients: it does
// the upgrade by hand and, per read, unmasks every whole frame in place and
// echoes them all in one write. It checks nothing a benchmark does not
// need. Prints {"port": n} once listening; exits when stdin ends.
//
//   deno run -A bench/servers/raw.ts

import {
  frameHeaderSize,
  payloadLength,
  serveBare,
  writeAll,
} from "../_wire.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

async function accept(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

async function handle(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  let buffer = new Uint8Array(256 * 1024);
  let filled = 0;
  // The request head.
  let end = -1;
  while (end < 0) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return;
    filled += n;
    const text = new TextDecoder().decode(buffer.subarray(0, filled));
    const at = text.indexOf("\r\n\r\n");
    if (at >= 0) end = at + 4;
  }
  const head = new TextDecoder().decode(buffer.subarray(0, end));
  const key = head.match(/^sec-websocket-key:\s*(\S+)/im)?.[1] ?? "";
  await writeAll(
    conn,
    new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await accept(
          key,
        )}\r\n\r\n`,
    ),
  );
  buffer.copyWithin(0, end, filled);
  filled -= end;
  let out = new Uint8Array(buffer.length);
  while (true) {
    // Echo every whole frame buffered: unmask in place, drop the key.
    let i = 0;
    let o = 0;
    let closing = false;
    while (filled - i >= 2) {
      const first = buffer[i];
      const headerSize = frameHeaderSize(buffer[i + 1]);
      if (filled - i < headerSize) break;
      const length = payloadLength(buffer, i);
      // The length's own bytes, between the first two and the masking key.
      const lengthBytes = headerSize - 6;
      if (filled - i < headerSize + length) {
        if (headerSize + length > buffer.length) {
          const bigger = new Uint8Array(headerSize + length);
          bigger.set(buffer.subarray(0, filled));
          buffer = bigger;
        }
        break;
      }
      const k = i + headerSize - 4;
      const p = i + headerSize;
      if (out.length < o + 10 + length) {
        const bigger = new Uint8Array(
          Math.max(out.length * 2, o + 10 + length),
        );
        bigger.set(out.subarray(0, o));
        out = bigger;
      }
      out[o] = first;
      if (lengthBytes === 0) {
        out[o + 1] = length;
        o += 2;
      } else if (lengthBytes === 2) {
        out[o + 1] = 126;
        out[o + 2] = length >>> 8;
        out[o + 3] = length & 0xff;
        o += 4;
      } else {
        out[o + 1] = 127;
        out.fill(0, o + 2, o + 6);
        new DataView(out.buffer).setUint32(o + 6, length);
        o += 10;
      }
      const k0 = buffer[k], k1 = buffer[k + 1];
      const k2 = buffer[k + 2], k3 = buffer[k + 3];
      let j = 0;
      for (; j + 3 < length; j += 4) {
        out[o + j] = buffer[p + j] ^ k0;
        out[o + j + 1] = buffer[p + j + 1] ^ k1;
        out[o + j + 2] = buffer[p + j + 2] ^ k2;
        out[o + j + 3] = buffer[p + j + 3] ^ k3;
      }
      for (; j < length; j++) out[o + j] = buffer[p + j] ^ buffer[k + (j & 3)];
      o += length;
      i += headerSize + length;
      if ((first & 0x0f) === 0x8) {
        closing = true;
        break;
      }
    }
    if (o > 0) await writeAll(conn, out.subarray(0, o));
    if (closing) return;
    buffer.copyWithin(0, i, filled);
    filled -= i;
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return;
    filled += n;
  }
}

await serveBare(handle);
