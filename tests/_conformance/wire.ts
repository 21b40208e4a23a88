// An independent reference of the RFC 6455 wire format for the conformance
// suite and the fuzzers: a frame encoder that can produce any bit pattern
// (reserved bits, reserved opcodes, bad lengths), a frame reader, a UTF-8
// validator written from RFC 3629, and a reference model of what a receiving
// endpoint must do with a byte stream. None of it uses the library's codec,
// so the library is checked against a second implementation, not itself.
import { concatBytes as joinBytes } from "../../_util/bytes.ts";

/** Opcodes, as numbers. */
export const OP = {
  cont: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

const encoder = new TextEncoder();

/** Bytes of a string (UTF-8) or the bytes themselves. */
export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** Concatenates byte arrays into a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return joinBytes([new Uint8Array(0), ...parts]);
}

/** Parses hex ("ce ba" or "ceba") into bytes. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

/** Formats bytes as hex, shortened past `max` bytes. */
export function toHex(bytes: Uint8Array, max = 64): string {
  const shown = Array.from(
    bytes.subarray(0, max),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A frame to put on the wire, any bit pattern allowed. */
export interface FrameSpec {
  opcode: number;
  payload?: string | Uint8Array;
  /** @default true */
  fin?: boolean;
  /** The three RSV bits as a number 0-7 (RSV1 = 4). @default 0 */
  rsv?: number;
  /** Override the masking the sender's role implies. */
  mask?: boolean;
  /** The masking key. @default [0x37, 0xfa, 0x21, 0x3d] */
  maskKey?: readonly number[];
  /**
   * A length to announce instead of the payload's (a lie), or a raw 64-bit
   * length as a bigint (to set its most significant bit).
   */
  length?: number | bigint;
}

const DEFAULT_KEY = [0x37, 0xfa, 0x21, 0x3d];

/** Encodes one frame byte for byte as the spec says (masked if asked). */
export function encodeSpec(spec: FrameSpec, masked: boolean): Uint8Array {
  const payload = toBytes(spec.payload ?? new Uint8Array(0));
  const mask = spec.mask ?? masked;
  const announced = spec.length ?? payload.length;
  const big = typeof announced === "bigint";
  const n = big ? Number(announced) : announced;
  const lengthBytes = big || n > 0xffff ? 8 : n > 125 ? 2 : 0;
  const header = new Uint8Array(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = (spec.fin === false ? 0 : 0x80) | ((spec.rsv ?? 0) & 7) << 4 |
    (spec.opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  if (lengthBytes === 0) {
    header[1] = maskBit | n;
  } else if (lengthBytes === 2) {
    header[1] = maskBit | 126;
    header[2] = n >>> 8;
    header[3] = n & 0xff;
  } else {
    header[1] = maskBit | 127;
    let value = big ? announced as bigint : BigInt(n);
    for (let i = 9; i >= 2; i--) {
      header[i] = Number(value & 0xffn);
      value >>= 8n;
    }
  }
  if (!mask) return concatBytes([header, payload]);
  const key = spec.maskKey ?? DEFAULT_KEY;
  header.set(key, header.length - 4);
  const body = new Uint8Array(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i] ^ key[i & 3];
  return concatBytes([header, body]);
}

/** A close frame payload: code (if any) and reason. */
export function closePayload(
  code?: number,
  reason: string | Uint8Array = "",
): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = toBytes(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

// ---- UTF-8 -----------------------------------------------------------------

/** How far a byte string is valid UTF-8 (RFC 3629 section 4). */
export type Utf8Verdict =
  | { state: "valid" }
  | { state: "incomplete" }
  | { state: "invalid"; at: number };

/**
 * A UTF-8 validator that fails at the first byte no valid text could
 * contain: "incomplete" when the bytes are a valid prefix cut inside a code
 * point.
 */
export class Utf8Validator {
  #need = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #offset = 0;
  #failed = -1;

  /** Feeds bytes; returns the verdict so far. */
  push(bytes: Uint8Array): Utf8Verdict {
    if (this.#failed >= 0) return { state: "invalid", at: this.#failed };
    for (let i = 0; i < bytes.length; i++, this.#offset++) {
      const b = bytes[i];
      if (this.#need === 0) {
        if (b < 0x80) continue;
        this.#lower = 0x80;
        this.#upper = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) this.#need = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          this.#need = 2;
          if (b === 0xe0) this.#lower = 0xa0; // overlong
          if (b === 0xed) this.#upper = 0x9f; // surrogates
        } else if (b >= 0xf0 && b <= 0xf4) {
          this.#need = 3;
          if (b === 0xf0) this.#lower = 0x90; // overlong
          if (b === 0xf4) this.#upper = 0x8f; // beyond U+10FFFF
        } else {
          this.#failed = this.#offset;
          return { state: "invalid", at: this.#failed };
        }
      } else {
        if (b < this.#lower || b > this.#upper) {
          this.#failed = this.#offset;
          return { state: "invalid", at: this.#failed };
        }
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#need--;
      }
    }
    return this.#need === 0 ? { state: "valid" } : { state: "incomplete" };
  }
}

/** The verdict on a whole byte string. */
export function checkUtf8(bytes: Uint8Array): Utf8Verdict {
  return new Utf8Validator().push(bytes);
}

// ---- Frame reader ----------------------------------------------------------

/** A frame as read off the wire. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** What went wrong in a header, with the close code it calls for. */
export interface HeaderFault {
  code: 1002 | 1009;
  why: string;
}

/** Options of {@linkcode WireReader}. */
export interface WireReaderOptions {
  /** Masking the sender must use: true (client), false (server), or either. */
  expectMasked?: boolean;
  /** Largest payload before a 1009 (checked once the length is known). */
  maxPayload?: number;
  /**
   * Whether RSV1 may be set (permessage-deflate was negotiated); the reader
   * of the frames checks where. RSV2 and RSV3 are always refused.
   * @default false
   */
  allowRsv1?: boolean;
}

/** `length` payload bytes at `offset`, unmasked with the key before them. */
function unmask(
  buf: Uint8Array,
  offset: number,
  length: number,
  masked: boolean,
): Uint8Array {
  const payload = buf.slice(offset, offset + length);
  if (masked) {
    for (let i = 0; i < length; i++) payload[i] ^= buf[offset - 4 + (i & 3)];
  }
  return payload;
}

/**
 * Reads frames from a byte stream pushed in any split. Header rules are
 * checked in two steps: what the first two bytes show (reserved bits,
 * reserved opcodes, fragmented or long control frames, masking), then
 * what the extended length shows (its most significant bit, the size
 * limit). `fault` is set at the first broken rule and reading stops.
 */
export class WireReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #partialAt = -1; // where the payload of the frame under way starts
  #expectMasked: boolean | undefined;
  #reservedMask: number;
  /** Largest payload before a 1009. */
  maxPayload: number | undefined;
  /** Largest continuation payload before a 1009; may change between frames. */
  continuationLimit = Infinity;
  fault: HeaderFault | undefined;

  constructor(options: WireReaderOptions = {}) {
    this.#expectMasked = options.expectMasked;
    this.#reservedMask = options.allowRsv1 ? 3 : 7;
    this.maxPayload = options.maxPayload;
  }

  /** Bytes held that are not yet part of a returned frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Adds bytes. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#buffer = this.#buffer.length === 0
      ? bytes.slice()
      : concatBytes([this.#buffer, bytes]);
  }

  /**
   * After `next()` returned undefined without a fault: the frame under way
   * whose header is whole and some of whose payload has arrived, with that
   * much of its payload (unmasked), or undefined.
   */
  get partial(): WireFrame | undefined {
    const at = this.#partialAt;
    const buf = this.#buffer;
    if (at < 0 || buf.length <= at) return undefined;
    const masked = (buf[1] & 0x80) !== 0;
    return {
      fin: (buf[0] & 0x80) !== 0,
      rsv: (buf[0] >> 4) & 7,
      opcode: buf[0] & 0x0f,
      masked,
      payload: unmask(buf, at, buf.length - at, masked),
    };
  }

  /** The next complete frame, or undefined (see `fault`). */
  next(): WireFrame | undefined {
    this.#partialAt = -1;
    if (this.fault) return undefined;
    const buf = this.#buffer;
    if (buf.length < 2) return undefined;
    const fin = (buf[0] & 0x80) !== 0;
    const rsv = (buf[0] >> 4) & 7;
    const opcode = buf[0] & 0x0f;
    const masked = (buf[1] & 0x80) !== 0;
    const len7 = buf[1] & 0x7f;
    const control = opcode >= 8;
    const expect = this.#expectMasked;
    let why: string | undefined;
    if ((rsv & this.#reservedMask) !== 0) why = "reserved bits set";
    else if ((opcode >= 3 && opcode <= 7) || opcode >= 11) {
      why = `reserved opcode ${opcode}`;
    } else if (control && !fin) why = "fragmented control frame";
    else if (control && len7 > 125) why = "control frame over 125 bytes";
    else if (expect !== undefined && masked !== expect) {
      why = masked ? "masked frame" : "unmasked frame";
    }
    if (why) {
      this.fault = { code: 1002, why };
      return undefined;
    }
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerSize = 2 + extra + (masked ? 4 : 0);
    if (buf.length < headerSize) return undefined;
    let length: number;
    if (extra === 0) length = len7;
    else if (extra === 2) length = buf[2] << 8 | buf[3];
    else {
      if (buf[2] & 0x80) {
        this.fault = { code: 1002, why: "64-bit length with the top bit set" };
        return undefined;
      }
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + buf[i];
    }
    const max = this.maxPayload;
    if (max !== undefined && length > max) {
      this.fault = { code: 1009, why: `frame of ${length} bytes` };
      return undefined;
    }
    if (opcode === OP.cont && length > this.continuationLimit) {
      this.fault = { code: 1009, why: `fragment of ${length} bytes` };
      return undefined;
    }
    if (buf.length < headerSize + length) {
      // Made on demand (see partial): readers of large frames never ask.
      this.#partialAt = headerSize;
      return undefined;
    }
    const payload = buf.slice(headerSize, headerSize + length);
    if (masked) {
      const k = headerSize - 4;
      for (let i = 0; i < length; i++) payload[i] ^= buf[k + (i & 3)];
    }
    this.#buffer = buf.subarray(headerSize + length);
    return { fin, rsv, opcode, masked, payload };
  }
}

// ---- Sec-WebSocket-Extensions ----------------------------------------------

/** One element of a `Sec-WebSocket-Extensions` list. */
export interface ExtensionElement {
  /** The name, in lower case. */
  name: string;
  /** Parameters in order (lower-case names; true for no value). */
  params: [string, string | true][];
}

/**
 * Reads a `Sec-WebSocket-Extensions` value (RFC 6455 section 9.1) the
 * simple way: elements split at commas, parameters at semicolons, values
 * after `=` unquoted. Enough for the headers the suite exchanges; undefined
 * for a syntax error (an empty name, an empty value, a stray quote).
 */
export function parseExtensionList(
  value: string,
): ExtensionElement[] | undefined {
  const elements: ExtensionElement[] = [];
  const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  for (const part of value.split(",")) {
    if (part.trim() === "") continue;
    const [name, ...rest] = part.split(";").map((s) => s.trim());
    if (!token.test(name)) return undefined;
    const params: [string, string | true][] = [];
    for (const param of rest) {
      const eq = param.indexOf("=");
      if (eq < 0) {
        if (!token.test(param)) return undefined;
        params.push([param.toLowerCase(), true]);
        continue;
      }
      const key = param.slice(0, eq).trim();
      let v = param.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
        v = v.slice(1, -1);
      }
      if (!token.test(key) || !token.test(v)) return undefined;
      params.push([key.toLowerCase(), v]);
    }
    elements.push({ name: name.toLowerCase(), params });
  }
  return elements;
}

// ---- Reference endpoint ----------------------------------------------------

/** Close codes that may appear in a close frame, as this library reads them. */
export function isSendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** An event a receiving endpoint reports. */
export type RefEvent =
  | { type: "message"; data: string | Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string };

/** A frame a receiving endpoint must answer with. */
export type RefReply =
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason?: Uint8Array };

/** What a receiving endpoint must make of a byte stream. */
export interface RefOutcome {
  events: RefEvent[];
  replies: RefReply[];
  /** The close code the endpoint must fail with, if it must. */
  failCode?: number;
  /** Why it must fail. */
  why?: string;
  /** Whether the peer's close frame arrived. */
  closeReceived: boolean;
}

const strictText = new TextDecoder("utf-8", { fatal: true });

/** Options of {@linkcode referenceReceive}. */
export interface ReferenceOptions {
  role: "client" | "server";
  maxMessageSize: number;
  /**
   * Whether a continuation frame's header is refused (1009) as soon as it
   * announces more than is left of the message's allowance, rather than
   * once its payload is in. Both are correct; the early check keeps a
   * doomed payload out of memory.
   * @default false
   */
  earlySizeCheck?: boolean;
}

/**
 * The reference model: what an RFC 6455 endpoint (no extensions) must do
 * with `bytes` received from its peer. Pure, and run on whole prefixes, so
 * it is simple rather than fast.
 */
export function referenceReceive(
  bytes: Uint8Array,
  options: ReferenceOptions,
): RefOutcome {
  const reader = new WireReader({
    expectMasked: options.role === "server",
    maxPayload: options.maxMessageSize,
  });
  reader.push(bytes);
  const events: RefEvent[] = [];
  const replies: RefReply[] = [];
  const fail = (code: number, why: string): RefOutcome => ({
    events,
    replies,
    failCode: code,
    why,
    closeReceived: false,
  });
  let messageOpcode = 0;
  let parts: Uint8Array[] = [];
  let size = 0;
  let utf8: Utf8Validator | undefined;
  for (let frame = reader.next(); frame; frame = reader.next()) {
    const { opcode, payload } = frame;
    if (opcode === OP.ping) {
      events.push({ type: "ping", data: payload });
      replies.push({ type: "pong", data: payload });
      continue;
    }
    if (opcode === OP.pong) {
      events.push({ type: "pong", data: payload });
      continue;
    }
    if (opcode === OP.close) {
      if (payload.length === 1) return fail(1002, "1-byte close payload");
      if (payload.length === 0) {
        events.push({ type: "close", code: 1005, reason: "" });
        replies.push({ type: "close", code: 1005 });
        return { events, replies, closeReceived: true };
      }
      const code = payload[0] << 8 | payload[1];
      if (!isSendableCode(code)) return fail(1002, `close code ${code}`);
      const reasonBytes = payload.subarray(2);
      if (checkUtf8(reasonBytes).state !== "valid") {
        return fail(1007, "invalid UTF-8 in the close reason");
      }
      events.push({
        type: "close",
        code,
        reason: strictText.decode(reasonBytes),
      });
      replies.push({ type: "close", code, reason: reasonBytes });
      return { events, replies, closeReceived: true };
    }
    if (opcode === OP.cont) {
      if (messageOpcode === 0) return fail(1002, "continuation of nothing");
    } else {
      if (messageOpcode !== 0) return fail(1002, "new message inside one");
      messageOpcode = opcode;
      parts = [];
      size = 0;
      utf8 = opcode === OP.text ? new Utf8Validator() : undefined;
    }
    size += payload.length;
    if (size > options.maxMessageSize) return fail(1009, "message too big");
    parts.push(payload);
    if (utf8) {
      const verdict = utf8.push(payload);
      if (
        verdict.state === "invalid" ||
        (frame.fin && verdict.state === "incomplete")
      ) {
        return fail(1007, "invalid UTF-8");
      }
    }
    if (options.earlySizeCheck) {
      reader.continuationLimit = frame.fin
        ? Infinity
        : options.maxMessageSize - size;
    }
    if (frame.fin) {
      const data = concatBytes(parts);
      events.push({
        type: "message",
        data: messageOpcode === OP.text ? strictText.decode(data) : data,
      });
      messageOpcode = 0;
      parts = [];
    }
  }
  if (reader.fault) return fail(reader.fault.code, reader.fault.why);
  // A text frame under way is judged on what has arrived of it: invalid
  // UTF-8 fails at once, as does a new text frame inside a message.
  const partial = reader.partial;
  if (partial && partial.rsv === 0) {
    if (partial.opcode === OP.text && messageOpcode !== 0) {
      return fail(1002, "new message inside one");
    }
    const text = partial.opcode === OP.text ||
      (partial.opcode === OP.cont && messageOpcode === OP.text);
    const before = partial.opcode === OP.text ? [] : parts;
    if (
      text &&
      checkUtf8(concatBytes([...before, partial.payload])).state === "invalid"
    ) {
      return fail(1007, "invalid UTF-8 inside a frame");
    }
  }
  return { events, replies, closeReceived: false };
}

// ---- Sockets ---------------------------------------------------------------

/** Writes all of `bytes`. */
export async function writeFully(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/** Splits bytes into pieces of `size` (the last may be shorter). */
export function chop(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(bytes.subarray(i, i + size));
  }
  return out;
}

/**
 * Reads an HTTP head (up to the blank line) from a socket; returns its text
 * and the bytes read after it. Null when the socket ends first.
 */
export async function readHttpHead(
  conn: Deno.Conn,
  limit = 64 * 1024,
): Promise<{ head: string; rest: Uint8Array } | null> {
  let buffer: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (buffer.length < limit) {
    const n = await conn.read(chunk);
    if (n === null) return null;
    buffer = concatBytes([buffer, chunk.subarray(0, n)]);
    for (let i = 0; i + 3 < buffer.length; i++) {
      if (
        buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 &&
        buffer[i + 3] === 10
      ) {
        let head = "";
        for (let j = 0; j < i + 4; j++) head += String.fromCharCode(buffer[j]);
        return { head, rest: buffer.slice(i + 4) };
      }
    }
  }
  return null;
}

/** The Sec-WebSocket-Accept for a key, computed here with Web Crypto. */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}
