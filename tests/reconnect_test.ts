import assert from "node:assert/strict";
import type { CloseInfo, Conn } from "../conn.ts";
import { ConnectionClosedError, DialError, HandshakeError } from "../errors.ts";
import {
  defaultShouldReconnect,
  isRetryableDialError,
  type ReconnectInfo,
  reconnecting,
} from "../dial/reconnect.ts";
import { serve, type WebSocketServer } from "../server.ts";
import { freePort } from "./_proxy_servers.ts";
import { mulberry32 } from "./_util.ts";

function start(
  handler: (conn: Conn, n: number) => void | Promise<void>,
  beforeUpgrade?: (n: number) => Response | undefined,
): WebSocketServer & { url: string; upgrades: number } {
  let n = 0;
  let upgrades = 0;
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    beforeUpgrade: () => beforeUpgrade?.(upgrades++),
  }, (conn) => handler(conn, n++));
  return Object.defineProperties(server, {
    url: { value: `ws://127.0.0.1:${server.addr.port}/` },
    upgrades: { get: () => upgrades },
  }) as WebSocketServer & { url: string; upgrades: number };
}

/** Reads a connection to its end; returns how it closed. */
async function drain(conn: Conn): Promise<CloseInfo> {
  try {
    for await (const _ of conn) { /* discard */ }
  } catch (error) {
    if (!(error instanceof ConnectionClosedError)) throw error;
  }
  return conn.closed;
}

Deno.test("defaultShouldReconnect() and isRetryableDialError() follow the documented rule", () => {
  const info = (code: number) => ({ code, reason: "", wasClean: true });
  for (const code of [1001, 1006, 1011, 1012, 1013, 4000]) {
    assert.equal(defaultShouldReconnect(info(code), false), true, `${code}`);
    assert.equal(defaultShouldReconnect(info(code), true), false, `${code}`);
  }
  assert.equal(defaultShouldReconnect(info(1000), false), false);
  const failed = (cause: unknown) =>
    isRetryableDialError(
      new DialError({ url: "ws://x/", protocol: "", origin: "", cause }),
    );
  const status = (n: number) =>
    new HandshakeError("BAD_STATUS", "Status", {
      response: { status: n, statusText: "", headers: new Headers() },
    });
  assert.equal(failed(new Deno.errors.ConnectionRefused("x")), true);
  assert.equal(failed(new DOMException("x", "TimeoutError")), true);
  assert.equal(failed(new HandshakeError("UNEXPECTED_EOF", "x")), true);
  assert.equal(failed(status(503)), true);
  assert.equal(failed(status(429)), true);
  assert.equal(failed(status(403)), false);
  assert.equal(failed(new HandshakeError("BAD_ACCEPT", "x")), false);
  assert.equal(failed(new TypeError("x")), false);
});

Deno.test("reconnecting() backs off with full jitter and gives up after maxAttempts", async () => {
  const port = freePort();
  const seeded = mulberry32(7);
  const draws: number[] = [];
  const infos: ReconnectInfo[] = [];
  const error = await (async () => {
    for await (
      const _ of reconnecting(`ws://127.0.0.1:${port}/`, {
        proxy: false,
        initialDelay: 2,
        maxDelay: 10,
        factor: 3,
        maxAttempts: 5,
        random: () => {
          const r = seeded();
          draws.push(r);
          return r;
        },
        onReconnect: (info) => infos.push(info),
      })
    ) assert.fail("Connected to a closed port");
  })().then(() => assert.fail("No error"), (e) => e);
  assert.ok(error instanceof DialError);
  assert.ok(error.cause instanceof Deno.errors.ConnectionRefused);
  // Five dials: the first, then four redials.
  assert.deepEqual(infos.map((i) => i.attempt), [1, 2, 3, 4]);
  const bounds = [2, 6, 10, 10];
  assert.deepEqual(
    infos.map((i) => i.delay),
    draws.map((r, i) => Math.round(r * bounds[i])),
  );
  for (const info of infos) {
    assert.ok(
      (info.error as DialError).cause instanceof Deno.errors.ConnectionRefused,
    );
    assert.equal(info.closed, undefined);
  }
});

