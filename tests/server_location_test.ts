// The locations of upgrade requests (server/_request.ts), kept in a small
// cache: a cached answer is the answer a fresh parse gives, for exactly the
// host, target and scheme it was made for.

import assert from "node:assert/strict";
import type { HandshakeError } from "../errors.ts";
import { parseRequestHead } from "../handshake.ts";
import { readRequestHead } from "../handshake/_head.ts";
import { requestUrl } from "../server/_request.ts";

const encode = (text: string) =>
  Uint8Array.from(text, (char) => char.charCodeAt(0));
const head = (target: string, host?: string) =>
  readRequestHead(
    encode(
      `GET ${target} HTTP/1.1\r\n${
        host === undefined ? "" : `Host: ${host}\r\n`
      }\r\n`,
    ),
  );

function reference(target: string, host: string, secure: boolean) {
  const url = target.startsWith("/")
    ? new URL(target, `${secure ? "https" : "http"}://${host}`)
    : new URL(target);
  return {
    href: url.href,
    host: url.host,
    socketUrl: url.href.replace(/^http/, "ws"),
  };
}

Deno.test("requestUrl() answers again as a fresh parse does, for each host, target and scheme", () => {
  const hosts = ["example.com", "EXAMPLE.com:80", "a.test:8080", "[::1]:9"];
  const targets = ["/", "/chat?room=1", "/%7e/../x", "http://other.test/p"];
  for (let round = 0; round < 3; round++) {
    for (const host of hosts) {
      for (const target of targets) {
        for (const secure of [false, true]) {
          assert.deepEqual(
            { ...requestUrl(head(target, host), secure) },
            reference(target, host, secure),
            `${host} ${target} ${secure}`,
          );
        }
      }
    }
  }
});

Deno.test("requestUrl() reads the Host of a plain RequestHead as of a parsed one", () => {
  const text = "GET /x HTTP/1.1\r\nHost: plain.test\r\n\r\n";
  assert.deepEqual(
    { ...requestUrl(parseRequestHead(encode(text)), false) },
    { ...requestUrl(readRequestHead(encode(text)), false) },
  );
});

Deno.test("requestUrl() still refuses a bad Host after good ones were cached", () => {
  requestUrl(head("/", "good.test"), false);
  for (const host of [undefined, "", "a b", "good.test:99999"]) {
    for (let round = 0; round < 2; round++) {
      let error: HandshakeError | undefined;
      try {
        requestUrl(head("/", host), false);
      } catch (thrown) {
        error = thrown as HandshakeError;
      }
      assert.equal(error?.code, "BAD_HOST", String(host));
      assert.equal(error?.status, 400);
    }
  }
});

Deno.test("requestUrl() answers long targets and many distinct ones correctly", () => {
  const long = "/" + "a".repeat(2000);
  assert.equal(
    requestUrl(head(long, "l.test"), false).href,
    `http://l.test${long}`,
  );
  for (let i = 0; i < 1000; i++) {
    const target = `/n${i}`;
    assert.equal(
      requestUrl(head(target, "n.test"), i % 2 === 0).href,
      `${i % 2 === 0 ? "https" : "http"}://n.test${target}`,
    );
  }
});
