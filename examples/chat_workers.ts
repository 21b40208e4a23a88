/**
 * The chat demo served from every core: one process starts N workers, each
 * listening on the same port (`reusePort`, so the kernel spreads
 * connections across them), their rooms joined by a `BroadcastChannel` bus
 * so that a message sent to any worker reaches everyone.
 *
 * ```sh
 * deno run --unstable-net --allow-net --allow-read examples/chat_workers.ts [--port 8080] [--hostname 127.0.0.1] [--workers N]
 * ```
 *
 * `--workers` defaults to the number of cores; `--port 0` picks a free
 * port. It prints `Chat on http://HOST:PORT/ (N workers)` once every worker
 * listens. The page and its JSON are those of `chat_server.ts`; names say
 * which worker serves them (`w1-guest-3`), and the welcome lists the people
 * on the same worker.
 *
 * @module
 */

import { type Conn, serve } from "../mod.ts";
import { BroadcastChannelBus } from "../fanout/bus_broadcast_channel.ts";
import { Topics } from "../fanout/topics.ts";

const USAGE =
  "Usage: deno run --unstable-net --allow-net --allow-read examples/chat_workers.ts [--port N] [--hostname H] [--workers N]";
const ROOM = "room";

// The worker's global scope, typed here: this module runs in both.
const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<WorkerInit>) => void) | null;
};

interface WorkerInit {
  id: number;
  hostname: string;
  port: number;
}

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
    if (!["port", "hostname", "workers"].includes(match[1])) {
      fail(`Unknown flag --${match[1]}`);
    }
    flags.set(match[1], value);
  }
  return flags;
}

/** The main thread: picks the port, starts the workers, waits for them. */
async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  const hostname = flags.get("hostname") ?? "127.0.0.1";
  const port = Number(flags.get("port") ?? "8080");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`Invalid port ${flags.get("port")}`);
  }
  const count = Number(flags.get("workers") ?? navigator.hardwareConcurrency);
  if (!Number.isInteger(count) || count < 1) {
    fail(`Invalid worker count ${flags.get("workers")}`);
  }
  // Binding here first resolves port 0 to a port every worker can share.
  // This listener never accepts: it closes once the workers listen, so the
  // kernel spreads connections across theirs alone.
  const probe = Deno.listen({ hostname, port, reusePort: true });
  const addr = probe.addr;
  const ready: Promise<void>[] = [];
  for (let id = 1; id <= count; id++) {
    const worker = new Worker(import.meta.url, { type: "module" });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    worker.onmessage = () => resolve();
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`Worker ${id} failed: ${event.message}`));
    };
    worker.postMessage({ id, hostname, port: addr.port } satisfies WorkerInit);
    ready.push(promise);
  }
  await Promise.all(ready);
  probe.close();
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  console.log(`Chat on http://${host}:${addr.port}/ (${count} workers)`);
}

/** A worker: its own listener on the shared port, its hub on the bus. */
async function work(init: WorkerInit): Promise<void> {
  const page = await (await fetch(new URL("./chat.html", import.meta.url)))
    .text();
  const topics = new Topics({
    bus: new BroadcastChannelBus({ nodeId: `worker-${init.id}` }),
    // A client whose unsent messages pile up past this is too slow.
    maxBufferedBytes: 1024 * 1024,
    slowPolicy: "close",
  });
  const names = new Map<Conn, string>();
  let guests = 0;
  const broadcast = (event: Record<string, unknown>) =>
    topics.publish(ROOM, JSON.stringify(event));

  async function chat(conn: Conn): Promise<void> {
    const name = `w${init.id}-guest-${++guests}`;
    await conn.send(
      JSON.stringify({ type: "welcome", name, users: [...names.values()] }),
    );
    names.set(conn, name);
    await topics.subscribe(conn, ROOM);
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
      names.delete(conn);
      broadcast({ type: "leave", name });
    }
  }

  serve({
    // Every worker listens on the same port; the kernel spreads connections.
    listener: Deno.listen({
      hostname: init.hostname,
      port: init.port,
      reusePort: true,
    }),
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
    onListen: () => scope.postMessage("ready"),
  }, chat);
}

if ("WorkerGlobalScope" in globalThis) {
  scope.onmessage = (event) => {
    scope.onmessage = null;
    work(event.data);
  };
} else if (import.meta.main) {
  await main();
}
