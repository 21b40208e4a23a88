// The plain HTTP/1.1 path of serve(): a fetch handler as `fallback`, driven
// by curl and by raw sockets (pipelining, smuggling attempts, upgrades after
// plain requests).

import assert from "node:assert/strict";
import { type PeerInfo, serve, type ServeOptions } from "../server.ts";
import type { Conn } from "../conn.ts";
import { concat, everySplit, memoryPair, randomBytes } from "./_util.ts";
import { serveHttp } from "../http/_server.ts";
import { readHead } from "../_util/io.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Fallback = (
  request: Request,
  info: PeerInfo,
) => Response | Promise<Response>;

interface Harness extends AsyncDisposable {
  port: number;
  url: string;
  errors: unknown[];
  // Client ports seen by the handler: one per TCP connection.
  ports: Set<number>;
}

function start(
  fallback: Fallback,
  options: ServeOptions = {},
  handler: (conn: Conn) => void | Promise<void> = () => {},
): Harness {
  const errors: unknown[] = [];
  const ports = new Set<number>();
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: () => {},
    onError: (error) => errors.push(error),
    ...options,
    fallback: (request, info) => {
      ports.add((info.remoteAddr as Deno.NetAddr).port);
      return fallback(request, info);
    },
  }, handler);
  return {
    port: server.addr.port,
    url: `http://127.0.0.1:${server.addr.port}`,
    errors,
    ports,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function curl(
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "20", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    code: output.code,
  };
}

// Writes `request` on a fresh socket and reads until the server closes.
async function exchange(
  port: number,
  request: string | Uint8Array,
): Promise<Uint8Array> {
  using socket = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = typeof request === "string" ? encoder.encode(request) : request;
  await writeAll(socket, bytes);
  return await readToEnd(socket);
}

async function writeAll(socket: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await socket.write(bytes.subarray(offset));
  }
}

async function readToEnd(socket: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await socket.read(buffer);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (n === null) break;
    parts.push(buffer.slice(0, n));
  }
  return concat(...parts);
}

interface Parsed {
  status: number;
  headers: Headers;
  body: string;
  raw: string;
}

