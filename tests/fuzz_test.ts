// Fuzzing with a fixed seed set, quick enough for CI. Mutated frame streams
// go to FrameDecoder and WebSocketProtocol (both roles) in random splits and
// are checked at every chunk against the reference in _conformance/wire.ts;
// mutated HTTP heads go to HeadReader and the head parsers; and a live
// serve() server over loopback gets garbage handshakes and garbage frames
// while a well-behaved client keeps talking to it. tools/fuzz.ts runs the
// same generators for as long as asked.

import assert from "node:assert/strict";
import {
  formatFailure,
  type FuzzFailure,
  LiveFuzzer,
  liveOne,
  runInWorker,
} from "./_conformance/fuzz.ts";

// Each target runs in a worker that stops any seed taking over 10 s.
async function runSeeds(
  target: "decoder" | "machine" | "head",
  seeds: number,
): Promise<{ failures: string[]; stats: Record<string, number> }> {
  const run = await runInWorker(target, 1, seeds);
  return { failures: run.failures.map(formatFailure), stats: run.stats };
}

Deno.test("FrameDecoder agrees with the reference reader on 3000 mutated streams in random splits", async () => {
  const { failures } = await runSeeds("decoder", 3000);
  assert.deepEqual(failures, []);
});

Deno.test("WebSocketProtocol agrees with the reference endpoint on 3000 mutated streams in random splits", async () => {
  const { failures, stats } = await runSeeds("machine", 3000);
  assert.deepEqual(failures, []);
  // The generators reach every ending: each failure code, the peer's
  // close, and streams that simply stop.
  for (
    const outcome of [
      "fail 1002",
      "fail 1007",
      "fail 1009",
      "peer close",
      "open",
    ]
  ) {
    assert.ok(
      (stats[outcome] ?? 0) > 20,
      `${outcome}: ${JSON.stringify(stats)}`,
    );
  }
});

Deno.test("HeadReader, the head parsers and validateUpgradeRequest survive 3000 mutated heads", async () => {
  const { failures, stats } = await runSeeds("head", 3000);
  assert.deepEqual(failures, []);
  for (
    const outcome of ["valid upgrade", "response", "BAD_REQUEST", "no head"]
  ) {
    assert.ok(
      (stats[outcome] ?? 0) > 20,
      `${outcome}: ${JSON.stringify(stats)}`,
    );
  }
});

Deno.test("serve() survives garbage handshakes and garbage frames while serving a well-behaved client", async () => {
  await using fuzzer = new LiveFuzzer();
  await fuzzer.start();
  const failures: string[] = [];
  const note = (failure: FuzzFailure | undefined) => {
    if (failure) failures.push(formatFailure(failure));
  };
  // Four connections at a time; the well-behaved client talks between.
  for (let batch = 0; batch < 40; batch++) {
    const seeds = [1, 2, 3, 4].map((i) => batch * 4 + i);
    const results = await Promise.all(
      seeds.map((seed) => liveOne(fuzzer, seed)),
    );
    results.forEach(note);
    const good = await fuzzer.checkGood();
    if (good) failures.push(`after batch ${batch}: ${good}`);
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(fuzzer.errors, []);
});
