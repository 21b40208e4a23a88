import assert from "node:assert/strict";
import {
  errorResponse,
  internalError,
  ResponseWriter,
} from "../http/_response_writer.ts";
import { probeBody } from "../http/_response_body.ts";
import { ResponseFields } from "../http/_response_head.ts";
import { RequestBody } from "../http/_request_body.ts";
import { LengthDecoder } from "../http/_body_decoder.ts";
import { Aborter } from "../http/_server_request.ts";
import { Source } from "../http/_source.ts";
import { HandshakeError } from "../errors.ts";
import { concat, memoryPair } from "./_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Options {
  method?: string;
  keepAlive?: boolean;
  http10?: boolean;
  body?: (source: Source) => RequestBody;
  input?: string;
}

// Writes `response` as the answer to one request; what the client read
// (date lines dropped), whether the connection may go on, and the errors.
async function respond(response: Response, options: Options = {}) {
  const [client, server] = memoryPair(1 << 20);
  const errors: unknown[] = [];
  const source = new Source(server, encoder.encode(options.input ?? ""));
  const writer = new ResponseWriter(server, source, (e) => errors.push(e));
  const body = options.body?.(source);
  const goesOn = await writer.respond(
    response,
    new ResponseFields(response.headers),
    options.method ?? "GET",
    options.keepAlive ?? true,
    options.http10 ?? false,
    body,
    new Aborter(),
  );
  await server.closeWrite();
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  while (true) {
    const n = await client.read(buffer);
    if (n === null) break;
    parts.push(buffer.slice(0, n));
  }
  client.close();
  server.close();
  const text = decoder.decode(concat(...parts))
    .replace(/date: [^\r]*\r\n/g, "");
  return { text, goesOn, errors };
}

const TEXT = "content-type: text/plain;charset=UTF-8\r\n";

Deno.test("respond() sends a body known at once with its length, in one write", async () => {
  const { text, goesOn } = await respond(new Response("hello"));
  assert.equal(
    text,
    `HTTP/1.1 200 OK\r\n${TEXT}content-length: 5\r\n\r\nhello`,
  );
  assert.ok(goesOn);
});

Deno.test("respond() streams a body still being produced, chunked", async () => {
  let push!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => push = c });
  const answer = respond(new Response(stream, { status: 201 }));
  await Promise.resolve();
  push.enqueue(encoder.encode("ab"));
  push.enqueue(encoder.encode("cde"));
  push.close();
  const { text, goesOn } = await answer;
  assert.equal(
    text,
    "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n" +
      "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
  );
  assert.ok(goesOn);
});

Deno.test("respond() ends an HTTP/1.0 stream of unknown length by closing", async () => {
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      c.enqueue(encoder.encode("x"));
      c.close();
    },
  });
  const { text, goesOn } = await respond(new Response(stream), {
    http10: true,
  });
  assert.equal(text, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nx");
  assert.equal(goesOn, false);
});

Deno.test("respond() sends no body for HEAD and 304, keeping the length", async () => {
  const head = await respond(new Response("hello"), { method: "HEAD" });
  assert.equal(
    head.text,
    `HTTP/1.1 200 OK\r\n${TEXT}content-length: 5\r\n\r\n`,
  );
  const notModified = await respond(
    new Response(null, { status: 304, headers: { "content-length": "9" } }),
  );
  assert.equal(
    notModified.text,
    "HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n",
  );
});

Deno.test("respond() cuts a body at its declared length", async () => {
  const { text, goesOn } = await respond(
    new Response("too long", { headers: { "content-length": "3" } }),
    { keepAlive: false },
  );
  assert.equal(
    text,
    `HTTP/1.1 200 OK\r\n${TEXT}content-length: 3\r\nconnection: close\r\n\r\ntoo`,
  );
  assert.ok(goesOn, "sent whole: closing is the caller's choice");
});

Deno.test("respond() answers a body that fails before any byte with a 500", async () => {
  const stream = new ReadableStream({
    pull() {
      throw new Error("broken");
    },
  });
  const { text, goesOn, errors } = await respond(new Response(stream));
  assert.match(text, /^HTTP\/1.1 500 Internal Server Error\r\n/);
  assert.match(text, /connection: close\r\n\r\nInternal Server Error\n$/);
  assert.equal(goesOn, false);
  assert.equal((errors[0] as Error).message, "broken");
});

Deno.test("respond() echoes the request's own body from the read buffer", async () => {
  const { text, goesOn } = await respond(new Response(null), {
    input: "hello",
    body: (source) =>
      new RequestBody(source, new LengthDecoder(5), false, {
        maxSize: 100,
        timeout: 0,
      }),
  });
  // A null body is no echo: nothing but the head.
  assert.equal(text, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  assert.ok(goesOn);

  const [client, server] = memoryPair(1 << 20);
  const source = new Source(server, encoder.encode("hello"));
  const body = new RequestBody(source, new LengthDecoder(5), false, {
    maxSize: 100,
    timeout: 0,
  });
  const writer = new ResponseWriter(server, source, () => {});
  const echoed = await writer.respond(
    new Response(body.stream),
    new ResponseFields(new Headers()),
    "POST",
    true,
    false,
    body,
    new Aborter(),
  );
  assert.ok(echoed);
  await server.closeWrite();
  const buffer = new Uint8Array(1024);
  const n = (await client.read(buffer))!;
  assert.equal(
    decoder.decode(buffer.subarray(0, n)).replace(/date: [^\r]*\r\n/, ""),
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  );
  client.close();
  server.close();
});

Deno.test("writeError() sends a whole answer with Connection: close", async () => {
  const [client, server] = memoryPair();
  const writer = new ResponseWriter(
    server,
    new Source(server, new Uint8Array(0)),
    () => {},
  );
  const error = new HandshakeError("BAD_REQUEST", "Nope", { status: 400 });
  assert.equal(await writer.writeError(errorResponse(error)), false);
  assert.equal(await writer.writeError(internalError(), "HEAD"), false);
  await server.closeWrite();
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  for (let n; (n = await client.read(buffer)) !== null;) {
    parts.push(buffer.slice(0, n));
  }
  const text = decoder.decode(concat(...parts)).replace(
    /date: [^\r]*\r\n/g,
    "",
  );
  assert.equal(
    text,
    "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n" +
      "content-length: 5\r\nconnection: close\r\n\r\nNope\n" +
      "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n" +
      "content-length: 22\r\nconnection: close\r\n\r\n",
  );
  client.close();
  server.close();
});

Deno.test("probeBody() knows the length of a body that is all there", async () => {
  const whole = await probeBody(new Response("abc").body!.getReader());
  assert.equal(whole.length, 3);
  assert.equal(decoder.decode(whole.ready), "abc");
  const empty = await probeBody(
    new Response(new Uint8Array(0)).body!.getReader(),
  );
  assert.equal(empty.length, 0);
  const pending = await probeBody(new ReadableStream().getReader());
  assert.equal(pending.length, undefined);
  assert.equal(pending.ready, undefined);
  assert.ok(pending.next instanceof Promise);
});
