import assert from "node:assert/strict";
import { bodyTooLarge, RequestBody } from "../http/_request_body.ts";
import { ChunkedDecoder, LengthDecoder } from "../http/_body_decoder.ts";
import { Source } from "../http/_source.ts";
import { HandshakeError } from "../errors.ts";
import { memoryPair } from "./_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function setup(
  initial: string,
  decoderOf: () => LengthDecoder | ChunkedDecoder,
  expectContinue = false,
  maxSize = 1024,
) {
  const [client, server] = memoryPair();
  const source = new Source(server, encoder.encode(initial));
  const body = new RequestBody(source, decoderOf(), expectContinue, {
    maxSize,
    timeout: 0,
  });
  return { client, server, source, body };
}

Deno.test("RequestBody streams a chunked body and leaves the next request", async () => {
  const { client, server, source, body } = setup(
    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /next",
    () => new ChunkedDecoder(),
  );
  assert.ok(body.untouched);
  assert.equal(await new Response(body.stream).text(), "abcde");
  assert.ok(body.done);
  assert.equal(decoder.decode(source.buffered), "GET /next");
  client.close();
  server.close();
});

Deno.test("RequestBody sends 100 Continue at the first read, not before", async () => {
  const { client, server, body } = setup("", () => new LengthDecoder(2), true);
  assert.ok(body.awaitingContinue);
  const reading = new Response(body.stream).text();
  const buffer = new Uint8Array(64);
  const n = (await client.read(buffer))!;
  assert.equal(
    decoder.decode(buffer.subarray(0, n)),
    "HTTP/1.1 100 Continue\r\n\r\n",
  );
  assert.ok(body.continueSent);
  await client.write(encoder.encode("ok"));
  assert.equal(await reading, "ok");
  client.close();
  server.close();
});

Deno.test("RequestBody fails a body past its limit with 413", async () => {
  const { client, server, body } = setup(
    "9\r\n123456789\r\n0\r\n\r\n",
    () => new ChunkedDecoder(),
    false,
    4,
  );
  await assert.rejects(new Response(body.stream).arrayBuffer(), (error) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 413);
    assert.equal(error.code, "BODY_TOO_LARGE");
    return true;
  });
  assert.ok(body.failure instanceof HandshakeError);
  assert.equal(await body.drain(), false, "a failed body can't be drained");
  assert.equal(bodyTooLarge(4).message, "Request body exceeds 4 bytes");
  client.close();
  server.close();
});

Deno.test("RequestBody fails a body cut short by the peer", async () => {
  const { client, server, body } = setup("ab", () => new LengthDecoder(5));
  await client.closeWrite();
  await assert.rejects(
    new Response(body.stream).arrayBuffer(),
    (error) =>
      error instanceof HandshakeError && error.code === "UNEXPECTED_EOF",
  );
  client.close();
  server.close();
});

Deno.test("RequestBody: detach() reads without the stream, drain() drops the rest", async () => {
  const { client, server, source, body } = setup(
    "abcdefGET",
    () => new LengthDecoder(6),
  );
  source.buffered = source.buffered.subarray(0, 3);
  body.detach();
  assert.ok(body.stream.locked);
  assert.equal(body.untouched, false);
  assert.equal(decoder.decode((await body.next())[0]), "abc");
  await client.write(encoder.encode("defGET"));
  assert.equal(await body.drain(), true);
  assert.ok(body.done);
  assert.equal(decoder.decode(source.buffered), "GET");
  client.close();
  server.close();
});

Deno.test("RequestBody: a body still awaiting its 100 is not drained", async () => {
  const { client, server, body } = setup("", () => new LengthDecoder(3), true);
  assert.equal(await body.drain(), false);
  client.close();
  server.close();
});
