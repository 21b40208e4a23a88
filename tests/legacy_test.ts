// The legacy drafts (draft-hixie-thewebsocketprotocol-76 and -75) end to
// end: serve() negotiating them from the request, dial() speaking them, raw
// peers that send the draft's bytes by hand, and servers that misbehave.

import assert from "node:assert/strict";
import {
  type Conn,
  ConnectionClosedError,
  dial,
  DialError,
  type Handler,
  HandshakeError,
  type Message,
  ProtocolError,
  serve,
  type ServeOptions,
  type WebSocketServer,
} from "../mod.ts";
import { Conn as RawConn, type Transport } from "../conn.ts";
import {
  buildHixie75Response,
  buildHixie76Response,
  hixie76Answer,
  type HixieVersion,
} from "../legacy/handshake.ts";
import { HixieProtocol } from "../legacy/protocol.ts";
import { parseResponseHead, type ResponseHead } from "../handshake.ts";
import {
  decoder,
  encoder,
  head,
  httpExchange,
  type RawServer,
  rawServer,
  readHead,
  readRequest,
  writeAll,
} from "./_peers.ts";
import { concat, everySplit, memoryPair } from "./_util.ts";

const VERSIONS: HixieVersion[] = ["hixie-76", "hixie-75"];

/** The worked example of draft-hixie-thewebsocketprotocol-76, section 1.3. */
const KEY1 = "4 @1  46546xW%0l 1 5";
const KEY2 = "12998 5 Y3 1  .P00";
const KEY3 = "^n:ds[4U";
const ANSWER = "8jKS'y:G*Co,Wxa-";

// ---- Helpers ---------------------------------------------------------

/** A server on a free loopback port that records the errors it reports. */
interface TestServer extends AsyncDisposable {
  server: WebSocketServer;
  port: number;
  url: string;
  errors: unknown[];
}

function startServer(options: ServeOptions, handler: Handler): TestServer {
  const errors: unknown[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: (error) => errors.push(error),
    ...options,
  }, handler);
  const port = server.addr.port;
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}/`,
    errors,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      assert.deepEqual(errors, [], "the server reported errors");
    },
  };
}

/** Reads bytes from a transport, keeping what one read brought in excess. */
class ByteReader {
  #transport: Transport;
  #buffered: Uint8Array;

  constructor(transport: Transport, initial: Uint8Array = new Uint8Array(0)) {
    this.#transport = transport;
    this.#buffered = initial.slice();
  }

  /** Reads more; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    const buffer = new Uint8Array(64 * 1024);
    const n = await this.#transport.read(buffer);
    if (n === null) return false;
    this.#buffered = concat(this.#buffered, buffer.subarray(0, n));
    return true;
  }

  /** Exactly `n` bytes; throws if the stream ends first. */
  async exactly(n: number): Promise<Uint8Array> {
    while (this.#buffered.length < n) {
      if (!await this.#fill()) {
        throw new Error(
          `Stream ended after ${this.#buffered.length} of ${n} bytes`,
        );
      }
    }
    const out = this.#buffered.slice(0, n);
    this.#buffered = this.#buffered.slice(n);
    return out;
  }

  /** Everything up to the end of the stream (a reset counts as the end). */
  async rest(): Promise<Uint8Array> {
    try {
      while (await this.#fill());
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    }
    const out = this.#buffered;
    this.#buffered = new Uint8Array(0);
    return out;
  }
}

/** A draft text frame: 0x00, UTF-8, 0xFF. */
function textFrame(text: string): Uint8Array {
  return concat(
    new Uint8Array([0x00]),
    encoder.encode(text),
    new Uint8Array([0xff]),
  );
}

const CLOSING = new Uint8Array([0xff, 0x00]);

/** The head of a draft request for `path` on 127.0.0.1:`port`. */
function hixieRequest(
  version: HixieVersion,
  port: number,
  options: { path?: string; origin?: string; extra?: string[] } = {},
): string {
  const lines = [
    `GET ${options.path ?? "/chat"} HTTP/1.1`,
    "Upgrade: WebSocket",
    "Connection: Upgrade",
    `Host: 127.0.0.1:${port}`,
    `Origin: ${options.origin ?? `http://127.0.0.1:${port}`}`,
  ];
  if (version === "hixie-76") {
    lines.push(`Sec-WebSocket-Key1: ${KEY1}`, `Sec-WebSocket-Key2: ${KEY2}`);
  }
  return head([...lines, ...(options.extra ?? [])]);
}

