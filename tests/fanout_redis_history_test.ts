import assert from "node:assert/strict";
import {
  compareIds,
  field,
  historyScript,
  readHistory,
} from "../fanout/_redis_history.ts";
import { encodeEnvelope } from "../fanout/bus.ts";
import {
  type RespArg,
  type RespClient,
  RespError,
  type RespValue,
} from "../fanout/_resp.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

// Answers XRANGE and XINFO with canned replies, and records the commands.
function fakeClient(range: RespValue, info: RespValue) {
  const sent: (readonly RespArg[])[] = [];
  const client = {
    command(args: readonly RespArg[]): Promise<RespValue> {
      sent.push(args);
      return Promise.resolve(args[0] === "XRANGE" ? range : info);
    },
  } as unknown as RespClient;
  return { client, sent };
}

const entry = (id: string, seq: number) => [
  bytes(id),
  [bytes("e"), encodeEnvelope("node-a", seq, `m${seq}`)],
];

Deno.test("compareIds() orders stream ids by time, then sequence", () => {
  assert.equal(compareIds("5-1", "5-1"), 0);
  assert.equal(compareIds("5-1", "5-2"), -1);
  assert.equal(compareIds("6-0", "5-9"), 1);
  assert.equal(compareIds("10", "9-5"), 1);
  // Beyond a double's precision.
  assert.equal(
    compareIds("18446744073709551615-0", "18446744073709551614-9"),
    1,
  );
});

Deno.test("field() reads a RESP3 map or a RESP2 list; an entry stands for its id", () => {
  const list = [bytes("length"), 3, bytes("first-entry"), [bytes("7-1"), []]];
  assert.equal(field(list, "first-entry"), "7-1");
  assert.equal(
    field(new Map([["first-entry", [bytes("7-2"), []]]]), "first-entry"),
    "7-2",
  );
  assert.equal(field(new Map([["name", "x"]]), "name"), "x");
  assert.equal(field(list, "length"), undefined);
  assert.equal(field(list, "missing"), undefined);
  assert.equal(field(bytes("OK"), "x"), undefined);
});

Deno.test("historyScript() adds to the stream and publishes with the given command", () => {
  const script = historyScript("SPUBLISH");
  assert.match(
    script,
    /redis\.call\('XADD', KEYS\[1\], 'MAXLEN', '~', ARGV\[1\]/,
  );
  assert.match(
    script,
    /redis\.call\('SPUBLISH', ARGV\[3\], id \.\. ' ' \.\. ARGV\[2\]\)/,
  );
});

Deno.test("readHistory() is complete while the id is still in the stream", async () => {
  const { client, sent } = fakeClient(
    [entry("5-2", 2), entry("5-3", 3)],
    [bytes("first-entry"), [bytes("5-1"), []]],
  );
  const result = await readHistory(client, "t:a:history", "5-1", 10);
  assert.equal(result.complete, true);
  assert.deepEqual(result.messages, [
    { id: "5-2", origin: "node-a", seq: 2, payload: "m2" },
    { id: "5-3", origin: "node-a", seq: 3, payload: "m3" },
  ]);
  assert.deepEqual(sent, [
    ["XRANGE", "t:a:history", "(5-1", "+", "COUNT", 11],
    ["XINFO", "STREAM", "t:a:history"],
  ]);
});

Deno.test("readHistory() is incomplete past the limit, after a trim, or without a stream", async () => {
  const info = [bytes("first-entry"), [bytes("5-1"), []]];
  const three = [entry("5-2", 2), entry("5-3", 3), entry("5-4", 4)];
  const limited = await readHistory(
    fakeClient(three, info).client,
    "k",
    "5-1",
    2,
  );
  assert.equal(limited.complete, false);
  assert.deepEqual(limited.messages.map((m) => m.seq), [2, 3]);

  const trimmed = [bytes("first-entry"), [bytes("5-3"), []]];
  const late = await readHistory(
    fakeClient(three, trimmed).client,
    "k",
    "5-1",
    10,
  );
  assert.equal(late.complete, false);
  assert.equal(late.messages.length, 3);

  const none = await readHistory(
    fakeClient([], new RespError("ERR no such key")).client,
    "k",
    "5-1",
    10,
  );
  assert.deepEqual(none, { complete: false, messages: [] });

  const error = new RespError("WRONGTYPE");
  await assert.rejects(
    readHistory(fakeClient(error, info).client, "k", "5-1", 10),
    (e) => e === error,
  );
});
