/**
 * Chat rooms over topics: each room is a topic, and with `--redis` several
 * processes (on one machine or many) share the rooms through one Redis.
 *
 * ```sh
 * deno run --allow-net --allow-read examples/chat_rooms.ts [--port 8080] [--hostname 127.0.0.1] [--redis HOST:PORT]
 * # two processes, one set of rooms:
 * deno run --allow-net --allow-read examples/chat_rooms.ts --port 8081 --redis 127.0.0.1:6379
 * deno run --allow-net --allow-read examples/chat_rooms.ts --port 8082 --redis 127.0.0.1:6379
 * ```
 *
 * The page at `/` is the chat demo's, in the room `lobby`; a socket at
 * `/ws?room=NAME` joins the room `NAME`. The JSON is that of
 * `chat_server.ts`: `{type: "welcome", name, room, users}` to a newcomer
 * (`users`: those in the room on the same process), then
 * `{type: "join" | "leave", name}` and `{type: "message", name, text}` to
 * the room. It prints `Chat rooms on http://HOST:PORT/` once it listens
 * (and, with `--redis`, once Redis is reached); `--port 0` picks a free
 * port.
 *
 * @module
 */

import { type Conn, serve } from "../mod.ts";
import type { Bus } from "../fanout/bus.ts";
import { RedisBus } from "../fanout/bus_redis.ts";
import { Topics } from "../fanout/topics.ts";

const USAGE =
  "Usage: deno run --allow-net --allow-read examples/chat_rooms.ts [--port N] [--hostname H] [--redis HOST:PORT]";

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  Deno.exit(2);
}

/** Reads `--name value` and `--name=value` flags. */
function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!match) fail(`Unexpected argument ${args[i]}`);
    const value = match[2] ?? args[++i];
    if (value === undefined) fail(`Missing value for --${match[1]}`);
    if (!["port", "hostname", "redis"].includes(match[1])) {
      fail(`Unknown flag --${match[1]}`);
    }
    flags.set(match[1], value);
  }
  return flags;
}

const flags = parseFlags(Deno.args);
const port = Number(flags.get("port") ?? "8080");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`Invalid port ${flags.get("port")}`);
}

let bus: Bus | undefined;
const redis = flags.get("redis");
if (redis !== undefined) {
  const match = /^(.+):(\d+)$/.exec(redis);
  if (!match) fail(`Invalid --redis ${redis}: expected HOST:PORT`);
  const redisBus = new RedisBus({
    hostname: match[1].replace(/^\[(.*)\]$/, "$1"),
    port: Number(match[2]),
    onError: (error) => console.error(`Redis: ${error}`),
  });
  await redisBus.ready;
  bus = redisBus;
}

const page = await (await fetch(new URL("./chat.html", import.meta.url)))
  .text();
const topics = new Topics({
  bus,
  // A client whose unsent messages pile up past this is too slow.
  maxBufferedBytes: 1024 * 1024,
  slowPolicy: "close",
  onGap: ({ topic }) => console.error(`Messages to ${topic} may be lost`),
});
// Names carry a tag per process, so that two processes never clash.
const tag = crypto.randomUUID().slice(0, 4);
const names = new Map<Conn, string>();
let guests = 0;

function roomOf(conn: Conn): string {
  const room = new URL(conn.url).searchParams.get("room") ?? "lobby";
  return /^[\w-]{1,64}$/.test(room) ? room : "lobby";
}

function broadcast(room: string, event: Record<string, unknown>): void {
  topics.publish(`room:${room}`, JSON.stringify(event));
}

async function chat(conn: Conn): Promise<void> {
  const room = roomOf(conn);
  const name = `${tag}-guest-${++guests}`;
  const here = [...topics.subscribers(`room:${room}`)].map((c) => names.get(c));
  // Subscribed (Redis confirmed it) before the welcome: from then on the
  // newcomer hears every message of the room.
  await topics.subscribe(conn, `room:${room}`);
  names.set(conn, name);
  await conn.send(
    JSON.stringify({ type: "welcome", name, room, users: here }),
  );
  broadcast(room, { type: "join", name });
  try {
    for await (const message of conn) {
      if (typeof message !== "string") continue;
      const text = message.trim();
      if (text) broadcast(room, { type: "message", name, text });
    }
  } catch {
    // The peer left abruptly; it still leaves the room below.
  } finally {
    names.delete(conn);
    broadcast(room, { type: "leave", name });
  }
}

serve({
  port,
  hostname: flags.get("hostname") ?? "127.0.0.1",
  maxMessageSize: 16 * 1024,
  checkOrigin: "same-origin",
  beforeUpgrade: (request) =>
    new URL(request.url).pathname === "/ws"
      ? undefined
      : new Response("Not Found\n", { status: 404 }),
  fallback: (request) =>
    new URL(request.url).pathname === "/"
      ? new Response(page, {
        headers: { "Content-Type": "text/html; charset=utf-8" },
      })
      : new Response("Not Found\n", { status: 404 }),
  onListen: ({ hostname, port }) => {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(`Chat rooms on http://${host}:${port}/`);
  },
}, chat);
