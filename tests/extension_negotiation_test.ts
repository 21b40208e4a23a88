import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import {
  type ExtensionHeaderElement,
  type ExtensionNegotiator,
  parseExtensionHeader,
  type PerMessageExtension,
} from "../extensions/extension.ts";
import {
  acceptExtensions,
  answerExtensions,
  offerExtensions,
} from "../extensions/negotiation.ts";
import { parseRawHeader, toElement } from "../extensions/_header.ts";
import {
  PerMessageDeflate,
  perMessageDeflate,
} from "../extensions/permessage_deflate.ts";

// ---------------------------------------------------------------------------
// A toy second extension: XORs every payload byte with a key, negotiated as
// `x-xor; key=N` (the server may pick its own key when the offer has none).

class Xor implements PerMessageExtension {
  readonly name = "x-xor";
  readonly header: string;
  readonly key: number;
  constructor(key: number) {
    this.key = key;
    this.header = `x-xor; key=${key}`;
  }
  compress(payload: Uint8Array): Uint8Array {
    return payload.map((byte) => byte ^ this.key);
  }
  decompress(fragment: Uint8Array): Uint8Array {
    return fragment.map((byte) => byte ^ this.key);
  }
}

function readKey(element: ExtensionHeaderElement): number | undefined {
  const key = element.params.get("key");
  if (typeof key !== "string" || !/^\d{1,3}$/.test(key) || +key > 255) {
    return undefined;
  }
  return Number(key);
}

/** Records what the negotiation functions asked it. */
class XorNegotiator implements ExtensionNegotiator<Xor> {
  readonly name = "x-xor";
  readonly offered: ExtensionHeaderElement[][] = [];
  readonly #key: number | undefined;
  readonly #available: boolean;
  constructor(key?: number, available = true) {
    this.#key = key;
    this.#available = available;
  }
  offer(): string | undefined {
    if (!this.#available) return undefined;
    return this.#key === undefined ? "x-xor" : `x-xor; key=${this.#key}`;
  }
  accept(answer: ExtensionHeaderElement): Xor {
    const key = readKey(answer);
    if (key === undefined || answer.params.size !== 1) {
      throw new HandshakeError("BAD_EXTENSION", "Cannot accept x-xor: no key");
    }
    return new Xor(key);
  }
  answer(
    offers: readonly ExtensionHeaderElement[],
  ): { response: string; extension: Xor } | undefined {
    this.offered.push([...offers]);
    for (const offer of offers) {
      if (offer.params.has("bad")) {
        throw new HandshakeError("BAD_EXTENSION", "Cannot read x-xor offer");
      }
      const key = offer.params.size === 0 ? this.#key : readKey(offer);
      if (key === undefined) continue;
      const extension = new Xor(key);
      return { response: extension.header, extension };
    }
    return undefined;
  }
}

function badExtension(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.code, "BAD_EXTENSION");
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  });
}

// ---------------------------------------------------------------------------
// offerExtensions().

Deno.test("offerExtensions() joins the offers in order and leaves out what cannot be offered", () => {
  assert.equal(
    offerExtensions([new XorNegotiator(7), perMessageDeflate()]),
    "x-xor; key=7, permessage-deflate; client_max_window_bits",
  );
  assert.equal(
    offerExtensions([perMessageDeflate(), new XorNegotiator()]),
    "permessage-deflate; client_max_window_bits, x-xor",
  );
  assert.equal(
    offerExtensions([new XorNegotiator(7, false), perMessageDeflate()]),
    "permessage-deflate; client_max_window_bits",
  );
  assert.equal(offerExtensions([new XorNegotiator(7, false)]), undefined);
  assert.equal(offerExtensions([]), undefined);
});

Deno.test("offerExtensions(), acceptExtensions() and answerExtensions() refuse two negotiators of one name", () => {
  const twice = [new XorNegotiator(1), new XorNegotiator(2)];
  assert.throws(() => offerExtensions(twice), TypeError);
  assert.throws(() => acceptExtensions("x-xor; key=1", twice), TypeError);
  assert.throws(() => answerExtensions("x-xor", twice), TypeError);
});

// ---------------------------------------------------------------------------
// answerExtensions().

Deno.test("answerExtensions() agrees to the offered extension and runs it", () => {
  const xor = new XorNegotiator(9);
  const { header, extension } = answerExtensions("x-xor; key=42", [xor]);
  assert.equal(header, "x-xor; key=42");
  assert.ok(extension instanceof Xor);
  assert.equal(extension.key, 42);
  assert.deepEqual(
    extension.compress(new Uint8Array([0, 42])),
    new Uint8Array([42, 0]),
  );
});

