// The permessage-deflate (RFC 7692) conformance cases, after the Autobahn
// TestSuite's categories 12 (compression with different payloads) and 13
// (compression with different parameters), and their runner.
//
// The peer offers (as the client) or answers (as the server) the extension
// itself, checks the library's answer or offer against RFC 7692 section 7,
// compresses what it sends with node:zlib (not the library's engine), and
// inflates every compressed echo with exactly the window the negotiation
// allows, keeping its context only when the library may keep its own. Each
// case is graded as Autobahn grades it: OK when every echo is right and the
// close is clean, UNIMPLEMENTED when the library declines an offer Autobahn
// expects it to take (the messages then still go both ways uncompressed),
// FAILED otherwise.

import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";
import { dial } from "../../client.ts";
import { DialError, HandshakeError } from "../../errors.ts";
import type { PerMessageDeflateOptions } from "../../extensions/permessage_deflate.ts";
import { mulberry32, randomBytes } from "../_util.ts";
import {
  type Case,
  type CaseResult,
  type ClientTarget,
  type Grade,
  headerValue,
  type OpenOptions,
  type Role,
  type ServerTargetOptions,
  type Target,
  upgradeResponse,
  withTimeout,
} from "./harness.ts";
import {
  closePayload,
  concatBytes,
  encodeSpec,
  type ExtensionElement,
  type FrameSpec,
  hex,
  OP,
  parseExtensionList,
  readHttpHead,
  sameBytes,
  toBytes,
  toHex,
  type WireFrame,
  WireReader,
  writeFully,
} from "./wire.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** The size limit of the library's side in these categories. */
export const COMPRESSION_MAX_MESSAGE_SIZE: number = MiB;

// ---- Test data ---------------------------------------------------------------

/** A payload kind: Autobahn's five test files, rebuilt from a seed. */
interface DataSet {
  title: string;
  /** Sent as binary (Autobahn sends its text of Faust as binary too). */
  binary: boolean;
  /** Whether DEFLATE makes it smaller. */
  compressible: boolean;
  build: () => Uint8Array;
}

const WORDS = (
  "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi " +
  "omicron pi rho sigma tau upsilon phi chi psi omega socket frame window " +
  "message deflate server client context header payload buffer stream"
).split(" ");

const GERMAN = (
  "Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie " +
  "durchaus studiert mit heißem Bemühn Da steh ich nun ich armer Tor und bin " +
  "so klug als wie zuvor Heiße Magister heiße Doktor gar und ziehe schon an " +
  "die zehen Jahr herauf herab und quer und krumm meine Schüler an der Nase " +
  "herum Und sehe daß wir nichts wissen können Das will mir schier das Herz " +
  "verbrennen Zwar bin ich gescheiter als all die Laffen Größe Übermut Öl"
).split(" ");

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

function textData(seed: number, line: (random: () => number) => string) {
  return (): Uint8Array => {
    const random = mulberry32(seed);
    const lines: string[] = [];
    let size = 0;
    while (size < 192 * KiB) {
      const next = line(random);
      lines.push(next);
      size += next.length;
    }
    return toBytes(lines.join(""));
  };
}

function sentence(random: () => number, list: readonly string[], n: number) {
  return Array.from({ length: n }, () => pick(random, list)).join(" ");
}

const DATA_SETS: DataSet[] = [
  {
    title: "JSON records (text)",
    binary: false,
    compressible: true,
    build: textData(12_1, (random) => {
      const id = Math.floor(random() * 100000);
      const tags = Array.from(
        { length: 1 + Math.floor(random() * 3) },
        () => `"${pick(random, WORDS)}"`,
      );
      return `{"id":${id},"user":"${pick(random, WORDS)}_${
        Math.floor(random() * 100)
      }","active":${random() < 0.5},"score":${random().toFixed(4)},"tags":[${
        tags.join(",")
      }],"text":"${sentence(random, WORDS, 4 + Math.floor(random() * 8))}"},\n`;
    }),
  },
  {
    title: "a grey-scale bitmap (binary)",
    binary: true,
    compressible: true,
    build: () => {
      const random = mulberry32(12_2);
      const width = 512;
      const out = new Uint8Array(54 + width * 384);
      out.set(toBytes("BM"), 0);
      for (let i = 54; i < out.length; i++) {
        const x = (i - 54) % width;
        const y = Math.floor((i - 54) / width);
        const shade = 128 + 90 * Math.sin(x / 37) * Math.cos(y / 23);
        out[i] = (shade + Math.floor(random() * 6)) & 0xf8;
      }
      return out;
    },
  },
  {
    title: "German prose in UTF-8 (binary, as Autobahn sends it)",
    binary: true,
    compressible: true,
    build: textData(
      12_3,
      (random) =>
        sentence(random, GERMAN, 6 + Math.floor(random() * 10)) + ".\n",
    ),
  },
  {
    title: "HTML (text)",
    binary: false,
    compressible: true,
    build: textData(12_4, (random) => {
      const n = Math.floor(random() * 10000);
      return `<tr class="${pick(random, WORDS)}"><td><a href="/item/${n}">` +
        `Item ${n}</a></td><td>${sentence(random, WORDS, 5)}</td></tr>\n`;
    }),
  },
  {
    title: "random bytes, incompressible (binary)",
    binary: true,
    compressible: false,
    build: () => randomBytes(192 * KiB, 12_5),
  },
];

const built = new Map<DataSet, Uint8Array>();

function dataOf(set: DataSet): Uint8Array {
  let data = built.get(set);
  if (!data) {
    data = set.build();
    built.set(set, data);
  }
  return data;
}

/**
 * Autobahn's message sizes and auto-fragmentation sizes (the payload of
 * each frame after compression; 0 for one frame), cases x.y.1 to x.y.18.
 */
const MSG_SIZES: readonly [number, number][] = [
  [16, 0],
  [64, 0],
  [256, 0],
  [1024, 0],
  [4096, 0],
  [8192, 0],
  [16384, 0],
  [32768, 0],
  [65536, 0],
  [131072, 0],
  [8192, 256],
  [16384, 256],
  [32768, 256],
  [65536, 256],
  [131072, 256],
  [131072, 1024],
  [131072, 4096],
  [131072, 32768],
];

/**
 * How many messages a case sends: Autobahn sends 1000 of every size; we
 * send up to 16, about 32 KiB in all, and never fewer than two (so the
 * second can refer to the first).
 */
function messageCount(size: number): number {
  return Math.max(2, Math.min(16, Math.floor(32 * KiB / size)));
}

