// The broadcast server of bench/topics_workers_native.ts, shaped as
// examples/chat_workers.ts is: W workers, each `serve()`-ing the same port
// with `reusePort` (needs `--unstable-net`), their hubs joined by a
// `BroadcastChannelBus`. Prints {"port", "pid", "tids", "origins"} once
// every worker listens (tids: each worker's thread, in order, for
// per-thread CPU from /proc/<pid>/task/<tid>/stat; origins: each worker's
// `performance.timeOrigin`, to place --trace-gc lines in time); exits when
// stdin ends.
//
//   deno run -A --unstable-net bench/servers/topics_workers.ts [--workers 2]
//
// /sub   welcomes with the worker's number ("w1"), subscribes to topic "t",
//        then only reads (to see the close)
// /pub   welcomes likewise, then `for await (const m of conn)
//        conn.publish("t", m)`, the README's idiom
// /stats (plain HTTP, any worker answers) per worker: subscribers and
//        publishers connected, messages published, copies skipped as slow,
//        and its bus's counts (published, delivered, missed, stale)
//
// The welcome tells the generator which worker took each connection, as the
// chat example's names do; the counters live in a SharedArrayBuffer so
// that whichever worker the kernel hands /stats to can answer for all.

import { type Conn, serve } from "../../mod.ts";
import { BroadcastChannelBus } from "../../fanout/bus_broadcast_channel.ts";
import { Topics } from "../../fanout/topics.ts";
import { exitOnStdinEnd } from "../_wire.ts";

const FIELDS = [
  "subscribers",
  "publishers",
  "published",
  "skipped",
  "busPublished",
  "busDelivered",
  "busMissed",
  "busStale",
] as const;
const TOPIC = "t";

interface WorkerInit {
  id: number;
  port: number;
  counters: SharedArrayBuffer;
  workers: number;
}

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<WorkerInit>) => void) | null;
};

function slot(init: WorkerInit, id: number): Int32Array {
  return new Int32Array(
    init.counters,
    (id - 1) * FIELDS.length * 4,
    FIELDS.length,
  );
}

function stats(init: WorkerInit): Response {
  const workers = [];
  for (let id = 1; id <= init.workers; id++) {
    const values = slot(init, id);
    workers.push(
      Object.fromEntries(FIELDS.map((f, i) => [f, Atomics.load(values, i)])),
    );
  }
  return Response.json({ workers });
}

function work(init: WorkerInit): void {
  const mine = slot(init, init.id);
  const count = (field: typeof FIELDS[number], n = 1) =>
    Atomics.add(mine, FIELDS.indexOf(field), n);
  const bus = new BroadcastChannelBus({ nodeId: `worker-${init.id}` });
  const topics = new Topics({ bus, onSlow: () => count("skipped") });
  // The bus's own counts, copied where /stats reads them.
  setInterval(() => {
    Atomics.store(mine, FIELDS.indexOf("busPublished"), bus.stats.published);
    Atomics.store(mine, FIELDS.indexOf("busDelivered"), bus.stats.delivered);
    Atomics.store(mine, FIELDS.indexOf("busMissed"), bus.stats.missed);
    Atomics.store(mine, FIELDS.indexOf("busStale"), bus.stats.stale);
  }, 100);
  const welcome = `w${init.id}`;

  async function subscriber(conn: Conn): Promise<void> {
    count("subscribers");
    try {
      await conn.send(welcome);
      await conn.subscribe(TOPIC);
      for await (const _ of conn) {
        // Subscribers only listen.
      }
    } finally {
      count("subscribers", -1);
    }
  }

  async function publisher(conn: Conn): Promise<void> {
    count("publishers");
    try {
      await conn.send(welcome);
      for await (const message of conn) {
        conn.publish(TOPIC, message);
        count("published");
      }
    } finally {
      count("publishers", -1);
    }
  }

  serve({
    listener: Deno.listen({
      hostname: "127.0.0.1",
      port: init.port,
      reusePort: true,
    }),
    topics,
    beforeUpgrade: (request) => {
      const path = new URL(request.url).pathname;
      return path === "/sub" || path === "/pub"
        ? undefined
        : new Response("Not Found\n", { status: 404 });
    },
    fallback: (request) =>
      new URL(request.url).pathname === "/stats"
        ? stats(init)
        : new Response("Not Found\n", { status: 404 }),
    onListen: () =>
      scope.postMessage({
        tid: Number(Deno.readLinkSync("/proc/thread-self").split("/").at(-1)),
        origin: performance.timeOrigin,
      }),
  }, (conn) => {
    const handler = new URL(conn.url).pathname === "/pub"
      ? publisher
      : subscriber;
    return handler(conn).catch(() => conn.abort());
  });
}

async function main(): Promise<void> {
  const i = Deno.args.indexOf("--workers");
  const workers = i >= 0 ? Number(Deno.args[i + 1]) : 2;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`Invalid worker count ${Deno.args[i + 1]}`);
  }
  // As in examples/chat_workers.ts: a probe listener resolves port 0 to a
  // port the workers share, and closes once they listen.
  const probe = Deno.listen({
    hostname: "127.0.0.1",
    port: 0,
    reusePort: true,
  });
  const counters = new SharedArrayBuffer(workers * FIELDS.length * 4);
  const started = await Promise.all(
    Array.from({ length: workers }, (_, index) => {
      const worker = new Worker(import.meta.url, {
        type: "module",
        name: `w${index + 1}`,
      });
      const { promise, resolve, reject } = Promise.withResolvers<
        { tid: number; origin: number }
      >();
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`Worker ${index + 1} failed: ${event.message}`));
      };
      worker.postMessage(
        {
          id: index + 1,
          port: probe.addr.port,
          counters,
          workers,
        } satisfies WorkerInit,
      );
      return promise;
    }),
  );
  probe.close();
  console.log(JSON.stringify({
    port: probe.addr.port,
    pid: Deno.pid,
    tids: started.map((w) => w.tid),
    origins: started.map((w) => w.origin),
  }));
  await exitOnStdinEnd();
}

if ("WorkerGlobalScope" in globalThis) {
  scope.onmessage = (event) => {
    scope.onmessage = null;
    work(event.data);
  };
} else if (import.meta.main) {
  await main();
}
