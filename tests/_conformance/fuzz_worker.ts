// Runs in-process fuzz seeds in a worker, so that a seed that never ends
// can be stopped from outside: it reports each seed before running it.

import { type FuzzFailure, fuzzOne } from "./fuzz.ts";

/** A request to the worker. */
export interface FuzzJob {
  target: "decoder" | "machine" | "head";
  from: number;
  count: number;
}

/** What the worker reports. */
export type FuzzReport =
  | { type: "seed"; seed: number }
  | { type: "failure"; failure: FuzzFailure }
  | { type: "done"; stats: Record<string, number> };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<FuzzJob>) => void) | null;
  postMessage(report: FuzzReport): void;
};

scope.onmessage = ({ data: job }) => {
  const stats: Record<string, number> = {};
  for (let seed = job.from; seed < job.from + job.count; seed++) {
    scope.postMessage({ type: "seed", seed });
    const failure = fuzzOne(job.target, seed, stats);
    if (failure) scope.postMessage({ type: "failure", failure });
  }
  scope.postMessage({ type: "done", stats });
};
