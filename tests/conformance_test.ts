// The conformance suite: the Autobahn TestSuite's fuzzing cases (categories
// 1-7, 9, 10) replayed against serve() (this file plays the fuzzing client)
// and against dial() (this file plays the fuzzing server), over loopback,
// byte for byte. Each case is a step graded OK / NON-STRICT / FAILED as
// Autobahn grades it; a FAILED case fails its step. The per-category table
// is printed at the end and kept in docs/conformance.md.

import assert from "node:assert/strict";
import {
  categories,
  type Category,
  utf8Vectors,
} from "./_conformance/cases.ts";
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
import { checkUtf8, closePayload, OP } from "./_conformance/wire.ts";

const CATEGORIES = categories();
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

async function runCategory(
  t: Deno.TestContext,
  category: Category,
  target: Target,
): Promise<void> {
  for (const c of category.cases) {
    if (c.only && c.only !== target.role) continue;
    await t.step({
      name: `${c.id} ${c.title}`,
      // The server's side of each connection is awaited by the harness;
      // the test as a whole keeps its sanitizers.
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const result = await runCase(c, target);
        results.push({
          role: target.role,
          category: category.id,
          id: c.id,
          result,
        });
        if (result.grade === "failed") {
          throw new Error(`${c.id} FAILED: ${result.detail}`);
        }
      },
    });
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

Deno.test("conformance results per category (printed)", () => {
  const lines: string[] = [];
  for (const role of ["server", "client"] as const) {
    lines.push(
      "",
      `${role === "server" ? "serve()" : "dial()"} as the ${role}:`,
      "| category | cases | passed | non-strict | failed |",
      "| --- | ---: | ---: | ---: | ---: |",
    );
    const total: Record<Grade | "cases", number> = {
      cases: 0,
      passed: 0,
      "non-strict": 0,
      failed: 0,
    };
    for (const category of CATEGORIES) {
      const mine = results.filter((r) =>
        r.role === role && r.category === category.id
      );
      const count = (grade: Grade) =>
        mine.filter((r) => r.result.grade === grade).length;
      total.cases += mine.length;
      for (const grade of ["passed", "non-strict", "failed"] as const) {
        total[grade] += count(grade);
      }
      lines.push(
        `| ${category.id} ${category.title} | ${mine.length} | ${
          count("passed")
        } | ${count("non-strict")} | ${count("failed")} |`,
      );
    }
    lines.push(
      `| total | ${total.cases} | ${total.passed} | ${
        total["non-strict"]
      } | ${total.failed} |`,
    );
    for (const r of results) {
      if (r.role === role && r.result.grade !== "passed") {
        lines.push(`  ${r.id} ${r.result.grade}: ${r.result.detail}`);
      }
    }
  }
  const seconds = ((performance.now() - suiteStart) / 1000).toFixed(1);
  lines.push("", `conformance suite: ${seconds} s`);
  console.log(lines.join("\n"));
  // Every case ran once per role it applies to.
  const expected = CATEGORIES.flatMap((category) => category.cases)
    .reduce((n, c) => n + (c.only ? 1 : 2), 0);
  assert.equal(results.length, expected);
});
