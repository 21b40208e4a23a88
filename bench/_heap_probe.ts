// Preloaded into a process under measurement by bench/idle_memory.ts
// (`--preload`, with `--v8-flags=--expose-gc`): it watches the process's
// own sockets and, after a full collection, prints its memory as a JSON
// line on stderr twice: once the warm-up connections are gone ("before"),
// and once PROBE_CONNS more sockets are open and have idled a while
// ("after").

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Run with --v8-flags=--expose-gc");
const conns = Number(Deno.env.get("PROBE_CONNS"));
const SETTLE_MS = 1500;

function sockets(): number {
  let n = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const link = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      if (link.startsWith("socket")) n++;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

function sample(label: string): void {
  gc!();
  gc!();
  const { heapUsed, external, rss } = Deno.memoryUsage();
  console.error(JSON.stringify({ probe: label, heapUsed, external, rss }));
}

// Counted before the main module runs: a client opens its first
// connections at once.
const base = sockets();
let state: "start" | "warm" | "before" | "settling" | "done" = "start";
const timer = setInterval(() => {
  const n = sockets();
  if (state === "start" && n >= base + 50) state = "warm";
  else if (state === "warm" && n < base + 10) {
    sample("before");
    state = "before";
  } else if (state === "before" && n >= base + conns) {
    state = "settling";
    setTimeout(() => {
      sample("after");
      clearInterval(timer);
    }, SETTLE_MS);
  }
}, 10);
Deno.unrefTimer(timer);
