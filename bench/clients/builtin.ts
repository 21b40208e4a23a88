// Deno's built-in client under test: `new WebSocket` connections, each
// keeping `window` messages in flight against an echo server, counting
// echoes. Prints one JSON line (a RunResult), then exits.
//
//   deno run -A bench/clients/builtin.ts '{"port":8080,"serverPid":1234,...}'

import { measureRate, type RunResult } from "../_wire.ts";
import { type ClientConfig, messageOf } from "./_config.ts";

const config: ClientConfig = JSON.parse(Deno.args[0]);
const message = messageOf(config);
let received = 0;
let running = true;

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${config.port}/`);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("Cannot connect"));
  });
}

const sockets = await Promise.all(
  Array.from({ length: config.conns }, open),
);
for (const socket of sockets) {
  socket.onerror = () => {};
  socket.onmessage = () => {
    received++;
    if (running) socket.send(message);
  };
  for (let i = 0; i < config.window; i++) socket.send(message);
}

const { rate, cpu } = await measureRate(
  config.warmup,
  config.duration,
  config.serverPid,
  () => received,
);
running = false;
const result: RunResult = { metrics: { "msg/s": rate }, cpu };
console.log(JSON.stringify(result));
Deno.exit(0);