// Splits a byte stream into HTTP/1.1 responses (Content-Length, chunked, or
// to the end), for `method` per response (HEAD has no body).
function parseResponses(bytes: Uint8Array, methods: string[] = []): Parsed[] {
  const text = Array.from(bytes, (b) => String.fromCharCode(b)).join("");
  const out: Parsed[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    assert.ok(end >= 0, `incomplete head: ${JSON.stringify(text.slice(at))}`);
    const lines = text.slice(at, end).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    let bodyStart = end + 4;
    if (status === 100) {
      at = bodyStart;
      continue;
    }
    const method = methods[out.length] ?? "GET";
    let body = "";
    if (method === "HEAD" || status === 204 || status === 304) {
      // No body.
    } else if (headers.get("transfer-encoding") === "chunked") {
      while (true) {
        const lineEnd = text.indexOf("\r\n", bodyStart);
        const size = parseInt(text.slice(bodyStart, lineEnd), 16);
        bodyStart = lineEnd + 2;
        if (size === 0) {
          bodyStart += 2;
          break;
        }
        body += text.slice(bodyStart, bodyStart + size);
        bodyStart += size + 2;
      }
    } else if (headers.has("content-length")) {
      const length = Number(headers.get("content-length"));
      body = text.slice(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      body = text.slice(bodyStart);
      bodyStart = text.length;
    }
    out.push({ status, headers, body, raw: text.slice(at, bodyStart) });
    at = bodyStart;
  }
  return out;
}

function echoInfo(request: Request): Promise<Response> {
  return request.text().then((body) =>
    Response.json({
      method: request.method,
      path: new URL(request.url).pathname,
      body,
      type: request.headers.get("content-type"),
    })
  );
}

Deno.test("serve() fallback gets request bodies from curl: -d, a file, chunked", async () => {
  await using server = start(echoInfo);
  const form = await curl("-d", "hello=1", `${server.url}/form`);
  assert.deepEqual(JSON.parse(form.stdout), {
    method: "POST",
    path: "/form",
    body: "hello=1",
    type: "application/x-www-form-urlencoded",
  });
  const chunked = await curl(
    "-H",
    "Transfer-Encoding: chunked",
    "-d",
    "streamed upload",
    `${server.url}/up`,
  );
  assert.equal(JSON.parse(chunked.stdout).body, "streamed upload");
});

Deno.test("serve() fallback streams a large binary upload back (--data-binary, 100-continue)", async () => {
  await using server = start((request) => new Response(request.body));
  const data = randomBytes(3 * 1024 * 1024 + 7, 7);
  const file = await Deno.makeTempFile();
  const out = await Deno.makeTempFile();
  try {
    await Deno.writeFile(file, data);
    const result = await curl(
      "-v",
      "-H",
      "Expect: 100-continue",
      "--data-binary",
      `@${file}`,
      "-o",
      out,
      `${server.url}/echo`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /< HTTP\/1\.1 100 Continue/);
    assert.match(result.stderr, /< transfer-encoding: chunked/);
    assert.deepEqual(await Deno.readFile(out), data);
  } finally {
    await Deno.remove(file);
    await Deno.remove(out);
  }
});

Deno.test("serve() keeps one connection alive across several curl URLs", async () => {
  await using server = start((request) =>
    new Response(`page ${new URL(request.url).pathname}\n`)
  );
  const result = await curl(
    "-w",
    "%{num_connects}\n",
    `${server.url}/a`,
    `${server.url}/b`,
    `${server.url}/c`,
    `${server.url}/d`,
  );
  assert.equal(
    result.stdout,
    "page /a\n1\npage /b\n0\npage /c\n0\npage /d\n0\n",
  );
  assert.equal(server.ports.size, 1);
});

Deno.test("serve() answers pipelined requests in order on one connection", async () => {
  let order = 0;
  await using server = start(async (request) => {
    const body = await request.text();
    const path = new URL(request.url).pathname;
    // The first answer is the slowest: order must still hold.
    if (path === "/1") await new Promise((r) => setTimeout(r, 20));
    return new Response(`${++order} ${request.method} ${path} ${body}`);
  });
  const bytes = await exchange(
    server.port,
    "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
      "POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabc\r\n0\r\nX-Trailer: dropped\r\n\r\n" +
      "GET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const responses = parseResponses(bytes);
  assert.deepEqual(responses.map((r) => r.body), [
    "1 GET /1 ",
    "2 POST /2 hello",
    "3 POST /3 abc",
    "4 GET /4 ",
  ]);
  assert.equal(responses[3].headers.get("connection"), "close");
  assert.equal(responses[0].headers.get("connection"), null);
  assert.match(responses[0].headers.get("date")!, /GMT$/);
  assert.equal(server.ports.size, 1);
});

Deno.test("serve() keeps HTTP/1.0 alive only when asked, and honours Connection: close", async () => {
  await using server = start(() => new Response("ok"));
  // HTTP/1.0 without keep-alive: one response, then the server closes.
  const plain = parseResponses(
    await exchange(server.port, "GET / HTTP/1.0\r\n\r\n"),
  );
  assert.equal(plain.length, 1);
  assert.equal(plain[0].headers.get("connection"), "close");
  const kept = parseResponses(
    await exchange(
      server.port,
      "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
        "GET /b HTTP/1.0\r\n\r\n",
    ),
  );
  assert.equal(kept.length, 2);
  assert.equal(kept[0].headers.get("connection"), "keep-alive");
  assert.equal(kept[1].headers.get("connection"), "close");
  // A Connection: close request ends the connection: what follows is not
  // answered.
  const closed = parseResponses(
    await exchange(
      server.port,
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
        "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
  );
  assert.equal(closed.length, 1);
});

Deno.test("serve() streams a response body of unknown length to HTTP/1.0 by closing", async () => {
  await using server = start(() =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(encoder.encode("a"));
          setTimeout(() => {
            controller.enqueue(encoder.encode("b"));
            controller.close();
          }, 1);
        },
      }),
    )
  );
  const [response] = parseResponses(
    await exchange(server.port, "GET / HTTP/1.0\r\n\r\n"),
  );
  assert.equal(response.body, "ab");
  assert.equal(response.headers.get("transfer-encoding"), null);
  assert.equal(response.headers.get("connection"), "close");
});

