// The library's client under test: `dial()` connections, each keeping
// `window` messages in flight against an echo server, counting echoes.
// Prints one JSON line (a RunResult), then exits.
//
//   deno run -A bench/clients/ours.ts '{"port":8080,"serverPid":1234,...}'

import { dial } from "../../mod.ts";
import { measureRate, type RunResult } from "../_wire.ts";
import { type ClientConfig, messageOf } from "./_config.ts";

const config: ClientConfig = JSON.parse(Deno.args[0]);
const message = messageOf(config);
const ignore = () => {};
let received = 0;
let running = true;

const conns = await Promise.all(
  Array.from(
    { length: config.conns },
    () => dial(`ws://127.0.0.1:${config.port}/`),
  ),
);
for (const conn of conns) {
  for (let i = 0; i < config.window; i++) conn.send(message).catch(ignore);
  (async () => {
    for await (const _ of conn) {
      received++;
      if (!running) break;
      conn.send(message).catch(ignore);
    }
  })().catch(ignore);
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