/** `count` messages of `size` bytes taken in turn from the data, wrapping. */
function walk(
  set: DataSet,
  size: number,
  count: number,
  fragment = 0,
  from = 0,
): PeerMessage[] {
  const data = dataOf(set);
  const out: PeerMessage[] = [];
  let at = from % data.length;
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(size);
    for (let n = 0; n < size;) {
      const piece = data.subarray(at, Math.min(data.length, at + size - n));
      bytes.set(piece, n);
      n += piece.length;
      at = (at + piece.length) % data.length;
    }
    out.push({
      data: bytes,
      binary: set.binary,
      compressible: set.compressible,
      fragment: fragment || undefined,
    });
  }
  return out;
}

/** Messages of many sizes, for the parameter cases. */
function mixedMessages(): PeerMessage[] {
  const [json, bitmap] = DATA_SETS;
  return [
    ...walk(json, 16, 1),
    ...walk(json, 300, 2, 0, 16),
    ...walk(json, 2048, 1, 0, 616),
    ...walk(json, 16384, 1, 1000, 2664),
    ...walk(bitmap, 8192, 1),
    ...walk(json, 70000, 1, 4096, 19048),
    ...walk(json, 1024, 2, 0, 89048),
    ...walk(json, 16, 1, 0, 91096),
  ];
}

function sizeName(n: number): string {
  return n >= KiB && n % KiB === 0 ? `${n / KiB} KiB` : `${n} bytes`;
}

// ---- The peer's DEFLATE ------------------------------------------------------

/** What one direction of a connection agreed: window bits and context. */
export interface Direction {
  bits: number;
  takeover: boolean;
}

interface ZlibStream {
  write(chunk: Uint8Array): boolean;
  flush(kind: number, callback: () => void): void;
  on(event: string, listener: (value: never) => void): unknown;
  close(): void;
}

/** A node:zlib stream run one sync-flushed message at a time. */
class FlushedStream {
  readonly #stream: ZlibStream;
  #chunks: Uint8Array[] = [];
  #error: Error | undefined;
  #fail: ((error: Error) => void) | undefined;

  constructor(stream: ZlibStream) {
    this.#stream = stream;
    stream.on("data", (chunk: Uint8Array) => this.#chunks.push(chunk));
    stream.on("error", (error: Error) => {
      this.#error ??= error;
      this.#fail?.(error);
    });
  }

  run(input: Uint8Array[]): Promise<Uint8Array> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#fail = reject;
      for (const chunk of input) this.#stream.write(chunk);
      this.#stream.flush(constants.Z_SYNC_FLUSH, () => {
        this.#fail = undefined;
        if (this.#error) reject(this.#error);
        else resolve(concatBytes(this.#chunks.splice(0)));
      });
    });
  }

  close(): void {
    this.#stream.close();
  }
}

/** The bytes of a node Buffer as a plain Uint8Array. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

function endsWithTail(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 4] === 0 && bytes[n - 3] === 0 &&
    bytes[n - 2] === 0xff && bytes[n - 1] === 0xff;
}

/**
 * The peer's compressor: one zlib stream with a sync flush after each
 * message when it keeps its context, a new context per message otherwise.
 * An agreed window of 8 bits compresses with 9 (zlib's floor), whose
 * distances zlib keeps under 256.
 */
export class PeerDeflater {
  readonly #bits: number;
  readonly #stream: FlushedStream | undefined;