/** A raw client past a draft handshake with our server. */
interface RawHixieClient extends Disposable {
  socket: Deno.TcpConn;
  response: ResponseHead;
  bytes: ByteReader;
}

async function rawHixieClient(
  version: HixieVersion,
  port: number,
): Promise<RawHixieClient> {
  const socket = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      socket,
      version === "hixie-76"
        ? hixieRequest(version, port) + KEY3
        : hixieRequest(version, port),
    );
    const { head: bytes, rest } = await readHead(socket);
    const response = parseResponseHead(bytes);
    assert.equal(response.status, 101);
    const reader = new ByteReader(socket, rest);
    if (version === "hixie-76") {
      assert.equal(decoder.decode(await reader.exactly(16)), ANSWER);
    }
    return {
      socket,
      response,
      bytes: reader,
      [Symbol.dispose]() {
        try {
          socket.close();
        } catch {
          // Already closed.
        }
      },
    };
  } catch (error) {
    socket.close();
    throw error;
  }
}

/** Reads `n` messages from a connection. */
async function readN(conn: Conn, n: number): Promise<Message[]> {
  const reader = conn.readable.getReader();
  const out: Message[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const { value, done } = await reader.read();
      assert.equal(done, false, `stream ended after ${i} messages`);
      out.push(value!);
    }
  } finally {
    reader.releaseLock();
  }
  return out;
}

/** Reads a connection to its end: its messages and how the stream ended. */
async function drain(
  conn: Conn,
): Promise<{ messages: Message[]; error: unknown }> {
  const messages: Message[] = [];
  try {
    for await (const message of conn) messages.push(message);
    return { messages, error: undefined };
  } catch (error) {
    return { messages, error };
  }
}

