import assert from "node:assert/strict";
import { Aborter, makeRequest, requestUrl } from "../http/_server_request.ts";
import { parseHead } from "../http/_request_head.ts";
import { HandshakeError } from "../errors.ts";

const head = (text: string) =>
  parseHead(new TextEncoder().encode(text.replaceAll("\n", "\r\n") + "\r\n"));
const local: Deno.NetAddr = { transport: "tcp", hostname: "::1", port: 8080 };

function status(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HandshakeError);
    return error.status;
  }
  return undefined;
}

Deno.test("requestUrl() joins Host and target, or takes an absolute target", () => {
  assert.equal(
    requestUrl(head("GET /a?b HTTP/1.1\nHost: example.com:81\n"), false, local),
    "http://example.com:81/a?b",
  );
  assert.equal(
    requestUrl(head("GET /x HTTP/1.1\nHost: [::1]\n"), true, local),
    "https://[::1]/x",
  );
  assert.equal(
    requestUrl(head("GET http://other/p HTTP/1.1\nHost: a\n"), false, local),
    "http://other/p",
  );
  // A Host that is not a plain name goes through URL parsing.
  assert.equal(
    requestUrl(head("GET /%7e HTTP/1.1\nHost: EXAMPLE.com\n"), false, local),
    "http://EXAMPLE.com/%7e",
  );
});

Deno.test("requestUrl() lets HTTP/1.0 go without Host, and 400s the rest", () => {
  assert.equal(
    requestUrl(head("GET / HTTP/1.0\n"), false, local),
    "http://[::1]:8080/",
  );
  assert.equal(
    requestUrl(head("GET / HTTP/1.0\n"), false, undefined),
    "http://localhost/",
  );
  assert.equal(
    status(() => requestUrl(head("GET / HTTP/1.1\n"), false, local)),
    400,
  );
  assert.equal(
    status(() => requestUrl(head("GET * HTTP/1.1\nHost: a\n"), false, local)),
    400,
  );
  assert.equal(
    status(() =>
      requestUrl(head("GET /a HTTP/1.1\nHost: a b\n"), false, local)
    ),
    400,
  );
});

Deno.test("makeRequest() carries the method, fields and body", async () => {
  const aborter = new Aborter();
  const get = makeRequest(
    head("GET / HTTP/1.1\nHost: a\nX-One: 1\nX-One: 2\n"),
    "http://a/",
    undefined,
    aborter,
  );
  assert.equal(get.method, "GET");
  assert.equal(get.headers.get("x-one"), "1, 2");
  assert.equal(get.body, null);
  const body = { stream: new Response("payload").body! };
  const post = makeRequest(
    head("POST / HTTP/1.1\nHost: a\nContent-Length: 7\n"),
    "http://a/",
    body as never,
    aborter,
  );
  assert.equal(await post.text(), "payload");
});

Deno.test("Aborter makes its signal on demand, aborted or not", () => {
  const aborter = new Aborter();
  let calls = 0;
  aborter.onAbort(() => calls++);
  const reason = new Error("gone");
  aborter.abort(reason);
  aborter.abort(new Error("again"));
  assert.equal(calls, 1);
  assert.ok(aborter.signal.aborted);
  assert.equal(aborter.signal.reason, reason);
  aborter.onAbort(() => calls++); // already aborted: called at once
  assert.equal(calls, 2);

  const live = new Aborter();
  const request = makeRequest(
    head("GET / HTTP/1.1\nHost: a\n"),
    "http://a/",
    undefined,
    live,
  );
  assert.equal(request.signal.aborted, false);
  live.abort(reason);
  assert.ok(request.signal.aborted);
});
