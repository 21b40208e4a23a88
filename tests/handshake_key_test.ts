// The keys of the opening handshake as written without Web Crypto or btoa:
// the accept value against a reference built from the platform's SHA-1 and
// base64, and keys drawn from a batch of random bytes.

import assert from "node:assert/strict";
import { sha1, sha1Latin1 } from "../_util/sha1.ts";
import {
  computeAccept,
  createClientKey,
  isValidClientKey,
  WEBSOCKET_GUID,
} from "../handshake.ts";
import { mulberry32, randomBytes } from "./_util.ts";

async function referenceAccept(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + WEBSOCKET_GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

Deno.test("sha1Latin1() hashes a string as the bytes of its char codes, at every length around the block boundaries", () => {
  for (let length = 0; length <= 200; length++) {
    const bytes = randomBytes(length, 1000 + length);
    const text = String.fromCharCode(...bytes);
    // Copied: the next hash overwrites it.
    const digest = sha1Latin1(text).slice();
    assert.deepEqual(digest, sha1(bytes), `length ${length}`);
  }
});

Deno.test("sha1() gives a digest of its own, and the same after a longer input used the scratch buffer", () => {
  const long = randomBytes(119, 3);
  const short = randomBytes(5, 4);
  const before = sha1(short);
  const kept = before.slice();
  sha1(long);
  sha1Latin1(String.fromCharCode(...long));
  assert.deepEqual(before, kept);
  assert.deepEqual(sha1(short), before);
});

Deno.test("computeAccept() agrees with Web Crypto and btoa for random keys", async () => {
  const random = mulberry32(11);
  for (let i = 0; i < 200; i++) {
    const bytes = new Uint8Array(16).map(() => Math.floor(random() * 256));
    const key = btoa(String.fromCharCode(...bytes));
    assert.equal(await computeAccept(key), await referenceAccept(key), key);
  }
});

Deno.test("computeAccept() hashes a key that is not ASCII as UTF-8", async () => {
  for (const key of ["ключ", "clé", "\u{1f511}", "\x7f\x00", ""]) {
    assert.equal(await computeAccept(key), await referenceAccept(key), key);
  }
});

Deno.test("createClientKey() keeps making distinct valid keys across batches of random bytes", () => {
  const keys = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const key = createClientKey();
    assert.equal(isValidClientKey(key), true, key);
    assert.equal(atob(key).length, 16);
    keys.add(key);
  }
  assert.equal(keys.size, 1000);
});

Deno.test("createClientKey() spreads its bits: every base64 digit shows up", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    for (const char of createClientKey().slice(0, 21)) seen.add(char);
  }
  assert.equal(seen.size, 64);
});
