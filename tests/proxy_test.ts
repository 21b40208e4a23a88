import assert from "node:assert/strict";
import { connectTransport, dial, type DialOptions } from "../client.ts";
import type { Conn } from "../conn.ts";
import { DialError, ProxyError } from "../errors.ts";
import {
  isNoProxy,
  openTunnel,
  parseProxyUrl,
  proxyForUrl,
  proxyPort,
  redact,
} from "../dial/proxy.ts";
import { serve, type WebSocketServer } from "../server.ts";
import {
  basicAuthorization,
  buildConnectRequest,
  parseConnectResponse,
} from "../dial/_connect_tunnel.ts";
import {
  encodeAddress,
  encodeIpv6,
  Socks5Error,
  Socks5Handshake,
} from "../dial/_socks5.ts";
import {
  hasProgram,
  MICROSOCKS,
  startMicrosocks,
  startTinyproxy,
  testCert,
  TINYPROXY,
  tlsFront,
} from "./_proxy_servers.ts";
import { everySplit, memoryPair } from "./_util.ts";

const decoder = new TextDecoder();
const bytes = (...values: number[]) => new Uint8Array(values);

// ---------------------------------------------------------------------------
// Sans-I/O: SOCKS5 messages.

Deno.test("encodeAddress() encodes IPv4, IPv6 and names with the port", () => {
  assert.deepEqual(
    encodeAddress({ host: "127.0.0.1", port: 8080 }),
    bytes(1, 127, 0, 0, 1, 0x1f, 0x90),
  );
  assert.deepEqual(
    encodeAddress({ host: "::1", port: 443 }),
    bytes(4, ...new Array(15).fill(0), 1, 0x01, 0xbb),
  );
  assert.deepEqual(
    encodeAddress({ host: "ab.c", port: 1 }),
    bytes(3, 4, 0x61, 0x62, 0x2e, 0x63, 0, 1),
  );
  assert.deepEqual(
    encodeIpv6("[2001:db8::ffff:1.2.3.4]"),
    bytes(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4),
  );
  assert.equal(encodeIpv6("1:2:3"), undefined);
  assert.equal(encodeIpv6("1::2::3"), undefined);
  assert.throws(
    () => encodeAddress({ host: "x".repeat(256), port: 1 }),
    RangeError,
  );
  assert.throws(() => encodeAddress({ host: "a", port: 65536 }), RangeError);
});

Deno.test("Socks5Handshake connects without authentication, at every split", () => {
  const reply = bytes(5, 0, 0, 1, 10, 0, 0, 7, 0x04, 0x38, 0x68, 0x69);
  for (const parts of everySplit(bytes(5, 0, ...reply))) {
    const handshake = new Socks5Handshake({ host: "example.com", port: 80 });
    assert.deepEqual(handshake.output(), bytes(5, 1, 0));
    const sent: Uint8Array[] = [];
    for (const part of parts) {
      handshake.receive(part);
      const out = handshake.output();
      if (out.length > 0) sent.push(out);
    }
    assert.ok(handshake.done);
    assert.deepEqual(sent, [
      bytes(5, 1, 0, 3, 11, ...new TextEncoder().encode("example.com"), 0, 80),
    ]);
    assert.deepEqual(handshake.bound, { host: "10.0.0.7", port: 1080 });
    assert.equal(decoder.decode(handshake.rest), "hi");
  }
});

Deno.test("Socks5Handshake authenticates with a username and password", () => {
  const handshake = new Socks5Handshake({ host: "10.1.2.3", port: 443 }, {
    username: "ann",
    password: "pw",
  });
  assert.deepEqual(handshake.output(), bytes(5, 2, 0, 2));
  handshake.receive(bytes(5, 2));
  assert.deepEqual(handshake.output(), bytes(1, 3, 97, 110, 110, 2, 112, 119));
  handshake.receive(bytes(1, 0));
  assert.deepEqual(handshake.output(), bytes(5, 1, 0, 1, 10, 1, 2, 3, 1, 0xbb));
  // A reply bound to a name.
  handshake.receive(bytes(5, 0, 0, 3, 1, 0x78, 0, 9));
  assert.ok(handshake.done);
  assert.deepEqual(handshake.bound, { host: "x", port: 9 });
});

