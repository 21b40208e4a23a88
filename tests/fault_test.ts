// The fault suite: what a real network and hostile clients throw at a
// server, created for real on loopback. Resets (RST, from a Python peer with
// SO_LINGER 0) at every phase, bursts of thousands of honest clients,
// half-open peers, failing accepts and TLS garbage. Each test asserts that
// the server is still serving, that nothing was reported that a client
// alone caused, and that descriptors come back.

import assert from "node:assert/strict";
import { dial, serve } from "../mod.ts";
import type { ServeOptions, WebSocketServer } from "../server.ts";
import {
  descriptorsBackTo,
  errnoError,
  failingListener,
  openDescriptors,
  runPeer,
  testCertificate,
} from "./_faults/mod.ts";

const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };

// An echo server with the README's idiom, collecting what reaches onError.
function echoServer(
  options: ServeOptions = {},
): { server: WebSocketServer; errors: unknown[] } {
  const errors: unknown[] = [];
  const server = serve(
    { ...quiet, onError: (error) => errors.push(error), ...options },
    async (conn) => {
      for await (const message of conn) await conn.send(message);
    },
  );
  return { server, errors };
}

// One honest round trip: the server is still serving.
async function stillServing(
  url: string,
  options: Parameters<typeof dial>[1] = {},
): Promise<void> {
  await using conn = await dial(url, options);
  await conn.send("still there?");
  for await (const message of conn) {
    assert.equal(message, "still there?");
    break;
  }
}

Deno.test("serve() keeps serving through 10,000 resets at random phases, and its descriptors come back", async () => {
  const before = openDescriptors();
  const { server, errors } = echoServer();
  try {
    const summary = await runPeer("reset", server.addr.port, {
      count: 10_000,
      seed: 9,
    });
    // Every phase was reached, and the server never refused a phase it
    // should have served (a 101, echoes).
    for (const count of Object.values(summary.phases)) {
      assert.ok((count as number) > 1000);
    }
    assert.deepEqual(summary.errors, []);
    await stillServing(`ws://127.0.0.1:${server.addr.port}/`);
    // Only the listener stays open (and no more than a few runtime handles).
    await descriptorsBackTo(before + 1, 10_000);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() serves 5,000 clients connecting at once with default options", async () => {
  const { server, errors } = echoServer();
  try {
    const summary = await runPeer("burst", server.addr.port, {
      count: 5_000,
      seed: 5,
    });
    assert.deepEqual(summary.errors, []);
    assert.equal(summary.served, 5_000);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() ends half-open peers by keepalive, and keeps serving", async () => {
  const { server, errors } = echoServer({
    pingInterval: 100,
    pingTimeout: 100,
  });
  try {
    const summary = await runPeer("silent", server.addr.port, { count: 200 });
    assert.deepEqual(summary.errors, []);
    assert.equal(summary.ended, 200);
    // Two keepalive periods and a margin for a loaded machine, far below
    // the Python peer's own 60 s bound.
    assert.ok(summary.maxSeconds < 5, `ended after ${summary.maxSeconds} s`);
    await stillServing(`ws://127.0.0.1:${server.addr.port}/`);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() survives failing accepts: resets are skipped, running out of descriptors backs off", async () => {
  const inner = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const emfile = errnoError("EMFILE", "Too many open files (os error 24)");
  const enfile = errnoError(
    "ENFILE",
    "Too many open files in system (os error 23)",
  );
  const listener = failingListener(inner, [
    new Deno.errors.NotConnected("Transport endpoint is not connected"),
    new Deno.errors.ConnectionReset("Connection reset by peer"),
    new Deno.errors.ConnectionAborted("Software caused connection abort"),
    emfile,
    enfile,
    emfile,
    new Error("Something else went wrong"),
  ]);
  const { server, errors } = echoServer({ listener });
  try {
    await stillServing(`ws://127.0.0.1:${inner.addr.port}/`);
    // What a client alone causes is not reported; what the machine lacks is.
    assert.deepEqual(
      errors.map((error) => (error as { code?: string }).code ?? "other"),
      ["EMFILE", "ENFILE", "EMFILE", "other"],
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() keeps serving TLS through resets and plaintext garbage", async () => {
  const { cert, key, ca } = await testCertificate();
  const { server, errors } = echoServer({ cert, key });
  try {
    // Without TLS, the peer's handshakes are garbage to this server; its
    // resets land in every phase of the TLS handshake.
    await runPeer("reset", server.addr.port, { count: 1_000, seed: 3 });
    await stillServing(`wss://localhost:${server.addr.port}/`, {
      caCerts: [ca],
    });
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() with maxHandshakes holds later clients in the backlog instead of refusing them", async () => {
  const { server, errors } = echoServer({ maxHandshakes: 1 });
  try {
    const slow = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await slow.write(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
    // The slow socket holds the only slot: this client waits for it.
    const next = stillServing(`ws://127.0.0.1:${server.addr.port}/`);
    slow.close();
    await next;
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() does not hold handshake slots for kept-alive HTTP connections", async () => {
  const { server, errors } = echoServer({
    maxHandshakes: 1,
    keepAliveTimeout: 60_000,
    fallback: () => new Response("page"),
  });
  try {
    using page = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await page.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    );
    const buffer = new Uint8Array(1024);
    let answer = "";
    while (!answer.includes("page")) {
      const n = await page.read(buffer);
      if (n === null) break;
      answer += new TextDecoder().decode(buffer.subarray(0, n));
    }
    assert.match(answer, /^HTTP\/1\.1 200 OK/);
    // The page's connection stays open for a minute; a WebSocket client is
    // served now, not once it closes.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("late"), 5_000);
    });
    const served = stillServing(`ws://127.0.0.1:${server.addr.port}/`).then(
      () => "served",
    );
    assert.equal(await Promise.race([served, late]), "served");
    clearTimeout(timer);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
  }
});
