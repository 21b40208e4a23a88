/**
 * The Autobahn TestSuite client driver: runs every case of a fuzzing
 * server against this library's client, then asks it to write its reports.
 *
 * ```sh
 * deno run -A examples/autobahn_client.ts ws://127.0.0.1:9001 seed-websocket
 * ```
 *
 * It reads the case count from `/getCaseCount`, echoes every message of
 * `/runCase?case=N&agent=AGENT` (text as text, binary as binary) until the
 * server closes, then opens `/updateReports?agent=AGENT` and waits for its
 * close. A failed case is reported and the run goes on.
 *
 * @module
 */

import { type Conn, dial, type DialOptions } from "../mod.ts";

const USAGE = "Usage: deno run -A examples/autobahn_client.ts URL AGENT";

if (Deno.args.length !== 2) {
  console.error(USAGE);
  Deno.exit(2);
}
const [base, agent] = [Deno.args[0].replace(/\/+$/, ""), Deno.args[1]];

// One line per setting.
const options: DialOptions = {
  maxMessageSize: 64 * 1024 * 1024,
  // Offered, as the Autobahn compression cases (12 and 13) expect.
  compression: true,
};

function endpoint(path: string, withAgent = true): string {
  if (!withAgent) return `${base}${path}`;
  const separator = path.includes("?") ? "&" : "?";
  return `${base}${path}${separator}agent=${encodeURIComponent(agent)}`;
}

/** Echoes every message, same type, until the connection closes. */
async function echo(conn: Conn): Promise<void> {
  try {
    for await (const message of conn) await conn.send(message);
  } finally {
    await conn.closed;
  }
}

async function caseCount(): Promise<number> {
  const conn = await dial(endpoint("/getCaseCount", false), options);
  let count = NaN;
  for await (const message of conn) {
    if (typeof message === "string") count = Number(message);
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`Invalid case count from ${base}/getCaseCount`);
  }
  return count;
}

async function runCase(n: number): Promise<string> {
  const conn = await dial(endpoint(`/runCase?case=${n}`), options);
  await echo(conn);
  const { code, wasClean } = await conn.closed;
  return `closed with ${code}${wasClean ? "" : " (not cleanly)"}`;
}

async function updateReports(): Promise<void> {
  const conn = await dial(endpoint("/updateReports"), options);
  for await (const _ of conn) {
    // Nothing is sent here; the server closes once the reports are written.
  }
}

try {
  const count = await caseCount();
  console.log(`Running ${count} cases against ${base} as ${agent}`);
  for (let n = 1; n <= count; n++) {
    const started = performance.now();
    let outcome: string;
    try {
      outcome = await runCase(n);
    } catch (error) {
      // Many cases end with the server failing the connection on purpose.
      outcome = `ended: ${error instanceof Error ? error.message : error}`;
    }
    const ms = (performance.now() - started).toFixed(0);
    console.log(`Case ${n}/${count} ${outcome} (${ms} ms)`);
  }
  await updateReports();
  console.log("Reports updated");
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
