// legacy/_request.ts driven directly: the subprotocol a draft request asks
// for, and the order of the checks a draft request passes.

import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import type { RequestHead } from "../handshake.ts";
import {
  detectVersion,
  hixieRequestedProtocols,
  validateHixieRequest,
} from "../legacy/_request.ts";

function request(method: string, fields: Record<string, string>): RequestHead {
  return {
    method,
    target: "/chat",
    version: "1.1",
    headers: new Headers(fields),
  };
}

function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof HandshakeError);
    return `${error.code} ${error.status}`;
  }
}

Deno.test("hixieRequestedProtocols() reads each draft's own header, trimmed", () => {
  const headers = new Headers({
    "Sec-WebSocket-Protocol": " chat ",
    "WebSocket-Protocol": "old",
  });
  assert.deepEqual(hixieRequestedProtocols("hixie-76", headers), ["chat"]);
  assert.deepEqual(hixieRequestedProtocols("hixie-75", headers), ["old"]);
});

Deno.test("hixieRequestedProtocols() gives none for a missing or blank header", () => {
  assert.deepEqual(hixieRequestedProtocols("hixie-76", new Headers()), []);
  const blank = new Headers({ "WebSocket-Protocol": "  " });
  assert.deepEqual(hixieRequestedProtocols("hixie-75", blank), []);
});

Deno.test("validateHixieRequest() checks method, Host, Connection, then the keys, in that order", () => {
  const good = {
    Host: "a",
    Connection: "Upgrade",
    "Sec-WebSocket-Key1": "4 @1  46546xW%0l 1 5",
    "Sec-WebSocket-Key2": "12998 5 Y3 1  .P00",
  };
  assert.equal(
    code(() => validateHixieRequest("hixie-76", request("GET", good))),
    undefined,
  );
  const broken = { Connection: "close", "Sec-WebSocket-Key1": "1" };
  assert.equal(
    code(() => validateHixieRequest("hixie-76", request("PUT", broken))),
    "BAD_METHOD 405",
  );
  assert.equal(
    code(() => validateHixieRequest("hixie-76", request("GET", broken))),
    "BAD_HOST 400",
  );
  assert.equal(
    code(() =>
      validateHixieRequest("hixie-76", request("GET", { ...broken, Host: "a" }))
    ),
    "BAD_UPGRADE 400",
  );
  assert.equal(
    code(() =>
      validateHixieRequest(
        "hixie-76",
        request("GET", { ...broken, Host: "a", Connection: "Upgrade" }),
      )
    ),
    "BAD_KEY 400",
  );
});

Deno.test("validateHixieRequest() asks no keys of draft 75", () => {
  const headers = { Host: "a", Connection: "Upgrade" };
  validateHixieRequest("hixie-75", request("GET", headers));
});

Deno.test("detectVersion() prefers Sec-WebSocket-Key over the draft keys", () => {
  const headers = new Headers({
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Key1": "1 2",
    "Sec-WebSocket-Key2": "3 4",
  });
  assert.equal(detectVersion(headers), "13");
});
