import assert from "node:assert/strict";
import { Link } from "../fanout/_redis_link.ts";
import type { RespClient } from "../fanout/_resp.ts";
import { FakeRespClient, neverConnects } from "./_fake_resp.ts";

Deno.test("Link retries with the backoff, and again from 0 after a lost connection", async () => {
  const clients: FakeRespClient[] = [];
  let calls = 0;
  const connect = () => {
    calls++;
    // The first two attempts fail; each later one opens a client.
    if (calls <= 2) return Promise.reject(new Error(`refused ${calls}`));
    const client = new FakeRespClient();
    clients.push(client);
    return Promise.resolve(client.client);
  };
  const ups: [RespClient, boolean][] = [];
  const second = Promise.withResolvers<void>();
  const errors: string[] = [];
  const delays: number[] = [];
  const link = new Link(
    connect,
    (client, again) => {
      ups.push([client, again]);
      if (again) second.resolve();
    },
    (error) => errors.push((error as Error).message),
    (attempt) => {
      delays.push(attempt);
      return 0;
    },
  );
  await link.up;
  assert.deepEqual(errors, ["refused 1", "refused 2"]);
  assert.deepEqual(delays, [0, 1]);
  assert.deepEqual(ups, [[clients[0].client, false]]);
  assert.equal(link.open, clients[0].client);

  clients[0].close(); // the server went away
  await second.promise;
  assert.equal(errors[2], "Connection to Redis lost");
  assert.deepEqual(delays, [0, 1, 0]);
  assert.deepEqual(ups[1], [clients[1].client, true]);

  await link.close();
  assert.equal(clients[1].isClosed, true);
  assert.equal(link.open, undefined);
  assert.equal(calls, 4);
});

Deno.test("Link.close() stops a pending connect and a pending wait", async () => {
  const pending = new Link(neverConnects, () => {}, () => {}, () => 0);
  await pending.close();
  await pending.up; // resolves for anyone waiting, though it never came up
  assert.equal(pending.client, undefined);

  const errors: unknown[] = [];
  const failed = Promise.withResolvers<void>();
  const waiting = new Link(
    () => Promise.reject(new Error("refused")),
    () => {},
    (error) => {
      errors.push(error);
      failed.resolve();
    },
    () => 60_000, // a wait the close must cut short
  );
  await failed.promise;
  await waiting.close();
  assert.equal(errors.length, 1);
});
