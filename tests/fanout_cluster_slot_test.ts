import assert from "node:assert/strict";
import {
  crc16,
  keySlot,
  nodeKey,
  parseNodeKey,
  parseSlots,
  SLOTS,
} from "../fanout/_cluster_slot.ts";
import { RespError } from "../fanout/_resp.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

Deno.test("keySlot() is CRC16 of the key or of its hash tag", () => {
  // The check value of CRC16-XMODEM, and slots from the cluster spec.
  assert.equal(crc16(bytes("123456789")), 0x31c3);
  assert.equal(keySlot("123456789"), 0x31c3 % SLOTS);
  assert.equal(keySlot("foo"), 12182);
  assert.equal(keySlot("{user1000}.following"), keySlot("user1000"));
  // An empty tag is no tag.
  assert.equal(keySlot("{}x"), crc16(bytes("{}x")) % SLOTS);
});

Deno.test("nodeKey() and parseNodeKey() bracket IPv6 hosts and round-trip", () => {
  assert.equal(nodeKey("127.0.0.1", 7000), "127.0.0.1:7000");
  assert.equal(nodeKey("::1", "7001"), "[::1]:7001");
  assert.deepEqual(parseNodeKey("[::1]:7001"), { hostname: "::1", port: 7001 });
  assert.deepEqual(parseNodeKey("redis.local:6379"), {
    hostname: "redis.local",
    port: 6379,
  });
});

Deno.test("parseSlots() maps each slot to its master's node key", () => {
  const slots = parseSlots([
    [0, 5460, [bytes("10.0.0.1"), 7000, bytes("id1")], [
      bytes("10.0.0.9"),
      7009,
    ]],
    [5461, 10922, [bytes("::1"), 7001]],
    // No address: the node is on the host that answered.
    [10923, 16383, [bytes(""), 7002]],
  ], "127.0.0.5:7000");
  assert.equal(slots.length, SLOTS);
  assert.equal(slots[0], "10.0.0.1:7000");
  assert.equal(slots[5460], "10.0.0.1:7000");
  assert.equal(slots[5461], "[::1]:7001");
  assert.equal(slots[16383], "127.0.0.5:7002");
  // Slots nobody owns stay empty.
  assert.equal(parseSlots([[0, 9, [bytes("h"), 1]]], "x:1")[10], undefined);
});

Deno.test("parseSlots() throws an error reply, and a TypeError for anything else", () => {
  const error = new RespError("ERR This instance has cluster support disabled");
  assert.throws(() => parseSlots(error, "h:1"), (e) => e === error);
  assert.throws(() => parseSlots(bytes("OK"), "h:1"), TypeError);
});
