// The floor under any WebSocket client on `Deno.connect`, against a native
// echo peer: one pending `conn.read()` per socket into a small buffer of its
// own, nothing more (bench/clients/_raw.ts). The same scenarios as
// bench/clients/ours_native.ts; bench/idle_memory.ts measures what an idle
// connection costs with it.
//
//   deno run -A bench/clients/floor_native.ts '{"mode":"idle","port":8080,...}'

import { rawOpen } from "./_raw.ts";
import { runClient } from "./_modes.ts";

await runClient(rawOpen({ readSize: 64, batched: false }));
