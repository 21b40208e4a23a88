// The deflate engine: one raw zlib context driven synchronously through
// node:zlib's native handle, the loop that feeds it with bounded output, and
// the probe that tells whether this runtime has that handle at all.

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
import { concatBytes } from "../_util/bytes.ts";

/** The flush that ends every message (and every part) on a byte boundary. */
const SYNC_FLUSH: number = constants.Z_SYNC_FLUSH;
/** The largest first output chunk; small messages get a smaller one. */
const FIRST_CHUNK = 64 * 1024;
const MAX_CHUNK = 4 * 1024 * 1024;

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
export class ZlibFailure extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.errno = errno;
  }
}

/** What {@linkcode ZlibContext.pump} learnt besides the bytes. */
export interface PumpResult {
  /** Bytes produced. */
  produced: number;
  /** Whether input was left over with output room left: the stream ended. */
  ended: boolean;
  /** Input bytes consumed. */
  consumed: number;
}

/** One raw deflate or inflate context, driven synchronously. */
export class ZlibContext {
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

  /**
   * Feeds all of `input` with a sync flush, pushing output chunks to
   * `parts`, and stops early once `room` bytes are produced (so that at
   * most `room` bytes are ever held). Chunks start at `first` bytes (at
   * most 64 KiB) and double.
   */
  pump(
    input: Uint8Array,
    parts: Uint8Array<ArrayBuffer>[],
    first: number,
    room: number,
  ): PumpResult {
    let offset = 0;
    let produced = 0;
    let chunk = Math.min(first, FIRST_CHUNK);
    for (;;) {
      const size = Math.min(chunk, room - produced);
      if (size <= 0) return { produced, ended: false, consumed: offset };
      const output = new Uint8Array(size);
      const written = this.write(
        SYNC_FLUSH,
        input,
        offset,
        input.length - offset,
        output,
      );
      offset += this.consumed;
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

  reset(): void {
    this.#stream.reset();
  }

  close(): void {
    this.#stream.close();
  }
}

/**
 * Joins output chunks. A single chunk that sits in a mostly empty buffer is
 * copied out, so that a small message does not pin a large allocation.
 */
export function joinChunks(
  parts: Uint8Array<ArrayBuffer>[],
  total: number,
): Uint8Array<ArrayBuffer> {
  if (parts.length === 0) return new Uint8Array(0);
  if (parts.length === 1) {
    const part = parts[0];
    const slack = part.buffer.byteLength - part.length;
    return slack > 4096 && slack > part.length ? part.slice() : part;
  }
  // Several chunks are copied into one new ArrayBuffer.
  return concatBytes(parts, total) as Uint8Array<ArrayBuffer>;
}

/** The message of an error, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
        const n = deflater.write(SYNC_FLUSH, hello, 0, 5, out);
        const back = new Uint8Array(64);
        const m = inflater.write(SYNC_FLUSH, out, 0, n, back);
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