/** The rejection of a promise that must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

const CLEAN = { code: 1005, reason: "", wasClean: true };

// ---- Our client with our server ----------------------------------------

for (const version of VERSIONS) {
  Deno.test(`dial() and serve() speak ${version} both ways with matching Conn properties`, async () => {
    const served = Promise.withResolvers<
      { conn: Conn; received: Message[]; error: unknown; closed: unknown }
    >();
    await using server = startServer({
      versions: ["13", "hixie-76", "hixie-75"],
      protocols: ["chat"],
    }, async (conn) => {
      await conn.send("welcome");
      const { messages, error } = await drain(conn);
      served.resolve({
        conn,
        received: messages,
        error,
        closed: await conn.closed,
      });
    });
    const url = `ws://127.0.0.1:${server.port}/chat?room=1`;
    const client = await dial(url, { version, protocols: ["chat"] });
    const origin = `http://127.0.0.1:${server.port}`;
    assert.equal(client.version, version);
    assert.equal(client.url, url);
    assert.equal(client.origin, origin);
    assert.equal(client.protocol, "chat");
    assert.equal(client.extensions, "");
    assert.equal(client.request, undefined);
    const texts = ["hello", "héllo wörld ✓ 🎉", "", "x".repeat(70_000)];
    assert.deepEqual(await readN(client, 1), ["welcome"]);
    for (const text of texts) await client.send(text);
    const info = await client.close();
    assert.deepEqual(info, CLEAN);

    const { conn, received, error, closed } = await served.promise;
    assert.deepEqual(received, texts);
    assert.equal(error, undefined, `the server's stream errored: ${error}`);
    assert.deepEqual(closed, CLEAN);
    assert.equal(conn.version, version);
    assert.equal(conn.url, url);
    assert.equal(conn.origin, origin);
    assert.equal(conn.protocol, "chat");
    assert.ok(conn.request instanceof Request);
    assert.equal(
      conn.request.url,
      `http://127.0.0.1:${server.port}/chat?room=1`,
    );
    assert.equal(conn.request.headers.get("origin"), origin);
    assert.equal(
      conn.request.headers.has("sec-websocket-key1"),
      version === "hixie-76",
    );
    assert.equal(
      conn.request.headers.get(
        version === "hixie-76"
          ? "sec-websocket-protocol"
          : "websocket-protocol",
      ),
      "chat",
    );
  });

  Deno.test(`serve() closing a ${version} connection ends the client's stream cleanly`, async () => {
    await using server = startServer(
      { versions: [version] },
      async (conn) => {
        for await (const message of conn) {
          await conn.send(`echo:${message}`);
          if (message === "bye") break; // the server closes on return
        }
      },
    );
    const client = await dial(server.url, { version });
    await client.send("hi");
    await client.send("bye");
    const { messages, error } = await drain(client);
    assert.deepEqual(messages, ["echo:hi", "echo:bye"]);
    assert.equal(error, undefined, `the client's stream errored: ${error}`);
    assert.deepEqual(await client.closed, CLEAN);
    await assert.rejects(client.send("late"), ConnectionClosedError);
  });
}

Deno.test("serve() closes hixie-76 with 0xFF 0x00, waits for the answer, then closes TCP", async () => {
  const closed = Promise.withResolvers<unknown>();
  await using server = startServer({ versions: ["hixie-76"] }, async (conn) => {
    await conn.send("bye");
    // Returning closes the connection.
    conn.closed.then(closed.resolve);
  });
  using raw = await rawHixieClient("hixie-76", server.port);
  assert.deepEqual(
    await raw.bytes.exactly(textFrame("bye").length),
    textFrame("bye"),
  );
  assert.deepEqual(await raw.bytes.exactly(2), CLOSING);
  await writeAll(raw.socket, CLOSING);
  // The server closes TCP once the handshake is done: nothing else comes.
  assert.deepEqual(await raw.bytes.rest(), new Uint8Array(0));
  raw.socket.close();
  assert.deepEqual(await closed.promise, CLEAN);
});

Deno.test("dial() closes hixie-76 with 0xFF 0x00 and is clean once the server answers", async () => {
  await using peer = rawServer(async (socket) => {
    const { request, rest } = await readRequest(socket);
    const reader = new ByteReader(socket, rest);
    const key3 = await reader.exactly(8);
    await writeAll(
      socket,
      concat(
        buildHixie76Response({
          host: request.headers.get("host")!,
          resource: request.target,
          secure: false,
          origin: request.headers.get("origin")!,
        }),
        hixie76Answer(
          request.headers.get("sec-websocket-key1")!,
          request.headers.get("sec-websocket-key2")!,
          key3,
        ),
      ),
    );
    assert.deepEqual(await reader.exactly(2), CLOSING);
    await writeAll(socket, CLOSING);
    // The server closes TCP first; the client sends nothing more.
    await socket.closeWrite();
    assert.deepEqual(await reader.rest(), new Uint8Array(0));
  });
  const client = await dial(peer.url, { version: "hixie-76" });
  assert.deepEqual(await client.close(), CLEAN);
});

Deno.test("a hixie-75 peer's end of the stream is a clean close on the server", async () => {
  const served = Promise.withResolvers<
    { messages: Message[]; error: unknown; closed: unknown }
  >();
  await using server = startServer({ versions: ["hixie-75"] }, async (conn) => {
    const { messages, error } = await drain(conn);
    served.resolve({ messages, error, closed: await conn.closed });
  });
  using raw = await rawHixieClient("hixie-75", server.port);
  assert.equal(raw.response.statusText, "Web Socket Protocol Handshake");
  await writeAll(raw.socket, concat(textFrame("one"), textFrame("two")));
  await raw.socket.closeWrite();
  // Draft 75 has no closing bytes: the server only closes its side.
  assert.deepEqual(await raw.bytes.rest(), new Uint8Array(0));
  const { messages, error, closed } = await served.promise;
  assert.deepEqual(messages, ["one", "two"]);
  assert.equal(error, undefined, `the server's stream errored: ${error}`);
  assert.deepEqual(closed, CLEAN);
});

// ---- One port, every version ---------------------------------------------

Deno.test("serve() serves RFC 6455, hixie-76 and hixie-75 peers on one port at once", async () => {
  const peers = new Set<Conn>();
  const versions: string[] = [];
  const joined = Promise.withResolvers<void>();
  await using server = startServer({
    versions: ["13", "hixie-76", "hixie-75"],
  }, async (conn) => {
    peers.add(conn);
    versions.push(conn.version);
    if (peers.size === 4) joined.resolve();
    try {
      // Every message goes to every peer, tagged with its sender's version.
      for await (const message of conn) {
        for (const peer of peers) await peer.send(`${conn.version}|${message}`);
      }
    } finally {
      peers.delete(conn);
    }
  });
  const [rfc, builtin, draft76, draft75] = await Promise.all([
    dial(server.url),
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(server.url);
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error("The built-in WebSocket failed"));
    }),
    dial(server.url, { version: "hixie-76" }),
    dial(server.url, { version: "hixie-75" }),
  ]);
  assert.deepEqual(
    [rfc.version, draft76.version, draft75.version],
    ["13", "hixie-76", "hixie-75"],
  );
  const builtinMessages: string[] = [];
  const builtinDone = Promise.withResolvers<void>();
  const ROUNDS = 5;
  const TOTAL = 4 * ROUNDS;
  builtin.onmessage = (event) => {
    builtinMessages.push(event.data);
    if (builtinMessages.length === TOTAL) builtinDone.resolve();
  };
  await joined.promise;

  const senders: [string, (text: string) => Promise<void>][] = [
    ["rfc", (text) => rfc.send(text)],
    ["builtin", (text) => Promise.resolve(builtin.send(text))],
    ["draft76", (text) => draft76.send(text)],
    ["draft75", (text) => draft75.send(text)],
  ];
  const sends: Promise<void>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, send] of senders) sends.push(send(`${name}-${round}`));
  }
  const [rfcMessages, draft76Messages, draft75Messages] = await Promise.all([
    readN(rfc, TOTAL),
    readN(draft76, TOTAL),
    readN(draft75, TOTAL),
    builtinDone.promise,
    ...sends,
  ]);

  const tagOf: Record<string, string> = {
    rfc: "13",
    builtin: "13",
    draft76: "hixie-76",
    draft75: "hixie-75",
  };
  for (
    const received of [
      rfcMessages,
      builtinMessages,
      draft76Messages,
      draft75Messages,
    ]
  ) {
    // Each sender's messages arrive in order, whatever the interleaving.
    for (const [name] of senders) {
      const mine = (received as string[]).filter((m) =>
        m.split("|")[1].startsWith(`${name}-`)
      );
      assert.deepEqual(
        mine,
        Array.from({ length: ROUNDS }, (_, i) => `${tagOf[name]}|${name}-${i}`),
      );
    }
    assert.equal(received.length, TOTAL);
  }
  assert.deepEqual(versions.toSorted(), ["13", "13", "hixie-75", "hixie-76"]);

  const builtinClosed = new Promise<CloseEvent>((resolve) => {
    builtin.onclose = resolve;
  });
  builtin.close(1000);
  const [rfcInfo, info76, info75, event] = await Promise.all([
    rfc.close(),
    draft76.close(),
    draft75.close(),
    builtinClosed,
  ]);
  assert.deepEqual(rfcInfo, { code: 1000, reason: "", wasClean: true });
  assert.deepEqual(info76, CLEAN);
  assert.deepEqual(info75, CLEAN);
  assert.equal(event.wasClean, true);
});

// ---- Off by default ------------------------------------------------------

for (const version of VERSIONS) {
  Deno.test(`serve() without versions answers a ${version} request with 400`, async () => {
    await using server = startServer({}, () => {
      assert.fail("no connection may open");
    });
    const response = await httpExchange(
      server.port,
      hixieRequest(version, server.port),
    );
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("sec-websocket-version"), "13");
    assert.match(
      response.body,
      new RegExp(`${version} protocol is not enabled`),
    );

    const error = await rejection(dial(server.url, { version }));
    assert.ok(error instanceof DialError);
    assert.ok(error.cause instanceof HandshakeError);
    assert.equal(error.cause.code, "BAD_STATUS");
    assert.equal(error.cause.response?.status, 400);
  });
}

Deno.test('serve() with versions [13, "hixie-76"] refuses hixie-75 and accepts hixie-76', async () => {
  await using server = startServer(
    { versions: ["13", "hixie-76"] },
    async (conn) => {
      for await (const message of conn) await conn.send(message);
    },
  );
  const response = await httpExchange(
    server.port,
    hixieRequest("hixie-75", server.port),
  );
  assert.equal(response.status, 400);
  const client = await dial(server.url, { version: "hixie-76" });
  await client.send("still here");
  assert.deepEqual(await readN(client, 1), ["still here"]);
  assert.deepEqual(await client.close(), CLEAN);
});

// ---- The draft-76 worked example on the server -------------------------

/** The request of draft-76 section 1.3, byte for byte, without key3. */
const EXAMPLE_REQUEST = head([
  "GET /demo HTTP/1.1",
  "Host: example.com",
  "Connection: Upgrade",
  `Sec-WebSocket-Key2: ${KEY2}`,
  "Sec-WebSocket-Protocol: sample",
  "Upgrade: WebSocket",
  `Sec-WebSocket-Key1: ${KEY1}`,
  "Origin: http://example.com",
]);

