import assert from "node:assert/strict";
import { keySlot } from "../fanout/_cluster_slot.ts";
import type { RespClient, RespValue } from "../fanout/_resp.ts";
import { RespError } from "../fanout/_resp.ts";
import { SlotMap, type SlotMapHooks } from "../fanout/_redis_slot_map.ts";
import { FakeRespClient } from "./_fake_resp.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

// Two masters: the lower half of the slots on :7000, the upper on :7001.
const SLOTS_REPLY: RespValue = [
  [0, 8191, [bytes("127.0.0.1"), 7000]],
  [8192, 16383, [bytes("127.0.0.1"), 7001]],
];

function map(
  answers: Record<string, RespValue | Error>,
  nodes: string[] = [],
) {
  const asked: string[] = [];
  const errors: string[] = [];
  const threeErrors = Promise.withResolvers<void>();
  const clients: FakeRespClient[] = [];
  let loaded = 0;
  const controller = new AbortController();
  const hooks: SlotMapHooks = {
    seed: "127.0.0.1:7000",
    nodes: () => nodes,
    connect(key: string): Promise<RespClient> {
      asked.push(key);
      const answer = answers[key];
      if (answer instanceof Error && !(answer instanceof RespError)) {
        return Promise.reject(answer);
      }
      const client = new FakeRespClient(() => answer as RespValue);
      clients.push(client);
      return Promise.resolve(client.client);
    },
    onError(error) {
      if (errors.push((error as Error).message) === 3) threeErrors.resolve();
    },
    delay: () => 0,
    loaded: () => loaded++,
    signal: controller.signal,
  };
  return {
    slotMap: new SlotMap(hooks),
    asked,
    errors,
    threeErrors: threeErrors.promise,
    clients,
    loaded: () => loaded,
    controller,
  };
}

Deno.test("SlotMap learns the owners from the first node that answers", async () => {
  const { slotMap, asked, errors, clients, loaded } = map({
    "127.0.0.1:7001": new Deno.errors.ConnectionRefused("refused"),
    "127.0.0.1:7000": SLOTS_REPLY,
  }, ["127.0.0.1:7001"]);
  assert.equal(slotMap.owner("t:a"), undefined);
  await slotMap.refresh();
  // The known nodes first, then the seed.
  assert.deepEqual(asked, ["127.0.0.1:7001", "127.0.0.1:7000"]);
  assert.deepEqual(errors, ["refused"]);
  assert.equal(loaded(), 1);
  const low = ["a", "b", "c", "d", "e"].find((t) => keySlot(t) < 8192)!;
  const high = ["a", "b", "c", "d", "e"].find((t) => keySlot(t) >= 8192)!;
  assert.equal(slotMap.owner(low), "127.0.0.1:7000");
  assert.equal(slotMap.owner(high), "127.0.0.1:7001");
  // Each client asked is closed afterwards.
  assert.deepEqual(clients[0].sent, [[["CLUSTER", "SLOTS"], true]]);
  assert.ok(clients.every((client) => client.isClosed));
  assert.equal(slotMap.refreshing, undefined);
});

Deno.test("SlotMap joins a refresh under way, and retries until the bus closes", async () => {
  const { slotMap, asked, errors, threeErrors, loaded, controller } = map({
    "127.0.0.1:7000": new RespError(
      "ERR This instance has cluster support disabled",
    ),
  });
  const first = slotMap.refresh();
  assert.equal(slotMap.refresh(), first);
  assert.equal(slotMap.refreshing, first);
  // Three rounds fail (one node each), then the bus closes.
  await threeErrors;
  controller.abort();
  await first;
  assert.equal(loaded(), 0);
  assert.ok(errors.every((e) => e.startsWith("ERR This instance")));
  // Once closed, a refresh does nothing.
  const count = asked.length;
  await slotMap.refresh();
  assert.equal(asked.length, count);
});
