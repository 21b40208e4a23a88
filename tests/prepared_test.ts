import assert from "node:assert/strict";
import { Conn } from "../conn.ts";
import { FrameDecoder, Opcode } from "../frame.ts";
import { HixieProtocol } from "../legacy/protocol.ts";
import { PerMessageDeflate } from "../extensions/permessage_deflate.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import { memoryPair } from "./_util.ts";

Deno.test("PreparedMessage encodes text and binary frames once", () => {
  const text = new PreparedMessage("Hello");
  assert.deepEqual(
    [...text.frame],
    [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
  );
  const bytes = new Uint8Array([1, 2, 3]);
  const binary = new PreparedMessage(bytes);
  bytes[0] = 9; // later changes do not show
  assert.deepEqual([...binary.frame], [0x82, 0x03, 1, 2, 3]);
  assert.deepEqual([...(binary.data as Uint8Array)], [1, 2, 3]);
  assert.throws(
    () => new PreparedMessage(42 as unknown as string),
    TypeError,
  );
});

Deno.test("a server machine writes a prepared frame as is, in order", () => {
  const server = new WebSocketProtocol({ role: "server" });
  const prepared = new PreparedMessage("shared");
  server.send("before");
  server.sendPrepared(prepared);
  server.send("after");
  const out = server.takeOutgoing();
  assert.ok(out.includes(prepared.frame), "the same bytes, not a copy");
  const decoder = new FrameDecoder({ role: "client" });
  for (const chunk of out) decoder.push(chunk);
  const texts: string[] = [];
  for (let f = decoder.next(); f; f = decoder.next()) {
    texts.push(new TextDecoder().decode(f.payload));
  }
  assert.deepEqual(texts, ["before", "shared", "after"]);
});

Deno.test("a client machine masks a prepared message like any other", () => {
  const client = new WebSocketProtocol({ role: "client" });
  client.sendPrepared(new PreparedMessage("masked"));
  const decoder = new FrameDecoder({ role: "server" });
  for (const chunk of client.takeOutgoing()) decoder.push(chunk);
  const frame = decoder.next()!;
  assert.equal(frame.opcode, Opcode.Text);
  assert.equal(new TextDecoder().decode(frame.payload), "masked");
});

Deno.test("a machine with compression compresses a prepared message", () => {
  const extension = new PerMessageDeflate({ role: "server", threshold: 0 });
  try {
    const server = new WebSocketProtocol({ role: "server", extension });
    server.sendPrepared(new PreparedMessage("x".repeat(2000)));
    const decoder = new FrameDecoder({ role: "client", allowedRsv: 0x40 });
    for (const chunk of server.takeOutgoing()) decoder.push(chunk);
    const frame = decoder.next()!;
    assert.equal(frame.rsv1, true);
    assert.ok(frame.payload.length < 100);
  } finally {
    extension.close();
  }
});

Deno.test("Conn.send() broadcasts one prepared message to many connections", async () => {
  const prepared = new PreparedMessage(new Uint8Array([7, 7, 7]));
  const pairs = Array.from({ length: 3 }, () => {
    const [a, b] = memoryPair();
    const server = new Conn({
      role: "server",
      transport: a,
      machine: new WebSocketProtocol({ role: "server" }),
      url: "ws://memory/",
      pingInterval: 0,
    });
    const client = new Conn({
      role: "client",
      transport: b,
      machine: new WebSocketProtocol({ role: "client" }),
      url: "ws://memory/",
      pingInterval: 0,
    });
    return { server, client };
  });
  await Promise.all(pairs.map(({ server }) => server.send(prepared)));
  for (const { client } of pairs) {
    const { value } = await client[Symbol.asyncIterator]().next();
    assert.deepEqual([...(value as Uint8Array)], [7, 7, 7]);
  }
  await Promise.all(pairs.map(({ client }) => client.close()));
  await Promise.all(pairs.map(({ server }) => server.closed));
});

Deno.test("Conn.send() of a prepared message on a legacy draft sends its text", async () => {
  const [a, b] = memoryPair();
  const server = new Conn({
    role: "server",
    transport: a,
    machine: new HixieProtocol({ version: "hixie-76", role: "server" }),
    url: "ws://memory/",
    version: "hixie-76",
  });
  const client = new Conn({
    role: "client",
    transport: b,
    machine: new HixieProtocol({ version: "hixie-76", role: "client" }),
    url: "ws://memory/",
    version: "hixie-76",
  });
  await server.send(new PreparedMessage("old school"));
  const { value } = await client[Symbol.asyncIterator]().next();
  assert.equal(value, "old school");
  await client.close();
  await server.closed;
});
