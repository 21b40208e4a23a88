/**
 * The sans-I/O core of permessage-deflate (RFC 7692), for both roles: the
 * `Sec-WebSocket-Extensions` parser (RFC 6455 section 9.1), the negotiation
 * of RFC 7692 section 7, and {@linkcode PerMessageDeflate}, the
 * {@linkcode PerMessageExtension} that compresses and restores messages
 * synchronously, with or without context takeover, and never restores more
 * than the caller's size limit (a deflate bomb costs at most `limit` bytes).
 *
 * A server answers the first offer it can accept with
 * {@linkcode negotiatePerMessageDeflate}; a client sends
 * {@linkcode perMessageDeflateOffer} and checks the answer with
 * {@linkcode acceptPerMessageDeflate}. Each connection owns one
 * {@linkcode PerMessageDeflate} and must {@linkcode PerMessageDeflate.close}
 * it to free its zlib contexts.
 *
 * @example Negotiating both sides and sending one message
 * ```ts
 * import {
 *   acceptPerMessageDeflate,
 *   negotiatePerMessageDeflate,
 *   perMessageDeflateOffer,
 * } from "@seed/websocket/permessage-deflate";
 *
 * const offer = perMessageDeflateOffer(); // "permessage-deflate; client_max_window_bits"
 * const answer = negotiatePerMessageDeflate(offer, { threshold: 0 });
 * if (answer) {
 *   using server = answer.extension;
 *   using client = acceptPerMessageDeflate(answer.header, { threshold: 0 });
 *   const compressed = client.compress(new TextEncoder().encode("Hello"))!;
 *   const restored = server.decompress(compressed, true, 1 << 20);
 *   console.log(new TextDecoder().decode(restored)); // Hello
 * }
 * ```
 *
 * @module
 */

