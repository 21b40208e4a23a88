// A worker for the bus tests: a hub on a BroadcastChannel bus, serving
// WebSocket connections on its own loopback port. Each connection gets
// `worker:ID` once it has joined the topic "room"; what it sends is published
// there. The worker answers "stop" by closing everything.

import { upgrade } from "../server.ts";
import type { Conn } from "../conn.ts";
import { BroadcastChannelBus } from "../fanout/bus_broadcast_channel.ts";
import { Topics } from "../fanout/topics.ts";

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
};

scope.onmessage = (event) => {
  const { id, channel } = event.data as { id: number; channel: string };
  const bus = new BroadcastChannelBus({ name: channel, nodeId: `w${id}` });
  const topics = new Topics({ bus });
  const conns = new Set<Conn>();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const socket of listener) {
      upgrade(socket).then(async (conn) => {
        conns.add(conn);
        await topics.subscribe(conn, "room");
        await conn.send(`worker:${id}`);
        for await (const message of conn) topics.publish("room", message);
      }).catch(() => {});
    }
  })();
  scope.onmessage = async () => {
    listener.close();
    await accepting;
    for (const conn of conns) conn.abort();
    await Promise.all([...conns].map((conn) => conn.closed));
    topics.close();
    await bus.close();
    scope.postMessage("stopped");
  };
  scope.postMessage({ port: (listener.addr as Deno.NetAddr).port });
};
