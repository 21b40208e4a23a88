// Headless Chromium against serve()'s plain HTTP path: a page and its
// assets over persistent connections, a POST with a body, then a WebSocket
// on the same port.

import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import {
  CdpClient,
  findChromium,
  launchChromium,
  withTimeout,
} from "./_cdp.ts";

const CHROMIUM = findChromium();
const ASSETS = 20;

const PAGE = `<!doctype html>
<title>http</title>
<script>
window.result = (async () => {
  const assets = [];
  for (let i = 0; i < ${ASSETS}; i++) {
    assets.push(await (await fetch("/asset/" + i)).text());
  }
  const posted = await (await fetch("/echo", {
    method: "POST",
    body: "x".repeat(100000),
  })).text();
  const echoed = await new Promise((resolve, reject) => {
    const ws = new WebSocket("ws://" + location.host + "/ws");
    ws.onopen = () => ws.send("over the same port");
    ws.onmessage = (event) => {
      ws.close(1000);
      resolve(event.data);
    };
    ws.onerror = () => reject(new Error("WebSocket failed"));
  });
  return { assets, posted: posted.length, echoed };
})();
</script>`;

Deno.test({
  name:
    "serve() serves a browser page, its assets over kept-alive connections, and a WebSocket",
  ignore: CHROMIUM === undefined,
  async fn() {
    // Requests per connection (its client port).
    const perConnection = new Map<number, number>();
    let requests = 0;
    const wsDone = Promise.withResolvers<void>();
    const server = serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      fallback: async (request, info) => {
        requests++;
        const port = (info.remoteAddr as Deno.NetAddr).port;
        perConnection.set(port, (perConnection.get(port) ?? 0) + 1);
        const path = new URL(request.url).pathname;
        if (path === "/") {
          return new Response(PAGE, {
            headers: { "content-type": "text/html; charset=utf-8" },
          });
        }
        if (path.startsWith("/asset/")) {
          return new Response(`asset ${path.slice(7)}`, {
            headers: { "cache-control": "no-store" },
          });
        }
        if (path === "/echo") return new Response(await request.text());
        return new Response("Not found\n", { status: 404 });
      },
    }, async (conn) => {
      for await (const message of conn) await conn.send(message);
      wsDone.resolve();
    });
    await using browser = await launchChromium(CHROMIUM!, { timeout: 30_000 });
    const cdp = await CdpClient.connect(browser.webSocketDebuggerUrl);
    try {
      const { targetId } = await cdp.send<{ targetId: string }>(
        "Target.createTarget",
        { url: "about:blank" },
      );
      const { sessionId } = await cdp.send<{ sessionId: string }>(
        "Target.attachToTarget",
        { targetId, flatten: true },
      );
      await cdp.send("Page.enable", {}, { sessionId });
      const mark = cdp.events.length;
      await cdp.send("Page.navigate", {
        url: `http://127.0.0.1:${server.addr.port}/`,
      }, { sessionId });
      await cdp.waitForEvent("Page.loadEventFired", { sessionId, after: mark });
      const evaluation = await cdp.send<{
        result: {
          value?: { assets: string[]; posted: number; echoed: string };
        };
        exceptionDetails?: unknown;
      }>("Runtime.evaluate", {
        expression: "window.result",
        awaitPromise: true,
        returnByValue: true,
      }, { sessionId, timeout: 20_000 });
      assert.equal(evaluation.exceptionDetails, undefined);
      const value = evaluation.result.value!;
      assert.deepEqual(
        value.assets,
        Array.from({ length: ASSETS }, (_, i) => `asset ${i}`),
      );
      assert.equal(value.posted, 100000);
      assert.equal(value.echoed, "over the same port");
      // Twenty-odd requests in a row over a few kept-alive connections
      // (Chromium may pick any idle one), one of them carrying most.
      assert.ok(requests >= ASSETS + 2);
      assert.ok(perConnection.size <= 3, `${perConnection.size} connections`);
      assert.ok(Math.max(...perConnection.values()) >= ASSETS / 2);
      await withTimeout(wsDone.promise, 10_000, "WebSocket handler");
      await withTimeout(cdp.close(), 10_000, "CDP close");
    } finally {
      await cdp.close().catch(() => {});
      await browser.close();
      await server.shutdown();
    }
  },
});