/*
 * Engine notes (measured with Deno 2.9.6 on x86_64 Linux, 2 vCPUs; Deno's
 * node:zlib reports zlib 1.3.1; figures from `bench/deflate_engine_bench.ts`).
 *
 * The protocol layer is a synchronous state machine, so the engine must be
 * synchronous, stateful across messages (context takeover), and able to end
 * each message with Z_SYNC_FLUSH. The candidates:
 *
 * 1. CompressionStream / DecompressionStream ("deflate-raw"): promise-based
 *    and without flush control, so a message cannot end on a sync-flush
 *    boundary without ending the stream. Rejected.
 * 2. `createDeflateRaw()._processChunk(chunk, Z_SYNC_FLUSH)` without a
 *    callback: synchronous, but (as in Node, whose `zlibBufferSync` uses it)
 *    the synchronous path closes the zlib handle before returning; a second
 *    call throws "Cannot read properties of null". One message per context:
 *    no context takeover. Rejected.
 * 3. `deflateRawSync` / `inflateRawSync` with `finishFlush: Z_SYNC_FLUSH`:
 *    stateless, a new zlib context (and JS stream object) per message, so
 *    only usable without context takeover; `maxOutputLength` caps inflation
 *    (RangeError). 1.5 to 3 times slower than a kept context on small
 *    messages (below). Rejected.
 * 4. The native handle under a zlib stream: `stream._handle.writeSync(flush,
 *    input, inOffset, inLength, output, outOffset, outLength)`, which leaves
 *    `[availOutAfter, availInAfter]` in `stream._writeState`. It is what
 *    Node's and Deno's own synchronous path calls. Synchronous and stateful,
 *    and the caller owns the output buffer of every call, so inflation is
 *    capped by construction: each call gets at most `limit - restored + 1`
 *    bytes of room, so the excess never exists. zlib errors arrive through
 *    `handle.onerror(message, errno)`, which we replace, so the stream never
 *    emits an "error" event. CHOSEN. It is a private interface of node:zlib:
 *    {@linkcode isPerMessageDeflateSupported} probes it once (servers decline
 *    permessage-deflate without it), and the tests pin the behaviour relied
 *    on here, so a Deno upgrade that changes it fails CI, not production.
 *
 * Behaviour relied on, verified by experiment and pinned by tests:
 * - Z_SYNC_FLUSH output ends with 00 00 ff ff (stripped on send, appended on
 *   receive). An empty sync flush right after another emits nothing at all,
 *   so empty messages never reach zlib: they are sent uncompressed, and an
 *   empty compressed message (00, or no byte at all) restores to nothing.
 * - A stream that ended (a BFINAL block) consumes no more input and reports
 *   no error: input left over with output room left means "ended". The next
 *   message then starts a new context (the old window is lost, as with any
 *   zlib reset); a message that only ends in the appended 00 00 ff ff is
 *   detected when the next message's first write consumes nothing.
 * - After a zlib error the handle stays failed until reset; we free it.
 * - `reset()` keeps level, memLevel and window; `chunkSize: 64` avoids the
 *   stream's unused 16 KiB output buffer.
 * - Window bits 8: the raw deflater silently uses 9 (Node's rule, kept by
 *   Deno); the inflater accepts 8. zlib's deflater never emits a distance
 *   greater than the window minus 262 (250 with 9 bits: a period-256 input
 *   does not compress at 9 bits and a window-8 inflater decodes 9-bit
 *   output), but that is an implementation detail, so we never promise 8:
 *   a server declines an offer that limits its window to 8, and a client
 *   told to use 8 sends every message uncompressed (always allowed). We
 *   inflate with at least 9 bits, so a peer whose zlib turned 8 into 9 works.
 *
 * Speed, `deno run -A bench/deflate_engine_bench.ts table` (us per message
 * and compressed / original size; windowBits 15, memLevel 8; distinct
 * seeded JSON messages; best of 3 rounds):
 *
 *   data, context takeover   level 1         level 3         level 6
 *   350 B chat JSON, yes     2.2 us  0.384   7.7 us  0.321   10.1 us 0.293
 *   350 B chat JSON, no      9.6 us  0.854   15.0 us 0.665   17.2 us 0.665
 *   14 KiB JSON batch, yes   44 us   0.370   92 us   0.256   210 us  0.230
 *   14 KiB JSON batch, no    54 us   0.402   101 us  0.295   126 us  0.285
 *   1 MiB JSON               2.4 ms  0.369   5.7 ms  0.252   14.8 ms 0.226
 *
 * Level 1 of this zlib build is a quick mode with fixed Huffman codes: 28 to
 * 63 % more output than level 6, and little gain on small messages without
 * context takeover. Level 3 makes at most 12 % more output than level 6 at
 * 1.15 to 2.6 times its speed: the default. Levels 6 and 9 with a
 * full window (context takeover) get slower than without. Smaller windows
 * cost ratio and speed: 14 KiB at level 3 is 101 us / 0.276 with 12 bits and
 * 149 us / 0.498 with 9 bits.
 *
 * `deno bench -A bench/deflate_engine_bench.ts --filter "/level 3|stateless|decompress/"`
 * (mean us per message, level 3, cycling through distinct messages):
 *
 *                  compress: kept  reset   deflateRawSync
 *   350 B                    6.8   11.9    18.2
 *   1 KiB                    8.6   18.8    26.4
 *   14 KiB                   85.6  95.2    99.4
 *                  decompress: kept  reset   inflateRawSync
 *   350 B                      3.8   5.4     8.3
 *   1 KiB                      5.8   7.4     12.3
 *   14 KiB                     21.9  20.6    21.8
 *
 * "kept" is context takeover; "reset" is no context takeover, which resets
 * the kept context after each message (deflateReset clears the hash table).
 * Freeing the context after each message instead, and creating a new one on
 * the next (an earlier version of this module), cost 26 us to compress and
 * 23 us to restore 1 KiB, with garbage-collection pauses up to 90 ms: the JS
 * stream object is the expensive part. Inflating runs at 500 to 600 MB/s on
 * large messages.
 *
 * Memory, `deno run -A bench/deflate_engine_bench.ts memory` (RSS per
 * context after a 64 KiB message, 1000 contexts in a fresh process; zlib's
 * formula in brackets: deflate (1 << (windowBits + 2)) + (1 << (memLevel +
 * 9)), inflate (1 << windowBits) + 7 KiB):
 *
 *   deflate 15 bits, memLevel 8     306 KiB [256 KiB]; 207 KiB unused
 *   deflate 15 bits, memLevel 1     262 KiB [129 KiB]
 *   deflate 12 bits, memLevel 5     159 KiB [32 KiB]
 *   deflate 9 bits, memLevel 1      135 KiB [3 KiB]
 *   inflate 15 bits                 42 KiB [39 KiB]; 7 KiB unused
 *   inflate 12 bits / 9 bits        14 KiB / 10 KiB
 *
 * This zlib build has a floor of about 130 KiB per deflate context (it seems
 * to use a fixed-size hash table), so small windows save less than the
 * formula says. A
 * connection holds at most one deflater and one inflater (about 350 KiB with
 * the defaults) plus the message being restored (at most `limit` + 1 bytes).
 * Contexts are created on first use: a connection that sends nothing over
 * the threshold holds no deflater, one that receives nothing compressed no
 * inflater. Without context takeover a context is reset, not freed, after
 * each message (see above); memory is bounded either way.
 */

import { constants, createDeflateRaw, createInflateRaw } from "node:zlib";
import { ProtocolError } from "../errors.ts";
import type {
  ExtensionHeaderElement,
  ExtensionNegotiator,
  PerMessageExtension,
} from "./extension.ts";
import { acceptExtensions, answerExtensions } from "./negotiation.ts";
import { answerError } from "./_header.ts";

export type {
  ExtensionHeaderElement,
  ExtensionNegotiator,
  PerMessageExtension,
} from "./extension.ts";
export { parseExtensionHeader } from "./extension.ts";

/** Options of permessage-deflate, the same for a server and a client. */
export interface PerMessageDeflateOptions {
  /**
   * Whether the server resets its compression context after every message.
   * A server sets it on its own; a client asks for it in its offer and fails
   * the handshake if the server does not agree.
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Whether the client resets its compression context after every message.
   * A server asks for it in its answer; a client promises it in its offer.
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The largest LZ77 window, as a power of two (9 to 15), the server may
   * compress with. A client asks for it in its offer when below 15. zlib
   * cannot compress with a window of 8 bits, so 8 is not accepted.
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * The largest LZ77 window, as a power of two (9 to 15), the client may
   * compress with. A server that sets it below 15 declines offers that do
   * not let it limit the client's window.
   * @default {15}
   */
  clientMaxWindowBits?: number;
  /**
   * The size in bytes under which messages are sent uncompressed. Below
   * about 1 KiB a message and its frame header fit in one TCP segment, so
   * compression saves bytes but no packets, saves little without context
   * takeover (a 350-byte JSON message shrinks by a third at best), and its
   * fixed cost of 5 to 10 us per message buys more on bigger messages. 0
   * compresses every message; `Infinity` compresses none (but still
   * restores what the peer compresses).
   * @default {1024}
   */
  threshold?: number;
  /**
   * The zlib compression level, 0 (store) to 9. Level 3 makes at most 12 %
   * more output than level 6 at 1.15 to 2.6 times its speed; level 1 is the
   * fastest but makes 28 to 63 % more output than level 6.
   * @default {3}
   */
  level?: number;
  /**
   * The zlib memory level, 1 to 9: the size of the compressor's hash table.
   * @default {8}
   */
  memLevel?: number;
}