/** The response of draft-76 section 1.3, byte for byte, without the answer. */
const EXAMPLE_RESPONSE = head([
  "HTTP/1.1 101 WebSocket Protocol Handshake",
  "Upgrade: WebSocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Origin: http://example.com",
  "Sec-WebSocket-Location: ws://example.com/demo",
  "Sec-WebSocket-Protocol: sample",
]);

function exampleServer(): TestServer {
  return startServer({
    versions: ["hixie-76"],
    protocols: ["sample"],
    handshakeTimeout: 5_000, // a missing head fails the test, not hangs it
  }, async (conn) => {
    assert.equal(conn.url, "ws://example.com/demo");
    assert.equal(conn.origin, "http://example.com");
    assert.equal(conn.protocol, "sample");
    for await (const message of conn) await conn.send(message);
  });
}

/** Sends the closing bytes and expects the echo of them, then the end. */
async function closeRaw(
  socket: Deno.TcpConn,
  reader: ByteReader,
): Promise<void> {
  await writeAll(socket, CLOSING);
  assert.deepEqual(await reader.rest(), CLOSING);
}

Deno.test("serve() writes the draft-76 example's response head before the 8 key bytes arrive", async () => {
  await using server = exampleServer();
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(socket, EXAMPLE_REQUEST);
  const { head: bytes, rest } = await readHead(socket);
  assert.equal(decoder.decode(bytes), EXAMPLE_RESPONSE);
  assert.equal(rest.length, 0, "the answer came before the key bytes");
  await writeAll(socket, KEY3);
  const reader = new ByteReader(socket, rest);
  assert.equal(decoder.decode(await reader.exactly(16)), ANSWER);
  await writeAll(socket, textFrame("after the answer"));
  assert.deepEqual(
    await reader.exactly(textFrame("after the answer").length),
    textFrame("after the answer"),
  );
  await closeRaw(socket, reader);
});

