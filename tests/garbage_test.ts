// serve() against connections that send garbage instead of an upgrade
// request and then wait, as a scanner or a client speaking the wrong
// protocol does: each must get `HTTP/1.1 400` and the end of the connection
// at once, not after the handshake timeout. The garbage is seeded: random
// bytes, and valid heads cut at every phase (mid request line, mid header
// line, after the header lines) followed by a byte that fits nowhere.

import assert from "node:assert/strict";
import { dial, serve } from "../mod.ts";
import { mulberry32 } from "./_util.ts";

const CONNECTIONS = 1000;
const CONCURRENCY = 50;
// The default handshake timeout, which no answer may wait for.
const HANDSHAKE_TIMEOUT_MS = 10_000;
// How long one connection may wait for its answer: a generous bound, half
// the handshake timeout, only there to end a run that gets no answer.
const ANSWER_BOUND_MS = 5_000;

const encoder = new TextEncoder();

const TOKEN_BYTES = new Set(
  encoder.encode(
    "!#$%&'*+-.^_`|~0123456789" +
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  ),
);
// Bytes that fit nowhere in a head: the controls but HTAB, CR and LF; DEL.
const NOWHERE = [
  ...Array.from({ length: 32 }, (_, b) => b).filter((b) =>
    b !== 9 && b !== 10 && b !== 13
  ),
  0x7f,
];

// A valid upgrade request cut at each phase.
const HEAD = "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: 127.0.0.1\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n";
const PREFIXES = [
  "G", // method
  "GET ", // before the target
  "GET /chat?ro", // target
  "GET /chat?room=1 ", // before the version
  "GET /chat?room=1 HTTP/", // version
  "GET /chat?room=1 HTTP/1.1", // before the CR
  "GET /chat?room=1 HTTP/1.1\r", // before the LF
  "GET /chat?room=1 HTTP/1.1\r\n", // before the first header line
  "GET /chat?room=1 HTTP/1.1\r\nHo", // header name
  "GET /chat?room=1 HTTP/1.1\r\nHost:", // after the colon
  "GET /chat?room=1 HTTP/1.1\r\nHost: 127.0", // header value
  "GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1\r", // before the LF
  HEAD.slice(0, HEAD.indexOf("Sec-WebSocket-Key") + 20), // a later value
  HEAD, // after the header lines, instead of the blank line
  "\r\n", // an empty line before the request line
];

interface Case {
  /** What was sent, in the writes it was sent in. */
  writes: Uint8Array[];
  label: string;
}

function makeCase(seed: number): Case {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  if (seed % 3 !== 0) {
    // Random bytes whose first byte cannot begin a request line (nor an
    // empty line before it): never a valid prefix.
    const garbage = bytes(1 + int(512));
    while (TOKEN_BYTES.has(garbage[0]) || garbage[0] === 13) {
      garbage[0] = int(256);
    }
    return { writes: [garbage], label: `random ${garbage.length} bytes` };
  }
  const prefix = PREFIXES[int(PREFIXES.length)];
  // After the CR of a line, anything but LF is bad; elsewhere a byte that
  // fits nowhere, a bare LF, or (at a header line's start) a fold.
  const choices = prefix.endsWith("\r")
    ? [...NOWHERE, 0x20, 0x41, 0x0d]
    : prefix.endsWith("\r\n") && prefix !== "\r\n"
    ? [...NOWHERE, 0x0a, 0x20, 0x09]
    : [...NOWHERE, 0x0a];
  const bad = choices[int(choices.length)];
  const tail = bytes(int(64));
  const garbage = Uint8Array.of(bad, ...tail);
  return {
    writes: [encoder.encode(prefix), garbage],
    label: `${JSON.stringify(prefix)} then 0x${
      bad.toString(16)
    } and ${tail.length} more bytes`,
  };
}

// Sends the garbage, keeps the connection open and reads the answer to its
// end (EOF or a reset); undefined when it took longer than the bound.
async function exchange(
  port: number,
  writes: Uint8Array[],
): Promise<string | undefined> {
  const socket = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  const timer = setTimeout(() => {
    closed = true;
    socket.close();
  }, ANSWER_BOUND_MS);
  const received: number[] = [];
  try {
    try {
      for (const bytes of writes) {
        for (let at = 0; at < bytes.length;) {
          at += await socket.write(bytes.subarray(at));
        }
      }
    } catch {
      // The server may answer and close before it has read it all.
    }
    const buffer = new Uint8Array(4096);
    while (true) {
      let n: number | null;
      try {
        n = await socket.read(buffer);
      } catch {
        n = null; // a reset ends it too, or the bound closed the socket
      }
      if (n === null) break;
      received.push(...buffer.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    if (!closed) socket.close();
  }
  return closed ? undefined : String.fromCharCode(...received);
}

Deno.test("serve() answers 1000 garbage handshakes with 400 at once and still serves an honest client", async () => {
  const errors: unknown[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: (error) => errors.push(error),
  }, async (conn) => {
    for await (const message of conn) await conn.send(message);
  });
  const port = server.addr.port;
  const failures: string[] = [];
  let next = 0;
  const started = performance.now();
  try {
    // A bounded number at a time; after a failure, no new connections.
    const worker = async () => {
      while (next < CONNECTIONS && failures.length === 0) {
        const seed = next++;
        const { writes, label } = makeCase(seed);
        const answer = await exchange(port, writes);
        if (answer === undefined) {
          failures.push(
            `seed ${seed} (${label}): no answer in ${ANSWER_BOUND_MS} ms`,
          );
        } else if (!answer.startsWith("HTTP/1.1 400 ")) {
          failures.push(
            `seed ${seed} (${label}): answered ${
              JSON.stringify(answer.slice(0, 40))
            }`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = performance.now() - started;
    assert.deepEqual(failures, []);
    assert.equal(next, CONNECTIONS);
    assert.ok(
      elapsed < HANDSHAKE_TIMEOUT_MS,
      `${CONNECTIONS} garbage handshakes took ${Math.round(elapsed)} ms`,
    );

    const conn = await dial(`ws://127.0.0.1:${port}/honest`);
    const reader = conn.readable.getReader();
    await conn.send("still here");
    assert.deepEqual(await reader.read(), { value: "still here", done: false });
    reader.releaseLock();
    assert.equal((await conn.close()).wasClean, true);
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(errors, []);
});
