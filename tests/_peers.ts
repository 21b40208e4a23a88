// Test helpers for peers that do things by hand: raw frames over a
// transport, raw HTTP over TCP, and servers and clients that misbehave.

import type { Transport } from "../conn.ts";
import { concatBytes } from "../_util/bytes.ts";
import { encodeFrame, type Frame, FrameDecoder, Opcode } from "../frame.ts";
import {
  computeAccept,
  createClientKey,
  HeadReader,
  type HeadResult,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "../handshake.ts";

export const encoder: TextEncoder = new TextEncoder();
export const decoder: TextDecoder = new TextDecoder();

/**
 * Whether a promise is still unsettled after the event loop has turned
 * `turns` times (each turn runs every queued microtask and due callback).
 */
export async function isPending(
  promise: Promise<unknown>,
  turns = 20,
): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let i = 0; i < turns && !settled; i++) {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
  return !settled;
}

/** Writes all of `bytes`. */
export async function writeAll(
  transport: Transport,
  bytes: Uint8Array | string,
): Promise<void> {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let offset = 0;
  while (offset < data.length) {
    offset += await transport.write(data.subarray(offset));
  }
}

/** Reads until the end of the stream (or a reset); returns every byte. */
export async function readToEnd(transport: Transport): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const buffer = new Uint8Array(64 * 1024);
      const n = await transport.read(buffer);
      if (n === null) break;
      parts.push(buffer.subarray(0, n));
      total += n;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
  return concatBytes(parts, total);
}

/** Reads one HTTP head from a transport. */
export async function readHead(
  transport: Transport,
  initial?: Uint8Array,
): Promise<HeadResult> {
  const reader = new HeadReader(1024 * 1024);
  if (initial) {
    const done = reader.push(initial);
    if (done) return done;
  }
  while (true) {
    const buffer = new Uint8Array(4096);
    const n = await transport.read(buffer);
    if (n === null) throw new Error("Connection closed before an HTTP head");
    const done = reader.push(buffer.subarray(0, n));
    if (done) return done;
  }
}

/** Reads frames from a transport, as a client or a server would. */
export class FrameReader {
  #transport: Transport;
  #decoder: FrameDecoder;
  #eof = false;

  /**
   * @param transport Where to read.
   * @param role The role of the reading end (a "server" expects masks).
   * @param initial Bytes already read after the handshake.
   */
  constructor(
    transport: Transport,
    role: "client" | "server",
    initial?: Uint8Array,
  ) {
    this.#transport = transport;
    this.#decoder = new FrameDecoder({ role });
    if (initial) this.#decoder.push(initial.slice());
  }

  /** The next frame, or null at the end of the stream. */
  async next(): Promise<Frame | null> {
    while (true) {
      const frame = this.#decoder.next();
      if (frame) return frame;
      if (this.#eof) return null;
      const buffer = new Uint8Array(64 * 1024);
      const n = await this.#transport.read(buffer);
      if (n === null) this.#eof = true;
      else this.#decoder.push(buffer.subarray(0, n));
    }
  }

  /** The next frame, which must exist. */
  async expect(): Promise<Frame> {
    const frame = await this.next();
    if (frame === null) throw new Error("Expected a frame, got end of stream");
    return frame;
  }

  /** Reads frames until a close frame; returns its code and reason. */
  async expectClose(): Promise<{ code: number; reason: string }> {
    while (true) {
      const frame = await this.expect();
      if (frame.opcode === Opcode.Close) return parseClose(frame.payload);
    }
  }
}

/** A close frame's payload. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = encoder.encode(reason);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}

/** Reads a close frame's payload. */
export function parseClose(
  payload: Uint8Array,
): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  return {
    code: (payload[0] << 8) | payload[1],
    reason: decoder.decode(payload.subarray(2)),
  };
}

/** Encodes one frame as the given role sends it (a client masks). */
export function frame(
  role: "client" | "server",
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  fin = true,
): Uint8Array {
  return encodeFrame({
    opcode,
    fin,
    payload: typeof payload === "string" ? encoder.encode(payload) : payload,
  }, { mask: role === "client" });
}

// ---- Raw HTTP --------------------------------------------------------

