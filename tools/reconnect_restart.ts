// How long a reconnecting() client takes to be connected again after its
// server restarts: a server process is stopped (SIGKILL or SIGTERM) and
// started again on the same port, N times; the client uses the default
// backoff options.
//
//   deno run -A tools/reconnect_restart.ts [N=20] [SIGKILL|SIGTERM]

import { reconnecting } from "../dial/reconnect.ts";

const count = Number(Deno.args[0] ?? 20);
const stopSignal = (Deno.args[1] ?? "SIGKILL") as Deno.Signal;

const serverScript = `
import { serve } from ${
  JSON.stringify(new URL("../server.ts", import.meta.url).href)
};
const server = serve({ port: Number(Deno.args[0]), hostname: "127.0.0.1", onListen() { console.log("ready"); } },
  async (conn) => { for await (const m of conn) await conn.send(m); });
Deno.addSignalListener("SIGTERM", () => server.shutdown().then(() => Deno.exit(0)));
`;
const file = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(file, serverScript);

const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = probe.addr.port;
probe.close();

function spawn() {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", file, String(port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // "ready" on stdout: the listener is bound.
  const ready = (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("The server exited before it listened");
      text += value;
    }
    await reader.cancel();
    return performance.now();
  })();
  return { child, ready };
}

let server = spawn();
await server.ready;
const sinceStop: number[] = [];
const sinceListen: number[] = [];
let stoppedAt = 0;
let n = 0;
try {
  for await (
    const conn of reconnecting(`ws://127.0.0.1:${port}/`, { proxy: false })
  ) {
    if (n > 0) {
      const now = performance.now();
      sinceStop.push(now - stoppedAt);
      sinceListen.push(now - await server.ready);
    }
    if (n++ === count) {
      await conn.close();
      break;
    }
    server.child.kill(stopSignal);
    await server.child.status;
    stoppedAt = performance.now();
    server = spawn();
    await conn.closed;
  }
} finally {
  server.child.kill("SIGKILL");
  await server.child.status;
  await Deno.remove(file);
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))],
    );
  return `median ${at(0.5)} ms, p90 ${at(0.9)} ms, min ${at(0)} ms, max ${
    at(1)
  } ms`;
}
console.log(`${stopSignal}, ${count} restarts`);
console.log(
  `  connected again after the old server stopped: ${summary(sinceStop)}`,
);
console.log(
  `  connected again after the new server listened: ${summary(sinceListen)}`,
);
