// When queued frames go to their sockets: once per turn, for every
// connection of the process at once. Each write side that queued bytes is
// put on one list; one pass, a few microtasks later, starts their writes.
// Waiting those microtasks lets the rest of the turn queue more (an echo
// loop answering all the messages one read brought, a broadcast reaching
// every subscriber), so that each connection makes one write per turn; and
// one pass for all of them costs a few promises per turn, not a few per
// connection per turn, which a broadcast to thousands would pay.

/** A write side waiting for its turn. */
export interface TurnWriter {
  /** How many received messages wait to be read on its connection. */
  readonly backlog: number;
  /** Starts writing what it queued, unless it already has or has stopped. */
  startTurn(): void;
}

// Writers whose bytes wait for the pass, and whether a pass is coming.
let waiting: TurnWriter[] = [];
let passing = false;
// Bumped by every queuing of bytes, so a pass sees the application at work.
let activity = 0;

// A pass waits while the application keeps queuing or reading, for at most
// this many microtasks, never for a timer: past the send buffer's mark a
// writer starts at once instead (see Writer.queued()).
const MAX_SPINS = 1024;
// Microtasks without any change after which the turn is over.
const STILL_SPINS = 4;

/** Notes that bytes were queued somewhere (keeps a coming pass waiting). */
export function noteQueued(): void {
  activity++;
}

/** Puts a writer on the next pass; it must not be on it already. */
export function awaitTurn(writer: TurnWriter): void {
  waiting.push(writer);
  if (!passing) {
    passing = true;
    pass();
  }
}

function backlogOf(writers: TurnWriter[]): number {
  let sum = 0;
  for (let i = 0; i < writers.length; i++) sum += writers[i].backlog;
  return sum;
}

async function pass(): Promise<void> {
  await undefined;
  let queued = activity;
  let backlog = backlogOf(waiting);
  for (let spins = 0, still = 0; still < STILL_SPINS && spins < MAX_SPINS;) {
    await undefined;
    spins++;
    const nowBacklog = backlogOf(waiting);
    still = activity === queued && nowBacklog === backlog ? still + 1 : 0;
    queued = activity;
    backlog = nowBacklog;
  }
  const writers = waiting;
  waiting = [];
  passing = false;
  // A writer that queues while this runs goes on the next pass.
  for (let i = 0; i < writers.length; i++) writers[i].startTurn();
}