Deno.test("answerExtensions() hands a negotiator only its own offers, in the client's order", () => {
  const xor = new XorNegotiator();
  const { header } = answerExtensions(
    "x-other, X-XOR; key=999, permessage-deflate, x-xor; KEY=5, x-xor; key=6",
    [xor],
  );
  assert.equal(header, "x-xor; key=5");
  assert.deepEqual(
    xor.offered[0].map((offer) => offer.params.get("key")),
    ["999", "5", "6"],
  );
});

Deno.test("answerExtensions() declines: no header, no offer of a known name, every offer refused", () => {
  const none = { header: "", extension: undefined };
  const xor = new XorNegotiator();
  assert.deepEqual(answerExtensions(null, [xor]), none);
  assert.deepEqual(answerExtensions("", [xor]), none);
  assert.deepEqual(answerExtensions(" , ,", [xor]), none);
  assert.deepEqual(answerExtensions("x-unknown; a=1, x-other", [xor]), none);
  // A negotiator with no offer of its name is not asked at all.
  assert.equal(xor.offered.length, 0);
  // x-xor without a key, and the negotiator has none of its own.
  assert.deepEqual(answerExtensions("x-xor, x-xor; key=300", [xor]), none);
  assert.equal(xor.offered.length, 1);
  assert.deepEqual(answerExtensions("x-xor", []), none);
});

Deno.test("answerExtensions() declines offers that repeat a parameter before the negotiator sees them", () => {
  const xor = new XorNegotiator();
  assert.deepEqual(
    answerExtensions("x-xor; key=1; key=2", [xor]),
    { header: "", extension: undefined },
  );
  assert.equal(xor.offered.length, 0);
  const { header } = answerExtensions("x-xor; key=1; key=1, x-xor; key=3", [
    xor,
  ]);
  assert.equal(header, "x-xor; key=3");
  assert.equal(xor.offered[0].length, 1);
});

Deno.test("answerExtensions() agrees to the first negotiator that accepts and declines the rest", () => {
  const request = "permessage-deflate, x-xor; key=3";
  // The server's order decides, not the client's.
  const xorFirst = answerExtensions(request, [
    new XorNegotiator(),
    perMessageDeflate(),
  ]);
  assert.equal(xorFirst.header, "x-xor; key=3");
  assert.ok(xorFirst.extension instanceof Xor);
  const deflate = new XorNegotiator();
  const deflateFirst = answerExtensions(request, [
    perMessageDeflate(),
    deflate,
  ]);
  assert.equal(deflateFirst.header, "permessage-deflate");
  assert.ok(deflateFirst.extension instanceof PerMessageDeflate);
  deflateFirst.extension.close();
  // The later negotiator was not asked: it could not run beside the first.
  assert.equal(deflate.offered.length, 0);
  // One that declines passes the turn to the next.
  const fallback = answerExtensions(
    "permessage-deflate; foo, x-xor; key=3",
    [perMessageDeflate(), new XorNegotiator()],
  );
  assert.equal(fallback.header, "x-xor; key=3");
});

Deno.test("answerExtensions() throws BAD_EXTENSION (400) for a header or an offer that is malformed", () => {
  for (const request of ["x-xor;", "x-xor; key=", "x-xor key", '"x-xor"']) {
    badExtension(
      () => answerExtensions(request, [new XorNegotiator()]),
      /^Cannot parse Sec-WebSocket-Extensions: expected .* at offset \d+$/,
    );
  }
  // A syntax error anywhere fails the handshake, even in an unknown element.
  badExtension(
    () => answerExtensions("x-xor; key=1, x-other;", [new XorNegotiator()]),
    /at offset 22$/,
  );
  badExtension(
    () => answerExtensions("x-xor; bad", [new XorNegotiator()]),
    /^Cannot read x-xor offer$/,
  );
});

// ---------------------------------------------------------------------------
// acceptExtensions().

Deno.test("acceptExtensions() runs the extension the answer agrees to", () => {
  const extension = acceptExtensions('X-Xor; Key="17"', [
    perMessageDeflate(),
    new XorNegotiator(17),
  ]);
  assert.ok(extension instanceof Xor);
  assert.equal(extension.key, 17);
  using deflate = acceptExtensions("permessage-deflate", [
    new XorNegotiator(17),
    perMessageDeflate(),
  ]) as PerMessageDeflate;
  assert.equal(deflate.header, "permessage-deflate");
});