Deno.test("Socks5Handshake reports refusals with their reply codes", () => {
  const refusal = (answers: Uint8Array[], credentials?: boolean) => {
    const handshake = new Socks5Handshake(
      { host: "127.0.0.1", port: 1 },
      credentials ? { username: "u", password: "p" } : undefined,
    );
    try {
      for (const answer of answers) handshake.receive(answer);
    } catch (error) {
      assert.ok(error instanceof Socks5Error);
      return [error.reply, error.message];
    }
    assert.fail("No error");
  };
  assert.deepEqual(refusal([bytes(5, 0xff)]), [
    0,
    "The SOCKS5 proxy asks for authentication",
  ]);
  assert.deepEqual(refusal([bytes(5, 2), bytes(1, 1)], true), [
    0,
    "The SOCKS5 proxy rejected the username and password",
  ]);
  assert.deepEqual(
    refusal([bytes(5, 0), bytes(5, 5, 0, 1, 0, 0, 0, 0, 0, 0)]),
    [
      5,
      "The SOCKS5 proxy refused the connection: connection refused",
    ],
  );
  assert.deepEqual(refusal([bytes(4, 0)]), [
    0,
    "Not a SOCKS5 server (version 4)",
  ]);
  assert.deepEqual(refusal([bytes(5, 2)]), [
    0,
    "The SOCKS5 proxy chose a method that was not offered (2)",
  ]);
});

// ---------------------------------------------------------------------------
// Sans-I/O: CONNECT and the environment.

Deno.test("buildConnectRequest() names the authority and the credentials", () => {
  assert.equal(
    decoder.decode(
      buildConnectRequest("::1", 8443, basicAuthorization("a", "é:b")),
    ),
    "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n" +
      "Proxy-Authorization: Basic YTrDqTpi\r\n\r\n",
  );
  const { ok, response } = parseConnectResponse(
    new TextEncoder().encode(
      "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
    ),
  );
  assert.equal(ok, false);
  assert.equal(response.status, 407);
  assert.ok(
    parseConnectResponse(
      new TextEncoder().encode("HTTP/1.0 200 Connection established\r\n\r\n"),
    ).ok,
  );
});

Deno.test("parseProxyUrl() fills in schemes and ports, redact() hides credentials", () => {
  const cases: [string, string, number][] = [
    ["127.0.0.1:3128", "http:", 3128],
    ["http://proxy", "http:", 80],
    ["https://proxy", "https:", 443],
    ["socks5://proxy", "socks5:", 1080],
    ["socks5h://[::1]:9050", "socks5h:", 9050],
    ["http://proxy:80", "http:", 80],
  ];
  for (const [text, scheme, port] of cases) {
    const url = parseProxyUrl(text);
    assert.equal(url.protocol, scheme, text);
    assert.equal(proxyPort(url), port, text);
  }
  assert.throws(() => parseProxyUrl("ftp://proxy"), TypeError);
  assert.equal(redact("http://u:p@proxy:1/"), "http://proxy:1/");
});

Deno.test("isNoProxy() matches names, suffixes, addresses, blocks, ports and *", () => {
  const list =
    "localhost, .internal.test,*.corp.test,10.0.0.0/8,[::1],example.org:8080";
  const cases: [string, boolean][] = [
    ["ws://localhost/", true],
    ["ws://notlocalhost/", false],
    ["ws://a.internal.test/", true],
    ["ws://internal.test/", true],
    ["ws://x.corp.test:9/", true],
    ["ws://10.2.3.4/", true],
    ["ws://11.2.3.4/", false],
    ["ws://[::1]:5/", true],
    ["ws://example.org:8080/", true],
    ["ws://example.org/", false],
    ["wss://example.org/", false],
  ];
  for (const [url, expected] of cases) {
    assert.equal(isNoProxy(new URL(url), list), expected, url);
  }
  assert.ok(isNoProxy(new URL("wss://anything/"), "*"));
  assert.ok(isNoProxy(new URL("wss://host/"), "host:443"));
  assert.ok(!isNoProxy(new URL("ws://host/"), "host:443"));
});