  constructor(direction: Direction) {
    this.#bits = direction.bits;
    if (direction.takeover) {
      this.#stream = new FlushedStream(
        createDeflateRaw({ windowBits: direction.bits }) as never,
      );
    }
  }

  /**
   * The compressed payload of one message, without the 00 00 ff ff tail;
   * with `final`, data that ends in a BFINAL block (RFC 7692 section
   * 7.2.3.3), made without the shared context.
   */
  async compress(data: Uint8Array, final = false): Promise<Uint8Array> {
    if (final) return plain(deflateRawSync(data, { windowBits: this.#bits }));
    // An empty message compresses to one 0x00 (RFC 7692 section 7.2.3.6).
    if (data.length === 0) return new Uint8Array(1);
    const out = this.#stream
      ? await this.#stream.run([data])
      : deflateRawSync(data, {
        windowBits: this.#bits,
        finishFlush: constants.Z_SYNC_FLUSH,
      });
    if (!endsWithTail(out)) throw new Error("zlib did not sync-flush");
    return plain(out.subarray(0, out.length - 4));
  }

  close(): void {
    this.#stream?.close();
  }
}

/**
 * The peer's decompressor, with exactly the agreed window: it keeps its
 * context across messages only when the sender may. Each zlib call writes
 * at most 256 bytes under a 15-bit window, so a distance past the window
 * (by more than 256) fails with "invalid distance too far back" instead of
 * being read out of the output buffer.
 */
export class PeerInflater {
  readonly #bits: number;
  readonly #chunkSize: number;
  readonly #stream: FlushedStream | undefined;

  constructor(direction: Direction) {
    this.#bits = direction.bits;
    this.#chunkSize = direction.bits < 15 ? 256 : 16 * KiB;
    if (direction.takeover) {
      this.#stream = new FlushedStream(
        createInflateRaw({
          windowBits: direction.bits,
          chunkSize: this.#chunkSize,
        }) as never,
      );
    }
  }

  /** The message a compressed payload (without its tail) restores to. */
  async inflate(payload: Uint8Array): Promise<Uint8Array> {
    if (this.#stream) return await this.#stream.run([payload, TAIL]);
    return plain(
      inflateRawSync(concatBytes([payload, TAIL]), {
        windowBits: this.#bits,
        chunkSize: this.#chunkSize,
        finishFlush: constants.Z_SYNC_FLUSH,
      }),
    );
  }

  close(): void {
    this.#stream?.close();
  }
}

// ---- Negotiation (RFC 7692 section 7) ---------------------------------------

/** The permessage-deflate parameters of one offer or answer. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits?: number;
  /** `true`: without a value (only in an offer). */
  clientMaxWindowBits?: number | true;
}

/** The parameters of an element, or why they are invalid. */
export function readDeflateParams(
  element: ExtensionElement,
  response: boolean,
): DeflateParams | string {
  const params: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
  };
  const seen = new Set<string>();
  for (const [name, value] of element.params) {
    if (seen.has(name)) return `repeats ${name}`;
    seen.add(name);
    const bits = value === true
      ? undefined
      : /^(?:[89]|1[0-5])$/.test(value)
      ? Number(value)
      : NaN;
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${name} has a value`;
        if (name === "server_no_context_takeover") {
          params.serverNoContextTakeover = true;
        } else {
          params.clientNoContextTakeover = true;
        }
        break;
      case "server_max_window_bits":
        if (bits === undefined || Number.isNaN(bits)) {
          return `invalid ${name}`;
        }
        params.serverMaxWindowBits = bits;
        break;
      case "client_max_window_bits":
        if (bits === undefined && !response) params.clientMaxWindowBits = true;
        else if (bits === undefined || Number.isNaN(bits)) {
          return `invalid ${name}`;
        } else params.clientMaxWindowBits = bits;
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return params;
}

/** Why `answer` does not accept `offer` as RFC 7692 section 7 allows. */
export function answerFault(
  offer: DeflateParams,
  answer: DeflateParams,
): string | undefined {
  if (offer.serverNoContextTakeover && !answer.serverNoContextTakeover) {
    return "server_no_context_takeover was asked for but not answered";
  }
  const asked = offer.serverMaxWindowBits;
  if (asked !== undefined) {
    if (answer.serverMaxWindowBits === undefined) {
      return "server_max_window_bits was asked for but not answered";
    }
    if (answer.serverMaxWindowBits > asked) {
      return `server_max_window_bits=${answer.serverMaxWindowBits} is over the ${asked} asked for`;
    }
  }
  const client = answer.clientMaxWindowBits;
  if (client !== undefined) {
    if (offer.clientMaxWindowBits === undefined) {
      return "client_max_window_bits was not offered";
    }
    if (
      typeof offer.clientMaxWindowBits === "number" &&
      (client as number) > offer.clientMaxWindowBits
    ) {
      return `client_max_window_bits=${client} is over the ${offer.clientMaxWindowBits} offered`;
    }
  }
  return undefined;
}

/** What each direction agreed, from the offer accepted and the answer. */
export function agree(
  offer: DeflateParams,
  answer: DeflateParams,
): { server: Direction; client: Direction } {
  const hint = typeof offer.clientMaxWindowBits === "number"
    ? offer.clientMaxWindowBits
    : 15;
  return {
    server: {
      bits: answer.serverMaxWindowBits ?? 15,
      takeover: !answer.serverNoContextTakeover,
    },
    client: {
      bits: typeof answer.clientMaxWindowBits === "number"
        ? answer.clientMaxWindowBits
        : hint,
      // An offer's client_no_context_takeover is the client's promise.
      takeover: !(answer.clientNoContextTakeover ||
        offer.clientNoContextTakeover),
    },
  };
}

/** The permessage-deflate offers in a header value, valid ones only. */
function offersIn(value: string | null): DeflateParams[] {
  const out: DeflateParams[] = [];
  for (const element of parseExtensionList(value ?? "") ?? []) {
    if (element.name !== "permessage-deflate") continue;
    const params = readDeflateParams(element, false);
    if (typeof params !== "string") out.push(params);
  }
  return out;
}

// ---- Cases -------------------------------------------------------------------

/** A message the peer sends; the library must echo `data`. */
export interface PeerMessage {
  data: Uint8Array;
  binary: boolean;
  /** Whether DEFLATE makes it smaller (false for random bytes). */
  compressible: boolean;
  /** Send it compressed when compression was agreed. @default true */
  compress?: boolean;
  /** Frame payload size after compression; 0 or unset for one frame. */
  fragment?: number;
  /**
   * Sizes of the first frames, cut to what is left; the last frame takes
   * the rest (empty when they took it all).
   */
  frames?: number[];
  /** A ping after every frame but the last; the pongs must come first. */
  pings?: boolean;
  /** End the compressed data with a BFINAL block. */
  final?: boolean;
  /** The compressed payload as sent, instead of compressing `data`. */
  raw?: Uint8Array;
}

/** How the negotiation must end. */
export type Negotiation =
  /** Compression agreed (a decline fails the case). */
  | "accept"
  /** Compression agreed, or declined: Autobahn's UNIMPLEMENTED. */
  | "either"
  /** No compression: the library must decline. */
  | "decline"
  /** Client role: dial() must fail with BAD_EXTENSION. */
  | "refuse";

/** A compression case: a negotiation, then messages echoed one by one. */
export interface CompressionCase {
  kind: "compression";
  /** The Autobahn case number; an `x` marks a case Autobahn does not have. */
  id: string;
  title: string;
  only?: Role;
  /** The offer (server role), dial()'s option and our answer (client role). */
  open: OpenOptions;
  /** Server role: serve()'s `compression`, when not the category's. */
  server?: true | PerMessageDeflateOptions;
  /** How the negotiation must end, per role. @default "accept" */
  negotiation?: Partial<Record<Role, Negotiation>>;
  /** Another check of the library's answer (server) or offer (client). */
  check?: (params: DeflateParams) => string | undefined;
  /** The library's compression threshold (1024 by default). */
  threshold: number;
  messages: PeerMessage[];
  /** Bound on the whole case, in milliseconds. @default 10000 */
  timeout?: number;
}

/** A category of compression cases. */
export interface CompressionCategory {
  id: string;
  title: string;
  /** serve()'s `compression` for the category's cases. */
  server: true | PerMessageDeflateOptions;
  cases: (Case | CompressionCase)[];
}

/** The targets' options for a `server` setting. */
export function serverOptions(
  compression: true | PerMessageDeflateOptions,
): ServerTargetOptions {
  return { compression, maxMessageSize: COMPRESSION_MAX_MESSAGE_SIZE };
}

/** Autobahn's default client offer (PerMessageDeflateOffer()). */
const AUTOBAHN_OFFER = "permessage-deflate; client_no_context_takeover; " +
  "client_max_window_bits";

/** Autobahn's client offers (category 13): no context takeover, window. */
function autobahnOffer(noContextTakeover: boolean, windowBits: number) {
  return AUTOBAHN_OFFER +
    (noContextTakeover ? "; server_no_context_takeover" : "") +
    (windowBits ? `; server_max_window_bits=${windowBits}` : "");
}

/**
 * Autobahn's fuzzing server answers (accept1 to accept7 of category 13):
 * the first permessage-deflate offer, honouring its server parameters,
 * asking the client for no context takeover and a window as the case says.
 */
function autobahnAnswer(
  n: number,
): (offer: string | null) => string | undefined {
  return (value) => {
    const offers = (parseExtensionList(value ?? "") ?? []).filter((e) =>
      e.name === "permessage-deflate"
    );
    const accept = (
      offer: ExtensionElement,
      noContextTakeover: boolean,
      windowBits: number,
    ) => {
      let answer = "permessage-deflate";
      for (const [name, v] of offer.params) {
        if (name === "server_no_context_takeover") {
          answer += "; server_no_context_takeover";
        } else if (name === "server_max_window_bits") {
          answer += `; server_max_window_bits=${v}`;
        }
      }
      if (noContextTakeover) answer += "; client_no_context_takeover";
      if (windowBits) answer += `; client_max_window_bits=${windowBits}`;
      return answer;
    };
    const windowed = offers.find((o) =>
      o.params.some(([name]) => name === "client_max_window_bits")
    );
    const first = offers[0];
    switch (n) {
      case 1:
        return first && accept(first, false, 0);
      case 2:
        return first && accept(first, true, 0);
      case 3:
        return windowed && accept(windowed, false, 8);
      case 4:
        return windowed && accept(windowed, false, 15);
      case 5:
        return windowed && accept(windowed, true, 8);
      case 6:
        return windowed && accept(windowed, true, 15);
      default:
        return autobahnAnswer(5)(value) ?? autobahnAnswer(2)(value);
    }
  };
}

/** An answer that does not depend on the offer. */
function fixed(answer: string | undefined) {
  return (): string | undefined => answer;
}

/** A message of the first data set (JSON) with `n` bytes. */
function json(n: number, from = 0, extra: Partial<PeerMessage> = {}) {
  return { ...walk(DATA_SETS[0], n, 1, 0, from)[0], ...extra };
}

/** A stored DEFLATE block (BFINAL clear) holding `data`, byte-aligned. */
function storedBlock(data: Uint8Array): Uint8Array {
  const n = data.length;
  return concatBytes([
    new Uint8Array([0x00, n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff]),
    data,
  ]);
}

/** Sync-flushed raw DEFLATE of `data`, tail removed (for the fail cases). */
function deflated(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return plain(out.subarray(0, out.length - 4));
}

function category12(): CompressionCategory {
  const cases: (Case | CompressionCase)[] = [];
  DATA_SETS.forEach((set, j) => {
    MSG_SIZES.forEach(([size, fragment], i) => {
      const count = messageCount(size);
      cases.push({
        kind: "compression",
        id: `12.${j + 1}.${i + 1}`,
        title: `${set.title}: ${count} messages of ${sizeName(size)}` +
          (fragment ? `, compressed into ${fragment}-byte frames` : ""),
        open: {
          offer: [AUTOBAHN_OFFER],
          compression: true,
          answer: autobahnAnswer(1),
        },
        threshold: 1024,
        messages: walk(set, size, count, fragment),
      });
    });
  });
  const keeping = {
    offer: ["permessage-deflate; client_max_window_bits"],
    compression: { threshold: 0 },
    answer: fixed("permessage-deflate"),
  };
  const resetting = {
    offer: [AUTOBAHN_OFFER],
    compression: { threshold: 0 },
    answer: fixed("permessage-deflate; server_no_context_takeover"),
  };
  const empty = new Uint8Array(0);
  const greek = toBytes("κόσμε Größe ".repeat(40));
  cases.push(
    {
      kind: "compression",
      id: "12.x.1",
      title: "empty messages: no data, 0x00, and a final empty block",
      open: resetting,
      server: { threshold: 0 },
      threshold: 0,
      messages: [
        { data: empty, binary: false, compressible: false, raw: empty },
        { data: empty, binary: true, compressible: false, raw: hex("00") },
        { data: empty, binary: false, compressible: false, compress: false },
        {
          data: empty,
          binary: true,
          compressible: false,
          raw: hex("03 00"),
        },
      ],
    },
    {
      kind: "compression",
      id: "12.x.2",
      title: "messages whose compressed data ends in a BFINAL block",
      open: resetting,
      server: { threshold: 0 },
      threshold: 0,
      messages: [
        json(3000, 0, { final: true }),
        json(20, 3000, { final: true }),
        json(40000, 3020, { final: true }),
      ],
    },
    {
      kind: "compression",
      id: "12.x.3",
      title: "compressed messages in 1-byte frames (code points split)",
      open: keeping,
      server: { threshold: 0 },
      threshold: 0,
      messages: [
        json(4096, 0, { fragment: 1 }),
        { data: greek, binary: false, compressible: true, fragment: 1 },
      ],
    },
    {
      kind: "compression",
      id: "12.x.4",
      title: "pings between the frames of a compressed message",
      open: keeping,
      server: { threshold: 0 },
      threshold: 0,
      messages: [json(20000, 0, { fragment: 2000, pings: true })],
    },
    {
      kind: "compression",
      id: "12.x.5",
      title: "uncompressed messages between compressed ones keep the context",
      open: keeping,
      server: { threshold: 0 },
      threshold: 0,
      messages: [
        json(5000, 0),
        json(5000, 0, { compress: false }),
        json(5000, 0),
        json(100, 5000, { compress: false }),
        json(6000, 0),
      ],
    },
    {
      kind: "compression",
      id: "12.x.6",
      title: "a compressed message with empty frames first and last",
      open: keeping,
      server: { threshold: 0 },
      threshold: 0,
      messages: [json(3000, 0, { frames: [0, 100, 0, Infinity] })],
    },
  );
  // Failures: the peer sends what it must not, over a negotiated
  // connection; the library fails the connection.
  const opened: OpenOptions = {
    offer: [AUTOBAHN_OFFER],
    compression: true,
    answer: fixed("permessage-deflate"),
    maxMessageSize: COMPRESSION_MAX_MESSAGE_SIZE,
  };
  const z = deflated(toBytes("Hello, compressed world. ".repeat(20)));
  const fail = (
    id: string,
    title: string,
    send: FrameSpec[],
    codes: number[],
  ): Case => ({
    id,
    title,
    open: opened,
    actions: [{ send }, { awaitFailure: true }],
    expect: { outcome: "fail", codes },
  });
  cases.push(
    fail("12.x.7", "RSV1 on a continuation frame → 1002", [
      { opcode: OP.text, rsv: 4, fin: false, payload: z.subarray(0, 5) },
      { opcode: OP.cont, rsv: 4, payload: z.subarray(5) },
    ], [1002]),
    fail("12.x.8", "RSV1 on a ping → 1002", [
      { opcode: OP.ping, rsv: 4, payload: hex("f2 00 00") },
    ], [1002]),
    fail("12.x.9", "compressed data that does not inflate → 1007", [
      { opcode: OP.binary, rsv: 4, payload: hex("ff ff ff ff") },
    ], [1007, 1002]),
    fail(
      "12.x.10",
      "a compressed message that inflates past the 1 MiB limit → 1009",
      [{
        opcode: OP.binary,
        rsv: 4,
        payload: deflated(new Uint8Array(COMPRESSION_MAX_MESSAGE_SIZE + 1)),
      }],
      [1009],
    ),
    fail(
      "12.x.11",
      "compressed text that inflates to invalid UTF-8 → 1007",
      [{
        opcode: OP.text,
        rsv: 4,
        payload: deflated(hex("ce ba ed a0 80")),
      }],
      [1007],
    ),
    {
      id: "12.x.12",
      title: "invalid UTF-8 in the first frame of compressed text → 1007 " +
        "before the next frame",
      open: opened,
      actions: [
        {
          send: [{
            opcode: OP.text,
            rsv: 4,
            fin: false,
            payload: storedBlock(hex("68 69 c0 af")),
          }],
        },
        { awaitFailure: true },
        { send: [{ opcode: OP.cont, payload: storedBlock(toBytes("ok")) }] },
      ],
      expect: { outcome: "fail", codes: [1007] },
    },
  );
  return {
    id: "12",
    title: "compression, different payloads",
    server: true,
    cases,
  };
}

function category13(): CompressionCategory {
  const cases: (Case | CompressionCase)[] = [];
  const params: [boolean, number][][] = [
    [[false, 0]],
    [[true, 0]],
    [[false, 8]],
    [[false, 15]],
    [[true, 8]],
    [[true, 15]],
    [[true, 8], [true, 0], [false, 0]],
  ];
  params.forEach((offers, j) => {
    const offer = offers.map(([nct, bits]) => autobahnOffer(nct, bits)).join(
      ", ",
    );
    const described = offers.map(([nct, bits]) =>
      `(${nct ? "no context takeover" : "context takeover"}, ${
        bits ? `${bits} bits` : "any window"
      })`
    ).join(", ");
    // The server declines a window of 8 bits: Autobahn's UNIMPLEMENTED.
    const eight = offers.length === 1 && offers[0][1] === 8;
    MSG_SIZES.forEach(([size, fragment], i) => {
      const count = messageCount(size);
      cases.push({
        kind: "compression",
        id: `13.${j + 1}.${i + 1}`,
        title: `offers ${described}: ${count} messages of ${sizeName(size)}` +
          (fragment ? ` in ${fragment}-byte frames` : ""),
        open: {
          offer: [offer],
          compression: { threshold: 0 },
          answer: autobahnAnswer(j + 1),
        },
        negotiation: eight ? { server: "either" } : undefined,
        threshold: 0,
        messages: walk(DATA_SETS[0], size, count, fragment),
      });
    });
  });
  let n = 0;
  const x = (
    only: Role,
    title: string,
    open: OpenOptions,
    more: Partial<CompressionCase> = {},
  ) => {
    cases.push({
      kind: "compression",
      id: `13.x.${++n}`,
      title,
      only,
      open: only === "client"
        ? { ...open, compression: open.compression ?? { threshold: 0 } }
        : open,
      threshold: 0,
      messages: mixedMessages(),
      ...more,
    });
  };
  // serve() answering offers.
  x("server", "offer without parameters: both keep their context", {
    offer: ["permessage-deflate"],
  });
  for (let bits = 9; bits <= 15; bits++) {
    x(
      "server",
      `offer client_max_window_bits=${bits}: the client keeps a ${bits}-bit context`,
      {
        offer: [`permessage-deflate; client_max_window_bits=${bits}`],
      },
    );
  }
  for (let bits = 9; bits <= 15; bits++) {
    x(
      "server",
      `offer server_max_window_bits=${bits}: the server compresses within it`,
      {
        offer: [
          `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits`,
        ],
      },
    );
  }
  x("server", "offer every parameter with 9-bit windows", {
    offer: [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
      "server_max_window_bits=9; client_max_window_bits=9",
    ],
  });
  x("server", "offer server_no_context_takeover with windows of 12 and 10", {
    offer: [
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; " +
      "client_max_window_bits=10",
    ],
  });
  x("server", "offer client_max_window_bits=8: the server inflates with it", {
    offer: ["permessage-deflate; client_max_window_bits=8"],
  });
  x("server", "offer several: an unknown parameter first, then a valid one", {
    offer: [
      "permessage-deflate; x_unknown, permessage-deflate; server_max_window_bits=10",
    ],
  });
  x("server", "offer several: another extension first", {
    offer: [
      "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
    ],
  });
  x("server", "offer several in three header lines, two of them invalid", {
    offer: [
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; client_no_context_takeover",
    ],
  });
  x("server", "offer a repeated parameter: declined", {
    offer: [
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ],
  }, { negotiation: { server: "decline" } });
  x("server", "offer client_max_window_bits=7: declined", {
    offer: ["permessage-deflate; client_max_window_bits=7"],
  }, { negotiation: { server: "decline" } });
  x("server", "serve({ clientMaxWindowBits: 10 }) limits the client's window", {
    offer: ["permessage-deflate; client_max_window_bits"],
  }, {
    server: { clientMaxWindowBits: 10, threshold: 0 },
    check: (p) =>
      typeof p.clientMaxWindowBits === "number" && p.clientMaxWindowBits <= 10
        ? undefined
        : "client_max_window_bits of 10 or less not answered",
  });
  x(
    "server",
    "serve({ clientMaxWindowBits: 10 }) declines an offer it cannot limit",
    {
      offer: ["permessage-deflate"],
    },
    {
      server: { clientMaxWindowBits: 10, threshold: 0 },
      negotiation: { server: "decline" },
    },
  );
  x("server", "serve() asking for no context takeover both ways and 11 bits", {
    offer: ["permessage-deflate; client_max_window_bits"],
  }, {
    server: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 11,
      threshold: 0,
    },
    check: (p) =>
      p.serverNoContextTakeover && p.clientNoContextTakeover &&
        (p.serverMaxWindowBits ?? 15) <= 11
        ? undefined
        : "the server's own parameters not answered",
  });
  // dial() with the server's answers.
  const answer = (value: string | undefined) => ({ answer: fixed(value) });
  x(
    "client",
    "answer server_no_context_takeover unasked",
    answer(
      "permessage-deflate; server_no_context_takeover",
    ),
  );
  for (let bits = 8; bits <= 15; bits++) {
    x(
      "client",
      `answer server_max_window_bits=${bits} unasked`,
      answer(
        `permessage-deflate; server_max_window_bits=${bits}`,
      ),
    );
  }
  for (let bits = 9; bits <= 15; bits++) {
    x(
      "client",
      `answer client_max_window_bits=${bits}`,
      answer(
        `permessage-deflate; client_max_window_bits=${bits}`,
      ),
    );
  }
  const offers =
    (name: string, value: number | true = true) => (p: DeflateParams) =>
      (name === "server_no_context_takeover" && p.serverNoContextTakeover) ||
        (name === "client_no_context_takeover" && p.clientNoContextTakeover) ||
        (name === "server_max_window_bits" &&
          p.serverMaxWindowBits === value) ||
        (name === "client_max_window_bits" && p.clientMaxWindowBits === value)
        ? undefined
        : `the offer lacks ${name}${value === true ? "" : `=${value}`}`;
  x("client", "dial() asks for server_no_context_takeover", {
    compression: { serverNoContextTakeover: true, threshold: 0 },
    answer: fixed("permessage-deflate; server_no_context_takeover"),
  }, { check: offers("server_no_context_takeover") });
  x("client", "dial() asks for server_max_window_bits=10, gets 9", {
    compression: { serverMaxWindowBits: 10, threshold: 0 },
    answer: fixed("permessage-deflate; server_max_window_bits=9"),
  }, { check: offers("server_max_window_bits", 10) });
  x("client", "dial() promises client_no_context_takeover, not echoed", {
    compression: { clientNoContextTakeover: true, threshold: 0 },
    answer: fixed("permessage-deflate"),
  }, { check: offers("client_no_context_takeover") });
  x("client", "dial() promises client_max_window_bits=11, not echoed", {
    compression: { clientMaxWindowBits: 11, threshold: 0 },
    answer: fixed("permessage-deflate"),
  }, { check: offers("client_max_window_bits", 11) });
  x("client", "every parameter with 9-bit windows", {
    compression: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 9,
      threshold: 0,
    },
    answer: fixed(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=9; client_max_window_bits=9",
    ),
  });
  x(
    "client",
    "the server answers no extension: uncompressed",
    answer(undefined),
    { negotiation: { client: "decline" } },
  );
  // dial() refusing answers it cannot accept (RFC 6455 section 4.1,
  // RFC 7692 section 7.1): BAD_EXTENSION, and the connection dropped.
  const refuse = (title: string, open: OpenOptions) =>
    x("client", `${title}: dial() fails with BAD_EXTENSION`, open, {
      negotiation: { client: "refuse" },
      messages: [],
    });
  refuse("permessage-deflate not offered", {
    compression: false,
    answer: fixed("permessage-deflate"),
  });
  refuse("another extension answered", answer("x-webkit-deflate-frame"));
  refuse("server_max_window_bits over the one asked for", {
    compression: { serverMaxWindowBits: 10 },
    answer: fixed("permessage-deflate; server_max_window_bits=12"),
  });
  refuse("server_no_context_takeover asked for but not answered", {
    compression: { serverNoContextTakeover: true },
    answer: fixed("permessage-deflate"),
  });
  refuse("client_max_window_bits over the one offered", {
    compression: { clientMaxWindowBits: 10 },
    answer: fixed("permessage-deflate; client_max_window_bits=12"),
  });
  refuse(
    "client_max_window_bits without a value",
    answer("permessage-deflate; client_max_window_bits"),
  );
  refuse("an unknown parameter", answer("permessage-deflate; x_unknown"));
  refuse(
    "a parameter with a value it must not have",
    answer("permessage-deflate; server_no_context_takeover=1"),
  );
  refuse(
    "server_max_window_bits=7",
    answer("permessage-deflate; server_max_window_bits=7"),
  );
  refuse(
    "permessage-deflate answered twice",
    answer("permessage-deflate, permessage-deflate"),
  );
  return {
    id: "13",
    title: "compression, different parameters",
    server: { threshold: 0 },
    cases,
  };
}

/** Categories 12 and 13. */
export function compressionCategories(): CompressionCategory[] {
  return [category12(), category13()];
}

// ---- Runner ------------------------------------------------------------------

/** Frames read from a socket on demand, each with a bound. */
class FrameReader {
  readonly #socket: Deno.TcpConn;
  readonly #wire: WireReader;
  readonly #buffer = new Uint8Array(256 * KiB);
  #pending: Promise<number | null> | undefined;
  eof = false;

  constructor(socket: Deno.TcpConn, rest: Uint8Array, role: Role) {
    this.#socket = socket;
    this.#wire = new WireReader({
      expectMasked: role === "client",
      allowRsv1: true,
    });
    this.#wire.push(rest);
  }

  get fault(): string | undefined {
    return this.#wire.fault?.why;
  }

  /** The next frame; undefined at the end or a fault; "timeout" after `ms`. */
  async next(ms: number): Promise<WireFrame | undefined | "timeout"> {
    for (;;) {
      const frame = this.#wire.next();
      if (frame || this.#wire.fault || this.eof) return frame;
      // A reset ends the stream as an end of file does.
      this.#pending ??= this.#socket.read(this.#buffer).catch(() => null);
      const n = await withTimeout(this.#pending, ms);
      if (n === "timeout") return "timeout";
      this.#pending = undefined;
      if (n === null) this.eof = true;
      else this.#wire.push(this.#buffer.subarray(0, n));
    }
  }

  /** Waits for a read in flight (the socket is closed by then). */
  async settle(): Promise<void> {
    await this.#pending;
  }
}

interface Echo {
  kind: "text" | "binary";
  compressed: boolean;
  payload: Uint8Array;
  pongs: Uint8Array[];
}

/** Reads one whole message from the library, checking every frame. */
async function readEcho(
  reader: FrameReader,
  agreed: boolean,
  ms: () => number,
): Promise<Echo | string> {
  const pongs: Uint8Array[] = [];
  let message:
    | { kind: Echo["kind"]; rsv1: boolean; parts: Uint8Array[] }
    | undefined;
  for (;;) {
    const frame = await reader.next(ms());
    if (frame === "timeout") return "timed out waiting for the echo";
    if (!frame) {
      return reader.fault
        ? `sent a bad frame: ${reader.fault}`
        : "closed the connection before the echo";
    }
    const rsv1 = (frame.rsv & 4) !== 0;
    if (frame.opcode >= 8) {
      if (rsv1) return `set RSV1 on a control frame (opcode ${frame.opcode})`;
      if (frame.opcode === OP.pong) pongs.push(frame.payload);
      else if (frame.opcode === OP.close) {
        const code = frame.payload.length >= 2
          ? frame.payload[0] << 8 | frame.payload[1]
          : "(none)";
        return `closed with ${code} before the echo: ${
          new TextDecoder().decode(frame.payload.subarray(2))
        }`;
      } else return `sent a ping (opcode ${frame.opcode})`;
      continue;
    }
    if (frame.opcode === OP.cont) {
      if (!message) return "sent a continuation frame outside a message";
      if (rsv1) return "set RSV1 on a continuation frame";
    } else {
      if (message) return "started a message inside another one";
      if (rsv1 && !agreed) return "set RSV1 without compression agreed";
      message = {
        kind: frame.opcode === OP.text ? "text" : "binary",
        rsv1,
        parts: [],
      };
    }
    message.parts.push(frame.payload);
    if (frame.fin) {
      return {
        kind: message.kind,
        compressed: message.rsv1,
        payload: concatBytes(message.parts),
        pongs,
      };
    }
  }
}

/** The frames of one message as the peer sends it. */
function framesOf(
  m: PeerMessage,
  payload: Uint8Array,
  compressed: boolean,
): FrameSpec[] {
  const sizes: number[] = [];
  let used = 0;
  for (const size of m.frames ?? []) {
    sizes.push(Math.min(size, payload.length - used));
    used += sizes[sizes.length - 1];
  }
  if (m.fragment) {
    while (used + m.fragment < payload.length) {
      sizes.push(m.fragment);
      used += m.fragment;
    }
  }
  sizes.push(payload.length - used);
  const frames: FrameSpec[] = [];
  let at = 0;
  sizes.forEach((size, i) => {
    const last = i === sizes.length - 1;
    frames.push({
      opcode: i === 0 ? (m.binary ? OP.binary : OP.text) : OP.cont,
      rsv: i === 0 && compressed ? 4 : 0,
      fin: last,
      payload: payload.subarray(at, at + size),
    });
    at += size;
    if (m.pings && !last) {
      frames.push({ opcode: OP.ping, payload: `ping ${i}` });
    }
  });
  return frames;
}

interface Negotiated {
  /** The agreement, or undefined when compression was declined. */
  agreed?: { server: Direction; client: Direction };
  header?: string;
}

/** Checks the negotiation the library took part in. */
function judgeNegotiation(
  c: CompressionCase,
  role: Role,
  head: string,
  answered: string | undefined,
  extensions: string,
): Negotiated | string {
  if (role === "server") {
    const value = headerValue(head, "sec-websocket-extensions");
    if (value === null) {
      return extensions === ""
        ? {}
        : `reports extensions "${extensions}" it did not answer`;
    }
    if (extensions !== value) {
      return `answered "${value}" but reports "${extensions}"`;
    }
    const elements = parseExtensionList(value);
    if (elements?.length !== 1 || elements[0].name !== "permessage-deflate") {
      return `answered "${value}", not one permessage-deflate`;
    }
    const answer = readDeflateParams(elements[0], true);
    if (typeof answer === "string") return `answered "${value}": ${answer}`;
    const offers = offersIn((c.open.offer ?? []).join(", "));
    const faults: string[] = [];
    for (const offer of offers) {
      const fault = answerFault(offer, answer);
      if (fault) {
        faults.push(fault);
        continue;
      }
      const extra = c.check?.(answer);
      if (extra) return `answered "${value}": ${extra}`;
      return { agreed: agree(offer, answer), header: value };
    }
    return `answered "${value}", which accepts no offer: ${faults.join("; ")}`;
  }
  const offerValue = headerValue(head, "sec-websocket-extensions");
  const offers = offersIn(offerValue);
  if (c.open.compression) {
    if (offers.length === 0) return `offered "${offerValue}"`;
    const extra = c.check?.(offers[0]);
    if (extra) return `offered "${offerValue}": ${extra}`;
  } else if (offerValue !== null) {
    return `offered "${offerValue}" without compression asked for`;
  }
  if (answered === undefined) {
    return extensions === ""
      ? {}
      : `reports extensions "${extensions}" that were not answered`;
  }
  if (extensions === "") return `reports no extension; we answered`;
  const element = parseExtensionList(answered)?.[0];
  const answer = element && readDeflateParams(element, true);
  if (!answer || typeof answer === "string") {
    return `the case's answer "${answered}" is not valid`;
  }
  const offer = offers.find((o) => !answerFault(o, answer));
  if (!offer) return `the case's answer "${answered}" accepts no offer`;
  return { agreed: agree(offer, answer), header: answered };
}

