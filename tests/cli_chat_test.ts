import assert from "node:assert/strict";
import { command } from "../cli/_chat.ts";
import { LineEditor } from "../cli/_line_editor.ts";
import type { Conn, Message } from "../conn.ts";

// A connection that records what the commands do to it.
function fake() {
  const calls: unknown[][] = [];
  const conn = {
    send(message: Message) {
      calls.push(["send", message]);
      return message === "fail"
        ? Promise.reject(
          new Error("Cannot send message: connection is closing"),
        )
        : Promise.resolve();
    },
    ping(payload?: Uint8Array) {
      calls.push(["ping", payload]);
      return Promise.resolve(1.25);
    },
    close(code?: number, reason?: string) {
      if (code !== undefined && (code < 1000 || code > 4999)) {
        throw new RangeError(`Invalid close code ${code}`);
      }
      calls.push(["close", code, reason]);
      return Promise.resolve({ code, reason, wasClean: true });
    },
  } as unknown as Conn;
  let out = "";
  const editor = new LineEditor((text) => out += text);
  // The lines printed above the prompt.
  const printed = () =>
    out.split("\r\x1b[K").filter((part) => part.endsWith("\r\n")).map((
      part,
    ) => part.slice(0, -2)).filter((line) => !line.startsWith(">"));
  return { conn, editor, calls, printed };
}

Deno.test("command() sends text, and //text as /text", async () => {
  const { conn, editor, calls } = fake();
  assert.equal(await command(conn, editor, "hello"), false);
  assert.equal(await command(conn, editor, "//slash"), false);
  assert.equal(await command(conn, editor, ""), false);
  assert.deepEqual(calls, [["send", "hello"], ["send", "/slash"]]);
});

Deno.test("command() runs /ping, /binary, /help and reports errors", async () => {
  const { conn, editor, calls, printed } = fake();
  await command(conn, editor, "/ping hi");
  await command(conn, editor, "/binary 00 ff");
  await command(conn, editor, "/binary xyz");
  await command(conn, editor, "/help");
  await command(conn, editor, "/what");
  await command(conn, editor, "fail");
  assert.deepEqual(calls, [
    ["ping", new TextEncoder().encode("hi")],
    ["send", new Uint8Array([0, 255])],
    ["send", "fail"],
  ]);
  const lines = printed();
  assert.ok(lines.includes("< pong (1.3 ms)"), lines.join("\n"));
  assert.ok(lines.includes("! Invalid hex"));
  assert.ok(lines.some((line) => line.startsWith("Commands: /ping")));
  assert.ok(lines.some((line) => line.startsWith("! Unknown command /what.")));
  assert.ok(lines.includes("! Cannot send message: connection is closing"));
});

Deno.test("command() closes with /close and /quit, and reports a bad code", async () => {
  const { conn, editor, calls, printed } = fake();
  assert.equal(await command(conn, editor, "/close 4000 done now"), true);
  assert.equal(await command(conn, editor, "/quit"), true);
  assert.equal(await command(conn, editor, "/close"), true);
  assert.equal(await command(conn, editor, "/close 99"), false);
  assert.deepEqual(calls, [
    ["close", 4000, "done now"],
    ["close", 1000, ""],
    ["close", 1000, ""],
  ]);
  assert.ok(printed().includes("! Invalid close code 99"));
});