Deno.test("proxyForUrl() picks the variable by scheme, lowercase first, and honours no_proxy", () => {
  const lookup = (env: Record<string, string>) => (name: string) => env[name];
  const wss = new URL("wss://example.com/");
  const ws = new URL("ws://example.com/");
  assert.equal(
    proxyForUrl(
      wss,
      lookup({ HTTPS_PROXY: "http://a:1", https_proxy: "http://b:1" }),
    )?.hostname,
    "b",
  );
  assert.equal(
    proxyForUrl(ws, lookup({ HTTPS_PROXY: "http://a:1" })),
    undefined,
  );
  assert.equal(
    proxyForUrl(ws, lookup({ HTTP_PROXY: "http://a:1" }))?.hostname,
    "a",
  );
  assert.equal(
    proxyForUrl(ws, lookup({ http_proxy: "", ALL_PROXY: "socks5h://c" }))?.href,
    "socks5h://c",
  );
  assert.equal(
    proxyForUrl(
      ws,
      lookup({ ALL_PROXY: "socks5://c", NO_PROXY: "example.com" }),
    ),
    undefined,
  );
  assert.equal(
    proxyForUrl(ws, lookup({ all_proxy: "socks5://c", no_proxy: "*" })),
    undefined,
  );
});

Deno.test("openTunnel() keeps bytes that arrive with the proxy's answer", async () => {
  const [client, proxy] = memoryPair();
  const answering = (async () => {
    const buffer = new Uint8Array(1024);
    const n = await proxy.read(buffer);
    const request = decoder.decode(buffer.subarray(0, n!));
    await proxy.write(
      new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\nearly"),
    );
    return request;
  })();
  const tunnel = await openTunnel(client, parseProxyUrl("http://p:1"), {
    hostname: "server.test",
    port: 81,
  });
  assert.match(await answering, /^CONNECT server\.test:81 HTTP\/1\.1\r\n/);
  const buffer = new Uint8Array(10);
  const n = await tunnel.read(buffer);
  assert.equal(decoder.decode(buffer.subarray(0, n!)), "early");
  tunnel.close();
  proxy.close();
});

// ---------------------------------------------------------------------------
// Real proxies.

const tinyproxy = !hasProgram(TINYPROXY);
const microsocks = !hasProgram(MICROSOCKS);

interface EchoServer extends AsyncDisposable {
  server: WebSocketServer;
  port: number;
  url(path?: string): string;
}