/** A response as a raw client saw it. */
export interface RawResponse extends ResponseHead {
  /** The body, up to the end of the stream. */
  body: string;
}

/**
 * Connects to 127.0.0.1:`port`, writes `request` (then a FIN if asked),
 * reads until the server closes and parses the response.
 */
export async function httpExchange(
  port: number,
  request: string | Uint8Array,
  options: { closeWrite?: boolean } = {},
): Promise<RawResponse> {
  using socket = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(socket, request);
  if (options.closeWrite) await socket.closeWrite();
  const bytes = await readToEnd(socket);
  const reader = new HeadReader(1024 * 1024);
  const done = reader.push(bytes);
  if (!done) throw new Error("No HTTP head in the response");
  return { ...parseResponseHead(done.head), body: decoder.decode(done.rest) };
}

/** The lines of a valid upgrade request, to be changed by tests. */
export function upgradeLines(
  port: number,
  key: string = createClientKey(),
): string[] {
  return [
    "GET /chat HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
}

/** Joins head lines into a request head. */
export function head(lines: string[]): string {
  return lines.join("\r\n") + "\r\n\r\n";
}

/** A raw client socket past its opening handshake. */
export interface RawClient extends Disposable {
  socket: Deno.TcpConn;
  response: ResponseHead;
  frames: FrameReader;
}

/**
 * Connects a raw client, sends a valid upgrade request and reads the 101.
 * Frames the server sends are read with `frames`; the client writes its own.
 */
export async function rawClient(
  port: number,
  extraHeaders: string[] = [],
): Promise<RawClient> {
  const socket = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(socket, head([...upgradeLines(port), ...extraHeaders]));
    const { head: bytes, rest } = await readHead(socket);
    const response = parseResponseHead(bytes);
    if (response.status !== 101) {
      throw new Error(`Expected 101, got ${response.status}`);
    }
    return {
      socket,
      response,
      frames: new FrameReader(socket, "client", rest),
      [Symbol.dispose]() {
        try {
          socket.close();
        } catch {
          // Already closed.
        }
      },
    };
  } catch (error) {
    socket.close();
    throw error;
  }
}

/** A raw server that runs a script on each accepted socket. */
export interface RawServer extends AsyncDisposable {
  port: number;
  url: string;
  /** Settles when the scripts have run (and rejects if one threw). */
  done: Promise<void>;
}

/**
 * Listens on a free loopback port and runs `script` on the first `count`
 * sockets accepted, closing each socket after its script.
 */
export function rawServer(
  script: (socket: Deno.TcpConn) => Promise<void>,
  count = 1,
): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const done = (async () => {
    const runs: Promise<void>[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const socket = await listener.accept();
        runs.push((async () => {
          try {
            await script(socket);
          } finally {
            try {
              socket.close();
            } catch {
              // Already closed by the script.
            }
          }
        })());
      }
    } finally {
      listener.close();
    }
    await Promise.all(runs);
  })();
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    done,
    async [Symbol.asyncDispose]() {
      await done;
    },
  };
}

/** Reads a client's upgrade request. */
export async function readRequest(
  socket: Transport,
): Promise<{ request: RequestHead; rest: Uint8Array }> {
  const { head: bytes, rest } = await readHead(socket);
  return { request: parseRequestHead(bytes), rest };
}

/** The head of a correct 101 response to `request`, plus `extra` lines. */
export async function switchingProtocols(
  request: RequestHead,
  extra: string[] = [],
): Promise<string> {
  const key = request.headers.get("sec-websocket-key") ?? "";
  return head([
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${await computeAccept(key)}`,
    ...extra,
  ]);
}

/**
 * Runs the closing handshake from a raw client: sends a close frame, reads
 * up to the server's, then to the end of the stream (the server closes the
 * TCP connection first). Returns the server's close code and reason.
 */
export async function rawClose(
  raw: RawClient,
  code = 1000,
  reason = "",
): Promise<{ code: number; reason: string }> {
  await writeAll(
    raw.socket,
    frame("client", Opcode.Close, closePayload(code, reason)),
  );
  const answer = await raw.frames.expectClose();
  const rest = await raw.frames.next();
  if (rest !== null) throw new Error("Expected the end of the stream");
  return answer;
}
