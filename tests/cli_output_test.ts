import assert from "node:assert/strict";
import {
  describeBinary,
  describeClose,
  ExitCode,
  exitCodeFor,
  parseHex,
  writeOut,
} from "../cli/_output.ts";
import { ExitCode as PublicExitCode } from "../cli/cli.ts";

Deno.test("describeBinary() shows hex up to 32 bytes, the length above", () => {
  assert.equal(
    describeBinary(new Uint8Array([0, 1, 0xab])),
    "<binary, 3 bytes: 0001ab>",
  );
  assert.equal(describeBinary(new Uint8Array(0)), "<binary, 0 bytes: >");
  assert.equal(
    describeBinary(new Uint8Array(32)),
    `<binary, 32 bytes: ${"00".repeat(32)}>`,
  );
  assert.equal(describeBinary(new Uint8Array(33)), "<binary, 33 bytes>");
});

Deno.test("parseHex() reads pairs of hex digits, spaces allowed", () => {
  assert.deepEqual(parseHex("00ff10"), new Uint8Array([0, 255, 16]));
  assert.deepEqual(parseHex(" 0A bC "), new Uint8Array([10, 188]));
  assert.deepEqual(parseHex(""), new Uint8Array(0));
  assert.equal(parseHex("abc"), undefined);
  assert.equal(parseHex("zz"), undefined);
});

Deno.test("exitCodeFor() is 0 for 1000 and no code, 3 for the rest; describeClose() adds the reason", () => {
  assert.equal(exitCodeFor(1000), ExitCode.Ok);
  assert.equal(exitCodeFor(1005), ExitCode.Ok);
  assert.equal(exitCodeFor(1001), ExitCode.Abnormal);
  assert.equal(exitCodeFor(1006), ExitCode.Abnormal);
  assert.equal(describeClose(1000, ""), "Closed with 1000");
  assert.equal(describeClose(1011, "Oops"), "Closed with 1011 (Oops)");
  // The entrypoint exports the same object.
  assert.equal(PublicExitCode, ExitCode);
  assert.deepEqual(ExitCode, { Ok: 0, DialFailed: 1, Usage: 2, Abnormal: 3 });
});

Deno.test("writeOut() writes everything even when the sink takes a byte at a time", () => {
  const written: number[] = [];
  writeOut("héllo", {
    writeSync(p: Uint8Array): number {
      written.push(p[0]);
      return 1;
    },
  });
  assert.deepEqual(new Uint8Array(written), new TextEncoder().encode("héllo"));
});