async function echoServer(secure: boolean): Promise<EchoServer> {
  const tls = secure ? await testCert() : undefined;
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    ...(tls ? { cert: tls.cert, key: tls.key } : {}),
  }, async (conn: Conn) => {
    for await (const message of conn) await conn.send(message);
  });
  const port = server.addr.port;
  return {
    server,
    port,
    url: (path = "/") => `${secure ? "wss" : "ws"}://localhost:${port}${path}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/**
 * Dials, echoes one message and closes. `via` is the port the connection
 * must have gone to (the proxy's), checked where the transport has an address.
 */
async function roundTrip(
  url: string,
  options: DialOptions,
  via: number,
): Promise<void> {
  const cert = await testCert();
  const conn = await dial(url, { caCerts: [cert.ca], ...options });
  if (conn.remoteAddr !== undefined) {
    assert.equal((conn.remoteAddr as Deno.NetAddr).port, via);
  }
  try {
    await conn.send(`hello ${url}`);
    for await (const message of conn) {
      assert.equal(message, `hello ${url}`);
      break;
    }
  } finally {
    await conn.closed;
  }
}

async function dialError(
  url: string,
  options: DialOptions,
): Promise<DialError> {
  const cert = await testCert();
  const error = await dial(url, { caCerts: [cert.ca], ...options }).then(
    (conn) => {
      conn.abort();
      assert.fail("The dial succeeded");
    },
    (error) => error,
  );
  assert.ok(error instanceof DialError, String(error));
  return error;
}

for (const secure of [false, true]) {
  const scheme = secure ? "wss" : "ws";

  Deno.test({
    name: `dial() reaches a ${scheme}:// server through tinyproxy (http://)`,
    ignore: tinyproxy,
    async fn() {
      await using server = await echoServer(secure);
      await using proxy = await startTinyproxy({ connectPorts: [server.port] });
      await roundTrip(server.url(), { proxy: proxy.url }, proxy.port);
      // The proxy as a URL object, and without its scheme.
      await roundTrip(server.url(), { proxy: new URL(proxy.url) }, proxy.port);
      await roundTrip(
        server.url(),
        { proxy: `127.0.0.1:${proxy.port}` },
        proxy.port,
      );
    },
  });

  Deno.test({
    name: `dial() authenticates to tinyproxy with Basic auth for ${scheme}://`,
    ignore: tinyproxy,
    async fn() {
      await using server = await echoServer(secure);
      await using proxy = await startTinyproxy({
        auth: ["alice", "s3cret"],
        connectPorts: [server.port],
      });
      await roundTrip(server.url(), { proxy: proxy.url }, proxy.port);
      const denied = await dialError(server.url(), {
        proxy: `http://127.0.0.1:${proxy.port}`,
      });
      assert.ok(denied.cause instanceof ProxyError);
      assert.equal(denied.cause.status, 407);
      assert.equal(denied.cause.response?.status, 407);
      assert.match(denied.message, /refused CONNECT with 407/);
      const wrong = await dialError(server.url(), {
        proxy: `http://alice:wrong@127.0.0.1:${proxy.port}`,
      });
      // tinyproxy answers wrong credentials with 401.
      assert.ok([401, 407].includes((wrong.cause as ProxyError).status));
      // The credentials never appear in the error.
      assert.doesNotMatch(wrong.message, /wrong/);
    },
  });

  Deno.test({
    name: `dial() reaches a ${scheme}:// server through an https:// proxy`,
    ignore: tinyproxy,
    async fn() {
      const cert = await testCert();
      await using server = await echoServer(secure);
      await using proxy = await startTinyproxy({
        auth: ["bob", "pw"],
        connectPorts: [server.port],
      });
      await using front = tlsFront(proxy.port, cert);
      await roundTrip(server.url(), {
        proxy: `https://bob:pw@localhost:${front.port}`,
      }, front.port);
      assert.equal(front.accepted, 1);
    },
  });

  for (const socks of ["socks5", "socks5h"] as const) {
    Deno.test({
      name:
        `dial() reaches a ${scheme}:// server through microsocks (${socks}://)`,
      ignore: microsocks,
      async fn() {
        await using server = await echoServer(secure);
        await using proxy = await startMicrosocks({ scheme: socks });
        await roundTrip(server.url(), { proxy: proxy.url }, proxy.port);
        await roundTrip(server.url().replace("localhost", "127.0.0.1"), {
          proxy: proxy.url,
        }, proxy.port);
      },
    });

    Deno.test({
      name: `dial() authenticates to microsocks for ${scheme}:// (${socks}://)`,
      ignore: microsocks,
      async fn() {
        await using server = await echoServer(secure);
        await using proxy = await startMicrosocks({
          scheme: socks,
          auth: ["carol", "pa ss"],
        });
        await roundTrip(server.url(), { proxy: proxy.url }, proxy.port);
        const wrong = await dialError(server.url(), {
          proxy: `${socks}://carol:nope@127.0.0.1:${proxy.port}`,
        });
        assert.ok(wrong.cause instanceof ProxyError);
        assert.match(wrong.message, /rejected the username and password/);
        const none = await dialError(server.url(), {
          proxy: `${socks}://127.0.0.1:${proxy.port}`,
        });
        assert.match(none.message, /asks for authentication/);
      },
    });
  }
}