Deno.test("serve() refuses request smuggling shapes with 400 or 501 and closes", async () => {
  let calls = 0;
  await using server = start(() => {
    calls++;
    return new Response("reached");
  });
  const cases: [string, number][] = [
    [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
      400,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx",
      501,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      400,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
      400,
    ],
    ["GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\n\r\n", 400], // HTTP/1.1 without Host
  ];
  for (const [request, status] of cases) {
    const responses = parseResponses(await exchange(server.port, request));
    assert.equal(responses.length, 1, request);
    assert.equal(responses[0].status, status, request);
    assert.equal(responses[0].headers.get("connection"), "close");
  }
  assert.equal(calls, 0);
  // Mid-connection, after a good request: answered, then closed, and the
  // bytes smuggled after it are never a request.
  const later = parseResponses(
    await exchange(
      server.port,
      "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n" +
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
  );
  assert.deepEqual(later.map((r) => r.status), [200, 400]);
  assert.equal(calls, 1);
});

Deno.test("serve() fails a bad chunked body with 400 and closes", async () => {
  const seen: string[] = [];
  await using server = start(async (request) => {
    try {
      await request.text();
    } catch (error) {
      seen.push((error as Error).message);
      throw error;
    }
    return new Response("read");
  });
  for (
    const body of [
      "zz\r\nhello\r\n0\r\n\r\n",
      "5\r\nhelloXX\r\n0\r\n\r\n",
      "5\nhello\r\n0\r\n\r\n",
      "-5\r\nhello\r\n0\r\n\r\n",
    ]
  ) {
    const responses = parseResponses(
      await exchange(
        server.port,
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
          body + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
      ),
    );
    assert.deepEqual(responses.map((r) => r.status), [400], body);
  }
  assert.equal(seen.length, 4);
  assert.equal(server.errors.length, 0);
});

Deno.test("serve() answers 413 past maxBodySize, declared or chunked", async () => {
  let calls = 0;
  await using server = start(async (request) => {
    calls++;
    return new Response(`${(await request.arrayBuffer()).byteLength}`);
  }, { maxBodySize: 1024 });
  const declared = await curl(
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--data-binary",
    "x".repeat(2000),
    `${server.url}/`,
  );
  assert.equal(declared.stdout, "413");
  assert.equal(calls, 0);
  const chunked = await curl(
    "-s",
    "-w",
    " %{http_code}",
    "-H",
    "Transfer-Encoding: chunked",
    "--data-binary",
    "x".repeat(2000),
    `${server.url}/`,
  );
  assert.match(chunked.stdout, / 413$/);
  assert.equal(calls, 1);
  const fits = await curl("--data-binary", "x".repeat(1024), `${server.url}/`);
  assert.equal(fits.stdout, "1024");
  assert.equal(server.errors.length, 0);
});

Deno.test("serve() sends no body for HEAD, 204 and 304", async () => {
  await using server = start((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/304") {
      return new Response(null, {
        status: 304,
        headers: { ETag: '"v1"' },
      });
    }
    return new Response("twelve bytes");
  });
  const bytes = await exchange(
    server.port,
    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /204 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /304 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const responses = parseResponses(bytes, ["HEAD", "GET", "GET", "GET"]);
  assert.deepEqual(responses.map((r) => r.status), [200, 204, 304, 200]);
  // HEAD keeps the length the GET would have; no body byte follows any of
  // the first three (the next head starts right after their blank line).
  assert.equal(responses[0].headers.get("content-length"), "12");
  assert.ok(responses[0].raw.endsWith("\r\n\r\n"));
  assert.equal(responses[1].headers.get("content-length"), null);
  assert.equal(responses[2].headers.get("etag"), '"v1"');
  assert.equal(responses[3].body, "twelve bytes");
});

Deno.test("serve() streams a ReadableStream body chunked and cancels it when the client leaves", async () => {
  const cancelled = Promise.withResolvers<unknown>();
  const aborted = Promise.withResolvers<void>();
  await using server = start((request) => {
    request.signal.addEventListener("abort", () => aborted.resolve());
    let n = 0;
    return new Response(
      new ReadableStream({
        pull(controller) {
          // One chunk, then nothing more until cancelled.
          if (n++ === 0) controller.enqueue(encoder.encode("first"));
          else return new Promise(() => {});
        },
        cancel(reason) {
          cancelled.resolve(reason);
        },
      }),
    );
  });
  const socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(socket, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!text.includes("first\r\n")) {
    const n = await socket.read(buffer);
    assert.notEqual(n, null);
    text += decoder.decode(buffer.subarray(0, n!));
  }
  assert.match(text, /transfer-encoding: chunked\r\n/);
  assert.match(text, /\r\n\r\n5\r\nfirst\r\n$/);
  socket.close();
  await cancelled.promise;
  await aborted.promise;
});

Deno.test("serve() answers a throwing handler with a bare 500 and reports the error", async () => {
  await using server = start(() => {
    throw new Error("secret detail");
  });
  const result = await curl("-i", `${server.url}/`, `${server.url}/again`);
  assert.match(result.stdout, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  assert.ok(!result.stdout.includes("secret"));
  // The connection survives a handler error.
  assert.equal(server.ports.size, 1);
  assert.equal(server.errors.length, 2);
  assert.equal((server.errors[0] as Error).message, "secret detail");
});

Deno.test("serve() answers 100 Continue only when the handler reads the body", async () => {
  await using server = start(async (request) => {
    if (new URL(request.url).pathname === "/deny") {
      return new Response("no", { status: 401 });
    }
    return new Response(await request.text());
  });
  const socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  try {
    await writeAll(
      socket,
      encoder.encode(
        "PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
      ),
    );
    // Refused without reading: no 100, and the connection closes since
    // the body may or may not follow.
    const denied = parseResponses(await readToEnd(socket));
    assert.deepEqual(denied.map((r) => r.status), [401]);
    assert.equal(denied[0].headers.get("connection"), "close");
  } finally {
    socket.close();
  }
  const ok = await curl(
    "-v",
    "-H",
    "Expect: 100-continue",
    "-T",
    "-",
    `${server.url}/put`,
  );
  assert.match(ok.stderr, /HTTP\/1\.1 100 Continue/);
});

Deno.test("serve() closes idle connections and caps requests per connection", async () => {
  await using server = start(() => new Response("ok"), {
    keepAliveTimeout: 30,
    maxRequestsPerConnection: 2,
  });
  // Idle: the server closes after its timeout.
  const idle = parseResponses(
    await exchange(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
  );
  assert.equal(idle.length, 1);
  assert.equal(idle[0].headers.get("connection"), null);
  // The cap: the second response says close, the third request is ignored.
  const capped = parseResponses(
    await exchange(
      server.port,
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3),
    ),
  );
  assert.equal(capped.length, 2);
  assert.equal(capped[1].headers.get("connection"), "close");
});

Deno.test("serve() answers 408 when a request body stalls", async () => {
  await using server = start(
    async (request) => new Response(await request.text()),
    { bodyTimeout: 30 },
  );
  const responses = parseResponses(
    await exchange(
      server.port,
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    ),
  );
  assert.deepEqual(responses.map((r) => r.status), [408]);
  assert.equal(server.errors.length, 0);
});

// Reads one WebSocket frame (unmasked, short) from the socket's data.
function frameText(bytes: Uint8Array): string {
  assert.equal(bytes[0], 0x81);
  const length = bytes[1] & 0x7f;
  return decoder.decode(bytes.subarray(2, 2 + length));
}

Deno.test("serve() upgrades to WebSocket on a connection after two plain requests", async () => {
  let clientAddr: string | undefined;
  await using server = start(
    (request) => new Response(`plain ${new URL(request.url).pathname}`),
    {
      trustProxy: 1,
      beforeUpgrade: (_request, info) => {
        clientAddr = info.clientAddr;
      },
    },
    async (conn) => {
      for await (const message of conn) await conn.send(message);
    },
  );
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(
    socket,
    encoder.encode(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
  );
  let received: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  const readMore = async () => {
    const n = await socket.read(buffer);
    assert.notEqual(n, null);
    received = concat(received, buffer.subarray(0, n!));
  };
  const text = () => decoder.decode(received);
  while ((text().match(/plain \/[ab]/g) ?? []).length < 2) await readMore();
  assert.deepEqual(parseResponses(received).map((r) => r.body), [
    "plain /a",
    "plain /b",
  ]);
  received = new Uint8Array(0);
  // The upgrade and a first masked frame in the same write.
  const mask = [1, 2, 3, 4];
  const payload = encoder.encode("hi");
  const frame = new Uint8Array([
    0x81,
    0x80 | payload.length,
    ...mask,
    ...payload.map((b, i) => b ^ mask[i % 4]),
  ]);
  await writeAll(
    socket,
    concat(
      encoder.encode(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          "X-Forwarded-For: 198.51.100.20\r\n\r\n",
      ),
      frame,
    ),
  );
  while (
    !text().includes("\r\n\r\n") ||
    received.length < text().indexOf("\r\n\r\n") + 8
  ) {
    await readMore();
  }
  const headEnd = text().indexOf("\r\n\r\n") + 4;
  assert.match(text(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(text(), /s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  assert.equal(frameText(received.subarray(headEnd)), "hi");
  assert.equal(clientAddr, "198.51.100.20");
  // Close: a masked close frame, then the server's echo and its FIN.
  await writeAll(socket, new Uint8Array([0x88, 0x80, 0, 0, 0, 0]));
  const rest = await readToEnd(socket);
  assert.equal(rest[0], 0x88);
});

Deno.test("serve() without fallback still answers 426", async () => {
  await using _server = start(() => new Response("unused"));
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: () => {},
  }, () => {});
  try {
    const [response] = parseResponses(
      await exchange(
        server.addr.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
      ),
    );
    assert.equal(response.status, 426);
    assert.equal(response.headers.get("upgrade"), "websocket");
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() gives fallback the client address behind trusted proxies", async () => {
  await using direct = start((_request, info) =>
    new Response(String(info.clientAddr))
  );
  await using proxied = start(
    (_request, info) => new Response(String(info.clientAddr)),
    { trustProxy: ["127.0.0.1"] },
  );
  const request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
    'Forwarded: for="[2001:db8::7]:1234", for=10.1.2.3\r\n' +
    "X-Forwarded-For: 192.0.2.1\r\n\r\n";
  const [untrusted] = parseResponses(await exchange(direct.port, request));
  assert.equal(untrusted.body, "127.0.0.1");
  const [trusted] = parseResponses(await exchange(proxied.port, request));
  assert.equal(trusted.body, "10.1.2.3");
});

// A tiny router: method and path patterns with `:name` parameters.
type Route = (
  request: Request,
  params: Record<string, string>,
) => Response | Promise<Response>;

class Router {
  #routes: {
    method: string;
    pattern: RegExp;
    names: string[];
    route: Route;
  }[] = [];

  on(method: string, path: string, route: Route): this {
    const names: string[] = [];
    const pattern = new RegExp(
      "^" +
        path.replace(/:(\w+)/g, (_, name) => {
          names.push(name);
          return "([^/]+)";
        }) + "$",
    );
    this.#routes.push({ method, pattern, names, route });
    return this;
  }

  fetch = (request: Request): Response | Promise<Response> => {
    const path = new URL(request.url).pathname;
    let allowed = false;
    for (const { method, pattern, names, route } of this.#routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      if (method !== request.method) {
        allowed = true;
        continue;
      }
      const params = Object.fromEntries(
        names.map((name, i) => [name, decodeURIComponent(match[i + 1])]),
      );
      return route(request, params);
    }
    return new Response(allowed ? "Method Not Allowed\n" : "Not Found\n", {
      status: allowed ? 405 : 404,
    });
  };
}

Deno.test("serve() mounts a router-based fetch app beside WebSockets", async () => {
  const users = new Map<string, { name: string }>();
  const app = new Router()
    .on("GET", "/", () =>
      new Response("<!doctype html><title>app</title>", {
        headers: { "content-type": "text/html" },
      }))
    .on("POST", "/users/:id", async (request, { id }) => {
      users.set(id, await request.json());
      return Response.json({ created: id }, { status: 201 });
    })
    .on("GET", "/users/:id", (_request, { id }) => {
      const user = users.get(id);
      return user ? Response.json(user) : new Response(null, { status: 404 });
    });
  await using server = start(app.fetch);
  const created = await curl(
    "-w",
    " %{http_code}",
    "-H",
    "content-type: application/json",
    "-d",
    '{"name":"Ada"}',
    `${server.url}/users/ada`,
  );
  assert.equal(created.stdout, '{"created":"ada"} 201');
  const pages = await curl(
    "-w",
    " %{http_code}\n",
    `${server.url}/`,
    `${server.url}/users/ada`,
    `${server.url}/users/bob`,
    `${server.url}/nowhere`,
  );
  assert.equal(
    pages.stdout,
    "<!doctype html><title>app</title> 200\n" +
      '{"name":"Ada"} 200\n' +
      " 404\n" +
      "Not Found\n 404\n",
  );
  const deleted = await curl(
    "-w",
    " %{http_code}",
    "-X",
    "DELETE",
    `${server.url}/users/ada`,
  );
  assert.equal(deleted.stdout, "Method Not Allowed\n 405");
  // One connection per curl command.
  assert.equal(server.ports.size, 3);
});

Deno.test("serve() shutdown closes idle keep-alive connections at once", async () => {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: () => {},
    keepAliveTimeout: 60_000,
    fallback: () => new Response("ok"),
  }, () => {});
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  await writeAll(socket, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.endsWith("ok")) {
    const n = await socket.read(buffer);
    assert.notEqual(n, null);
    text += decoder.decode(buffer.subarray(0, n!));
  }
  await server.shutdown();
  assert.equal((await readToEnd(socket)).length, 0);
});

// Runs serveHttp over an in-memory pair, the client's bytes arriving in
// `parts`; returns what the server wrote (date lines dropped) and the
// upgrade handed back, if any.
async function memoryExchange(
  parts: Uint8Array[],
  handler: Fallback,
): Promise<{ output: string; handoff?: { target: string; rest: string } }> {
  const [client, server] = memoryPair(1 << 20);
  for (const part of parts) await client.write(part);
  await client.closeWrite();
  const { head, rest } = await readHead(
    server,
    16384,
    new AbortController().signal,
  );
  const handoff = await serveHttp(
    server,
    { head, rest },
    handler,
    { idleTimeout: 0 },
  );
  if (handoff) server.close();
  const output: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  while (true) {
    const n = await client.read(buffer).catch(() => null);
    if (n === null) break;
    output.push(buffer.slice(0, n));
  }
  client.close();
  return {
    output: decoder.decode(concat(...output)).replace(/date: [^\r]*\r\n/g, ""),
    handoff: handoff && {
      target: handoff.parsed.target,
      rest: String.fromCharCode(...handoff.rest),
    },
  };
}

Deno.test("serveHttp() answers the same for every split of pipelined requests", async () => {
  const input = encoder.encode(
    "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n" +
      "\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n" +
      "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
      "HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const handler = async (request: Request) =>
    new Response(
      `${request.method} ${new URL(request.url).pathname} ${await request
        .text()}`,
    );
  const expected = (await memoryExchange([input], handler)).output;
  assert.equal(
    expected,
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 13\r\n\r\nPOST /a abcde" +
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 7\r\n\r\nGET /b " +
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 12\r\n\r\nPUT /c hello" +
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 8\r\n\r\n" +
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 7\r\nconnection: close\r\n\r\nGET /e ",
  );
  for (const parts of everySplit(input)) {
    assert.equal((await memoryExchange(parts, handler)).output, expected);
  }
});

Deno.test("serveHttp() hands back a WebSocket upgrade with the bytes after it, in every split", async () => {
  const upgrade =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const input = concat(
    encoder.encode("GET /page HTTP/1.1\r\nHost: x\r\n\r\n" + upgrade),
    new Uint8Array([0x81, 0x80]),
    encoder.encode("frame"),
  );
  for (const parts of everySplit(input)) {
    const { output, handoff } = await memoryExchange(
      parts,
      () => new Response("page"),
    );
    assert.match(output, /\r\n\r\npage$/);
    assert.equal(handoff?.target, "/ws");
    assert.ok(
      "\x81\x80frame".startsWith(handoff.rest),
      JSON.stringify(handoff.rest),
    );
  }
});

Deno.test("serve() closes after a response that says Connection: close", async () => {
  await using server = start(() =>
    new Response("bye", { headers: { Connection: "close" } })
  );
  const responses = parseResponses(
    await exchange(
      server.port,
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
  );
  assert.equal(responses.length, 1);
  assert.equal(responses[0].headers.get("connection"), "close");
});

Deno.test("serve() shutdown cancels a streaming response and aborts its request", async () => {
  const cancelled = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: () => {},
    fallback: (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(encoder.encode("event: 1\n\n"));
          },
          cancel() {
            cancelled.resolve();
          },
        }),
      );
    },
  }, () => {});
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  await writeAll(socket, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("event: 1")) {
    const n = await socket.read(buffer);
    assert.notEqual(n, null);
    text += decoder.decode(buffer.subarray(0, n!));
  }
  await server.shutdown();
  await cancelled.promise;
  await aborted.promise;
  // The chunked body never got its last chunk: the client can tell.
  const rest = decoder.decode(await readToEnd(socket));
  assert.ok(!(text + rest).endsWith("0\r\n\r\n"));
});

