// The ceiling over any WebSocket client on `Deno.connect`, against a native
// echo peer: frames counted off a 64 KiB read buffer and the answers to one
// read written together, as a library batches them, with nothing else done
// (bench/clients/_raw.ts). `bench/native.ts --ceiling` runs it beside
// `dial()` and the built-in client.
//
//   deno run -A bench/clients/raw_native.ts '{"mode":"echo","port":8080,...}'

import { rawOpen } from "./_raw.ts";
import { runClient } from "./_modes.ts";

await runClient(rawOpen({ readSize: 64 * 1024, batched: true }));