/**
 * The agreed parameters of one permessage-deflate connection, its role and
 * its tuning. The negotiation functions build it; build it by hand only when
 * the handshake is done elsewhere.
 */
export interface PerMessageDeflateInit {
  /** Which end of the connection this is. */
  role: "client" | "server";
  /**
   * Whether the server resets its compression context after every message.
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Whether the client resets its compression context after every message.
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The server's agreed LZ77 window bits, 8 to 15. A server with 8 sends
   * every message uncompressed.
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * The client's agreed LZ77 window bits, 8 to 15. A client with 8 sends
   * every message uncompressed.
   * @default {15}
   */
  clientMaxWindowBits?: number;
  /**
   * The size in bytes under which messages are sent uncompressed.
   * @default {1024}
   */
  threshold?: number;
  /**
   * The zlib compression level, 0 to 9.
   * @default {3}
   */
  level?: number;
  /**
   * The zlib memory level, 1 to 9.
   * @default {8}
   */
  memLevel?: number;
  /**
   * The extension as it stands in `Sec-WebSocket-Extensions`.
   * @default {"permessage-deflate" and the agreed parameters that differ from the defaults}
   */
  header?: string;
}

/** A server's acceptance of a permessage-deflate offer. */
export interface PerMessageDeflateNegotiation {
  /** The `Sec-WebSocket-Extensions` value to answer with. */
  header: string;
  /** The negotiated extension; close it with the connection. */
  extension: PerMessageDeflate;
}

const NAME = "permessage-deflate";
const TAIL: Uint8Array<ArrayBuffer> = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const FIRST_CHUNK = 64 * 1024;
const MAX_CHUNK = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------
// The engine: a zlib context driven through node:zlib's synchronous handle.

/** The private surface of a node:zlib stream this module relies on. */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): unknown;
  onerror: unknown;
}

interface ZlibStream {
  _handle?: ZlibHandle | null;
  _writeState?: unknown;
  reset(): void;
  close(): void;
}

/** A zlib error, with its message and zlib error number. */
class ZlibFailure extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.errno = errno;
  }
}

/** One raw deflate or inflate context, driven synchronously. */
class ZlibContext {
  readonly #stream: ZlibStream;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  #failure: ZlibFailure | undefined;
  /** Input bytes consumed by the last {@linkcode ZlibContext.write}. */
  consumed = 0;

  constructor(
    mode: "deflate" | "inflate",
    windowBits: number,
    level: number,
    memLevel: number,
  ) {
    const stream =
      (mode === "deflate"
        ? createDeflateRaw({ windowBits, level, memLevel, chunkSize: 64 })
        : createInflateRaw({
          windowBits,
          chunkSize: 64,
        })) as unknown as ZlibStream;
    const handle = stream._handle;
    const state = stream._writeState;
    if (
      typeof handle?.writeSync !== "function" ||
      !(state instanceof Uint32Array) || state.length < 2
    ) {
      stream.close();
      throw new TypeError(
        "Cannot use node:zlib: its synchronous handle is missing",
      );
    }
    handle.onerror = (message: string, errno: number) => {
      this.#failure ??= new ZlibFailure(String(message), Number(errno));
    };
    this.#stream = stream;
    this.#handle = handle;
    this.#state = state;
  }

  /**
   * Runs `input[offset, offset + length)` through zlib into `output`; returns
   * the bytes written and sets {@linkcode ZlibContext.consumed}. Throws a
   * {@linkcode ZlibFailure} for a zlib error.
   */
  write(
    flush: number,
    input: Uint8Array,
    offset: number,
    length: number,
    output: Uint8Array,
  ): number {
    this.#handle.writeSync(
      flush,
      input,
      offset,
      length,
      output,
      0,
      output.length,
    );
    const failure = this.#failure;
    if (failure) {
      this.#failure = undefined;
      throw failure;
    }
    this.consumed = length - this.#state[1];
    return output.length - this.#state[0];
  }

  reset(): void {
    this.#stream.reset();
  }

  close(): void {
    this.#stream.close();
  }
}

/** What {@linkcode pump} learnt besides the bytes. */
interface PumpResult {
  /** Bytes produced. */
  produced: number;
  /** Whether input was left over with output room left: the stream ended. */
  ended: boolean;
  /** Input bytes consumed. */
  consumed: number;
}

/**
 * Feeds all of `input` to `context`, pushing output chunks to `parts`, and
 * stops early once `room` bytes are produced (so that at most `room` bytes
 * are ever held). Chunks start at `first` bytes and double.
 */