Deno.test({
  name: "dial() reports tinyproxy's refusal of a port with its status",
  ignore: tinyproxy,
  async fn() {
    await using server = await echoServer(false);
    await using proxy = await startTinyproxy({ connectPorts: [1] });
    const error = await dialError(server.url(), { proxy: proxy.url });
    assert.ok(error.cause instanceof ProxyError);
    assert.equal(error.cause.status, 403);
  },
});

Deno.test({
  name: "dial() reports a SOCKS5 refusal with its reply code",
  ignore: microsocks,
  async fn() {
    await using proxy = await startMicrosocks();
    // A port nothing listens on: the proxy's own connection is refused.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const error = await dialError(`ws://127.0.0.1:${port}/`, {
      proxy: proxy.url,
    });
    assert.ok(error.cause instanceof ProxyError);
    assert.ok(error.cause.status >= 1 && error.cause.status <= 8);
  },
});

Deno.test("dial() reports an unreachable proxy as a ProxyError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await dialError("ws://127.0.0.1:1/", {
    proxy: `http://u:p@127.0.0.1:${port}`,
  });
  assert.ok(error.cause instanceof ProxyError);
  assert.equal(error.cause.status, 0);
  assert.ok(error.cause.cause instanceof Deno.errors.ConnectionRefused);
  assert.doesNotMatch(error.message, /u:p/);
});

Deno.test("dial() sends the tunnel through the connect option", async () => {
  const [client, proxy] = memoryPair();
  const seen: string[] = [];
  const proxying = (async () => {
    const buffer = new Uint8Array(1024);
    const n = await proxy.read(buffer);
    seen.push(decoder.decode(buffer.subarray(0, n!)).split("\r\n")[0]);
    await proxy.write(
      new TextEncoder().encode("HTTP/1.1 502 Bad Gateway\r\n\r\n"),
    );
  })();
  const error = await dialError("ws://server.test:8080/", {
    proxy: "http://proxy.test:3128",
    connect: (target) => {
      seen.push(`${target.hostname}:${target.port} proxy=${target.proxy}`);
      return Promise.resolve(client);
    },
  });
  await proxying;
  proxy.close();
  assert.deepEqual(seen, [
    "proxy.test:3128 proxy=true",
    "CONNECT server.test:8080 HTTP/1.1",
  ]);
  assert.equal((error.cause as ProxyError).status, 502);
});

// ---------------------------------------------------------------------------
// The environment, in a process of its own (the variables are process-wide).

const envScript = `
import { dial } from ${
  JSON.stringify(new URL("../client.ts", import.meta.url).href)
};
try {
  const conn = await dial(Deno.args[0]);
  await conn.close();
  console.log("open");
} catch (error) {
  console.log(error.cause?.status ?? error.message);
}
`;

async function dialInProcess(
  url: string,
  env: Record<string, string>,
  permissions: string[],
): Promise<string> {
  // `deno eval` grants every permission: the script runs from a file.
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, envScript);
  const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, file, url],
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  assert.ok(success, decoder.decode(stderr));
  return decoder.decode(stdout).trim();
}

Deno.test({
  name: "dial() follows the proxy variables only where env access is granted",
  ignore: tinyproxy,
  async fn() {
    await using server = await echoServer(false);
    // A proxy that refuses without credentials shows whether it was used.
    await using proxy = await startTinyproxy({ auth: ["u", "p"] });
    const url = `ws://127.0.0.1:${server.port}/`;
    const proxyUrl = `http://127.0.0.1:${proxy.port}`;
    const home = {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
    };
    assert.equal(
      await dialInProcess(url, { ...home, HTTP_PROXY: proxyUrl }, ["-A"]),
      "407",
    );
    assert.equal(
      await dialInProcess(url, { ...home, all_proxy: proxyUrl }, ["-A"]),
      "407",
    );
    assert.equal(
      await dialInProcess(
        url,
        { ...home, HTTP_PROXY: proxyUrl, NO_PROXY: "localhost,127.0.0.1" },
        ["-A"],
      ),
      "open",
    );
    // No env permission: the variables are not read, and nothing prompts.
    assert.equal(
      await dialInProcess(url, { ...home, HTTP_PROXY: proxyUrl }, [
        "--allow-net",
        "--allow-read",
      ]),
      "open",
    );
    // Only the one variable granted.
    assert.equal(
      await dialInProcess(url, { ...home, HTTP_PROXY: proxyUrl }, [
        "--allow-net",
        "--allow-read",
        "--allow-env=HTTP_PROXY",
      ]),
      "407",
    );
  },
});