Deno.test("reconnecting() redials after abnormal closes and stops on the server's 1000", async () => {
  await using server = start(async (conn, n) => {
    await conn.send(`hello ${n}`);
    if (n === 0) {
      // abort() drops what is still queued: let the greeting reach the
      // socket first.
      await conn.flush();
      conn.abort(); // 1006
    } else if (n === 1) await conn.close(1011, "Oops");
    else if (n === 2) await conn.close(1012, "Restarting");
    else await conn.close(1000, "Done");
  });
  const infos: ReconnectInfo[] = [];
  const seen: string[] = [];
  const closes: number[] = [];
  for await (
    const conn of reconnecting(server.url, {
      proxy: false,
      random: () => 0,
      onReconnect: (info) => infos.push(info),
    })
  ) {
    // Every message, to the end (a `break` would close from this side).
    try {
      for await (const message of conn) seen.push(message as string);
    } catch (error) {
      assert.ok(error instanceof ConnectionClosedError);
    }
    closes.push((await conn.closed).code);
  }
  assert.deepEqual(seen, ["hello 0", "hello 1", "hello 2", "hello 3"]);
  assert.deepEqual(closes, [1006, 1011, 1012, 1000]);
  assert.deepEqual(
    infos.map((i) => [i.attempt, i.delay, i.closed?.code, i.closed?.reason]),
    [[1, 0, 1006, ""], [1, 0, 1011, "Oops"], [1, 0, 1012, "Restarting"]],
  );
});

Deno.test("reconnecting() stops once this side closes, and when the loop is left", async () => {
  const serverCloses: number[] = [];
  await using server = start(async (conn) => {
    try {
      for await (const message of conn) await conn.send(message);
    } catch {
      // Closed abnormally: recorded below.
    }
    serverCloses.push((await conn.closed).code);
  });
  let count = 0;
  for await (const conn of reconnecting(server.url, { proxy: false })) {
    count++;
    await conn.close(4001, "Bye");
  }
  assert.equal(count, 1);
  // Leaving the loop closes the connection with 1000.
  for await (const conn of reconnecting(server.url, { proxy: false })) {
    count++;
    assert.equal(conn.protocol, "");
    break;
  }
  assert.equal(count, 2);
  // A break out of the messages closes too: this side's choice.
  for await (const conn of reconnecting(server.url, { proxy: false })) {
    count++;
    conn.send("x").catch(() => {});
    for await (const _ of conn) break;
  }
  assert.equal(count, 3);
  await server.shutdown();
  assert.deepEqual(serverCloses.sort(), [1000, 1000, 4001]);
});

Deno.test("reconnecting() stops when its signal aborts, in a wait or with a connection open", async () => {
  let opened = 0;
  await using server = start(async (conn) => {
    opened++;
    if (opened === 1) conn.abort();
    else await drain(conn);
  });
  const controller = new AbortController();
  const conns: Conn[] = [];
  for await (
    const conn of reconnecting(server.url, {
      proxy: false,
      signal: controller.signal,
      initialDelay: 60_000,
      random: () => 0.99,
      onReconnect: () => controller.abort(),
    })
  ) {
    conns.push(conn);
    await conn.closed.catch(() => {});
  }
  // The first connection dropped; the wait for the redial was cut short.
  assert.equal(conns.length, 1);

  const second = new AbortController();
  let closed: CloseInfo | undefined;
  for await (
    const conn of reconnecting(server.url, {
      proxy: false,
      signal: second.signal,
    })
  ) {
    // The body hands the connection on and returns; the abort closes it.
    conn.closed.then((info) => closed = info);
    second.abort();
  }
  assert.equal(closed?.code, 1001);
});

