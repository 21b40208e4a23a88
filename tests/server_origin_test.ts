// The origin check (server/_origin.ts): each policy, and that the common
// ones never build a Request.

import assert from "node:assert/strict";
import { isOriginAllowed } from "../mod.ts";
import { originAllowed } from "../server/_origin.ts";

const never = (): Request => {
  throw new Error("A Request was made");
};

Deno.test("originAllowed() passes same-origin and no origin, and nothing else by default", () => {
  assert.ok(originAllowed("same-origin", null, "a.test", never));
  assert.ok(originAllowed("same-origin", "http://A.test", "a.test", never));
  assert.ok(!originAllowed("same-origin", "http://b.test", "a.test", never));
  assert.ok(!originAllowed("same-origin", "not a url", "a.test", never));
  assert.ok(!originAllowed("same-origin", "http://a.test:81", "a.test", never));
});

Deno.test("originAllowed() takes any, a list, or a function of the request", () => {
  assert.ok(originAllowed("any", "http://b.test", "a.test", never));
  const list = ["https://b.test"];
  assert.ok(originAllowed(list, "https://b.test", "a.test", never));
  assert.ok(!originAllowed(list, "http://b.test", "a.test", never));
  assert.ok(!originAllowed(list, null, "a.test", never));
  const request = new Request("http://a.test/");
  const seen: unknown[] = [];
  const policy = (origin: string, got: Request) => {
    seen.push(origin, got);
    return origin === "";
  };
  assert.ok(originAllowed(policy, null, "a.test", () => request));
  assert.deepEqual(seen, ["", request]);
});

Deno.test("isOriginAllowed() reads the origin and host of a Request", () => {
  const request = (origin?: string) =>
    new Request("http://a.test/ws", {
      headers: origin ? { Origin: origin } : {},
    });
  assert.ok(isOriginAllowed("same-origin", request("http://a.test")));
  assert.ok(!isOriginAllowed("same-origin", request("http://b.test")));
  assert.ok(isOriginAllowed("same-origin", request()));
  assert.ok(isOriginAllowed(["http://b.test"], request("http://b.test")));
});
