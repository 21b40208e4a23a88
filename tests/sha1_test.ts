import assert from "node:assert/strict";
import { sha1 } from "../_util/sha1.ts";
import { randomBytes } from "./_util.ts";

async function reference(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-1", data as Uint8Array<ArrayBuffer>),
  );
}

Deno.test("sha1() matches the FIPS 180 examples", () => {
  const hex = (bytes: Uint8Array) =>
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const encode = (text: string) => new TextEncoder().encode(text);
  assert.equal(
    hex(sha1(encode("abc"))),
    "a9993e364706816aba3e25717850c26c9cd0d89d",
  );
  assert.equal(
    hex(sha1(new Uint8Array(0))),
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
  );
  assert.equal(
    hex(
      sha1(
        encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      ),
    ),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
});

Deno.test("sha1() agrees with Web Crypto at every length around the block boundaries", async () => {
  for (let length = 0; length <= 200; length++) {
    const data = randomBytes(length, length);
    assert.deepEqual(sha1(data), await reference(data), `length ${length}`);
  }
  const large = randomBytes(100_000, 7);
  assert.deepEqual(sha1(large), await reference(large));
});
