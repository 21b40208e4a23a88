// The floor under any WebSocket client on `Deno.connect`, against a native
// echo peer: the upgrade done by hand, then one pending `conn.read()` per
// socket into a small buffer of its own, frames counted from their headers
// and nothing more. The same scenarios as bench/clients/ours_native.ts.
//
//   deno run -A bench/clients/floor_native.ts '{"mode":"idle","port":8080,...}'

import { FrameCounter, maskedClose, maskedFrames, openRaw } from "../_wire.ts";
import { type Open, runClient } from "./_modes.ts";

const READ_SIZE = 64;
const ignore = () => {};

async function readLoop(
  conn: Deno.Conn,
  rest: Uint8Array,
  onMessage: () => void,
): Promise<void> {
  const counter = new FrameCounter();
  const buffer = new Uint8Array(READ_SIZE);
  let n: number | null = rest.length;
  let bytes = rest;
  while (n !== null && !counter.closed) {
    for (let i = counter.push(bytes, n); i > 0; i--) onMessage();
    n = await conn.read(buffer);
    bytes = buffer;
  }
}

const open: Open = async (url, onMessage) => {
  const { conn, rest } = await openRaw(Number(new URL(url).port), "/");
  const done = readLoop(conn, rest, onMessage).catch(ignore);
  const encoder = new TextEncoder();
  return {
    send(message) {
      const bytes = typeof message === "string"
        ? encoder.encode(message)
        : message;
      const opcode = typeof message === "string" ? 0x1 : 0x2;
      conn.write(maskedFrames(bytes, opcode, 1)).catch(ignore);
    },
    async close() {
      await conn.write(maskedClose()).catch(ignore);
      await done;
      conn.close();
    },
  };
};

await runClient(open);
