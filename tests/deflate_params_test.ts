import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import { parseExtensionHeader } from "../extensions/extension.ts";
import {
  answerOffers,
  checkAnswer,
  formatHeader,
  formatOffer,
  type PerMessageDeflateOptions,
  resolve,
} from "../extensions/_deflate_params.ts";

const DEFAULTS = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  threshold: 1024,
  level: 3,
  memLevel: 8,
};

function wanted(options: PerMessageDeflateOptions = {}) {
  return resolve(options, 9);
}

Deno.test("resolve() fills in the defaults and keeps what is given", () => {
  assert.deepEqual(resolve({}, 9), DEFAULTS);
  const given = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 12,
    threshold: 0,
    level: 0,
    memLevel: 1,
  };
  assert.deepEqual(resolve(given, 9), given);
  assert.equal(resolve({ threshold: Infinity }, 9).threshold, Infinity);
});

Deno.test("resolve() takes 8 window bits only as agreed parameters", () => {
  assert.equal(resolve({ serverMaxWindowBits: 8 }, 8).serverMaxWindowBits, 8);
  assert.equal(resolve({ clientMaxWindowBits: 8 }, 8).clientMaxWindowBits, 8);
  assert.throws(
    () => resolve({ serverMaxWindowBits: 8 }, 9),
    new RangeError(
      "Invalid serverMaxWindowBits: expected an integer from 9 to 15, got 8",
    ),
  );
  assert.throws(
    () => resolve({ clientMaxWindowBits: 7 }, 8),
    new RangeError(
      "Invalid clientMaxWindowBits: expected an integer from 8 to 15, got 7",
    ),
  );
});

Deno.test("resolve() names the first value out of range", () => {
  const cases: [PerMessageDeflateOptions, string][] = [
    [{ serverMaxWindowBits: 16, level: 10 }, "Invalid serverMaxWindowBits"],
    [{ clientMaxWindowBits: 9.5 }, "Invalid clientMaxWindowBits"],
    [{ threshold: -1, level: 10 }, "Invalid threshold"],
    [{ threshold: NaN }, "Invalid threshold"],
    [{ level: 10, memLevel: 0 }, "Invalid level"],
    [{ memLevel: 0 }, "Invalid memLevel"],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => resolve(options, 9),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith(message),
      JSON.stringify(options),
    );
  }
});

Deno.test("formatHeader() and formatOffer() write parameters in canonical order", () => {
  assert.equal(
    formatHeader({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
    }),
    "permessage-deflate",
  );
  assert.equal(
    formatHeader({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
    }),
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
  );
  assert.equal(
    formatOffer(wanted()),
    "permessage-deflate; client_max_window_bits",
  );
  assert.equal(
    formatOffer(wanted({
      serverNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    })),
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
  );
});

Deno.test("answerOffers() answers the first offer it can accept", () => {
  // [offers, server options, answer or undefined]
  const cases: [string, PerMessageDeflateOptions, string | undefined][] = [
    ["permessage-deflate", {}, "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", {}, "permessage-deflate"],
    [
      "permessage-deflate; client_max_window_bits",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "permessage-deflate; client_max_window_bits=9",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=9",
    ],
    // The server may not limit the client's window: declined.
    ["permessage-deflate", { clientMaxWindowBits: 10 }, undefined],
    [
      "permessage-deflate; server_max_window_bits=12",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "permessage-deflate",
      { serverMaxWindowBits: 11, serverNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
    ],
    // zlib cannot compress with 8 bits: never promised.
    ["permessage-deflate; server_max_window_bits=8", {}, undefined],
    [
      "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
    ],
    ["permessage-deflate; foo, permessage-deflate", {}, "permessage-deflate"],
    ["permessage-deflate; server_no_context_takeover=1", {}, undefined],
    ["permessage-deflate; client_max_window_bits=16", {}, undefined],
  ];
  for (const [header, options, expected] of cases) {
    const agreed = answerOffers(parseExtensionHeader(header), wanted(options));
    assert.equal(
      agreed && formatHeader(agreed),
      expected,
      `${header} ${JSON.stringify(options)}`,
    );
  }
  assert.equal(answerOffers([], wanted()), undefined);
});

Deno.test("checkAnswer() states what the answer agreed", () => {
  const [answer] = parseExtensionHeader(
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8",
  );
  assert.deepEqual(checkAnswer(answer, wanted({ serverMaxWindowBits: 10 })), {
    serverNoContextTakeover: false,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 8,
  });
  const [bare] = parseExtensionHeader("permessage-deflate");
  assert.deepEqual(checkAnswer(bare, wanted()), {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  });
});

Deno.test("checkAnswer() fails an answer the offer did not allow with BAD_EXTENSION", () => {
  const cases: [string, PerMessageDeflateOptions, string][] = [
    ["permessage-deflate; x", {}, "unknown parameter x"],
    [
      "permessage-deflate; client_max_window_bits",
      {},
      "invalid client_max_window_bits",
    ],
    [
      "permessage-deflate",
      { serverMaxWindowBits: 10 },
      "server_max_window_bits was asked for but not answered",
    ],
    [
      "permessage-deflate; server_max_window_bits=11",
      { serverMaxWindowBits: 10 },
      "server_max_window_bits=11 is larger than the 10 asked for",
    ],
    [
      "permessage-deflate",
      { serverNoContextTakeover: true },
      "server_no_context_takeover was asked for but not answered",
    ],
    [
      "permessage-deflate; client_max_window_bits=13",
      { clientMaxWindowBits: 12 },
      "client_max_window_bits=13 is larger than the 12 offered",
    ],
  ];
  for (const [header, options, why] of cases) {
    const [answer] = parseExtensionHeader(header);
    assert.throws(
      () => checkAnswer(answer, wanted(options)),
      (error: unknown) => {
        assert.ok(error instanceof HandshakeError);
        assert.equal(error.code, "BAD_EXTENSION");
        assert.equal(
          error.message,
          `Cannot accept Sec-WebSocket-Extensions: ${why}`,
        );
        return true;
      },
    );
  }
});
