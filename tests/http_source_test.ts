import assert from "node:assert/strict";
import {
  discardInput,
  fillWithin,
  LARGE_READ,
  Source,
} from "../http/_source.ts";
import { Deadline } from "../_util/deadline.ts";
import { memoryPair } from "./_util.ts";

const encoder = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("Source.fill() joins reads to unconsumed bytes, one read at a time", async () => {
  const [client, server] = memoryPair();
  const source = new Source(server, encoder.encode("ab"));
  await client.write(encoder.encode("cd"));
  const first = source.fill();
  assert.equal(source.fill(), first, "a second fill joins the read in flight");
  assert.ok(source.reading);
  await first;
  assert.equal(text(source.buffered), "abcd");
  source.buffered = source.buffered.subarray(4);
  await client.write(encoder.encode("ef"));
  await source.fill();
  assert.equal(text(source.buffered), "ef");
  assert.ok(source.surrounds(source.buffered.subarray(0, 1)) === false);
  source.buffered = source.buffered.subarray(2);
  await client.closeWrite();
  await source.fill();
  assert.ok(source.ended);
  client.close();
  server.close();
});

Deno.test("Source: a failed read ends the stream instead of rejecting", async () => {
  const [client, server] = memoryPair();
  const source = new Source(server, new Uint8Array(0));
  const filling = source.fill();
  client.close(); // the server's reads now fail
  await filling;
  assert.ok(source.ended);
  server.close();
});

Deno.test("Source: a read buffer is reused, handed over and pooled", async () => {
  const [client, server] = memoryPair(1 << 20);
  const source = new Source(server, new Uint8Array(0));
  await client.write(new Uint8Array(1000));
  await source.fill(LARGE_READ);
  const data = source.buffered;
  source.buffered = new Uint8Array(0);
  assert.ok(source.surrounds(data), "consumed bytes of the last read");
  assert.ok(data.buffer === source.memory);
  const held = source.detach()!;
  assert.ok(held.buffer === data.buffer);
  assert.equal(source.memory, undefined);
  source.giveBack(held);
  await client.write(new Uint8Array(10));
  await source.fill(LARGE_READ);
  assert.ok(source.buffered.buffer === held.buffer, "the pooled buffer");
  source.buffered = new Uint8Array(0);
  source.shrink();
  assert.equal(source.memory, undefined, "a large buffer is given up");
  client.close();
  server.close();
});

Deno.test("fillWithin() rejects on timeout and on stop", async () => {
  const [client, server] = memoryPair();
  const source = new Source(server, new Uint8Array(0));
  await assert.rejects(
    fillWithin(source, 1, "Waiting", undefined),
    (error) => error instanceof DOMException && error.name === "TimeoutError",
  );
  const stop = new Deadline(0, "Serving");
  stop.abort(new Error("stopping"));
  await assert.rejects(fillWithin(source, 0, "Waiting", stop), /stopping/);
  stop[Symbol.dispose]();
  client.close();
  await source.fill(); // the read left in flight ends
  server.close();
});

Deno.test("discardInput() drops what the peer sends until it ends", async () => {
  const [client, server] = memoryPair(1 << 20);
  const source = new Source(server, encoder.encode("left over"));
  await client.write(new Uint8Array(5000));
  await client.closeWrite();
  await discardInput(source, undefined);
  assert.ok(source.ended);
  assert.equal(source.buffered.length, 0);
  client.close();
  server.close();
});
