// The redirect chain of one dial (dial/_redirects.ts), driven with response
// heads alone: where each redirect leads and which are refused.

import assert from "node:assert/strict";
import { HandshakeError } from "../mod.ts";
import {
  parseUrl,
  RedirectChain,
  redirectTarget,
  sameHost,
} from "../dial/_redirects.ts";
import type { ResponseHead } from "../handshake.ts";

function redirect(location: string, status = 302): ResponseHead {
  return {
    version: "1.1",
    status,
    statusText: "Found",
    headers: new Headers({ location }),
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HandshakeError);
    return error.code;
  }
  return undefined;
}

Deno.test("parseUrl() takes ws: and wss: only, without the fragment", () => {
  assert.equal(parseUrl("ws://a.test/x#y").href, "ws://a.test/x");
  assert.equal(code(() => parseUrl("http://a.test/")), "BAD_SCHEME");
  assert.equal(code(() => parseUrl("not a url")), "BAD_SCHEME");
});

Deno.test("redirectTarget() resolves Location and maps http: to ws:", () => {
  const from = new URL("wss://a.test/one?q=1");
  assert.equal(redirectTarget(from, "/two").href, "wss://a.test/two");
  assert.equal(
    redirectTarget(from, "https://b.test/x#frag").href,
    "wss://b.test/x",
  );
  assert.equal(redirectTarget(from, "http://b.test/").href, "ws://b.test/");
  assert.equal(
    code(() => redirectTarget(from, "ftp://b.test/")),
    "BAD_REDIRECT",
  );
  assert.equal(code(() => redirectTarget(from, "http://[")), "BAD_REDIRECT");
});

Deno.test("sameHost() tells when credentials may follow", () => {
  const url = (href: string) => new URL(href);
  assert.ok(sameHost(url("ws://A.test/"), url("ws://a.test/x")));
  assert.ok(sameHost(url("ws://a.test/"), url("wss://a.test/")));
  assert.ok(!sameHost(url("wss://a.test/"), url("ws://a.test/")));
  assert.ok(!sameHost(url("ws://a.test:81/"), url("ws://a.test:82/")));
  assert.ok(!sameHost(url("ws://a.test/"), url("ws://b.test/")));
});

Deno.test("RedirectChain.follow() moves on, and keeps credentials with the first host", () => {
  const chain = new RedirectChain(new URL("ws://a.test/"), 5, {
    Authorization: "Bearer x",
    Cookie: "c=1",
    "X-Other": "kept",
  });
  assert.ok(chain.follow(redirect("/next", 307)));
  assert.equal(chain.url.href, "ws://a.test/next");
  assert.equal(new Headers(chain.headers).get("authorization"), "Bearer x");
  assert.ok(chain.follow(redirect("ws://b.test/")));
  assert.deepEqual(chain.followed, ["ws://a.test/next", "ws://b.test/"]);
  const headers = new Headers(chain.headers);
  assert.equal(headers.get("authorization"), null);
  assert.equal(headers.get("cookie"), null);
  assert.equal(headers.get("x-other"), "kept");
});

Deno.test("RedirectChain.follow() leaves other responses to the handshake", () => {
  const chain = new RedirectChain(new URL("ws://a.test/"), 5, undefined);
  assert.ok(!chain.follow({ ...redirect("/x"), status: 101 }));
  assert.ok(!chain.follow({ ...redirect("/x"), headers: new Headers() }));
  const off = new RedirectChain(new URL("ws://a.test/"), 0, undefined);
  assert.ok(!off.follow(redirect("/x")));
  assert.deepEqual(chain.followed, []);
});

Deno.test("RedirectChain.follow() refuses wss: to ws:, loops and one too many", () => {
  const secure = new RedirectChain(new URL("wss://a.test/"), 5, undefined);
  assert.equal(
    code(() => secure.follow(redirect("ws://a.test/"))),
    "INSECURE_REDIRECT",
  );
  const loop = new RedirectChain(new URL("ws://a.test/"), 5, undefined);
  loop.follow(redirect("/b"));
  assert.equal(code(() => loop.follow(redirect("/"))), "REDIRECT_LOOP");
  const short = new RedirectChain(new URL("ws://a.test/"), 1, undefined);
  short.follow(redirect("/b"));
  assert.equal(code(() => short.follow(redirect("/c"))), "TOO_MANY_REDIRECTS");
  assert.throws(
    () => new RedirectChain(new URL("ws://a.test/"), -1, undefined),
    RangeError,
  );
  assert.throws(
    () => new RedirectChain(new URL("ws://a.test/"), 1.5, undefined),
    RangeError,
  );
});
