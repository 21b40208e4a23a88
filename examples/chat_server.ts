/**
 * A chat room on one port: the page at `/`, its WebSocket endpoint at
 * `/ws`. Every message goes to everyone connected, with notices when
 * someone joins or leaves. Open the page in two tabs and talk.
 *
 * ```sh
 * deno task start            # http://127.0.0.1:8080/
 * deno run --allow-net --allow-read examples/chat_server.ts --port 8000 --hostname 0.0.0.0
 * ```
 *
 * The server speaks JSON: it sends `{type: "welcome", name, users}` to a
 * newcomer, then `{type: "join" | "leave", name}` and
 * `{type: "message", name, text}` to everyone. Clients send plain text.
 *
 * @module
 */

import { type Conn, serve } from "../mod.ts";

const USAGE =
  "Usage: deno run --allow-net --allow-read examples/chat_server.ts [--port N] [--hostname H]";

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
    if (match[1] !== "port" && match[1] !== "hostname") {
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

// The page sits beside this module; fetch() reads it from disk or from a URL.
const page = await (await fetch(new URL("./chat.html", import.meta.url)))
  .text();

// A client whose unsent messages pile up past this is too slow to keep up.
const MAX_BACKLOG = 1024 * 1024;
const peers = new Map<Conn, string>();
let guests = 0;

/** Sends one message to every peer without waiting for any of them. */
function broadcast(event: Record<string, unknown>): void {
  const data = JSON.stringify(event);
  for (const peer of peers.keys()) {
    if (peer.bufferedAmount > MAX_BACKLOG) {
      peer.close(1008, "Too slow to keep up").catch(() => {});
      continue;
    }
    // A peer that went away is removed by its own handler.
    peer.send(data).catch(() => {});
  }
}

async function chat(conn: Conn): Promise<void> {
  const name = `guest-${++guests}`;
  await conn.send(
    JSON.stringify({ type: "welcome", name, users: [...peers.values()] }),
  );
  peers.set(conn, name);
  broadcast({ type: "join", name });
  try {
    for await (const message of conn) {
      if (typeof message !== "string") continue;
      const text = message.trim();
      if (text) broadcast({ type: "message", name, text });
    }
  } catch {
    // The peer left abruptly; it still leaves the room below.
  } finally {
    peers.delete(conn);
    broadcast({ type: "leave", name });
  }
}

serve({
  port,
  hostname: flags.get("hostname") ?? "127.0.0.1",
  maxMessageSize: 16 * 1024,
  // Only the page's own origin may connect (the default, said out loud).
  checkOrigin: "same-origin",
  // Upgrades go to /ws only.
  beforeUpgrade: (request) =>
    new URL(request.url).pathname === "/ws"
      ? undefined
      : new Response("Not Found\n", { status: 404 }),
  // Plain HTTP requests get the page.
  fallback: (request) =>
    new URL(request.url).pathname === "/"
      ? new Response(page, {
        headers: { "Content-Type": "text/html; charset=utf-8" },
      })
      : new Response("Not Found\n", { status: 404 }),
  onListen: ({ hostname, port }) => {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(`Chat on http://${host}:${port}/`);
  },
}, chat);
