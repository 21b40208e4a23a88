// A long fuzz run: the generators of tests/fuzz_test.ts for as long as asked.
//
//   deno run -A tools/fuzz.ts --seconds 60 --seed 1
//   deno run -A tools/fuzz.ts --target machine --seed 123456 --runs 1
//
// Targets: decoder, machine, head, live (a serve() server over loopback),
// or all (the default, in turn). Seeds run from --seed upwards; --runs caps
// the seeds per target. Any failure is printed with the command that
// reproduces it, and the exit code is 1.

import {
  formatFailure,
  type FuzzFailure,
  LiveFuzzer,
  liveOne,
  runInWorker,
} from "../tests/_conformance/fuzz.ts";

type Target = "decoder" | "machine" | "head" | "live";
const TARGETS: readonly Target[] = ["decoder", "machine", "head", "live"];

function usage(message: string): never {
  console.error(
    `${message}\nUsage: deno run -A tools/fuzz.ts [--seconds N] [--seed S] ` +
      `[--target decoder|machine|head|live|all] [--runs N]`,
  );
  Deno.exit(2);
}

function parseArgs(args: string[]): {
  seconds: number;
  seed: number;
  targets: readonly Target[];
  runs: number;
} {
  const options = { seconds: 10, seed: 1, target: "all", runs: Infinity };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split("=", 2);
    const value = inline ?? args[++i];
    if (value === undefined) usage(`Missing value for ${name}`);
    switch (name) {
      case "--seconds":
        options.seconds = Number(value);
        break;
      case "--seed":
        options.seed = Number(value);
        break;
      case "--runs":
        options.runs = Number(value);
        break;
      case "--target":
        options.target = value;
        break;
      default:
        usage(`Unknown option ${name}`);
    }
  }
  if (!(options.seconds > 0)) usage("--seconds must be positive");
  if (!Number.isSafeInteger(options.seed)) usage("--seed must be an integer");
  if (!(options.runs > 0)) usage("--runs must be positive");
  const targets = options.target === "all"
    ? TARGETS
    : TARGETS.filter((t) => t === options.target);
  if (targets.length === 0) usage(`Unknown target ${options.target}`);
  return { ...options, targets };
}

const { seconds, seed: firstSeed, targets, runs } = parseArgs(Deno.args);
const started = performance.now();
const deadline = performance.now() + seconds * 1000;
const counts: Record<string, number> = {};
const failures: FuzzFailure[] = [];
let live: LiveFuzzer | undefined;
if (targets.includes("live")) {
  live = new LiveFuzzer();
  await live.start();
}

console.log(
  `Fuzzing ${targets.join(", ")} for up to ${seconds} s from seed ${firstSeed}`,
);
try {
  // Rounds of up to 500 seeds per target, each in-process target in a
  // worker that stops a seed running over 10 s; the live target runs
  // fewer seeds per round, as each is a connection.
  let seed = firstSeed;
  let left = runs;
  while (left > 0 && performance.now() < deadline) {
    const batch = Math.min(500, left);
    for (const target of targets) {
      if (target === "live") {
        const liveBatch = Math.max(1, Math.min(batch, 50));
        for (let s = seed; s < seed + liveBatch; s++) {
          let failure = await liveOne(live!, s);
          const good = await live!.checkGood();
          if (!failure && good) failure = { target, seed: s, message: good };
          if (failure) {
            failures.push(failure);
            console.log(formatFailure(failure));
          }
        }
        counts[target] = (counts[target] ?? 0) + liveBatch;
      } else {
        const run = await runInWorker(target, seed, batch);
        for (const failure of run.failures) {
          failures.push(failure);
          console.log(formatFailure(failure));
        }
        counts[target] = (counts[target] ?? 0) + batch;
      }
    }
    seed += batch;
    left -= batch;
  }
} finally {
  if (live) {
    await live[Symbol.asyncDispose]();
    for (const error of live.errors) {
      console.log(`FAIL live: the server reported ${String(error)}`);
      failures.push({ target: "live", seed: -1, message: String(error) });
    }
  }
}

const summary = Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(", ");
const elapsed = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `Ran ${summary} seeds in ${elapsed} s; ${failures.length} failure${
    failures.length === 1 ? "" : "s"
  }`,
);
if (failures.length > 0) Deno.exit(1);
