import assert from "node:assert/strict";
import {
  parsePush,
  PLAIN,
  SHARDED,
  subscribeCommands,
} from "../fanout/_redis_pubsub.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

Deno.test("subscribeCommands() sends one SUBSCRIBE, or one SSUBSCRIBE per channel", () => {
  assert.deepEqual(subscribeCommands(PLAIN, ["t:a", "t:b"]), [
    ["SUBSCRIBE", "t:a", "t:b"],
  ]);
  assert.deepEqual(subscribeCommands(PLAIN, []), []);
  assert.deepEqual(subscribeCommands(SHARDED, ["t:a", "t:b"]), [
    ["SSUBSCRIBE", "t:a"],
    ["SSUBSCRIBE", "t:b"],
  ]);
  assert.deepEqual(subscribeCommands(SHARDED, []), []);
});

Deno.test("parsePush() reads messages, with or without a stream id", () => {
  const envelope = new Uint8Array([1, 0, 2, 3]);
  assert.deepEqual(parsePush([bytes("message"), bytes("t:a"), envelope]), {
    kind: "message",
    channel: "t:a",
    payload: envelope,
  });
  assert.deepEqual(
    parsePush([
      bytes("smessage"),
      bytes("t:a"),
      new Uint8Array([...bytes("1700000000000-3 "), ...envelope]),
    ]),
    {
      kind: "message",
      channel: "t:a",
      payload: envelope,
      id: "1700000000000-3",
    },
  );
  // A stream id without the space after it is not a message of ours.
  assert.equal(
    parsePush([bytes("message"), bytes("t:a"), bytes("12345")]),
    undefined,
  );
  assert.deepEqual(
    parsePush([bytes("message"), bytes("t:a"), new Uint8Array(0)]),
    { kind: "message", channel: "t:a", payload: new Uint8Array(0) },
  );
});

Deno.test("parsePush() reads confirmations, and ignores anything else", () => {
  for (const kind of ["subscribe", "ssubscribe"]) {
    assert.deepEqual(parsePush([bytes(kind), bytes("t:a"), 1]), {
      kind: "subscribe",
      channel: "t:a",
    });
  }
  for (const kind of ["unsubscribe", "sunsubscribe"]) {
    assert.deepEqual(parsePush([bytes(kind), bytes("t:a"), 0]), {
      kind: "unsubscribe",
      channel: "t:a",
    });
  }
  assert.equal(parsePush([bytes("pong"), bytes("")]), undefined);
  assert.equal(parsePush(["message", bytes("t:a"), bytes("x")]), undefined);
  assert.equal(parsePush([bytes("message"), 7, bytes("x")]), undefined);
  assert.equal(parsePush([bytes("message"), bytes("t:a"), 7]), undefined);
});