Deno.test("reconnecting() retries a 503 and throws a 403 at once", async () => {
  await using server = start(
    (conn) => conn.close(1000).then(() => {}),
    (n) =>
      n === 0
        ? new Response("Busy", { status: 503 })
        : n === 1
        ? undefined
        : new Response("No", { status: 403 }),
  );
  const infos: ReconnectInfo[] = [];
  let opened = 0;
  for await (
    const conn of reconnecting(server.url, {
      proxy: false,
      random: () => 0,
      onReconnect: (info) => infos.push(info),
    })
  ) {
    opened++;
    await conn.closed;
  }
  assert.equal(opened, 1);
  assert.equal(infos.length, 1);
  const cause = (infos[0].error as DialError).cause as HandshakeError;
  assert.equal(cause.response?.status, 503);
  await assert.rejects(
    async () => {
      for await (const _ of reconnecting(server.url, { proxy: false })) {
        assert.fail("Connected");
      }
    },
    (error: DialError) =>
      (error.cause as HandshakeError).response?.status === 403,
  );
  assert.equal(server.upgrades, 3);
});

Deno.test("reconnecting() checks its options", () => {
  for (
    const options of [
      { initialDelay: -1 },
      { maxDelay: Number.NaN },
      { factor: 0.5 },
      { maxAttempts: 0 },
    ]
  ) {
    assert.throws(
      () => reconnecting("ws://127.0.0.1:1/", options).next(),
      RangeError,
    );
  }
});

// ---------------------------------------------------------------------------
// A server in a process of its own, killed and started again on its port.

const serverScript = `
import { serve } from ${
  JSON.stringify(new URL("../server.ts", import.meta.url).href)
};
const port = Number(Deno.args[0]);
const server = serve({ port, hostname: "127.0.0.1", onListen() { console.log("ready"); } },
  async (conn) => { for await (const m of conn) await conn.send(m); });
Deno.addSignalListener("SIGTERM", () => server.shutdown().then(() => Deno.exit(0)));
`;

class ServerProcess {
  #child: Deno.ChildProcess;
  ready: Promise<number>;
  constructor(file: string, port: number) {
    const child = this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", file, String(port)],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // "ready" on stdout: the listener is bound.
    this.ready = (async () => {
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
  }
  async stop(signal: Deno.Signal): Promise<number> {
    this.#child.kill(signal);
    await this.#child.status;
    return performance.now();
  }
}

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  Deno.test(`reconnecting() comes back after the server process is restarted (${signal})`, async () => {
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(file, serverScript);
    const port = freePort();
    let server = new ServerProcess(file, port);
    await server.ready;
    const infos: ReconnectInfo[] = [];
    const echoes: string[] = [];
    let stoppedAt = 0;
    let readyAt = 0;
    let reopenedAt = 0;
    let n = 0;
    try {
      for await (
        const conn of reconnecting(`ws://127.0.0.1:${port}/`, {
          proxy: false,
          random: mulberry32(11),
          initialDelay: 100,
          onReconnect: (info) => infos.push(info),
        })
      ) {
        if (n === 1) reopenedAt = performance.now();
        await conn.send(`message ${n}`);
        // One message, without leaving a `for await` (which would close
        // the connection from this side and end the iteration).
        const reader = conn.readable.getReader();
        echoes.push((await reader.read()).value as string);
        reader.releaseLock();
        if (n++ === 1) break;
        // Stop the server, then start it again on the same port.
        stoppedAt = await server.stop(signal);
        server = new ServerProcess(file, port);
        server.ready.then((at) => readyAt = at);
        await conn.closed;
      }
    } finally {
      await server.stop("SIGKILL").catch(() => {});
      await Deno.remove(file);
    }
    assert.deepEqual(echoes, ["message 0", "message 1"]);
    console.log(
      `${signal}: back ${Math.round(reopenedAt - stoppedAt)} ms after the ` +
        `server stopped, ${Math.round(reopenedAt - readyAt)} ms after it ` +
        `listened again; ${infos.length} redials`,
    );
  });
}
