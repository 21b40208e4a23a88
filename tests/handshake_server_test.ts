// The upgrade checks handshake/_server.ts shares with the legacy drafts,
// driven directly: the method and the Connection header, each with its
// exact status.

import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import type { RequestHead } from "../handshake.ts";
import { requireConnectionUpgrade, requireGet } from "../handshake/_server.ts";

function request(method: string): RequestHead {
  return { method, target: "/", version: "1.1", headers: new Headers() };
}

Deno.test("requireGet() takes GET", () => {
  requireGet(request("GET"));
});

for (const method of ["POST", "get", "HEAD"]) {
  Deno.test(`requireGet() refuses ${method} with 405 BAD_METHOD and Allow: GET`, () => {
    assert.throws(() => requireGet(request(method)), (error: unknown) => {
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.code, "BAD_METHOD");
      assert.equal(error.status, 405);
      assert.equal(error.headers.get("allow"), "GET");
      assert.match(error.message, new RegExp(`method ${method} is not GET`));
      return true;
    });
  });
}

Deno.test("requireConnectionUpgrade() takes upgrade anywhere in the list, in any case", () => {
  requireConnectionUpgrade(new Headers({ Connection: "Upgrade" }));
  requireConnectionUpgrade(new Headers({ Connection: "keep-alive, UPGRADE" }));
});

for (const value of [undefined, "keep-alive", "upgrades", ""]) {
  Deno.test(`requireConnectionUpgrade() refuses Connection ${JSON.stringify(value)} with 400 BAD_UPGRADE`, () => {
    const headers = new Headers(
      value === undefined ? {} : { Connection: value },
    );
    assert.throws(() => requireConnectionUpgrade(headers), (error: unknown) => {
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.code, "BAD_UPGRADE");
      assert.equal(error.status, 400);
      return true;
    });
  });
}
