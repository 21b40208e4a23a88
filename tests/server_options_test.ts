// How the server reads its options once (server/_options.ts): versions in
// one spelling, the extensions to negotiate, the limits' defaults.

import assert from "node:assert/strict";
import type { ExtensionNegotiator, ProtocolVersion } from "../mod.ts";
import { handshakeSettings } from "../server/_options.ts";

const toy: ExtensionNegotiator = {
  name: "x-toy",
  offer: () => "x-toy",
  accept: () => {
    throw new Error("Not used");
  },
  answer: () => undefined,
};

Deno.test("handshakeSettings() spells versions as strings, numbered ones also as numbers", () => {
  assert.deepEqual(handshakeSettings({}).versions, ["13"]);
  assert.deepEqual(handshakeSettings({}).versionNumbers, [13]);
  const settings = handshakeSettings({
    // Numbers, as earlier releases took them, are still read.
    versions: [
      13,
      "8",
      7,
      "hixie-76",
      "hixie-75",
    ] as unknown as ProtocolVersion[],
  });
  assert.deepEqual(settings.versions, ["13", "8", "7", "hixie-76", "hixie-75"]);
  assert.deepEqual(settings.versionNumbers, [13, 8, 7]);
  assert.deepEqual(
    handshakeSettings({ versions: ["hixie-76"] }).versionNumbers,
    [],
  );
});

Deno.test("handshakeSettings() puts compression first among the extensions", () => {
  assert.deepEqual(handshakeSettings({}).negotiators, []);
  assert.deepEqual(handshakeSettings({ extensions: [toy] }).negotiators, [toy]);
  const names = handshakeSettings({ compression: true, extensions: [toy] })
    .negotiators.map((negotiator) => negotiator.name);
  assert.deepEqual(names, ["permessage-deflate", "x-toy"]);
});

Deno.test("handshakeSettings() fails at once on a compression option out of range", () => {
  assert.throws(
    () => handshakeSettings({ compression: { serverMaxWindowBits: 3 } }),
    RangeError,
  );
});

Deno.test("handshakeSettings() fills in the message limit and keeps the topics given", () => {
  assert.equal(handshakeSettings({}).maxMessageSize, 64 * 1024 * 1024);
  assert.equal(handshakeSettings({ maxMessageSize: 10 }).maxMessageSize, 10);
  const topics = () => {
    throw new Error("Made on first use only");
  };
  assert.equal(handshakeSettings({}, topics).topics, topics);
});
