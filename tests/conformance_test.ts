// The conformance suite: the Autobahn TestSuite's fuzzing cases (categories
// 1-7, 9, 10, and permessage-deflate in 12 and 13) replayed against serve()
// (this file plays the fuzzing client) and against dial() (this file plays
// the fuzzing server), over loopback, byte for byte. Each case is a step
// graded OK / NON-STRICT / UNIMPLEMENTED / FAILED as Autobahn grades it; a
// FAILED case fails its step. The per-category table is printed at the end
// and kept in docs/conformance.md.

import assert from "node:assert/strict";
import {
  categories,
  type Category,
  utf8Vectors,
} from "./_conformance/cases.ts";
import {
  type CompressionCase,
  compressionCategories,
  PeerDeflater,
  PeerInflater,
  runCompressionCase,
  serverOptions,
} from "./_conformance/deflate.ts";
import {
  type Case,
  type CaseResult,
  ClientTarget,
  type Grade,
  pong,
  type Role,
  runCase,
  ServerTarget,
  type Target,
  text,
} from "./_conformance/harness.ts";
import { checkUtf8, closePayload, OP, toBytes } from "./_conformance/wire.ts";

const CATEGORIES = categories();
const COMPRESSION = compressionCategories();
const ALL: { id: string; title: string; cases: (Case | CompressionCase)[] }[] =
  [...CATEGORIES, ...COMPRESSION];
const results: {
  role: Role;
  category: string;
  id: string;
  result: CaseResult;
}[] = [];
const suiteStart = performance.now();

Deno.test("the UTF-8 vectors agree with the suite's validator and with TextDecoder", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  let count = 0;
  for (const group of utf8Vectors()) {
    for (const [valid, bytes] of group.vectors) {
      count++;
      assert.equal(checkUtf8(bytes).state === "valid", valid, group.title);
      let decoded = true;
      try {
        strict.decode(bytes);
      } catch {
        decoded = false;
      }
      assert.equal(decoded, valid, group.title);
    }
  }
  assert.equal(count, 132);
});

Deno.test("runCase() fails a case whose expectation the library does not meet", async () => {
  const wrong: Case[] = [
    {
      id: "wrong.1",
      title: "expects another pong payload",
      actions: [{ send: [{ opcode: OP.ping, payload: "a" }] }],
      expect: { outcome: "echo", events: [pong("b")] },
    },
    {
      id: "wrong.2",
      title: "expects another close code",
      actions: [{
        send: [{ opcode: OP.close, payload: closePayload(1000) }],
      }],
      expect: { outcome: "close", codes: [1001] },
    },
    {
      id: "wrong.3",
      title: "expects 1007 where the library fails with 1002",
      actions: [{ send: [{ opcode: 3 }] }],
      expect: { outcome: "fail", codes: [1007] },
    },
    {
      id: "wrong.4",
      title: "expects two echoes of one message (hangs, bounded)",
      actions: [{ send: [{ opcode: OP.text, payload: "once" }] }],
      expect: { outcome: "echo", events: [text("once"), text("once")] },
      timeout: 300,
    },
    {
      id: "wrong.5",
      title: "expects a failure from a valid message",
      actions: [{ send: [{ opcode: OP.text, payload: "fine" }] }],
      expect: { outcome: "fail", codes: [1002] },
      timeout: 300,
    },
  ];
  for (const make of [() => new ServerTarget(), () => new ClientTarget()]) {
    await using target = make();
    for (const c of wrong) {
      const result = await runCase(c, target);
      assert.equal(result.grade, "failed", `${target.role} ${c.id}`);
    }
  }
});