/** Runs a case of dial() refusing an answer. */
async function runRefusal(
  c: CompressionCase,
  target: ClientTarget,
  started: number,
): Promise<CaseResult> {
  const timeout = c.timeout ?? 10000;
  const left = () => Math.max(1, timeout - (performance.now() - started));
  const result = (grade: Grade, detail: string): CaseResult => ({
    grade,
    detail,
    ms: Math.round(performance.now() - started),
  });
  const dialing = dial(`ws://127.0.0.1:${target.listener.addr.port}/`, {
    compression: c.open.compression,
    handshakeTimeout: 3000,
  }).then((conn) => ({ conn }), (error: unknown) => ({ error }));
  const socket = await target.listener.accept();
  try {
    const request = await readHttpHead(socket);
    const key = request &&
      /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(request.head)?.[1];
    if (!request || !key) return result("failed", "no upgrade request");
    const offer = headerValue(request.head, "sec-websocket-extensions");
    const answered = c.open.answer?.(offer);
    await writeFully(socket, await upgradeResponse(key, answered));
    const outcome = await withTimeout(dialing, left());
    if (outcome === "timeout") return result("failed", "dial() hung");
    if ("conn" in outcome) {
      outcome.conn.abort();
      await outcome.conn.closed;
      return result("failed", `dial() accepted "${answered}"`);
    }
    const error = outcome.error;
    const cause = error instanceof DialError ? error.cause : undefined;
    if (!(cause instanceof HandshakeError) || cause.code !== "BAD_EXTENSION") {
      return result("failed", `dial() failed otherwise: ${error}`);
    }
    // The connection was never open: it is dropped without a frame.
    const buffer = new Uint8Array(16);
    const read = await withTimeout(
      socket.read(buffer).catch(() => null),
      left(),
    );
    if (read === "timeout") {
      return result("failed", "did not close the TCP connection");
    }
    if (read !== null) {
      return result("failed", `sent ${toHex(buffer.subarray(0, read))}`);
    }
    return result(
      "passed",
      `${
        offer === null ? "offered nothing" : `offered "${offer}"`
      }; ${cause.message}`,
    );
  } finally {
    socket.close();
  }
}