Deno.test("serve() skips request bodies the handler leaves unread", async () => {
  await using server = start(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/part") {
      // Reads one chunk and leaves the rest.
      const reader = request.body!.getReader();
      await reader.read();
      reader.releaseLock();
    }
    return new Response(`${request.method} ${path}`);
  });
  const responses = parseResponses(
    await exchange(
      server.port,
      "GET /get-with-body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
        "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
        "POST /part HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n" +
        "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
  );
  assert.deepEqual(responses.map((r) => r.body), [
    "GET /get-with-body",
    "POST /unread",
    "POST /part",
    "GET /last",
  ]);
});

Deno.test("serve() closes when a response body is shorter than its Content-Length", async () => {
  await using server = start(() =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(encoder.encode("abc"));
          controller.close();
        },
      }),
      { headers: { "Content-Length": "10" } },
    )
  );
  const bytes = await exchange(
    server.port,
    "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const text = decoder.decode(bytes);
  assert.match(text, /content-length: 10\r\n\r\nabc$/);
});

Deno.test("serve() sends large known bodies whole and refuses Response.error() with 500", async () => {
  const big = new Uint8Array(randomBytes(300_000, 3));
  await using server = start((request) =>
    new URL(request.url).pathname === "/big"
      ? new Response(big)
      : Response.error()
  );
  const bytes = await exchange(
    server.port,
    "GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /error HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const responses = parseResponses(bytes);
  assert.equal(responses[0].headers.get("content-length"), "300000");
  assert.deepEqual(
    Uint8Array.from(responses[0].body, (c) => c.charCodeAt(0)),
    big,
  );
  assert.equal(responses[1].status, 500);
  assert.equal(server.errors.length, 1);
});

Deno.test("serve() refuses a bad or oversized head later on a connection", async () => {
  await using server = start(() => new Response("ok"), { maxHeadSize: 1024 });
  const ok = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const cases: [string, number][] = [
    [ok + "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400],
    [ok + "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400],
    [ok + "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400],
    [
      ok + "GET / HTTP/1.1\r\nHost: x\r\nX: " + "a".repeat(2000) + "\r\n\r\n",
      431,
    ],
    [ok + "GET / HTTP/1.1\r\nHost: x\r\nX: " + "a".repeat(2000), 431],
  ];
  for (const [request, status] of cases) {
    const responses = parseResponses(await exchange(server.port, request));
    assert.deepEqual(responses.map((r) => r.status), [200, status]);
    assert.equal(responses[1].headers.get("connection"), "close");
  }
});

Deno.test("serve() sends the head of a stream at once, before its first chunk", async () => {
  const release = Promise.withResolvers<void>();
  await using server = start((request) => {
    if (new URL(request.url).pathname === "/null") {
      // A content-length without a body: no bytes are promised.
      return new Response(null, { headers: { "content-length": "5" } });
    }
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await release.promise;
          controller.enqueue(encoder.encode("data: late\n\n"));
          controller.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  });
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(
    socket,
    encoder.encode(
      "GET /null HTTP/1.1\r\nHost: x\r\n\r\nGET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
  );
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!text.includes("text/event-stream")) {
    const n = await socket.read(buffer);
    assert.notEqual(n, null);
    text += decoder.decode(buffer.subarray(0, n!));
  }
  assert.ok(!text.includes("late"));
  release.resolve();
  text += decoder.decode(await readToEnd(socket));
  const responses = parseResponses(encoder.encode(text));
  assert.equal(responses[0].headers.get("content-length"), "0");
  assert.equal(responses[1].body, "data: late\n\n");
  assert.equal(responses[1].headers.get("transfer-encoding"), "chunked");
});

Deno.test("serveHttp() echoes request bodies back in every split, the requests after them intact", async () => {
  const input = encoder.encode(
    "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
      "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
      "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz" +
      "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const handler = (request: Request) =>
    new Response(request.body ?? "end", {
      headers: { "x-path": new URL(request.url).pathname },
    });
  for (const parts of everySplit(input)) {
    const { output } = await memoryExchange(parts, handler);
    const responses = parseResponses(encoder.encode(output));
    assert.deepEqual(
      responses.map((r) => `${r.headers.get("x-path")} ${r.body}`),
      ["/a hello", "/b abcde", "/c xyz", "/d end"],
      JSON.stringify(output),
    );
    assert.equal(responses[0].headers.get("transfer-encoding"), "chunked");
  }
});

Deno.test("serveHttp() echoes a large body back whole, and to HTTP/1.0 by closing", async () => {
  const data = randomBytes(700 * 1024 + 3, 11);
  const head = (version: string) =>
    encoder.encode(
      `POST /big HTTP/${version}\r\nHost: x\r\nContent-Length: ${data.length}\r\n\r\n`,
    );
  const handler = (request: Request) => new Response(request.body);
  for (const version of ["1.1", "1.0"]) {
    const [client, server] = memoryPair(4 << 20);
    await client.write(concat(head(version), data.subarray(0, 1000)));
    const served = (async () => {
      const first = await readHead(server, 16384, new AbortController().signal);
      await serveHttp(server, first, handler, { idleTimeout: 0 });
    })();
    await client.write(data.subarray(1000));
    await client.closeWrite();
    await served;
    const output: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await client.read(buffer).catch(() => null);
      if (n === null) break;
      output.push(buffer.slice(0, n));
    }
    client.close();
    const [response] = parseResponses(concat(...output));
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("transfer-encoding"),
      version === "1.1" ? "chunked" : null,
    );
    assert.deepEqual(
      Uint8Array.from(response.body, (c) => c.charCodeAt(0)),
      data,
    );
  }
});
