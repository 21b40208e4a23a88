// A client with no library under it, on `Deno.connect` against a native
// echo peer: the upgrade done by hand, one pending `conn.read()` per socket,
// frames counted from their headers and nothing more, answers written with
// a zero masking key. What the floor (idle memory) and the ceiling (echo
// rates) of any WebSocket client on Deno's socket API are measured with.

import { FrameCounter, maskedClose, maskedFrames, openRaw } from "../_wire.ts";
import type { Open } from "./_modes.ts";

const ignore = () => {};
const encoder = new TextEncoder();

/** How a raw client reads and writes. */
export interface RawOptions {
  /** Each socket's read buffer, in bytes. */
  readSize: number;
  /**
   * Whether the sends of one turn (the answers to one read) leave in one
   * write, as a library's do, rather than a write each.
   */
  batched: boolean;
}

async function readLoop(
  conn: Deno.Conn,
  rest: Uint8Array,
  readSize: number,
  onMessage: () => void,
): Promise<void> {
  const counter = new FrameCounter();
  const buffer = new Uint8Array(readSize);
  let n: number | null = rest.length;
  let bytes = rest;
  while (n !== null && !counter.closed) {
    for (let i = counter.push(bytes, n); i > 0; i--) onMessage();
    n = await conn.read(buffer);
    bytes = buffer;
  }
}

/** Opens raw connections, for bench/clients/_modes.ts's scenarios. */
export function rawOpen(options: RawOptions): Open {
  return async (url, onMessage) => {
    const { conn, rest } = await openRaw(Number(new URL(url).port), "/");
    const done = readLoop(conn, rest, options.readSize, onMessage)
      .catch(ignore);
    // Sends waiting for the end of the turn: the message, and how many.
    let payload = new Uint8Array(0);
    let opcode = 0;
    let owed = 0;
    const flush = () => {
      conn.write(maskedFrames(payload, opcode, owed)).catch(ignore);
      owed = 0;
    };
    return {
      send(message) {
        payload = typeof message === "string"
          ? encoder.encode(message)
          : message;
        opcode = typeof message === "string" ? 0x1 : 0x2;
        if (!options.batched) {
          conn.write(maskedFrames(payload, opcode, 1)).catch(ignore);
        } else if (owed++ === 0) {
          queueMicrotask(flush);
        }
      },
      async close() {
        await conn.write(maskedClose()).catch(ignore);
        await done;
        conn.close();
      },
    };
  };
}
