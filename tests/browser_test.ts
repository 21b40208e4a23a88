// Interoperability with a real browser: headless Chromium is driven over
// the DevTools protocol through dial() (our client against Chromium's
// WebSocket server), and a page served by serve() talks to serve() through
// the browser's own WebSocket (Chromium's client against our server).

import assert from "node:assert/strict";
import {
  type CloseInfo,
  type Message,
  type PerMessageDeflateOptions,
  serve,
} from "../mod.ts";
import {
  CdpClient,
  findChromium,
  launchChromium,
  withTimeout,
} from "./_cdp.ts";
import {
  browserPage,
  fromBase64,
  type PageResult,
  toPageMessage,
} from "./_browser_page.ts";
import { randomBytes } from "./_util.ts";

const CHROMIUM = findChromium();
const IN_CI = Deno.env.get("CI") === "true";

if (CHROMIUM === undefined && !IN_CI) {
  const bar = "!".repeat(72);
  console.warn(
    `\n${bar}\n!! SKIPPED: tests/browser_test.ts needs Chromium and none was found.\n` +
      `!! Install it (apt-get install -y chromium) or set CHROMIUM_PATH.\n` +
      `!! Under CI (CI=true) a missing Chromium fails this test.\n${bar}\n`,
  );
}

/** What the server handler saw of the browser's connection. */
interface ServerSide {
  messages: Message[];
  closed: CloseInfo;
  readError: unknown;
  rtt: number | undefined;
  extensionsOffered: string | null;
  extensionsAgreed: string;
  origin: string;
  userAgent: string | null;
}

// Edge cases on purpose: empty messages, multi-byte UTF-8 (with a surrogate
// pair), and lengths that need the 16-bit and 64-bit length forms.
const SENT: Message[] = [
  "hello from the browser",
  randomBytes(256, 1),
  "",
  new Uint8Array(0),
  "héllo wörld ✓ 🦕 ".repeat(20),
  randomBytes(70_000, 2),
];
const CLOSE_CODE = 4001;
const CLOSE_REASON = "bye";
const WS_PATH = "/echo";

/** What one run of the page exchange produced. */
interface Exchange {
  /** What the page reported. */
  page: PageResult;
  /** What the server handler saw, once per WebSocket connection. */
  sides: ServerSide[];
  /** The page's origin. */
  origin: string;
}

/**
 * Launches Chromium, checks our client against its DevTools server, and
 * has a page served by serve() (with `compression`) send `sent` through the
 * browser's own WebSocket to an echo handler. Everything is closed before
 * it returns, on every path.
 */
async function browserExchange(
  chromium: string,
  sent: Message[],
  compression?: boolean | PerMessageDeflateOptions,
): Promise<Exchange> {
  const started = performance.now();

  const sides: ServerSide[] = [];
  const serverDone = Promise.withResolvers<void>();
  serverDone.promise.catch(() => {}); // Awaited below, with a timeout.
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    compression,
    onListen() {},
    onError: (error) => serverDone.reject(error),
    fallback: (request) => {
      if (new URL(request.url).pathname !== "/") {
        return new Response("Not found\n", { status: 404 });
      }
      return new Response(
        browserPage({
          path: WS_PATH,
          messages: sent.map(toPageMessage),
          closeCode: CLOSE_CODE,
          closeReason: CLOSE_REASON,
        }),
        { headers: { "Content-Type": "text/html; charset=utf-8" } },
      );
    },
  }, async (conn) => {
    const messages: Message[] = [];
    let readError: unknown;
    let rtt: number | undefined;
    try {
      // The browser must answer our ping with a pong.
      rtt = await conn.ping();
      for await (const message of conn) {
        messages.push(message);
        await conn.send(message);
      }
    } catch (error) {
      // A close with an application code (4001) ends the stream with a
      // ConnectionClosedError; anything else is checked below.
      readError = error;
    }
    sides.push({
      messages,
      closed: await conn.closed,
      readError,
      rtt,
      extensionsOffered:
        conn.request?.headers.get("sec-websocket-extensions") ?? null,
      extensionsAgreed: conn.extensions,
      origin: conn.origin,
      userAgent: conn.request?.headers.get("user-agent") ?? null,
    });
    serverDone.resolve();
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;

  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let cdp: CdpClient | undefined;
  try {
    browser = await launchChromium(chromium, { timeout: 30_000 });
    const launched = performance.now();

    // Our client against Chromium's DevTools WebSocket server.
    cdp = await CdpClient.connect(browser.webSocketDebuggerUrl);
    const version = await cdp.send<{ product: string }>(
      "Browser.getVersion",
    );
    assert.match(version.product, /Chrome/);

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
    const navigation = await cdp.send<{ errorText?: string }>(
      "Page.navigate",
      { url: `${origin}/` },
      { sessionId },
    );
    assert.equal(navigation.errorText, undefined);
    await cdp.waitForEvent("Page.loadEventFired", {
      sessionId,
      after: mark,
    });

    // Chromium's WebSocket client against our server: the page's script
    // is already running; wait for its outcome.
    const evaluation = await cdp.send<{
      result: { value?: PageResult };
      exceptionDetails?: unknown;
    }>(
      "Runtime.evaluate",
      {
        expression: "window.exchange",
        awaitPromise: true,
        returnByValue: true,
      },
      { sessionId, timeout: 20_000 },
    );
    assert.equal(evaluation.exceptionDetails, undefined);
    const page = evaluation.result.value;
    assert.ok(page, "the page reported no result");
    await withTimeout(serverDone.promise, 10_000, "Server handler");
    const exchanged = performance.now();

    // Our client's closing handshake with Chromium's server.
    const cdpClosed = await withTimeout(cdp.close(), 10_000, "CDP close");
    assert.deepEqual(cdpClosed, { code: 1000, reason: "", wasClean: true });
    assert.deepEqual(cdp.malformed, []);

    assert.equal(sides.length, 1, "exactly one WebSocket connection");
    console.log(
      `Chromium ${version.product}: launch ${
        (launched - started).toFixed(0)
      } ms, exchange ${(exchanged - launched).toFixed(0)} ms; ` +
        `offered Sec-WebSocket-Extensions: ${
          sides[0].extensionsOffered
        }; agreed: ${JSON.stringify(sides[0].extensionsAgreed)}`,
    );
    return { page, sides, origin };
  } catch (error) {
    if (browser) {
      console.error(`Chromium stderr (tail):\n${browser.stderrTail()}`);
    }
    throw error;
  } finally {
    await cdp?.close().catch(() => {});
    await browser?.close();
    await withTimeout(server.shutdown(), 15_000, "Server shutdown");
  }
}