Deno.test({
  name: "dial() with proxy: false ignores the environment",
  ignore: tinyproxy,
  async fn() {
    await using server = await echoServer(false);
    await using proxy = await startTinyproxy({ auth: ["u", "p"] });
    const script = envScript.replace(
      "dial(Deno.args[0])",
      "dial(Deno.args[0], { proxy: false })",
    );
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "-A", script, `ws://127.0.0.1:${server.port}/`],
      env: { HTTP_PROXY: `http://127.0.0.1:${proxy.port}` },
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(decoder.decode(stdout).trim(), "open");
  },
});

Deno.test("dial() resolves the name itself for socks5:// and leaves it to the proxy for socks5h://", async () => {
  for (
    const [scheme, expected] of [
      ["socks5", bytes(1, 127, 0, 0, 1, 0x1f, 0x90)],
      [
        "socks5h",
        bytes(3, 9, ...new TextEncoder().encode("localhost"), 0x1f, 0x90),
      ],
    ] as const
  ) {
    const [client, proxy] = memoryPair();
    const request = (async () => {
      const buffer = new Uint8Array(512);
      let n = await proxy.read(buffer);
      assert.deepEqual(buffer.subarray(0, n!), bytes(5, 1, 0));
      await proxy.write(bytes(5, 0));
      n = await proxy.read(buffer);
      const connect = buffer.slice(0, n!);
      // Refused: "host unreachable".
      await proxy.write(bytes(5, 4, 0, 1, 0, 0, 0, 0, 0, 0));
      return connect;
    })();
    const error = await dialError("ws://localhost:8080/", {
      proxy: `${scheme}://proxy.test`,
      connect: (target) => {
        assert.deepEqual([target.hostname, target.port], ["proxy.test", 1080]);
        return Promise.resolve(client);
      },
    });
    assert.deepEqual(await request, bytes(5, 1, 0, ...expected), scheme);
    assert.equal((error.cause as ProxyError).status, 4);
    assert.match(error.message, /host unreachable/);
    proxy.close();
  }
});

Deno.test({
  name:
    "dial() fails a wss:// certificate it cannot trust inside a tunnel, leaking nothing",
  ignore: tinyproxy,
  async fn() {
    const cert = await testCert();
    await using server = await echoServer(true);
    await using proxy = await startTinyproxy();
    await using front = tlsFront(proxy.port, cert);
    for (
      const via of [false, proxy.url, `https://localhost:${front.port}`] as (
        | string
        | false
      )[]
    ) {
      // The proxy is trusted (it is given the CA), the server is not.
      const error = await dial(server.url(), {
        proxy: via,
        connect: (target, signal) =>
          connectTransport({
            ...target,
            caCerts: target.proxy ? [cert.ca] : undefined,
          }, signal),
      }).then(() => assert.fail("Connected"), (e) => e);
      assert.ok(error instanceof DialError);
      assert.match(String(error.message), /certificate/i, String(via));
    }
  },
});

Deno.test("dial() reports a timeout while reaching the proxy as a TimeoutError", async () => {
  const error = await dialError("ws://server.test/", {
    proxy: "http://proxy.test:3128",
    handshakeTimeout: 20,
    connect: () => new Promise(() => {}),
  });
  assert.ok(error.cause instanceof DOMException);
  assert.equal(error.cause.name, "TimeoutError");
});
