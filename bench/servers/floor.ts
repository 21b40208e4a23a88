// The floor under any WebSocket server on `Deno.listen`: what an idle
// connection costs the runtime itself. Each socket is accepted, its upgrade
// answered with a 101 written by hand, and from then on it holds one pending
// `conn.read()` into a small buffer of its own, echoing whole frames (the
// idle scenarios send one message each) and nothing more: no parser state,
// no timers, no promise but the read's. Prints {"port": n} once listening;
// exits when stdin ends.
//
//   deno run -A bench/servers/floor.ts

import {
  frameHeaderSize,
  payloadLength,
  serveBare,
  writeAll,
} from "../_wire.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Enough for the idle scenarios' one small frame; a larger frame grows the
// buffer while it is read.
const READ_SIZE = 64;

// Reads the request head and answers 101; resolves with the bytes that
// followed the head, or null if the peer left. A function of its own, so
// that the head's buffer is not held while the connection idles.
async function upgrade(conn: Deno.TcpConn): Promise<Uint8Array | null> {
  const head = new Uint8Array(2048);
  let filled = 0;
  let end = -1;
  while (end < 0) {
    if (filled === head.length) return null;
    const n = await conn.read(head.subarray(filled));
    if (n === null) return null;
    filled += n;
    const at = new TextDecoder().decode(head.subarray(0, filled))
      .indexOf("\r\n\r\n");
    if (at >= 0) end = at + 4;
  }
  const text = new TextDecoder().decode(head.subarray(0, end));
  const key = text.match(/^sec-websocket-key:\s*(\S+)/im)?.[1] ?? "";
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + GUID),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  await writeAll(
    conn,
    new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ),
  );
  return head.slice(end, filled);
}

// The whole masked frames in buffer[0..filled), unmasked into one reply.
function echo(buffer: Uint8Array, filled: number) {
  const replies: number[] = [];
  let i = 0;
  let close = false;
  while (!close && filled - i >= 2) {
    const headerSize = frameHeaderSize(buffer[i + 1]);
    if (filled - i < headerSize) break;
    const length = payloadLength(buffer, i);
    if (filled - i < headerSize + length) break;
    // The length's own bytes, between the first two and the masking key.
    const extra = headerSize - 6;
    replies.push(buffer[i]);
    if (extra === 0) replies.push(length);
    else if (extra === 2) replies.push(126, length >>> 8, length & 0xff);
    else replies.push(127, 0, 0, 0, 0, ...buffer.subarray(i + 6, i + 10));
    const key = i + headerSize - 4;
    for (let j = 0; j < length; j++) {
      replies.push(buffer[i + headerSize + j] ^ buffer[key + (j & 3)]);
    }
    close = (buffer[i] & 0x0f) === 0x8;
    i += headerSize + length;
  }
  return { consumed: i, reply: new Uint8Array(replies), close };
}

async function handle(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const rest = await upgrade(conn);
  if (rest === null) return;
  let buffer = new Uint8Array(Math.max(READ_SIZE, rest.length));
  buffer.set(rest);
  let filled = rest.length;
  while (true) {
    const { consumed, reply, close } = echo(buffer, filled);
    if (reply.length > 0) await writeAll(conn, reply);
    if (close) return;
    buffer.copyWithin(0, consumed, filled);
    filled -= consumed;
    if (filled === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    } else if (filled < READ_SIZE && buffer.length > READ_SIZE) {
      // Back to the small buffer once a large frame is gone.
      buffer = buffer.slice(0, READ_SIZE);
    }
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return;
    filled += n;
  }
}

await serveBare(handle);
