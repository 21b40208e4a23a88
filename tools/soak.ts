// A soak run: minutes of mixed hostile and honest traffic against serve()
// and dial(), with a line of figures every few seconds.
//
//   deno run -A tools/soak.ts --seconds 300 --seed 1
//
// Against serve() (an echo server written with the README's idiom):
// - hostile: the Python peer of the fault suite (tests/_faults/peer.py)
//   resetting sockets at random phases, batch after batch;
// - honest: dial() clients, each sending a seeded number of messages of
//   seeded sizes with `await conn.send()`, then `close(1000)`, and counting
//   the echoes that arrived before the close: every one must.
// Against dial(): a hostile server that answers the upgrade and then drops
// the socket with data unread (the kernel then sends a reset) at a random
// point; every dial() must end with a typed error or a close, never hang.
//
// Each line: elapsed seconds, descriptors, RSS, honest sessions, messages
// sent and echoes lost, resets sent, hostile-server dials and their
// outcomes, and errors that reached onError. Exit code 1 if an echo was lost
// or anything unexpected happened.

import { ConnectionClosedError, dial, DialError, serve } from "../mod.ts";
import { mulberry32 } from "../tests/_util.ts";
import { openDescriptors, runPeer } from "../tests/_faults/mod.ts";

function parseArgs(args: string[]): { seconds: number; seed: number } {
  const options = { seconds: 60, seed: 1 };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split("=", 2);
    const value = Number(inline ?? args[++i]);
    if (name === "--seconds" && value > 0) options.seconds = value;
    else if (name === "--seed" && Number.isInteger(value)) options.seed = value;
    else {
      console.error(
        "Usage: deno run -A tools/soak.ts [--seconds N] [--seed S]",
      );
      Deno.exit(2);
    }
  }
  return options;
}

const { seconds, seed } = parseArgs(Deno.args);
const random = mulberry32(seed);
const stats = {
  sessions: 0,
  sent: 0,
  lost: 0,
  resets: 0,
  hostileDials: 0,
  hostileTyped: 0,
  unexpected: [] as string[],
  onError: 0,
};

const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen() {},
  onError(error) {
    stats.onError++;
    stats.unexpected.push(`onError: ${error}`);
  },
}, async (conn) => {
  for await (const message of conn) await conn.send(message);
});
const url = `ws://127.0.0.1:${server.addr.port}/`;
const end = performance.now() + seconds * 1000;

async function honest(): Promise<void> {
  while (performance.now() < end) {
    const count = 1 + Math.floor(random() * 200);
    const sizes = Array.from(
      { length: count },
      () => [1, 64, 1024, 65536, 300_000][Math.floor(random() * 5)],
    );
    try {
      const conn = await dial(url);
      let received = 0;
      const reading = (async () => {
        for await (const _ of conn) received++;
      })();
      for (const size of sizes) await conn.send(new Uint8Array(size));
      await conn.close(1000);
      await reading;
      stats.sessions++;
      stats.sent += count;
      stats.lost += count - received;
    } catch (error) {
      stats.unexpected.push(`honest: ${error}`);
    }
  }
}

async function hostileResets(): Promise<void> {
  let batch = 0;
  while (performance.now() < end) {
    const summary = await runPeer("reset", server.addr.port, {
      count: 500,
      seed: seed * 1000 + batch++,
    });
    stats.resets += summary.count;
    for (const error of summary.errors) stats.unexpected.push(`peer: ${error}`);
  }
}

// A server that upgrades and then vanishes: dial() must end every time.
async function hostileServer(): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const socket of listener) {
      (async () => {
        const buffer = new Uint8Array(4096);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await socket.read(buffer);
          if (n === null) break;
          head += new TextDecoder().decode(buffer.subarray(0, n));
        }
        const key = /sec-websocket-key: *(.+)\r\n/i.exec(head)?.[1] ?? "";
        const digest = await crypto.subtle.digest(
          "SHA-1",
          new TextEncoder().encode(
            key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
          ),
        );
        const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
        const stage = Math.floor(random() * 3);
        if (stage > 0) {
          await socket.write(new TextEncoder().encode(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
              `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
          ));
        }
        if (stage > 1) await socket.write(new Uint8Array([0x82, 0x7e, 0x10]));
        // Let the client's messages arrive unread, then drop the socket.
        await socket.read(buffer).catch(() => null);
        socket.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  const target = `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  while (performance.now() < end) {
    stats.hostileDials++;
    try {
      const conn = await dial(target, { handshakeTimeout: 2000 });
      conn.send(new Uint8Array(100_000)).catch(() => {});
      for await (const _ of conn) { /* nothing arrives */ }
      stats.hostileTyped++;
    } catch (error) {
      if (
        error instanceof DialError || error instanceof ConnectionClosedError
      ) stats.hostileTyped++;
      else stats.unexpected.push(`hostile server: ${error}`);
    }
  }
  listener.close();
  await serving;
}

function report(): void {
  const elapsed = ((performance.now() - (end - seconds * 1000)) / 1000)
    .toFixed(0);
  const rss = (Deno.memoryUsage().rss / 2 ** 20).toFixed(0);
  console.log(
    `${elapsed.padStart(5)} s  fds ${openDescriptors()}  rss ${rss} MiB  ` +
      `sessions ${stats.sessions}  messages ${stats.sent}  lost ${stats.lost}  ` +
      `resets ${stats.resets}  hostile dials ${stats.hostileDials} ` +
      `(typed ${stats.hostileTyped})  onError ${stats.onError}`,
  );
}

const ticker = setInterval(report, 5000);
await Promise.all([
  ...Array.from({ length: 4 }, honest),
  hostileResets(),
  hostileServer(),
]);
clearInterval(ticker);
report();
await server.shutdown();
for (const line of stats.unexpected.slice(0, 20)) console.log(line);
const ok = stats.lost === 0 && stats.unexpected.length === 0;
console.log(ok ? "soak: ok" : "soak: FAILED");
Deno.exit(ok ? 0 : 1);