Deno.test("serve() answers the draft-76 example byte for byte when the key bytes come with the head", async () => {
  await using server = exampleServer();
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(socket, EXAMPLE_REQUEST + KEY3);
  const reader = new ByteReader(socket);
  const expected = EXAMPLE_RESPONSE + ANSWER;
  assert.equal(
    decoder.decode(await reader.exactly(encoder.encode(expected).length)),
    expected,
  );
  await closeRaw(socket, reader);
});

Deno.test("serve() passes frames that follow the draft-76 key bytes in the same write to the connection", async () => {
  await using server = exampleServer();
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(
    socket,
    concat(
      encoder.encode(EXAMPLE_REQUEST + KEY3),
      textFrame("early"),
      textFrame("bird"),
    ),
  );
  const reader = new ByteReader(socket);
  const expected = concat(
    encoder.encode(EXAMPLE_RESPONSE + ANSWER),
    textFrame("early"),
    textFrame("bird"),
  );
  assert.deepEqual(await reader.exactly(expected.length), expected);
  await closeRaw(socket, reader);
});

Deno.test("serve() reads draft-76 key bytes that arrive one at a time", async () => {
  await using server = exampleServer();
  using socket = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await writeAll(socket, EXAMPLE_REQUEST);
  const { head: bytes, rest } = await readHead(socket);
  assert.equal(decoder.decode(bytes), EXAMPLE_RESPONSE);
  for (const byte of encoder.encode(KEY3)) {
    await writeAll(socket, new Uint8Array([byte]));
  }
  const reader = new ByteReader(socket, rest);
  assert.equal(decoder.decode(await reader.exactly(16)), ANSWER);
  await closeRaw(socket, reader);
});

const BAD_KEYS: [string, string, string][] = [
  ["no spaces", "12345678", "the key has no spaces"],
  [
    "a quotient that is not an integer",
    "1 2 3",
    "not a multiple of its spaces",
  ],
  ["a quotient over 32 bits", "4294967296 0", "exceeds 32 bits"],
];
for (const [name, key, message] of BAD_KEYS) {
  Deno.test(`serve() answers a hixie-76 key with ${name} with 400 BAD_KEY`, async () => {
    await using server = startServer({ versions: ["hixie-76"] }, () => {
      assert.fail("no connection may open");
    });
    const request = hixieRequest("hixie-76", server.port).replace(
      `Sec-WebSocket-Key2: ${KEY2}`,
      `Sec-WebSocket-Key2: ${key}`,
    );
    const response = await httpExchange(server.port, request);
    assert.equal(response.status, 400);
    assert.match(response.body, new RegExp(message));
  });
}

