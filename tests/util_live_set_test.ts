// LiveSet against the built-in Set it stands in for: the same members, the
// same order and the same live iteration, under seeded random additions and
// deletions made in the middle of iterations (across the closing-up of
// holes, which moves every member).

import assert from "node:assert/strict";
import { LiveSet } from "../_util/live_set.ts";
import { mulberry32 } from "./_util.ts";

interface Item {
  id: number;
}

const items: Item[] = Array.from({ length: 200 }, (_, id) => ({ id }));
const ids = (values: Iterable<Item>) => [...values].map((item) => item.id);

// One random step applied to both sets.
function mutate(random: () => number, set: Set<Item>, live: LiveSet<Item>) {
  const item = items[Math.floor(random() * items.length)];
  if (random() < 0.45) {
    set.add(item);
    live.add(item);
  } else {
    assert.equal(live.delete(item), set.delete(item));
  }
}

Deno.test("LiveSet keeps a Set's members, order and size under random churn", () => {
  const random = mulberry32(6455);
  const set = new Set<Item>();
  const live = new LiveSet<Item>();
  for (let step = 0; step < 20_000; step++) {
    mutate(random, set, live);
    if (step % 97 === 0) {
      assert.deepEqual(ids(live), ids(set));
      assert.equal(live.size, set.size);
    }
  }
  for (const item of items) assert.equal(live.has(item), set.has(item));
  assert.deepEqual(ids(live.entries().map(([a]) => a)), ids(set));
});

Deno.test("LiveSet iterates live, as a Set does, while members come and go", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = mulberry32(seed);
    const set = new Set<Item>();
    const live = new LiveSet<Item>();
    for (let i = 0; i < 60; i++) mutate(random, set, live);
    const seen = { set: [] as number[], live: [] as number[] };
    const a = set.values();
    const b = live.values();
    // Both iterators advance in step, with random churn between steps
    // (heavy enough to close up the holes several times).
    while (true) {
      const x = a.next();
      const y = b.next();
      assert.equal(y.done, x.done, `seed ${seed}`);
      if (x.done) break;
      seen.set.push(x.value.id);
      seen.live.push(y.value!.id);
      const churn = Math.floor(random() * 8);
      for (let i = 0; i < churn; i++) mutate(random, set, live);
    }
    assert.deepEqual(seen.live, seen.set, `seed ${seed}`);
  }
});

Deno.test("LiveSet visits a member deleted and added again during an iteration twice, as a Set does", () => {
  const live = new LiveSet<Item>();
  const set = new Set<Item>();
  for (const s of [live, set]) {
    for (let i = 0; i < 40; i++) s.add(items[i]);
  }
  const run = (s: Set<Item> | LiveSet<Item>) => {
    const seen: number[] = [];
    for (const item of s) {
      seen.push(item.id);
      if (item.id === 3) {
        // Enough deletions to close up the holes mid-iteration.
        for (let i = 0; i < 30; i++) s.delete(items[i]);
        s.add(items[1]);
      }
    }
    return seen;
  };
  assert.deepEqual(run(live), run(set));
});

Deno.test("LiveSet's forEach and set methods answer as a Set's", () => {
  const live = new LiveSet<Item>();
  for (let i = 0; i < 10; i++) live.add(items[i]);
  live.delete(items[4]);
  const other = new Set(items.slice(8, 12));
  const set = new Set(live);
  assert.deepEqual(ids(live.union(other)), ids(set.union(other)));
  assert.deepEqual(ids(live.intersection(other)), ids(set.intersection(other)));
  assert.deepEqual(ids(live.difference(other)), ids(set.difference(other)));
  assert.deepEqual(
    ids(live.symmetricDifference(other)),
    ids(set.symmetricDifference(other)),
  );
  assert.equal(live.isSubsetOf(new Set(items)), true);
  assert.equal(live.isSubsetOf(other), false);
  assert.equal(live.isSupersetOf(new Set([items[0], items[9]])), true);
  assert.equal(live.isSupersetOf(new Set([items[4]])), false);
  assert.equal(live.isDisjointFrom(new Set([items[4], items[20]])), true);
  assert.equal(live.isDisjointFrom(other), false);
  const visited: number[] = [];
  live.forEach(function (this: unknown, value, key, owner) {
    assert.equal(value, key);
    assert.equal(owner, live);
    assert.equal(this, other);
    visited.push(value.id);
  }, other);
  assert.deepEqual(visited, ids(set));
  assert.equal(live.add(items[0]), live);
  assert.equal(live.size, 9);
});

Deno.test("LiveSet's forEach walks live, as a Set's does, while members come and go", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = mulberry32(1000 + seed);
    const set = new Set<Item>();
    const live = new LiveSet<Item>();
    for (let i = 0; i < 60; i++) mutate(random, set, live);
    // The same churn after each visit, drawn once per visit from the seed.
    const plan = Array.from({ length: 400 }, () => random());
    const walk = (s: Set<Item> | LiveSet<Item>, other: Set<Item>) => {
      const replay = mulberry32(seed);
      const seen: number[] = [];
      let step = 0;
      s.forEach((item) => {
        seen.push(item.id);
        const churn = Math.floor(plan[step++ % plan.length] * 8);
        for (let i = 0; i < churn; i++) {
          mutate(replay, other, s as LiveSet<Item>);
        }
      });
      return seen;
    };
    // Each walk mutates its own set and a scratch copy, with one replayed
    // sequence of steps.
    const copies = [new Set(set), new Set(set)];
    const viaSet = walk(set, copies[0]);
    const viaLive = walk(live, copies[1]);
    assert.deepEqual(viaLive, viaSet, `seed ${seed}`);
  }
});
