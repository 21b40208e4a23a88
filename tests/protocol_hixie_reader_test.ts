import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import { HixieReader } from "../legacy/_protocol_reader.ts";
import type { ProtocolEvent } from "../protocol/machine.ts";
import { concat, everySplit } from "./_util.ts";

const encoder = new TextEncoder();
const text = (s: string) =>
  concat(new Uint8Array([0]), encoder.encode(s), new Uint8Array([0xff]));

// Feeds the pieces; the events, whether the closing handshake came, and the
// error's code if one did.
function read(pieces: Uint8Array[], closes = true, max = 1000) {
  const reader = new HixieReader(closes, max);
  const events: ProtocolEvent[] = [];
  try {
    for (const piece of pieces) {
      if (reader.read(piece, events)) return { events, closed: true };
    }
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { events, closed: false, code: error.code };
  }
  return { events, closed: false };
}

Deno.test("HixieReader reads text frames and skips the others, at every split", () => {
  const bytes = concat(
    text("Hé"),
    new Uint8Array([0x05, 0x61, 0xff]), // another sentinel frame
    new Uint8Array([0x80, 0x82, 0x01, ...new Uint8Array(257)]), // length 257
    text(""),
    text("bye"),
  );
  for (const pieces of everySplit(bytes)) {
    assert.deepEqual(read(pieces), {
      events: [
        { type: "message", data: "Hé" },
        { type: "message", data: "" },
        { type: "message", data: "bye" },
      ],
      closed: false,
    });
  }
});

Deno.test("HixieReader stops at the draft-76 closing handshake, and only in draft 76", () => {
  const bytes = concat(text("a"), new Uint8Array([0xff, 0x00]), text("after"));
  for (const pieces of everySplit(bytes)) {
    assert.deepEqual(read(pieces), {
      events: [{ type: "message", data: "a" }],
      closed: true,
    });
  }
  // In draft 75, `0xFF 0x00` is an empty frame to skip.
  assert.deepEqual(read([bytes], false).events.length, 2);
});

Deno.test("HixieReader refuses what is too large, too long or not UTF-8", () => {
  assert.equal(
    read([text("x".repeat(11))], true, 10).code,
    "MESSAGE_TOO_LARGE",
  );
  assert.equal(
    read([new Uint8Array([0x01, ...new Uint8Array(11).fill(0x61)])], true, 10)
      .code,
    "FRAME_TOO_LARGE",
  );
  assert.equal(
    read([new Uint8Array([0x80, 0x81, 0x01])], true, 10).code,
    "FRAME_TOO_LARGE",
  );
  assert.equal(
    read(
      [new Uint8Array([0x80, ...new Uint8Array(7).fill(0x80)])],
      true,
      2 ** 60,
    )
      .code,
    "BAD_LENGTH",
  );
  const bad = read([text("ok"), new Uint8Array([0x00, 0xc0, 0xff])]);
  assert.equal(bad.code, "INVALID_UTF8");
  // What came before the fault is still delivered.
  assert.deepEqual(bad.events, [{ type: "message", data: "ok" }]);
});