Deno.test("runCompressionCase() fails a case whose expectation the library does not meet", async () => {
  const messages = [{
    data: toBytes("compress me ".repeat(30)),
    binary: false,
    compressible: true,
  }];
  const wrong = (
    id: string,
    title: string,
    more: Partial<CompressionCase>,
  ): CompressionCase => ({
    kind: "compression",
    id,
    title,
    open: {},
    threshold: 0,
    messages,
    ...more,
  });
  const serverCases: [CompressionCase, true | { threshold: number }][] = [
    [
      wrong("wrong.c1", "expects a decline", {
        open: { offer: ["permessage-deflate"] },
        negotiation: { server: "decline" },
      }),
      { threshold: 0 },
    ],
    [
      wrong("wrong.c2", "expects an answer parameter the server omits", {
        open: { offer: ["permessage-deflate"] },
        check: (p) => p.serverNoContextTakeover ? undefined : "not answered",
      }),
      { threshold: 0 },
    ],
    [
      wrong("wrong.c3", "expects the acceptance of an 8-bit window", {
        open: { offer: ["permessage-deflate; server_max_window_bits=8"] },
      }),
      { threshold: 0 },
    ],
    [
      wrong("wrong.c4", "expects compressed echoes under the threshold", {
        open: { offer: ["permessage-deflate"] },
      }),
      true,
    ],
  ];
  for (const [c, compression] of serverCases) {
    await using target = new ServerTarget(serverOptions(compression));
    const result = await runCompressionCase(c, target);
    assert.equal(result.grade, "failed", `${c.id}: ${result.detail}`);
  }
  await using client = new ClientTarget();
  const refused = await runCompressionCase(
    wrong("wrong.c5", "expects dial() to refuse a valid answer", {
      open: { compression: true, answer: () => "permessage-deflate" },
      negotiation: { client: "refuse" },
      messages: [],
    }),
    client,
  );
  assert.equal(refused.grade, "failed", refused.detail);
});

Deno.test("the peer's inflater refuses a window or a context the negotiation did not allow", async () => {
  // 600 random bytes twice: the repeat is 600 bytes back.
  const unit = new Uint8Array(600).map((_, i) => (i * 7919 + 13) % 251);
  const twice = new Uint8Array(1200);
  twice.set(unit);
  twice.set(unit, 600);
  const wide = new PeerDeflater({ bits: 15, takeover: false });
  const payload = await wide.compress(twice);
  assert.deepEqual(
    await new PeerInflater({ bits: 10, takeover: false }).inflate(payload),
    twice,
  );
  await assert.rejects(
    new PeerInflater({ bits: 9, takeover: false }).inflate(payload),
    /too far back/,
  );
  // A second message that refers to the first needs the kept context.
  const keeping = new PeerDeflater({ bits: 15, takeover: true });
  const first = await keeping.compress(unit);
  const second = await keeping.compress(unit);
  keeping.close();
  assert.ok(second.length < 20);
  const kept = new PeerInflater({ bits: 15, takeover: true });
  assert.deepEqual(await kept.inflate(first), unit);
  assert.deepEqual(await kept.inflate(second), unit);
  kept.close();
  const fresh = new PeerInflater({ bits: 15, takeover: false });
  assert.deepEqual(await fresh.inflate(first), unit);
  await assert.rejects(fresh.inflate(second), /too far back/);
});

function runAny(c: Case | CompressionCase, target: Target) {
  return "kind" in c ? runCompressionCase(c, target) : runCase(c, target);
}

async function runStep(
  t: Deno.TestContext,
  category: string,
  c: Case | CompressionCase,
  target: Target,
): Promise<void> {
  await t.step({
    name: `${c.id} ${c.title}`,
    // The server's side of each connection is awaited by the harness;
    // the test as a whole keeps its sanitizers.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const result = await runAny(c, target);
      results.push({ role: target.role, category, id: c.id, result });
      if (result.grade === "failed") {
        throw new Error(`${c.id} FAILED: ${result.detail}`);
      }
    },
  });
}

async function runCategory(
  t: Deno.TestContext,
  category: Category,
  target: Target,
): Promise<void> {
  for (const c of category.cases) {
    if (c.only && c.only !== target.role) continue;
    await runStep(t, category.id, c, target);
  }
}

