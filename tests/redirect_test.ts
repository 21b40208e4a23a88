import assert from "node:assert/strict";
import { dial, type DialOptions } from "../client.ts";
import type { Conn } from "../conn.ts";
import { DialError, HandshakeError } from "../errors.ts";
import { serve, type WebSocketServer } from "../server.ts";
import { testCert } from "./_proxy_servers.ts";

/** A serve() echo server whose beforeUpgrade may redirect. */
function server(
  redirect: (request: Request) => string | undefined,
  options: { cert?: string; key?: string; status?: number } = {},
): WebSocketServer & { seen: Request[] } {
  const seen: Request[] = [];
  const instance = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    checkOrigin: "any",
    cert: options.cert,
    key: options.key,
    beforeUpgrade: (request) => {
      seen.push(request);
      const location = redirect(request);
      if (location === undefined) return;
      return new Response(null, {
        status: options.status ?? 302,
        headers: { location },
      });
    },
  }, async (conn: Conn) => {
    for await (const message of conn) await conn.send(message);
  });
  return Object.assign(instance, { seen });
}

async function echoOnce(conn: Conn): Promise<void> {
  await conn.send("ping");
  for await (const message of conn) {
    assert.equal(message, "ping");
    break;
  }
  await conn.closed;
}

async function dialError(url: string, options: DialOptions = {}) {
  const error = await dial(url, { proxy: false, ...options }).then(
    (conn) => {
      conn.abort();
      assert.fail("The dial succeeded");
    },
    (error) => error,
  );
  assert.ok(error instanceof DialError, String(error));
  assert.ok(error.cause instanceof HandshakeError, String(error.cause));
  return error as DialError & { cause: HandshakeError };
}

Deno.test("dial() follows every redirect status of the upgrade response", async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    await using target = server(() => undefined);
    await using origin = server(
      () => `ws://127.0.0.1:${target.addr.port}/there?q=1`,
      { status },
    );
    const conn = await dial(`ws://127.0.0.1:${origin.addr.port}/here`, {
      proxy: false,
    });
    assert.equal(conn.url, `ws://127.0.0.1:${target.addr.port}/there?q=1`);
    await echoOnce(conn);
    assert.equal(new URL(target.seen[0].url).pathname, "/there");
  }
});

Deno.test("dial() resolves a relative Location and maps http: to ws:", async () => {
  await using target = server(() => undefined);
  await using origin = server((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/a") return "b";
    if (path === "/b") return "/c";
    if (path === "/c") return `http://127.0.0.1:${target.addr.port}/d`;
  });
  const conn = await dial(`ws://127.0.0.1:${origin.addr.port}/a`, {
    proxy: false,
  });
  assert.equal(conn.url, `ws://127.0.0.1:${target.addr.port}/d`);
  await echoOnce(conn);
  assert.deepEqual(
    origin.seen.map((r) => new URL(r.url).pathname),
    ["/a", "/b", "/c"],
  );
});

Deno.test("dial() follows ws: to wss: (https: in Location) but never wss: to ws:", async () => {
  const cert = await testCert();
  await using secure = server(() => undefined, cert);
  await using plain = server(() => `https://localhost:${secure.addr.port}/s`);
  const conn = await dial(`ws://127.0.0.1:${plain.addr.port}/`, {
    proxy: false,
    caCerts: [cert.ca],
  });
  assert.equal(conn.url, `wss://localhost:${secure.addr.port}/s`);
  await echoOnce(conn);

  await using downgrading = server(
    () => `ws://127.0.0.1:${plain.addr.port}/`,
    cert,
  );
  const error = await dialError(`wss://localhost:${downgrading.addr.port}/`, {
    caCerts: [cert.ca],
  });
  assert.equal(error.cause.code, "INSECURE_REDIRECT");
  assert.match(error.message, /from wss: to ws:/);
  assert.equal(plain.seen.length, 1);
});