Deno.test("serve() refuses a hixie-76 request from another origin with 403", async () => {
  await using server = startServer({ versions: ["hixie-76"] }, () => {
    assert.fail("no connection may open");
  });
  const response = await httpExchange(
    server.port,
    hixieRequest("hixie-76", server.port, { origin: "http://evil.example" }),
  );
  assert.equal(response.status, 403);
});

Deno.test("serve() refuses a hixie-76 request that is not a GET with 405", async () => {
  await using server = startServer({ versions: ["hixie-76"] }, () => {
    assert.fail("no connection may open");
  });
  const response = await httpExchange(
    server.port,
    hixieRequest("hixie-76", server.port).replace(/^GET/, "POST"),
  );
  assert.equal(response.status, 405);
});

// ---- The client against misbehaving servers ------------------------------

/** What a raw draft server knows once it has read the request. */
interface DraftRequest {
  version: HixieVersion;
  host: string;
  resource: string;
  origin: string;
  protocol: string | undefined;
  answer: Uint8Array;
}

/** The correct response head, with some fields changed. */
function responseHead(
  request: DraftRequest,
  change: Partial<Pick<DraftRequest, "origin" | "resource" | "protocol">> = {},
): Uint8Array {
  const options = {
    host: request.host,
    resource: change.resource ?? request.resource,
    secure: false,
    origin: change.origin ?? request.origin,
    protocol: change.protocol ?? request.protocol,
  };
  return request.version === "hixie-76"
    ? buildHixie76Response(options)
    : buildHixie75Response(options);
}

/** A raw server that answers one draft request with `respond`'s bytes. */
function draftServer(
  version: HixieVersion,
  respond: (request: DraftRequest) => Uint8Array,
  then: (socket: Deno.TcpConn, reader: ByteReader) => Promise<unknown> = (
    _socket,
    reader,
  ) => reader.rest(),
): RawServer {
  return rawServer(async (socket) => {
    const { request, rest } = await readRequest(socket);
    const reader = new ByteReader(socket, rest);
    const headers = request.headers;
    const answer = version === "hixie-76"
      ? hixie76Answer(
        headers.get("sec-websocket-key1")!,
        headers.get("sec-websocket-key2")!,
        await reader.exactly(8),
      )
      : new Uint8Array(0);
    await writeAll(
      socket,
      respond({
        version,
        host: headers.get("host")!,
        resource: request.target,
        origin: headers.get("origin")!,
        protocol: headers.get(
          version === "hixie-76"
            ? "sec-websocket-protocol"
            : "websocket-protocol",
        ) ?? undefined,
        answer,
      }),
    );
    // By default, wait for the client to hang up.
    await then(socket, reader);
  });
}

const MISBEHAVIOURS: {
  code: string;
  versions: HixieVersion[];
  respond: (request: DraftRequest) => Uint8Array;
}[] = [
  {
    code: "CHALLENGE_MISMATCH",
    versions: ["hixie-76"],
    respond: (request) => {
      const wrong = request.answer.slice();
      wrong[15] ^= 0x01;
      return concat(responseHead(request), wrong);
    },
  },
  {
    code: "BAD_ORIGIN",
    versions: VERSIONS,
    respond: (request) =>
      concat(
        responseHead(request, { origin: "http://evil.example" }),
        request.answer,
      ),
  },
  {
    code: "BAD_LOCATION",
    versions: VERSIONS,
    respond: (request) =>
      concat(responseHead(request, { resource: "/elsewhere" }), request.answer),
  },
  {
    code: "BAD_PROTOCOL",
    versions: VERSIONS,
    respond: (request) =>
      concat(responseHead(request, { protocol: "other" }), request.answer),
  },
  {
    code: "BAD_STATUS",
    versions: VERSIONS,
    respond: () =>
      encoder.encode(head(["HTTP/1.1 403 Forbidden", "Content-Length: 0"])),
  },
  {
    code: "BAD_UPGRADE",
    versions: VERSIONS,
    respond: (request) =>
      concat(
        encoder.encode(
          decoder.decode(responseHead(request)).replace(
            "Upgrade: WebSocket",
            "Upgrade: h2c",
          ),
        ),
        request.answer,
      ),
  },
];