function pump(
  context: ZlibContext,
  flush: number,
  input: Uint8Array,
  parts: Uint8Array<ArrayBuffer>[],
  first: number,
  room: number,
): PumpResult {
  let offset = 0;
  let produced = 0;
  let chunk = first;
  for (;;) {
    const size = Math.min(chunk, room - produced);
    if (size <= 0) return { produced, ended: false, consumed: offset };
    const output = new Uint8Array(size);
    const written = context.write(
      flush,
      input,
      offset,
      input.length - offset,
      output,
    );
    offset += context.consumed;
    if (written > 0) {
      parts.push(written === size ? output : output.subarray(0, written));
      produced += written;
    }
    if (written < size) {
      return { produced, ended: offset < input.length, consumed: offset };
    }
    chunk = Math.min(chunk * 2, MAX_CHUNK);
  }
}

/** Joins chunks, copying out of a mostly empty buffer. */
function concat(
  parts: Uint8Array<ArrayBuffer>[],
  total: number,
): Uint8Array<ArrayBuffer> {
  if (parts.length === 0) return new Uint8Array(0);
  if (parts.length === 1) {
    const part = parts[0];
    const slack = part.buffer.byteLength - part.length;
    return slack > 4096 && slack > part.length ? part.slice() : part;
  }
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

let supported: boolean | undefined;

/**
 * Whether this runtime's `node:zlib` offers the synchronous, stateful engine
 * {@linkcode PerMessageDeflate} needs. Probed once; a server should not offer
 * or accept permessage-deflate without it
 * ({@linkcode negotiatePerMessageDeflate} declines on its own).
 *
 * @returns Whether permessage-deflate can run here.
 *
 * @example Offering compression only where it works
 * ```ts
 * import {
 *   isPerMessageDeflateSupported,
 *   perMessageDeflateOffer,
 * } from "@seed/websocket/permessage-deflate";
 *
 * const headers = new Headers();
 * if (isPerMessageDeflateSupported()) {
 *   headers.set("Sec-WebSocket-Extensions", perMessageDeflateOffer());
 * }
 * ```
 */
export function isPerMessageDeflateSupported(): boolean {
  if (supported === undefined) {
    supported = false;
    try {
      const deflater = new ZlibContext("deflate", 15, 6, 8);
      const inflater = new ZlibContext("inflate", 15, 6, 8);
      try {
        const hello = new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        const out = new Uint8Array(64);
        const n = deflater.write(constants.Z_SYNC_FLUSH, hello, 0, 5, out);
        const back = new Uint8Array(64);
        const m = inflater.write(constants.Z_SYNC_FLUSH, out, 0, n, back);
        supported = n === 11 &&
          out.subarray(0, n).join() ===
            "242,72,205,201,201,7,0,0,0,255,255" &&
          back.subarray(0, m).join() === hello.join();
      } finally {
        deflater.close();
        inflater.close();
      }
    } catch {
      supported = false;
    }
  }
  return supported;
}

// ---------------------------------------------------------------------------
// The extension.

function checkInteger(
  name: string,
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid ${name}: expected an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

function checkThreshold(value: number): number {
  if (typeof value !== "number" || !(value >= 0)) {
    throw new RangeError(
      `Invalid threshold: expected a number of bytes from 0, got ${value}`,
    );
  }
  return value;
}

/** Formats a permessage-deflate element in the canonical parameter order. */
function formatHeader(params: {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}): string {
  let header = NAME;
  if (params.serverNoContextTakeover) header += "; server_no_context_takeover";
  if (params.clientNoContextTakeover) header += "; client_no_context_takeover";
  if (params.serverMaxWindowBits !== undefined) {
    header += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  }
  if (params.clientMaxWindowBits !== undefined) {
    header += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  }
  return header;
}

/**
 * A negotiated permessage-deflate extension (RFC 7692) for one connection:
 * compresses outgoing messages and restores incoming ones, synchronously.
 *
 * Its zlib contexts are created on first use; a direction without context
 * takeover resets its context after every message. A connection holds about
 * 350 KiB of zlib state with the defaults (306 KiB to compress, 42 KiB to
 * restore), plus the message being restored, which never passes the `limit`
 * given to {@linkcode PerMessageDeflate.decompress}. Call
 * {@linkcode PerMessageDeflate.close} (or `using`) when the connection ends.
 *
 * @example Compressing and restoring with a shared window
 * ```ts
 * import { PerMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * using client = new PerMessageDeflate({ role: "client", threshold: 0 });
 * using server = new PerMessageDeflate({ role: "server", threshold: 0 });
 * const hello = new TextEncoder().encode("Hello");
 * const first = client.compress(hello)!; // f2 48 cd c9 c9 07 00
 * const second = client.compress(hello)!; // f2 00 11 00 00: refers back
 * server.decompress(first, true, 1024);
 * console.log(new TextDecoder().decode(server.decompress(second, true, 1024))); // Hello
 * ```
 */
export class PerMessageDeflate implements PerMessageExtension, Disposable {
  /** The extension's registered name, `permessage-deflate`. */
  readonly name: string = NAME;
  /** The negotiated extension as it stands in `Sec-WebSocket-Extensions`. */
  readonly header: string;

  readonly #sendBits: number;
  readonly #receiveBits: number;
  readonly #sendTakeover: boolean;
  readonly #receiveTakeover: boolean;
  readonly #threshold: number;
  readonly #level: number;
  readonly #memLevel: number;
  #deflater: ZlibContext | undefined;
  #inflater: ZlibContext | undefined;
  /** Bytes restored so far of the incoming message. */
  #restored = 0;
  /** Whether the incoming message has fed any byte to the inflater. */
  #fed = false;
  /** Whether the inflater's stream ended (BFINAL) in the incoming message. */
  #ended = false;
  #closed = false;

  /**
   * Creates the extension from agreed parameters.
   *
   * @param init The role, the agreed parameters and the tuning.
   * @throws {TypeError} For a role other than "client" or "server".
   * @throws {RangeError} For a parameter out of range.
   * @throws {Error} When `node:zlib` lacks the synchronous engine.
   */
  constructor(init: PerMessageDeflateInit) {
    if (init.role !== "client" && init.role !== "server") {
      throw new TypeError(
        `Invalid role: expected "client" or "server", got ${init.role}`,
      );
    }
    const serverBits = checkInteger(
      "serverMaxWindowBits",
      init.serverMaxWindowBits ?? 15,
      8,
      15,
    );
    const clientBits = checkInteger(
      "clientMaxWindowBits",
      init.clientMaxWindowBits ?? 15,
      8,
      15,
    );
    const serverNoContextTakeover = init.serverNoContextTakeover ?? false;
    const clientNoContextTakeover = init.clientNoContextTakeover ?? false;
    this.#threshold = checkThreshold(init.threshold ?? 1024);
    this.#level = checkInteger("level", init.level ?? 3, 0, 9);
    this.#memLevel = checkInteger("memLevel", init.memLevel ?? 8, 1, 9);
    if (!isPerMessageDeflateSupported()) {
      throw new Error(
        "Cannot use permessage-deflate: node:zlib has no synchronous engine here",
      );
    }
    const server = init.role === "server";
    this.#sendBits = server ? serverBits : clientBits;
    this.#receiveBits = server ? clientBits : serverBits;
    this.#sendTakeover =
      !(server ? serverNoContextTakeover : clientNoContextTakeover);
    this.#receiveTakeover =
      !(server ? clientNoContextTakeover : serverNoContextTakeover);
    this.header = init.header ?? formatHeader({
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits: serverBits === 15 ? undefined : serverBits,
      clientMaxWindowBits: clientBits === 15 ? undefined : clientBits,
    });
  }

  /**
   * Compresses one whole outgoing message, or returns undefined to send it
   * uncompressed: when empty or under the threshold, when this end may only
   * use an 8-bit window, or (without context takeover) when compression
   * would not make it smaller.
   *
   * @param payload The message payload; never modified.
   * @returns The compressed payload, or undefined.
   */
  compress(payload: Uint8Array): Uint8Array<ArrayBuffer> | undefined {
    if (this.#closed) {
      throw new TypeError("Cannot compress message: extension is closed");
    }
    // An empty message is smallest uncompressed (compressed it is 0x00).
    if (
      payload.length === 0 || payload.length < this.#threshold ||
      this.#sendBits < 9
    ) {
      return undefined;
    }
    const output = this.#deflateSync(payload);
    if (!this.#sendTakeover) this.#deflater!.reset();
    const length = output.length - 4;
    if (
      length < 0 || output[length] !== 0 || output[length + 1] !== 0 ||
      output[length + 2] !== 0xff || output[length + 3] !== 0xff
    ) {
      this.#freeDeflater();
      throw new Error("Cannot compress message: zlib did not sync-flush");
    }
    if (!this.#sendTakeover && length >= payload.length) return undefined;
    return output.subarray(0, length);
  }

  // Deflates `payload` with a sync flush on the sending context (made on
  // first use); a zlib failure frees the context and throws.
  #deflateSync(payload: Uint8Array): Uint8Array<ArrayBuffer> {
    const deflater = this.#deflater ??= new ZlibContext(
      "deflate",
      this.#sendBits,
      this.#level,
      this.#memLevel,
    );
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let produced: number;
    try {
      produced = pump(
        deflater,
        constants.Z_SYNC_FLUSH,
        payload,
        parts,
        Math.min(payload.length + (payload.length >> 3) + 64, FIRST_CHUNK),
        Infinity,
      ).produced;
    } catch (error) {
      this.#freeDeflater();
      throw new Error(`Cannot compress message: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    return concat(parts, produced);
  }

  /**
   * Compresses one part of a message sent in pieces, flushed so that the
   * peer can inflate it as it arrives: each part's output ends on a byte
   * boundary (a sync flush), and the last part's trailing `00 00 ff ff` is
   * removed as RFC 7692 asks. Context takeover rules hold across messages
   * as for {@linkcode PerMessageDeflate.compress}.
   *
   * @param payload The part's bytes; never modified.
   * @param first Whether this part starts the message.
   * @param fin Whether this part ends the message.
   * @returns The compressed part; undefined (first part only) when this
   * extension cannot compress (an 8-bit window): send the message as is.
   *
   * @example Compressing a message in two parts
   * ```ts
   * import { PerMessageDeflate } from "@seed/websocket/permessage-deflate";
   *
   * const client = new PerMessageDeflate({ role: "client" });
   * const server = new PerMessageDeflate({ role: "server" });
   * const hello = new TextEncoder().encode("Hello");
   * const a = client.compressPart(hello, true, false)!;
   * const b = client.compressPart(hello, false, true)!;
   * const out = [server.decompress(a, false, 1024), server.decompress(b, true, 1024)];
   * console.log(new TextDecoder().decode(new Uint8Array([...out[0], ...out[1]]))); // HelloHello
   * ```
   */
  compressPart(
    payload: Uint8Array,
    first: boolean,
    fin: boolean,
  ): Uint8Array<ArrayBuffer> | undefined {
    if (this.#closed) {
      throw new TypeError("Cannot compress message: extension is closed");
    }
    if (first && this.#sendBits < 9) return undefined;
    if (payload.length === 0) {
      // An empty first part: the message may be empty, smallest as it is.
      if (first) return undefined;
      if (!fin) return new Uint8Array(0);
      // Every earlier part ended on a sync flush, on a byte boundary: the
      // last is one empty stored block's header byte, which the peer's
      // appended 00 00 ff ff completes.
      if (!this.#sendTakeover) this.#deflater?.reset();
      return new Uint8Array(1);
    }
    const output = this.#deflateSync(payload);
    if (!fin) return output;
    if (!this.#sendTakeover) this.#deflater!.reset();
    return output.subarray(0, Math.max(0, output.length - 4));
  }

  /**
   * Restores one fragment of an incoming compressed message; call it for
   * each fragment in order, `fin` marking the last. Never holds more than
   * `limit` + 1 restored bytes of a message.
   *
   * @param fragment The fragment's payload; never modified.
   * @param fin Whether this is the message's last fragment.
   * @param limit The most bytes the whole restored message may have.
   * @returns The bytes this fragment restored (often empty before `fin`).
   * @throws {ProtocolError} `MESSAGE_TOO_LARGE` (close code 1009) once the
   * message would pass `limit`; `BAD_COMPRESSED_DATA` (close code 1007) for data
   * that does not inflate.
   */
  decompress(
    fragment: Uint8Array,
    fin: boolean,
    limit: number,
  ): Uint8Array<ArrayBuffer> {
    if (this.#closed) {
      throw new TypeError("Cannot decompress message: extension is closed");
    }
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let produced = 0;
    try {
      if (!this.#ended && fragment.length > 0) {
        produced += this.#inflate(fragment, parts, limit, !this.#fed);
        this.#fed = true;
      }
      if (fin && this.#fed && !this.#ended) {
        produced += this.#inflate(TAIL, parts, limit, false);
      }
    } catch (error) {
      this.#endMessage(true);
      if (!(error instanceof ZlibFailure)) throw error;
      throw new ProtocolError(
        "BAD_COMPRESSED_DATA",
        `Cannot inflate message: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (fin) this.#endMessage(false);
    return concat(parts, produced);
  }

  /**
   * Inflates `input`, pushing to `parts`; returns the bytes produced. At the
   * start of a message, an inflater that consumes nothing ended with the
   * previous message and is reset for this one.
   */
  #inflate(
    input: Uint8Array,
    parts: Uint8Array<ArrayBuffer>[],
    limit: number,
    start: boolean,
  ): number {
    const inflater = this.#inflater ??= new ZlibContext(
      "inflate",
      Math.max(this.#receiveBits, 9),
      0,
      0,
    );
    const room = limit - this.#restored + 1;
    const first = Math.min(Math.max(input.length * 4, 1024), FIRST_CHUNK);
    let result = pump(
      inflater,
      constants.Z_SYNC_FLUSH,
      input,
      parts,
      first,
      room,
    );
    if (start && result.ended && result.consumed === 0) {
      inflater.reset();
      result = pump(
        inflater,
        constants.Z_SYNC_FLUSH,
        input,
        parts,
        first,
        room,
      );
    }
    this.#restored += result.produced;
    if (this.#restored > limit) {
      throw new ProtocolError(
        "MESSAGE_TOO_LARGE",
        `Cannot inflate message: it is larger than ${limit} bytes`,
      );
    }
    if (result.ended) this.#ended = true;
    return result.produced;
  }

  /** Ends the incoming message: frees or resets the inflater as needed. */
  #endMessage(failed: boolean): void {
    if (failed) {
      this.#inflater?.close();
      this.#inflater = undefined;
    } else if (this.#ended || !this.#receiveTakeover) {
      this.#inflater?.reset();
    }
    this.#restored = 0;
    this.#fed = false;
    this.#ended = false;
  }

  #freeDeflater(): void {
    this.#deflater?.close();
    this.#deflater = undefined;
  }

  /** Frees the zlib contexts; later calls to compress or decompress throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#freeDeflater();
    this.#inflater?.close();
    this.#inflater = undefined;
  }

  /** Same as {@linkcode PerMessageDeflate.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------
// Negotiation (RFC 7692 section 7).

/** Validated permessage-deflate parameters of one offer or response. */
interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (only valid in an offer). */
  clientMaxWindowBits: number | true | undefined;
}

const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * Validates permessage-deflate parameters; returns a reason string for an
 * unknown or invalid parameter.
 */
function readParams(
  params: Map<string, string | true>,
  response: boolean,
): DeflateParams | string {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of params) {
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `value on parameter ${name}`;
        if (name === "server_no_context_takeover") {
          result.serverNoContextTakeover = true;
        } else {
          result.clientNoContextTakeover = true;
        }
        break;
      case "server_max_window_bits":
        if (value === true || !WINDOW_BITS.test(value)) {
          return `invalid ${name}`;
        }
        result.serverMaxWindowBits = Number(value);
        break;
      case "client_max_window_bits":
        if (value === true && !response) {
          result.clientMaxWindowBits = true;
        } else if (value === true || !WINDOW_BITS.test(value)) {
          return `invalid ${name}`;
        } else {
          result.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return result;
}

interface ResolvedOptions {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  threshold: number;
  level: number;
  memLevel: number;
}

function resolveOptions(options: PerMessageDeflateOptions): ResolvedOptions {
  return {
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
    serverMaxWindowBits: checkInteger(
      "serverMaxWindowBits",
      options.serverMaxWindowBits ?? 15,
      9,
      15,
    ),
    clientMaxWindowBits: checkInteger(
      "clientMaxWindowBits",
      options.clientMaxWindowBits ?? 15,
      9,
      15,
    ),
    threshold: checkThreshold(options.threshold ?? 1024),
    level: checkInteger("level", options.level ?? 3, 0, 9),
    memLevel: checkInteger("memLevel", options.memLevel ?? 8, 1, 9),
  };
}

/** A client's offer with these options. */
function offerHeader(wanted: ResolvedOptions): string {
  let header = NAME;
  if (wanted.serverNoContextTakeover) header += "; server_no_context_takeover";
  if (wanted.clientNoContextTakeover) header += "; client_no_context_takeover";
  if (wanted.serverMaxWindowBits < 15) {
    header += `; server_max_window_bits=${wanted.serverMaxWindowBits}`;
  }
  header += wanted.clientMaxWindowBits < 15
    ? `; client_max_window_bits=${wanted.clientMaxWindowBits}`
    : "; client_max_window_bits";
  return header;
}

/** permessage-deflate's negotiator, with resolved options. */
class DeflateNegotiator implements ExtensionNegotiator<PerMessageDeflate> {
  readonly name: string = NAME;
  readonly #wanted: ResolvedOptions;

  constructor(options: PerMessageDeflateOptions) {
    this.#wanted = resolveOptions(options);
  }

  offer(): string | undefined {
    return isPerMessageDeflateSupported()
      ? offerHeader(this.#wanted)
      : undefined;
  }

  accept(element: ExtensionHeaderElement): PerMessageDeflate {
    const wanted = this.#wanted;
    const answer = readParams(element.params, true);
    if (typeof answer === "string") throw answerError(answer);
    const serverBits = answer.serverMaxWindowBits;
    if (wanted.serverMaxWindowBits < 15) {
      if (serverBits === undefined) {
        throw answerError(
          "server_max_window_bits was asked for but not answered",
        );
      }
      if (serverBits > wanted.serverMaxWindowBits) {
        throw answerError(
          `server_max_window_bits=${serverBits} is larger than the ${wanted.serverMaxWindowBits} asked for`,
        );
      }
    }
    if (wanted.serverNoContextTakeover && !answer.serverNoContextTakeover) {
      throw answerError(
        "server_no_context_takeover was asked for but not answered",
      );
    }
    const clientBits = answer.clientMaxWindowBits === true
      ? undefined
      : answer.clientMaxWindowBits;
    if (clientBits !== undefined && clientBits > wanted.clientMaxWindowBits) {
      throw answerError(
        `client_max_window_bits=${clientBits} is larger than the ${wanted.clientMaxWindowBits} offered`,
      );
    }
    return new PerMessageDeflate({
      role: "client",
      serverNoContextTakeover: answer.serverNoContextTakeover,
      clientNoContextTakeover: answer.clientNoContextTakeover ||
        wanted.clientNoContextTakeover,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits ?? wanted.clientMaxWindowBits,
      threshold: wanted.threshold,
      level: wanted.level,
      memLevel: wanted.memLevel,
      header: formatHeader({
        serverNoContextTakeover: answer.serverNoContextTakeover,
        clientNoContextTakeover: answer.clientNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      }),
    });
  }

  answer(
    offers: readonly ExtensionHeaderElement[],
  ): { response: string; extension: PerMessageDeflate } | undefined {
    if (!isPerMessageDeflateSupported()) return undefined;
    const wanted = this.#wanted;
    for (const element of offers) {
      const offer = readParams(element.params, false);
      if (typeof offer === "string") continue;
      let serverBits: number | undefined;
      if (offer.serverMaxWindowBits !== undefined) {
        if (offer.serverMaxWindowBits < 9) continue;
        serverBits = Math.min(
          offer.serverMaxWindowBits,
          wanted.serverMaxWindowBits,
        );
      } else if (wanted.serverMaxWindowBits < 15) {
        serverBits = wanted.serverMaxWindowBits;
      }
      let clientBits: number | undefined;
      if (offer.clientMaxWindowBits === undefined) {
        if (wanted.clientMaxWindowBits < 15) continue;
      } else {
        const limit = Math.min(
          offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits,
          wanted.clientMaxWindowBits,
        );
        if (limit < 15) clientBits = limit;
      }
      const agreed = {
        serverNoContextTakeover: offer.serverNoContextTakeover ||
          wanted.serverNoContextTakeover,
        clientNoContextTakeover: offer.clientNoContextTakeover ||
          wanted.clientNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      };
      const response = formatHeader(agreed);
      const extension = new PerMessageDeflate({
        role: "server",
        ...agreed,
        threshold: wanted.threshold,
        level: wanted.level,
        memLevel: wanted.memLevel,
        header: response,
      });
      return { response, extension };
    }
    return undefined;
  }
}

/**
 * permessage-deflate (RFC 7692) as an {@linkcode ExtensionNegotiator}, for
 * either role: a client offers it (when this runtime can run it; see
 * {@linkcode isPerMessageDeflateSupported}) and checks the answer as
 * {@linkcode acceptPerMessageDeflate} does; a server answers the first
 * offer it can accept as {@linkcode negotiatePerMessageDeflate} does.
 *
 * @param options The side's wishes.
 * @returns The negotiator.
 * @throws {RangeError} For an option out of range.
 *
 * @example Negotiating both sides with the generic functions
 * ```ts
 * import {
 *   acceptExtensions,
 *   answerExtensions,
 *   offerExtensions,
 * } from "@seed/websocket/extension-negotiation";
 * import { perMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const client = [perMessageDeflate({ serverNoContextTakeover: true })];
 * const request = offerExtensions(client) ?? null;
 * const { header } = answerExtensions(request, [perMessageDeflate()]);
 * console.log(header); // permessage-deflate; server_no_context_takeover
 * console.log(acceptExtensions(header, client)?.name); // permessage-deflate
 * ```
 */
export function perMessageDeflate(
  options: PerMessageDeflateOptions = {},
): ExtensionNegotiator {
  return new DeflateNegotiator(options);
}

/**
 * A server's side of the negotiation (RFC 7692 section 7.1): answers the
 * first permessage-deflate offer it can accept, or returns undefined to go
 * without compression. An offer is declined when it has an unknown,
 * repeated or invalid parameter, when it limits the server's window to 8
 * bits (zlib cannot compress with 8), or when `clientMaxWindowBits` is below
 * 15 and the offer does not let the server limit the client's window.
 *
 * The answer honours `server_no_context_takeover` and
 * `server_max_window_bits` from the offer, echoes `client_no_context_takeover`
 * (so the server frees its inflater between messages), adds what the
 * options ask for, and sends `client_max_window_bits` only when the offer
 * had it.
 *
 * @param headerValue The request's `Sec-WebSocket-Extensions`, or null.
 * @param options The server's wishes.
 * @returns The answer header and the extension, or undefined.
 * @throws {HandshakeError} `BAD_EXTENSION` (HTTP status 400) when the header
 * is not valid syntax.
 * @throws {RangeError} For an option out of range.
 *
 * @example Answering a browser's offer
 * ```ts
 * import { negotiatePerMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * const answer = negotiatePerMessageDeflate(
 *   "permessage-deflate; client_max_window_bits",
 *   { clientMaxWindowBits: 12 },
 * );
 * console.log(answer?.header); // permessage-deflate; client_max_window_bits=12
 * answer?.extension.close();
 * ```
 */
export function negotiatePerMessageDeflate(
  headerValue: string | null,
  options: PerMessageDeflateOptions = {},
): PerMessageDeflateNegotiation | undefined {
  const negotiator = new DeflateNegotiator(options);
  const { header, extension } = answerExtensions(headerValue, [negotiator]);
  // The one negotiator's extensions are PerMessageDeflate.
  return extension && { header, extension: extension as PerMessageDeflate };
}

/**
 * A client's permessage-deflate offer (RFC 7692 section 7.1). It always
 * says `client_max_window_bits`, so the server may limit the client's
 * window.
 *
 * @param options The client's wishes.
 * @returns The `Sec-WebSocket-Extensions` value to send.
 * @throws {RangeError} For an option out of range.
 *
 * @example Asking for a small server window
 * ```ts
 * import { perMessageDeflateOffer } from "@seed/websocket/permessage-deflate";
 *
 * console.log(perMessageDeflateOffer({ serverMaxWindowBits: 10 }));
 * // permessage-deflate; server_max_window_bits=10; client_max_window_bits
 * ```
 */
export function perMessageDeflateOffer(
  options: PerMessageDeflateOptions = {},
): string {
  return offerHeader(resolveOptions(options));
}

/**
 * A client's check of the server's answer to
 * {@linkcode perMessageDeflateOffer} made with the same options (RFC 7692
 * section 7.1). Call it only when the response has the header.
 *
 * It fails when the answer has an extension other than permessage-deflate,
 * more than one, an unknown, repeated or invalid parameter, a window larger
 * than the offer allowed, or lacks `server_no_context_takeover` or
 * `server_max_window_bits` the offer asked for. A `client_max_window_bits`
 * of 8 is accepted: the client then sends every message uncompressed.
 *
 * @param responseHeaderValue The response's `Sec-WebSocket-Extensions`.
 * @param options The options the offer was made with.
 * @returns The negotiated extension; close it with the connection.
 * @throws {HandshakeError} `BAD_EXTENSION` when the answer is not acceptable.
 * @throws {RangeError} For an option out of range.
 *
 * @example Accepting an answer
 * ```ts
 * import { acceptPerMessageDeflate } from "@seed/websocket/permessage-deflate";
 *
 * using extension = acceptPerMessageDeflate(
 *   "permessage-deflate; server_no_context_takeover",
 * );
 * console.log(extension.header); // permessage-deflate; server_no_context_takeover
 * ```
 */
export function acceptPerMessageDeflate(
  responseHeaderValue: string,
  options: PerMessageDeflateOptions = {},
): PerMessageDeflate {
  const negotiator = new DeflateNegotiator(options);
  const extension = acceptExtensions(responseHeaderValue, [negotiator]);
  if (extension === undefined) throw answerError("no extension");
  // The one negotiator's extensions are PerMessageDeflate.
  return extension as PerMessageDeflate;
}
