// The library's client against a native echo peer: `dial()`, every message
// read with `for await`, sends not awaited (a send's promise settles when
// the frame is written; the scenarios bound what is in flight themselves).
//
//   deno run -A bench/clients/ours_native.ts '{"mode":"echo","port":8080,...}'

import { dial } from "../../mod.ts";
import { type Open, runClient } from "./_modes.ts";

const ignore = () => {};

const open: Open = async (url, onMessage) => {
  const conn = await dial(url);
  (async () => {
    for await (const _ of conn) onMessage();
  })().catch(ignore);
  return {
    send(message) {
      conn.send(message).catch(ignore);
    },
    async close() {
      await conn.close();
    },
  };
};

await runClient(open);