Deno.test("acceptExtensions() returns undefined when the server agrees to none", () => {
  const xor = [new XorNegotiator(1)];
  assert.equal(acceptExtensions(null, xor), undefined);
  assert.equal(acceptExtensions("", xor), undefined);
  assert.equal(acceptExtensions(" ,", xor), undefined);
});

Deno.test("acceptExtensions() fails answers that are not acceptable with BAD_EXTENSION", () => {
  const both = () => [new XorNegotiator(1), perMessageDeflate()];
  const cases: [string, ExtensionNegotiator[], RegExp][] = [
    ["x-unknown", both(), /: x-unknown was not offered$/],
    ["x-xor; key=1, x-unknown", both(), /: x-unknown was not offered$/],
    ["x-xor; key=1", [perMessageDeflate()], /: x-xor was not offered$/],
    // A negotiator that could not offer did not offer.
    ["x-xor; key=1", [new XorNegotiator(1, false)], /: x-xor was not offered$/],
    ["x-xor; key=1, x-xor; key=2", both(), /: x-xor answered more than once$/],
    [
      "x-xor; key=1, permessage-deflate",
      both(),
      /: x-xor and permessage-deflate both answered, but a connection runs one extension$/,
    ],
    ["x-xor; key=1; key=1", both(), /: repeated parameter key$/],
    ["x-xor", both(), /^Cannot accept x-xor: no key$/],
    ["x-xor; key=1;", both(), /expected a parameter name at offset 13$/],
  ];
  for (const [answer, negotiators, message] of cases) {
    badExtension(() => acceptExtensions(answer, negotiators), message);
  }
});

// ---------------------------------------------------------------------------
// Both sides.

Deno.test("offer, answer and accept agree end to end, with and without a common extension", () => {
  const payload = new TextEncoder().encode("Hello, Hello, Hello");
  // The client prefers x-xor, the server permessage-deflate: the server wins.
  const client = [new XorNegotiator(5), perMessageDeflate({ threshold: 0 })];
  const server = [perMessageDeflate({ threshold: 0 }), new XorNegotiator()];
  const request = offerExtensions(client) ?? null;
  const answer = answerExtensions(request, server);
  using serverSide = answer.extension as PerMessageDeflate;
  using clientSide = acceptExtensions(
    answer.header,
    client,
  ) as PerMessageDeflate;
  assert.ok(serverSide instanceof PerMessageDeflate);
  assert.equal(clientSide.header, serverSide.header);
  const compressed = clientSide.compress(payload)!;
  assert.deepEqual(serverSide.decompress(compressed, true, 1024), payload);
  // A server that knows only x-xor takes the client's key.
  const xorAnswer = answerExtensions(request, [new XorNegotiator()]);
  const xorClient = acceptExtensions(xorAnswer.header, client) as Xor;
  const xorServer = xorAnswer.extension as Xor;
  assert.deepEqual(
    xorServer.decompress(xorClient.compress(payload)),
    payload,
  );
  assert.equal(xorClient.key, 5);
  // A server that knows neither answers nothing; the client runs nothing.
  const nothing = answerExtensions(request, []);
  assert.equal(acceptExtensions(nothing.header, client), undefined);
});

Deno.test("parseExtensionHeader() is the same grammar the negotiation reads", () => {
  const header = 'x-xor; key="7", permessage-deflate; client_max_window_bits';
  assert.deepEqual(parseExtensionHeader(header), [
    { name: "x-xor", params: new Map([["key", "7"]]) },
    {
      name: "permessage-deflate",
      params: new Map([["client_max_window_bits", true]]),
    },
  ]);
  badExtension(
    () => parseExtensionHeader("x-xor; key=1; key=2"),
    /: x-xor repeats key$/,
  );
});

Deno.test("parseRawHeader() keeps parameters in order with repeats; toElement() names the first repeat", () => {
  const raw = parseRawHeader(
    ' , X-A ; K = "v" ;k;J=1 ,, x-b\t;\tz , ',
  );
  assert.deepEqual(raw, [
    { name: "x-a", params: [["k", "v"], ["k", true], ["j", "1"]] },
    { name: "x-b", params: [["z", true]] },
  ]);
  assert.equal(toElement(raw[0]), "k");
  assert.deepEqual(toElement(raw[1]), {
    name: "x-b",
    params: new Map([["z", true]]),
  });
  assert.deepEqual(parseRawHeader(""), []);
  badExtension(
    () => parseRawHeader('x; k="a b"'),
    /expected a token at offset 5$/,
  );
  badExtension(
    () => parseRawHeader('x; k="a\\'),
    /expected an escaped character at offset 8$/,
  );
  badExtension(
    () => parseRawHeader('x; k="a'),
    /expected a closing " at offset 7$/,
  );
});