/**
 * Runs one compression case against a target and grades it. Never throws
 * for the library's misbehaviour: that is a FAILED grade with the reason.
 */
export async function runCompressionCase(
  c: CompressionCase,
  target: Target,
): Promise<CaseResult> {
  const started = performance.now();
  const role = target.role;
  const expected = c.negotiation?.[role] ?? "accept";
  if (expected === "refuse") {
    return await runRefusal(c, target as ClientTarget, started);
  }
  const timeout = c.timeout ?? 10000;
  const left = () => Math.max(1, timeout - (performance.now() - started));
  const result = (grade: Grade, detail: string): CaseResult => ({
    grade,
    detail,
    ms: Math.round(performance.now() - started),
  });
  const controller = new AbortController();
  const opening = target.open(controller.signal, c.open);
  const opened = await withTimeout(
    opening.catch((error: unknown) => error as Error),
    left(),
  );
  if (opened === "timeout") {
    controller.abort(new Error("Opening timed out"));
    opening.then((o) => {
      o.socket.close();
      o.abort();
    }, () => {});
    return result("failed", "the opening handshake did not complete");
  }
  if (opened instanceof Error) {
    return result("failed", `the opening handshake failed: ${opened}`);
  }
  const { socket } = opened;
  const reader = new FrameReader(socket, opened.rest, role);
  const masked = role === "server";
  let deflater: PeerDeflater | undefined;
  let inflater: PeerInflater | undefined;
  let socketClosed = false;
  const closeSocket = () => {
    if (!socketClosed) {
      socketClosed = true;
      socket.close();
    }
  };
  try {
    const negotiated = judgeNegotiation(
      c,
      role,
      opened.head,
      opened.answered,
      opened.extensions,
    );
    if (typeof negotiated === "string") return result("failed", negotiated);
    const { agreed } = negotiated;
    if (!agreed && expected === "accept") {
      return result("failed", "declined compression");
    }
    if (agreed && expected === "decline") {
      return result("failed", `accepted "${negotiated.header}"`);
    }
    // The peer sends in one direction and checks the other.
    const mine = agreed && (role === "server" ? agreed.client : agreed.server);
    const theirs = agreed &&
      (role === "server" ? agreed.server : agreed.client);
    if (mine && theirs) {
      deflater = new PeerDeflater(mine);
      inflater = new PeerInflater(theirs);
    }
    let compressedEchoes = 0;
    let mayCompress = false;
    for (const [i, m] of c.messages.entries()) {
      const compress = deflater !== undefined && m.compress !== false;
      const payload = compress
        ? m.raw ?? await deflater!.compress(m.data, m.final)
        : m.data;
      const frames = framesOf(m, payload, compress);
      await writeFully(
        socket,
        concatBytes(frames.map((frame) => encodeSpec(frame, masked))),
      ).catch(() => {});
      const echo = await readEcho(reader, agreed !== undefined, left);
      if (typeof echo === "string") {
        return result("failed", `message ${i + 1}: ${echo}`);
      }
      const kind = m.binary ? "binary" : "text";
      if (echo.kind !== kind) {
        return result("failed", `message ${i + 1}: echoed as ${echo.kind}`);
      }
      const pings = frames.filter((f) => f.opcode === OP.ping);
      if (
        echo.pongs.length !== pings.length ||
        !echo.pongs.every((p, k) =>
          sameBytes(p, toBytes(pings[k].payload ?? ""))
        )
      ) {
        return result(
          "failed",
          `message ${
            i + 1
          }: ${echo.pongs.length} pongs for ${pings.length} pings`,
        );
      }
      let data = echo.payload;
      if (echo.compressed) {
        compressedEchoes++;
        if (endsWithTail(data)) {
          return result(
            "failed",
            `message ${i + 1}: compressed data keeps the 00 00 ff ff tail`,
          );
        }
        try {
          data = await inflater!.inflate(data);
        } catch (error) {
          return result(
            "failed",
            `message ${i + 1}: the echo does not inflate with a ${
              theirs!.bits
            }-bit window${theirs!.takeover ? "" : " and no context"}: ${
              (error as Error).message
            }`,
          );
        }
      }
      if (!sameBytes(data, m.data)) {
        return result(
          "failed",
          `message ${i + 1}: echoed ${toHex(data, 16)}, sent ${
            toHex(m.data, 16)
          }`,
        );
      }
      // The library compresses what reaches its threshold when its window
      // is 9 bits or more; without context takeover only what shrinks
      // (compressible data of 256 bytes or more surely does).
      if (
        theirs && theirs.bits >= 9 && m.data.length > 0 &&
        m.data.length >= c.threshold &&
        (theirs.takeover || (m.compressible && m.data.length >= 256))
      ) mayCompress = true;
    }
    if (mayCompress && compressedEchoes === 0) {
      return result("failed", "sent no echo compressed");
    }
    // Autobahn closes: 1000 both ways, and the server drops TCP first.
    await writeFully(
      socket,
      encodeSpec({ opcode: OP.close, payload: closePayload(1000) }, masked),
    ).catch(() => {});
    const close = await reader.next(left());
    if (close === "timeout") return result("failed", "hung: no close frame");
    if (!close) {
      return result(
        "failed",
        reader.fault ?? "dropped TCP without a close frame",
      );
    }
    if (close.opcode !== OP.close) {
      return result("failed", `sent opcode ${close.opcode} instead of a close`);
    }
    const code = close.payload.length >= 2
      ? close.payload[0] << 8 | close.payload[1]
      : 1005;
    if (code !== 1000) return result("failed", `closed with ${code}`);
    if (role === "server") {
      const after = await reader.next(left());
      if (after === "timeout") {
        return result("failed", "did not close the TCP connection");
      }
      if (after) return result("failed", "sent a frame after its close");
    }
    closeSocket();
    const info = await withTimeout(opened.closed, left());
    if (info === "timeout") {
      opened.abort();
      return result("failed", "its connection did not end");
    }
    const problems = opened.problems();
    if (problems.length > 0) return result("failed", problems.join("; "));
    if (!info.wasClean) {
      return result("failed", "its side did not see a clean close");
    }
    const summary =
      `${c.messages.length} echoes, ${compressedEchoes} compressed`;
    if (!agreed) {
      return result(
        expected === "either" ? "unimplemented" : "passed",
        `declined the offer; ${summary}`,
      );
    }
    return result("passed", `agreed "${negotiated.header}"; ${summary}`);
  } finally {
    closeSocket();
    await reader.settle();
    deflater?.close();
    inflater?.close();
    const end = await withTimeout(opened.closed, 4000);
    if (end === "timeout") opened.abort();
  }
}
