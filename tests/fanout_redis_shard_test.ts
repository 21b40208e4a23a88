import assert from "node:assert/strict";
import { Shard, type ShardHooks } from "../fanout/_redis_shard.ts";
import type { RespClient } from "../fanout/_resp.ts";
import { FakeRespClient, neverConnects } from "./_fake_resp.ts";

function hooks(connect: ShardHooks["connect"]) {
  const events: string[] = [];
  const subUp = Promise.withResolvers<RespClient>();
  const made: ShardHooks = {
    connect,
    subscribed: (shard, client, again) => {
      events.push(`sub ${shard.key} ${again}`);
      subUp.resolve(client);
    },
    publishing: (shard, _client, again) =>
      events.push(`pub ${shard.key} ${again}`),
    onError: (error) => events.push(`error ${(error as Error).message}`),
    delay: () => 0,
  };
  return { hooks: made, events, subUp: subUp.promise };
}

Deno.test("Shard opens both connections to its node and sends subscriptions once up", async () => {
  const keys: string[] = [];
  const clients: FakeRespClient[] = [];
  const { hooks: made, events, subUp } = hooks((key) => {
    keys.push(key);
    const client = new FakeRespClient();
    clients.push(client);
    return Promise.resolve(client.client);
  });
  const shard = new Shard("[::1]:7000", made);
  await Promise.all([shard.sub.up, shard.pub.up]);
  assert.deepEqual(keys, ["[::1]:7000", "[::1]:7000"]);
  assert.deepEqual(events.sort(), [
    "pub [::1]:7000 false",
    "sub [::1]:7000 false",
  ]);
  const sub = await subUp;
  shard.subscription(["SUBSCRIBE", "t:a"]);
  const fake = clients.find((c) => c.client === sub)!;
  assert.deepEqual(fake.sent, [[["SUBSCRIBE", "t:a"], false]]);
  await shard.close();
  assert.ok(clients.every((c) => c.isClosed));
});

Deno.test("Shard holds publishes up to a byte limit while its node is down", async () => {
  const { hooks: made } = hooks((_key, signal) => neverConnects(signal));
  const shard = new Shard("127.0.0.1:6379", made);
  // Down: a subscription is not sent anywhere (and does not throw).
  shard.subscription(["SUBSCRIBE", "t:a"]);
  const one = new Uint8Array([1]);
  const two = new Uint8Array([2]);
  assert.equal(shard.hold("a", one, 60, 100), true);
  assert.equal(shard.hold("b", two, 50, 100), false);
  assert.equal(shard.hold("b", two, 40, 100), true);
  assert.deepEqual(shard.takeHeld(), [["a", one], ["b", two]]);
  // Taking them frees their bytes.
  assert.equal(shard.hold("c", one, 100, 100), true);
  await shard.close();
  assert.deepEqual(shard.takeHeld(), []);
});