for (const { code, versions, respond } of MISBEHAVIOURS) {
  for (const version of versions) {
    Deno.test(`dial() ${version} rejects a misbehaving server with ${code}`, async () => {
      await using peer = draftServer(version, respond);
      const url = `${peer.url}chat?room=1`;
      const origin = `http://127.0.0.1:${peer.port}`;
      const error = await rejection(
        dial(url, { version, protocols: ["chat"], origin }),
      );
      assert.ok(error instanceof DialError, `expected a DialError: ${error}`);
      assert.equal(error.url, url);
      assert.equal(error.protocol, "chat");
      assert.equal(error.origin, origin);
      assert.ok(error.cause instanceof HandshakeError, `cause: ${error.cause}`);
      assert.equal(error.cause.code, code);
      if (code === "BAD_STATUS") {
        assert.equal(error.cause.response?.status, 403);
      }
    });
  }
}

Deno.test("dial() hixie-76 reads a message that comes in the same write as the answer", async () => {
  await using peer = draftServer(
    "hixie-76",
    (request) =>
      concat(
        responseHead(request),
        request.answer,
        textFrame("first"),
        CLOSING,
      ),
    async (socket, reader) => {
      assert.deepEqual(await reader.exactly(2), CLOSING);
      await socket.closeWrite();
      assert.deepEqual(await reader.rest(), new Uint8Array(0));
    },
  );
  const client = await dial(peer.url, { version: "hixie-76" });
  const { messages, error } = await drain(client);
  assert.deepEqual(messages, ["first"]);
  assert.equal(error, undefined);
  assert.deepEqual(await client.closed, CLEAN);
});

Deno.test("dial() names the default Origin a draft request sent in its DialError", async () => {
  await using peer = draftServer(
    "hixie-76",
    (request) =>
      concat(
        responseHead(request, { origin: "http://evil.example" }),
        request.answer,
      ),
  );
  const error = await rejection(dial(peer.url, { version: "hixie-76" }));
  assert.ok(error instanceof DialError);
  assert.equal(error.origin, `http://127.0.0.1:${peer.port}`);
});

Deno.test("dial() rejects more than one subprotocol for a draft with TypeError", async () => {
  // The check comes before any byte is written.
  await using server = startServer({ versions: ["hixie-76"] }, () => {});
  const error = await rejection(
    dial(server.url, { version: "hixie-76", protocols: ["a", "b"] }),
  );
  assert.ok(error instanceof DialError);
  assert.ok(error.cause instanceof TypeError);
});

// ---- What the drafts cannot carry ----------------------------------------

/** A legacy client and server Conn over an in-memory pair. */
function legacyPair(
  version: HixieVersion,
  maxMessageSize?: number,
): { client: RawConn; server: RawConn } {
  const [a, b] = memoryPair();
  const make = (role: "client" | "server", transport: Transport) =>
    new RawConn({
      role,
      transport,
      machine: new HixieProtocol({ version, role, maxMessageSize }),
      url: "ws://example.com/chat",
      version,
    });
  return { client: make("client", a), server: make("server", b) };
}

for (const version of VERSIONS) {
  Deno.test(`send() of binary data on a ${version} Conn rejects with TypeError and the Conn stays open`, async () => {
    const { client, server } = legacyPair(version);
    await assert.rejects(client.send(new Uint8Array([1, 2, 3])), TypeError);
    await client.send("text still works");
    assert.deepEqual(await readN(server, 1), ["text still works"]);
    assert.deepEqual(await client.close(), CLEAN);
    assert.deepEqual(await server.closed, CLEAN);
  });

  Deno.test(`ping() on a ${version} Conn rejects with TypeError`, async () => {
    const { client, server } = legacyPair(version);
    await assert.rejects(client.ping(), TypeError);
    await assert.rejects(server.ping(new Uint8Array([1])), TypeError);
    await server.send("no harm done");
    assert.deepEqual(await readN(client, 1), ["no harm done"]);
    assert.deepEqual(await server.close(), CLEAN);
    assert.deepEqual(await client.closed, CLEAN);
  });
}

// ---- Size limits ---------------------------------------------------------

const LIMIT = 1024;

/** Frames that never end within the limit, by kind. */
const ENDLESS: [string, string, Uint8Array][] = [
  [
    "a text frame with no end byte",
    "MESSAGE_TOO_LARGE",
    concat(new Uint8Array([0x00]), new Uint8Array(4 * LIMIT).fill(0x61)),
  ],
  [
    "a sentinel frame of another type with no end byte",
    "FRAME_TOO_LARGE",
    concat(new Uint8Array([0x01]), new Uint8Array(4 * LIMIT).fill(0x61)),
  ],
  [
    "a length-prefixed frame longer than the limit",
    "FRAME_TOO_LARGE",
    // 0x80, then 2^21 in 7-bit groups: 0x81 0x80 0x80 0x00.
    new Uint8Array([0x80, 0x81, 0x80, 0x80, 0x00]),
  ],
];