Deno.test("dial() reports a redirect loop with the chain", async () => {
  let other = 0;
  await using a = server(() => `ws://127.0.0.1:${other}/b`);
  await using b = server(() => `ws://127.0.0.1:${a.addr.port}/a`);
  other = b.addr.port;
  const start = `ws://127.0.0.1:${a.addr.port}/a`;
  const error = await dialError(start);
  assert.equal(error.cause.code, "REDIRECT_LOOP");
  assert.equal(error.url, start);
  assert.deepEqual(error.redirects, [`ws://127.0.0.1:${other}/b`]);
  assert.ok(
    error.message.includes(`${start} -> ws://127.0.0.1:${other}/b -> ${start}`),
    error.message,
  );
  assert.equal(error.cause.response?.status, 302);
});

Deno.test("dial() stops after maxRedirects, and maxRedirects: 0 follows none", async () => {
  await using hops = server((request) => {
    const n = Number(new URL(request.url).pathname.slice(1));
    return n < 10 ? `/${n + 1}` : undefined;
  });
  const base = `ws://127.0.0.1:${hops.addr.port}`;
  const tooMany = await dialError(`${base}/0`);
  assert.equal(tooMany.cause.code, "TOO_MANY_REDIRECTS");
  assert.equal(tooMany.redirects.length, 5);
  assert.match(tooMany.message, /More than 5 redirects: .*\/0 -> .*\/6$/);
  const conn = await dial(`${base}/2`, { proxy: false, maxRedirects: 8 });
  assert.equal(conn.url, `${base}/10`);
  await echoOnce(conn);
  const none = await dialError(`${base}/0`, { maxRedirects: 0 });
  assert.equal(none.cause.code, "BAD_STATUS");
  assert.equal(none.cause.response?.status, 302);
  assert.equal(none.cause.response?.headers.get("location"), "/1");
  await assert.rejects(dial(base, { maxRedirects: -1 }), RangeError);
});

Deno.test("dial() keeps Authorization and Cookie for the same host only", async () => {
  await using other = server(() => undefined);
  await using same = server((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/first") return "/second";
    if (path === "/second") return `ws://localhost:${other.addr.port}/third`;
  });
  const conn = await dial(`ws://127.0.0.1:${same.addr.port}/first`, {
    proxy: false,
    headers: {
      authorization: "Bearer t0ken",
      cookie: "session=1",
      "x-trace": "abc",
    },
  });
  await echoOnce(conn);
  const pick = (request: Request) => [
    request.headers.get("authorization"),
    request.headers.get("cookie"),
    request.headers.get("x-trace"),
  ];
  assert.deepEqual(same.seen.map(pick), [
    ["Bearer t0ken", "session=1", "abc"],
    ["Bearer t0ken", "session=1", "abc"],
  ]);
  assert.deepEqual(other.seen.map(pick), [[null, null, "abc"]]);
});

Deno.test("dial() follows a plain HTTP server's redirects and reports its loop", async () => {
  await using target = server(() => undefined);
  const http = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/loop") {
        return Response.redirect(`${new URL(request.url).origin}/loop2`, 307);
      }
      if (path === "/loop2") {
        return new Response(null, {
          status: 308,
          headers: { location: "/loop" },
        });
      }
      if (path === "/bad") {
        return new Response(null, {
          status: 301,
          headers: { location: "ftp://x/" },
        });
      }
      return new Response(null, {
        status: 301,
        headers: { location: `ws://127.0.0.1:${target.addr.port}/ok` },
      });
    },
  );
  try {
    const base = `ws://127.0.0.1:${http.addr.port}`;
    const conn = await dial(`${base}/go`, { proxy: false });
    assert.equal(conn.url, `ws://127.0.0.1:${target.addr.port}/ok`);
    await echoOnce(conn);
    const loop = await dialError(`${base}/loop`);
    assert.equal(loop.cause.code, "REDIRECT_LOOP");
    assert.deepEqual(loop.redirects, [`${base}/loop2`]);
    const bad = await dialError(`${base}/bad`);
    assert.equal(bad.cause.code, "BAD_REDIRECT");
  } finally {
    await http.shutdown();
  }
});