/** Checks that every message came back intact, in order, both ways. */
function assertEchoed(
  { page, sides, origin }: Exchange,
  sent: Message[],
): void {
  // The browser's side.
  assert.equal(page.opened, true);
  assert.equal(page.errors, 0);
  assert.equal(page.protocol, "");
  assert.equal(page.echoes.length, sent.length);
  page.echoes.forEach((echo, i) => {
    const expected = sent[i];
    if (typeof expected === "string") {
      assert.deepEqual(echo, { type: "text", data: expected }, `echo ${i}`);
    } else {
      assert.equal(echo.type, "binary", `echo ${i}`);
      if (echo.type === "binary") {
        assert.deepEqual(fromBase64(echo.base64), expected, `echo ${i}`);
      }
    }
  });
  assert.deepEqual(page.close, {
    code: CLOSE_CODE,
    reason: CLOSE_REASON,
    wasClean: true,
  });

  // The server's side (browserExchange() checked there was one connection).
  const [side] = sides;
  assert.deepEqual(side.messages, sent);
  assert.deepEqual(side.closed, {
    code: CLOSE_CODE,
    reason: CLOSE_REASON,
    wasClean: true,
  });
  assert.equal((side.readError as { code?: number })?.code, CLOSE_CODE);
  assert.equal(typeof side.rtt, "number");
  assert.ok(side.rtt! >= 0);
  assert.equal(side.origin, origin);
  assert.match(side.userAgent ?? "", /Chrome/);
}

function requireChromium(): string {
  if (CHROMIUM === undefined) {
    throw new Error(
      "Chromium is required under CI: install it (apt-get install -y chromium) or set CHROMIUM_PATH",
    );
  }
  return CHROMIUM;
}

Deno.test({
  name: "serve() and dial() interoperate with headless Chromium",
  ignore: CHROMIUM === undefined && !IN_CI,
  async fn() {
    const exchange = await browserExchange(requireChromium(), SENT);
    assertEchoed(exchange, SENT);
    const [side] = exchange.sides;
    // Chromium offers permessage-deflate; a server without compression
    // declines it, so the connection ran uncompressed.
    assert.match(side.extensionsOffered ?? "", /\bpermessage-deflate\b/);
    assert.equal(side.extensionsAgreed, "");
    assert.equal(exchange.page.extensions, "", "no extension was negotiated");
  },
});

// Messages that our server compresses under its default threshold (1 KiB)
// or not, compressible or not, besides the edge cases above.
const COMPRESSIBLE: Message[] = [
  ...SENT,
  JSON.stringify(
    Array.from({ length: 300 }, (_, i) => ({
      id: i,
      user: `user-${i % 17}`,
      text: "the quick brown fox jumps over the lazy dog ✓",
    })),
  ),
  new TextEncoder().encode("binary, compressible ".repeat(3000)),
  "short again",
];

Deno.test({
  name:
    "serve() with compression agrees on permessage-deflate with headless Chromium",
  ignore: CHROMIUM === undefined && !IN_CI,
  async fn() {
    const exchange = await browserExchange(
      requireChromium(),
      COMPRESSIBLE,
      true,
    );
    assertEchoed(exchange, COMPRESSIBLE);
    const [side] = exchange.sides;
    assert.match(side.extensionsOffered ?? "", /\bpermessage-deflate\b/);
    // Chromium offers "permessage-deflate; client_max_window_bits": the
    // default answer has no parameters.
    assert.match(side.extensionsAgreed, /^permessage-deflate\b/);
    assert.equal(side.extensionsAgreed, "permessage-deflate");
    assert.equal(exchange.page.extensions, side.extensionsAgreed);
  },
});

Deno.test({
  name:
    "serve() with every permessage-deflate parameter interoperates with headless Chromium",
  ignore: CHROMIUM === undefined && !IN_CI,
  async fn() {
    // Chromium must honour the limits our answer puts on its side: no
    // context takeover and a 12-bit window; ours compresses everything.
    const exchange = await browserExchange(requireChromium(), COMPRESSIBLE, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
      threshold: 0,
    });
    assertEchoed(exchange, COMPRESSIBLE);
    const agreed = "permessage-deflate; server_no_context_takeover; " +
      "client_no_context_takeover; server_max_window_bits=10; " +
      "client_max_window_bits=12";
    assert.equal(exchange.sides[0].extensionsAgreed, agreed);
    assert.equal(exchange.page.extensions, agreed);
  },
});