for (const [name, code, bytes] of ENDLESS) {
  Deno.test(`serve() closes a hixie-76 connection on ${name} larger than maxMessageSize`, async () => {
    const served = Promise.withResolvers<
      { messages: Message[]; error: unknown; closed: unknown }
    >();
    await using server = startServer({
      versions: ["hixie-76"],
      maxMessageSize: LIMIT,
    }, async (conn) => {
      const { messages, error } = await drain(conn);
      served.resolve({ messages, error, closed: await conn.closed });
    });
    using raw = await rawHixieClient("hixie-76", server.port);
    await writeAll(raw.socket, concat(textFrame("fits"), bytes));
    // The server gives up and ends its side without waiting for an end byte.
    assert.deepEqual(await raw.bytes.rest(), new Uint8Array(0));
    raw.socket.close();
    const { messages, error, closed } = await served.promise;
    assert.deepEqual(messages, ["fits"]);
    assert.ok(error instanceof ConnectionClosedError, `error: ${error}`);
    assert.ok(error.cause instanceof ProtocolError);
    assert.equal(error.cause.code, code);
    assert.deepEqual(closed, { code: 1006, reason: "", wasClean: false });
  });
}

Deno.test("dial() closes a hixie-75 connection on a text frame with no end byte larger than maxMessageSize", async () => {
  await using peer = draftServer("hixie-75", (request) =>
    concat(
      responseHead(request),
      textFrame("fits"),
      new Uint8Array([0x00]),
      new Uint8Array(4 * LIMIT).fill(0x61),
    ));
  const client = await dial(peer.url, {
    version: "hixie-75",
    maxMessageSize: LIMIT,
  });
  const { messages, error } = await drain(client);
  assert.deepEqual(messages, ["fits"]);
  assert.ok(error instanceof ConnectionClosedError, `error: ${error}`);
  assert.ok(error.cause instanceof ProtocolError);
  assert.equal(error.cause.code, "MESSAGE_TOO_LARGE");
  assert.deepEqual(await client.closed, {
    code: 1006,
    reason: "",
    wasClean: false,
  });
});

// ---- Every split ---------------------------------------------------------

for (const version of VERSIONS) {
  Deno.test(`a ${version} Conn reads the same messages from frames split at every byte boundary`, async () => {
    // Text with multi-byte characters, an empty message, a length-prefixed
    // frame and a sentinel frame of another type (both skipped), then the
    // close: 0xFF 0x00 in draft 76, the end of the stream in draft 75.
    const stream = concat(
      textFrame("héllo"),
      textFrame(""),
      new Uint8Array([0x80, 0x03, 0x01, 0x02, 0x03]),
      textFrame("🎉 wörld"),
      new Uint8Array([0x05, 0x61, 0x62, 0xff]),
      textFrame("end"),
      version === "hixie-76" ? CLOSING : new Uint8Array(0),
    );
    const expected = ["héllo", "", "🎉 wörld", "end"];
    let splits = 0;
    for (const chunks of everySplit(stream)) {
      splits++;
      const [ours, theirs] = memoryPair();
      const conn = new RawConn({
        role: "client",
        transport: ours,
        machine: new HixieProtocol({ version, role: "client" }),
        url: "ws://example.com/",
        version,
      });
      // The stream ends once the transport is closed, after the peer's part.
      const drained = drain(conn);
      // Each write stays one chunk for the reader of a memory pair.
      for (const chunk of chunks) await writeAll(theirs, chunk);
      const peer = new ByteReader(theirs);
      if (version === "hixie-76") {
        // The client answers the close, and the server ends TCP.
        assert.deepEqual(await peer.exactly(2), CLOSING);
      }
      await theirs.closeWrite();
      const { messages, error } = await drained;
      assert.deepEqual(
        messages,
        expected,
        `split ${chunks.map((c) => c.length)}`,
      );
      assert.equal(error, undefined);
      assert.deepEqual(await conn.closed, CLEAN);
      assert.deepEqual(await peer.rest(), new Uint8Array(0));
      theirs.close();
    }
    assert.equal(splits, stream.length + 1);
  });
}
