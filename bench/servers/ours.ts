// The library's server under test: an echo server on `serve()`, plus the
// broadcast endpoints (a message on /broadcast-source goes to every
// connection on /broadcast-sink). Prints {"port": n} once listening; exits
// when stdin ends.
//
//   deno run -A bench/servers/ours.ts [--await] [--nodelay]
//
// --await   echoes with `await conn.send(message)` (the documented idiom)
//           instead of waiting only when over a megabyte is buffered.
// --nodelay accepts on its own listener, sets TCP_NODELAY on each socket
//           and hands it to `upgrade()`, instead of `serve()`.

import { type Conn, PreparedMessage, serve, upgrade } from "../../mod.ts";
import { exitOnStdinEnd } from "../_wire.ts";

const awaitEach = Deno.args.includes("--await");
const noDelay = Deno.args.includes("--nodelay");
const HIGH_WATER = 1024 * 1024;
const sinks = new Set<Conn>();
const ignore = () => {};

async function echo(conn: Conn): Promise<void> {
  if (awaitEach) {
    for await (const message of conn) await conn.send(message);
    return;
  }
  for await (const message of conn) {
    const sent = conn.send(message);
    if (conn.bufferedAmount > HIGH_WATER) await sent;
    else sent.catch(ignore);
  }
}

async function sink(conn: Conn): Promise<void> {
  sinks.add(conn);
  try {
    for await (const _ of conn) {
      // Sinks only listen.
    }
  } finally {
    sinks.delete(conn);
  }
}

// Each message is encoded once and the same frame written to every sink.
async function source(conn: Conn): Promise<void> {
  for await (const message of conn) {
    const prepared = new PreparedMessage(message);
    for (const peer of sinks) peer.send(prepared).catch(ignore);
  }
}

function route(conn: Conn): Promise<void> {
  const path = new URL(conn.url).pathname;
  if (path === "/broadcast-sink") return sink(conn);
  if (path === "/broadcast-source") return source(conn);
  return echo(conn);
}

if (noDelay) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port }));
  (async () => {
    for await (const socket of listener) {
      socket.setNoDelay(true);
      upgrade(socket).then(async (conn) => {
        try {
          await route(conn);
          await conn.close();
        } catch {
          conn.abort();
        }
      }, ignore);
    }
  })();
} else {
  serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: (addr) => console.log(JSON.stringify({ port: addr.port })),
    onError: ignore,
  }, route);
}

exitOnStdinEnd();