for (const category of CATEGORIES) {
  Deno.test(
    `serve() passes Autobahn category ${category.id} (${category.title})`,
    async (t) => {
      await using target = new ServerTarget();
      await runCategory(t, category, target);
      assert.deepEqual(target.errors, []);
    },
  );
  Deno.test(
    `dial() passes Autobahn category ${category.id} (${category.title})`,
    async (t) => {
      await using target = new ClientTarget();
      await runCategory(t, category, target);
    },
  );
}

for (const category of COMPRESSION) {
  Deno.test(
    `serve() passes Autobahn category ${category.id} (${category.title})`,
    async (t) => {
      // One server per serve() configuration the cases ask for.
      const targets = new Map<string, ServerTarget>();
      try {
        for (const c of category.cases) {
          if (c.only && c.only !== "server") continue;
          const compression = ("kind" in c && c.server) || category.server;
          const key = JSON.stringify(compression);
          let target = targets.get(key);
          if (!target) {
            target = new ServerTarget(serverOptions(compression));
            targets.set(key, target);
          }
          await runStep(t, category.id, c, target);
        }
        for (const target of targets.values()) {
          assert.deepEqual(target.errors, []);
        }
      } finally {
        for (const target of targets.values()) {
          await target[Symbol.asyncDispose]();
        }
      }
    },
  );
  Deno.test(
    `dial() passes Autobahn category ${category.id} (${category.title})`,
    async (t) => {
      await using target = new ClientTarget();
      for (const c of category.cases) {
        if (c.only && c.only !== "client") continue;
        await runStep(t, category.id, c, target);
      }
    },
  );
}

Deno.test("conformance results per category (printed)", () => {
  const lines: string[] = [];
  for (const role of ["server", "client"] as const) {
    lines.push(
      "",
      `${role === "server" ? "serve()" : "dial()"} as the ${role}:`,
      "| category | cases | passed | non-strict | unimplemented | failed |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
    );
    const grades = ["passed", "non-strict", "unimplemented", "failed"] as const;
    const total: Record<Grade | "cases", number> = {
      cases: 0,
      passed: 0,
      "non-strict": 0,
      unimplemented: 0,
      failed: 0,
    };
    for (const category of ALL) {
      const mine = results.filter((r) =>
        r.role === role && r.category === category.id
      );
      const count = (grade: Grade) =>
        mine.filter((r) => r.result.grade === grade).length;
      total.cases += mine.length;
      for (const grade of grades) total[grade] += count(grade);
      lines.push(
        `| ${category.id} ${category.title} | ${mine.length} | ${
          grades.map(count).join(" | ")
        } |`,
      );
    }
    lines.push(
      `| total | ${total.cases} | ${grades.map((g) => total[g]).join(" | ")} |`,
    );
    // Unimplemented cases come in runs of one subcategory: one line each.
    const runs = new Map<string, { ids: string[]; detail: string }>();
    for (const r of results) {
      if (r.role !== role || r.result.grade === "passed") continue;
      if (r.result.grade === "unimplemented") {
        const group = r.id.split(".").slice(0, 2).join(".");
        const run = runs.get(group);
        if (run) run.ids.push(r.id);
        else {
          runs.set(group, { ids: [r.id], detail: r.result.detail });
          lines.push(`  ${group}.*`);
        }
      } else lines.push(`  ${r.id} ${r.result.grade}: ${r.result.detail}`);
    }
    for (const [group, run] of runs) {
      const at = lines.indexOf(`  ${group}.*`);
      lines[at] = `  ${run.ids[0]}–${
        run.ids[run.ids.length - 1]
      } (${run.ids.length} cases) unimplemented: ${
        run.detail.replace(/; .*/, "")
      }`;
    }
  }
  const seconds = ((performance.now() - suiteStart) / 1000).toFixed(1);
  lines.push("", `conformance suite: ${seconds} s`);
  console.log(lines.join("\n"));
  // Every case ran once per role it applies to.
  const expected = ALL.flatMap((category) => category.cases)
    .reduce((n, c) => n + (c.only ? 1 : 2), 0);
  assert.equal(results.length, expected);
});
