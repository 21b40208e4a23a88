// The conformance harness: plays the Autobahn fuzzing peer against this
// library over loopback. Against serve() it is the fuzzing client (a raw
// socket that sends masked frames byte for byte); against dial() it is the
// fuzzing server (a raw listener that answers the upgrade by hand and sends
// unmasked frames). Either way it records what the library sends back,
// checks every frame it receives, and grades each case the way Autobahn
// does: OK (strict), NON-STRICT (an acceptable, weaker behaviour) or FAILED.

import { dial } from "../../client.ts";
import type { CloseInfo, Conn } from "../../conn.ts";
import { ConnectionClosedError } from "../../errors.ts";
import type { PerMessageDeflateOptions } from "../../extensions/permessage_deflate.ts";
import { serve, type WebSocketServer } from "../../server.ts";
import {
  acceptFor,
  chop,
  closePayload,
  concatBytes,
  encodeSpec,
  type FrameSpec,
  isSendableCode,
  OP,
  readHttpHead,
  sameBytes,
  toBytes,
  toHex,
  Utf8Validator,
  WireReader,
  writeFully,
} from "./wire.ts";

/** The role of the library under test. */
export type Role = "server" | "client";

/** Something the library sent: a message, a pong, or a ping. */
export interface Ev {
  kind: "text" | "binary" | "pong" | "ping";
  data: Uint8Array;
}

/** A text message event. */
export function text(data: string | Uint8Array): Ev {
  return { kind: "text", data: toBytes(data) };
}
/** A binary message event. */
export function binary(data: string | Uint8Array): Ev {
  return { kind: "binary", data: toBytes(data) };
}
/** A pong event. */
export function pong(data: string | Uint8Array = ""): Ev {
  return { kind: "pong", data: toBytes(data) };
}

/** One step of a case's script. */
export type Action =
  /**
   * Frames, in one write, one write per frame, or chopped into n bytes.
   * With `payload`, only part of one frame goes out: its bytes from payload
   * offset `from` (0 includes the header) to `to`.
   */
  | {
    send: FrameSpec[];
    write?: "together" | "framewise" | number;
    payload?: { from: number; to: number };
  }
  /** Wait until the library has sent `n` events (a sync point, bounded). */
  | { await: number }
  /**
   * A fail-fast point: the library should have failed the connection by
   * now. Wait (bounded) for its close; if it comes, the rest of the script
   * is skipped; if not, the case is at best NON-STRICT.
   */
  | { awaitFailure: true; ms?: number }
  /** Half-close: send our FIN. */
  | { halfClose: true };

/** What the library must do. */
export interface Expectation {
  /**
   * - `echo`: the events, then a clean close when we close with 1000.
   * - `close`: the events, then a close frame with one of `codes` (we sent
   *   a close frame in the script), then a clean close.
   * - `fail`: the events, then the library fails the connection: a close
   *   frame with one of `codes`, or the TCP connection dropped.
   */
  outcome: "echo" | "close" | "fail";
  /** The events expected before the close (strict). @default [] */
  events?: Ev[];
  /** Other event lists that are fine (Autobahn's INFORMATIONAL cases). */
  alsoOk?: Ev[][];
  /** Event lists that are acceptable but NON-STRICT. */
  nonStrict?: Ev[][];
  /** Acceptable close codes (close and fail). 1005 means an empty close. */
  codes?: number[];
}

/** One conformance case. */
export interface Case {
  /** The Autobahn case number; an `x` marks a case Autobahn does not have. */
  id: string;
  title: string;
  actions: Action[];
  expect: Expectation;
  /** Bound on the whole case, in milliseconds. @default 5000 */
  timeout?: number;
  /** Only for one role (a rule that is the client's or the server's). */
  only?: Role;
  /** How the connection is opened (extension negotiation). */
  open?: OpenOptions;
}

/** How a target opens a connection: what is offered and answered. */
export interface OpenOptions {
  /** Server role: the `Sec-WebSocket-Extensions` lines of our request. */
  offer?: string[];
  /** Client role: dial()'s `compression` option. */
  compression?: boolean | PerMessageDeflateOptions;
  /** Client role: dial()'s `maxMessageSize`. @default 64 MiB */
  maxMessageSize?: number;
  /**
   * Client role: our `Sec-WebSocket-Extensions` answer to the client's
   * offer (null when it offered nothing); undefined answers without one.
   */
  answer?: (offer: string | null) => string | undefined;
}

/**
 * A case's grade. `unimplemented` is Autobahn's grade for a compression case
 * whose offer the library declines (its messages still echo uncompressed).
 */
export type Grade = "passed" | "non-strict" | "unimplemented" | "failed";

/** The result of one case. */
export interface CaseResult {
  grade: Grade;
  detail: string;
  ms: number;
}

/** How long a fail-fast point waits for the close before moving on. */
export const FAIL_FAST_MS = 2000;

/** The library's side of one connection. */
export interface Opened {
  socket: Deno.TcpConn;
  rest: Uint8Array;
  /** The HTTP head we read: the server's response or the client's request. */
  head: string;
  /** Client role: the `Sec-WebSocket-Extensions` we answered with. */
  answered?: string;
  /** The extensions the library's connection reports. */
  extensions: string;
  /** Resolves with how the library's connection ended. */
  closed: Promise<CloseInfo>;
  /** Errors the library's side raised that a peer must never cause. */
  problems: () => string[];
  /** Drops the library's side (after a hang). */
  abort: () => void;
}

/** A library endpoint to run cases against. */
export interface Target extends AsyncDisposable {
  readonly role: Role;
  open(signal: AbortSignal, options?: OpenOptions): Promise<Opened>;
}

/** Options of {@linkcode ServerTarget}. */
export interface ServerTargetOptions {
  /** serve()'s `compression`. @default undefined (off) */
  compression?: boolean | PerMessageDeflateOptions;
  /** serve()'s `maxMessageSize`. @default 64 MiB */
  maxMessageSize?: number;
}

/** The value of a header in an HTTP head (repeated lines joined with ", "). */
export function headerValue(head: string, name: string): string | null {
  const values: string[] = [];
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) {
      values.push(line.slice(colon + 1).trim());
    }
  }
  return values.length > 0 ? values.join(", ") : null;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(
    error,
  );
}

/** An echo server from serve(), with each connection found by peer port. */
export class ServerTarget implements Target {
  readonly role = "server" as const;
  readonly server: WebSocketServer;
  readonly errors: unknown[] = [];
  #waiting = new Map<number, PromiseWithResolvers<Conn>>();

  constructor(options: ServerTargetOptions = {}) {
    this.server = serve({
      hostname: "127.0.0.1",
      port: 0,
      maxMessageSize: options.maxMessageSize ?? 64 * 1024 * 1024,
      compression: options.compression,
      closeTimeout: 3000,
      handshakeTimeout: 3000,
      onListen: () => {},
      onError: (error) => this.errors.push(error),
    }, async (conn) => {
      this.#slot((conn.remoteAddr as Deno.NetAddr).port).resolve(conn);
      for await (const message of conn) await conn.send(message);
    });
  }

  #slot(port: number): PromiseWithResolvers<Conn> {
    let slot = this.#waiting.get(port);
    if (!slot) {
      slot = Promise.withResolvers<Conn>();
      this.#waiting.set(port, slot);
    }
    return slot;
  }

  async open(signal: AbortSignal, options: OpenOptions = {}): Promise<Opened> {
    const socket = await Deno.connect({
      hostname: "127.0.0.1",
      port: this.server.addr.port,
    });
    try {
      socket.setNoDelay(true);
      const key = "dGhlIHNhbXBsZSBub25jZQ==";
      const offer = (options.offer ?? []).map((line) =>
        `Sec-WebSocket-Extensions: ${line}\r\n`
      ).join("");
      await writeFully(
        socket,
        toBytes(
          `GET /autobahn HTTP/1.1\r\nHost: 127.0.0.1:${this.server.addr.port}\r\n` +
            `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            `${offer}\r\n`,
        ),
      );
      const head = await readHttpHead(socket);
      if (!head || !head.head.startsWith("HTTP/1.1 101 ")) {
        throw new Error(`Upgrade refused: ${head?.head.split("\r\n")[0]}`);
      }
      const accept = /\r\nsec-websocket-accept: *([^\r]*)\r\n/i.exec(
        head.head,
      )?.[1];
      if (accept !== await acceptFor(key)) {
        throw new Error("Upgrade answered with a wrong Sec-WebSocket-Accept");
      }
      const port = socket.localAddr.port;
      const slot = this.#slot(port);
      const conn = await Promise.race([
        slot.promise,
        new Promise<never>((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), {
            once: true,
          });
        }),
      ]);
      this.#waiting.delete(port);
      const seen = this.errors.length;
      return {
        socket,
        rest: head.rest,
        head: head.head,
        extensions: conn.extensions,
        closed: conn.closed,
        problems: () => this.errors.slice(seen).map(describeError),
        abort: () => conn.abort(),
      };
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.server.shutdown();
  }
}

/** A 101 answer to a key, with `Sec-WebSocket-Extensions` when given. */
export async function upgradeResponse(
  key: string,
  extensions?: string,
): Promise<Uint8Array> {
  return toBytes(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptFor(
        key,
      )}\r\n` +
      (extensions === undefined
        ? ""
        : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      "\r\n",
  );
}

/** A listener that dial() connects to; each connection echoes what it reads. */
export class ClientTarget implements Target {
  readonly role = "client" as const;
  readonly listener: Deno.TcpListener = Deno.listen({
    hostname: "127.0.0.1",
    port: 0,
  });

  async open(_signal: AbortSignal, options: OpenOptions = {}): Promise<Opened> {
    const port = this.listener.addr.port;
    const dialing = dial(`ws://127.0.0.1:${port}/autobahn`, {
      closeTimeout: 3000,
      handshakeTimeout: 3000,
      compression: options.compression,
      maxMessageSize: options.maxMessageSize ?? 64 * 1024 * 1024,
    });
    dialing.catch(() => {});
    const socket = await this.listener.accept();
    try {
      socket.setNoDelay(true);
      const request = await readHttpHead(socket);
      const key = request &&
        /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(request.head)?.[1];
      if (!request || !key) throw new Error("No upgrade request");
      const answered = options.answer?.(
        headerValue(request.head, "sec-websocket-extensions"),
      );
      await writeFully(socket, await upgradeResponse(key, answered));
      const conn = await dialing;
      const problems: string[] = [];
      const echo = (async () => {
        try {
          for await (const message of conn) await conn.send(message);
        } catch (error) {
          if (!(error instanceof ConnectionClosedError)) {
            problems.push(describeError(error));
          }
        }
      })();
      return {
        socket,
        rest: request.rest,
        head: request.head,
        answered,
        extensions: conn.extensions,
        closed: Promise.all([conn.closed, echo]).then(([info]) => info),
        problems: () => problems,
        abort: () => conn.abort(),
      };
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.listener.close();
    return Promise.resolve();
  }
}

/** The peer's view of one connection: everything the library sent. */
class Session {
  readonly events: Ev[] = [];
  readonly violations: string[] = [];
  /** The library's close frame: its code (undefined when empty). */
  close: { code: number | undefined; reason: Uint8Array } | undefined;
  eof = false;
  readError: unknown;
  #socket: Deno.TcpConn;
  #reader: WireReader;
  #message: { kind: "text" | "binary"; parts: Uint8Array[] } | undefined;
  #utf8: Utf8Validator | undefined;
  #waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(socket: Deno.TcpConn, role: Role, rest: Uint8Array) {
    this.#socket = socket;
    this.#reader = new WireReader({ expectMasked: role === "client" });
    this.done = this.#loop(rest);
  }

  get ended(): boolean {
    return this.close !== undefined || this.eof;
  }

  async #loop(rest: Uint8Array): Promise<void> {
    this.#feed(rest);
    try {
      while (true) {
        const buffer = new Uint8Array(256 * 1024);
        const n = await this.#socket.read(buffer);
        if (n === null) break;
        this.#feed(buffer.subarray(0, n));
      }
    } catch (error) {
      // Our own close ends the read with BadResource; a reset is an end too.
      this.readError = error;
    }
    this.eof = true;
    this.#notify();
  }

  #feed(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#reader.push(bytes);
    for (let frame = this.#reader.next(); frame; frame = this.#reader.next()) {
      this.#onFrame(frame.fin, frame.opcode, frame.payload);
    }
    if (this.#reader.fault) {
      this.#violation(`sent a bad frame: ${this.#reader.fault.why}`);
    }
    this.#notify();
  }

  #violation(why: string): void {
    if (this.violations.length < 5) this.violations.push(why);
  }

  #onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    if (this.close) {
      this.#violation(`sent a frame (opcode ${opcode}) after its close frame`);
      return;
    }
    switch (opcode) {
      case OP.ping:
        this.events.push({ kind: "ping", data: payload });
        return;
      case OP.pong:
        this.events.push({ kind: "pong", data: payload });
        return;
      case OP.close: {
        if (payload.length === 1) this.#violation("sent a 1-byte close frame");
        const code = payload.length >= 2
          ? payload[0] << 8 | payload[1]
          : undefined;
        if (code !== undefined && !isSendableCode(code)) {
          this.#violation(`sent close code ${code}`);
        }
        const reason = payload.subarray(2);
        if (new Utf8Validator().push(reason).state !== "valid") {
          this.#violation("sent a close reason that is not UTF-8");
        }
        this.close = { code, reason };
        return;
      }
      case OP.cont:
        if (!this.#message) {
          this.#violation("sent a continuation frame outside a message");
          return;
        }
        break;
      default:
        if (this.#message) {
          this.#violation("started a message inside another one");
        }
        this.#message = {
          kind: opcode === OP.text ? "text" : "binary",
          parts: [],
        };
        this.#utf8 = opcode === OP.text ? new Utf8Validator() : undefined;
    }
    const message = this.#message!;
    message.parts.push(payload);
    const verdict = this.#utf8?.push(payload);
    if (
      verdict &&
      (verdict.state === "invalid" || (fin && verdict.state === "incomplete"))
    ) {
      this.#violation("sent a text message that is not UTF-8");
    }
    if (fin) {
      this.events.push({
        kind: message.kind,
        data: concatBytes(message.parts),
      });
      this.#message = undefined;
    }
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves true once `predicate` holds, false after `ms`. */
  waitUntil(predicate: () => boolean, ms: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(false), ms);
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(value);
      };
      this.#waiters.add(check);
    });
  }
}

function encodeAll(
  frames: FrameSpec[],
  masked: boolean,
  write: "together" | "framewise" | number | undefined,
): Uint8Array[] {
  const encoded = frames.map((frame) => encodeSpec(frame, masked));
  if (write === "framewise") return encoded;
  const joined = concatBytes(encoded);
  return typeof write === "number" ? chop(joined, write) : [joined];
}

function describeEvents(events: Ev[]): string {
  if (events.length === 0) return "nothing";
  return events.map((e) => `${e.kind}(${toHex(e.data, 16)})`).join(", ");
}

function sameEvents(a: Ev[], b: Ev[]): boolean {
  return a.length === b.length &&
    a.every((e, i) => e.kind === b[i].kind && sameBytes(e.data, b[i].data));
}

/** The promise's value, or "timeout" after `ms`. */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(ms, 1));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs one case against a target and grades it. Never throws for the
 * library's misbehaviour: that is a FAILED grade with the reason.
 */
export async function runCase(c: Case, target: Target): Promise<CaseResult> {
  const started = performance.now();
  const timeout = c.timeout ?? 5000;
  const left = () => timeout - (performance.now() - started);
  const result = (grade: Grade, detail: string): CaseResult => ({
    grade,
    detail,
    ms: Math.round(performance.now() - started),
  });
  const controller = new AbortController();
  const opening = target.open(controller.signal, c.open);
  const opened = await withTimeout(opening, left());
  if (opened === "timeout") {
    controller.abort(new Error("Opening timed out"));
    opening.then((o) => {
      o.socket.close();
      o.abort();
    }, () => {});
    return result("failed", "the opening handshake did not complete");
  }
  const { socket } = opened;
  const session = new Session(socket, target.role, opened.rest);
  // We are the other end: a client masks, a server does not.
  const masked = target.role === "server";
  const problems: string[] = [];
  let missedFailFast = false;
  const send = async (chunks: Uint8Array[]) => {
    for (const chunk of chunks) {
      try {
        await writeFully(socket, chunk);
      } catch (error) {
        // Writing into a connection the library has already dropped.
        if (!session.ended) problems.push(`write failed: ${error}`);
        return;
      }
    }
  };
  let socketClosed = false;
  const closeSocket = () => {
    if (!socketClosed) {
      socketClosed = true;
      socket.close();
    }
  };
  try {
    for (const action of c.actions) {
      if ("send" in action && action.payload) {
        const frame = encodeSpec(action.send[0], masked);
        const header = frame.length -
          toBytes(action.send[0].payload ?? "").length;
        const { from, to } = action.payload;
        await send([
          frame.subarray(from === 0 ? 0 : header + from, header + to),
        ]);
      } else if ("send" in action) {
        await send(encodeAll(action.send, masked, action.write));
      } else if ("await" in action) {
        const ok = await session.waitUntil(
          () => session.events.length >= action.await || session.ended,
          left(),
        );
        if (!ok) {
          return result(
            "failed",
            `timed out waiting for ${action.await} events; got ${
              describeEvents(session.events)
            }`,
          );
        }
      } else if ("awaitFailure" in action) {
        const ok = await session.waitUntil(
          () => session.ended,
          Math.min(action.ms ?? FAIL_FAST_MS, left()),
        );
        if (ok) break;
        missedFailFast = true;
      } else {
        await socket.closeWrite().catch(() => {});
      }
    }
    const expect = c.expect;
    const expected = expect.events ?? [];
    if (expect.outcome === "echo") {
      const ok = await session.waitUntil(
        () => session.events.length >= expected.length || session.ended,
        left(),
      );
      if (!ok) {
        return result(
          "failed",
          `hung: expected ${describeEvents(expected)}, got ${
            describeEvents(session.events)
          }`,
        );
      }
      if (!session.ended) {
        await send([
          encodeSpec({ opcode: OP.close, payload: closePayload(1000) }, masked),
        ]);
      }
    }
    if (!await session.waitUntil(() => session.ended, left())) {
      return result(
        "failed",
        `hung: no close frame and no TCP close; got ${
          describeEvents(session.events)
        }`,
      );
    }
    // The server closes TCP first; a client that failed the connection
    // closes it too. A client that completed the handshake waits for us.
    const waitsForUs = target.role === "client" && expect.outcome !== "fail" &&
      session.close !== undefined;
    if (!waitsForUs && !await session.waitUntil(() => session.eof, left())) {
      return result(
        "failed",
        "did not close the TCP connection after its close frame",
      );
    }
    closeSocket();
    await session.done;
    const info = await withTimeout(opened.closed, left());
    if (info === "timeout") {
      opened.abort();
      return result("failed", "its connection did not end");
    }
    problems.push(...opened.problems(), ...session.violations);
    if (problems.length > 0) return result("failed", problems.join("; "));

    const close = session.close;
    const sentCode = expect.outcome === "echo" ? 1000 : undefined;
    if (expect.outcome === "echo" || expect.outcome === "close") {
      const codes = sentCode !== undefined ? [sentCode] : expect.codes ?? [];
      if (!close) {
        return result("failed", "dropped TCP without a close frame");
      }
      const code = close.code ?? 1005;
      if (!codes.includes(code)) {
        return result(
          "failed",
          `closed with code ${code}, expected ${codes.join(" or ")}`,
        );
      }
      if (!info.wasClean) {
        return result("failed", "its side did not see a clean close");
      }
    } else {
      const codes = expect.codes ?? [1002];
      if (close && !codes.includes(close.code ?? 1005)) {
        return result(
          "failed",
          `failed with code ${close.code ?? "(none)"}, expected ${
            codes.join(" or ")
          }`,
        );
      }
    }
    const got = session.events;
    const how = close ? `close ${close.code ?? "(empty)"}` : "TCP close";
    if (
      sameEvents(got, expected) ||
      expect.alsoOk?.some((e) => sameEvents(got, e))
    ) {
      return missedFailFast
        ? result("non-strict", `failed late, not fast (${how})`)
        : result("passed", `${describeEvents(got)}; ${how}`);
    }
    if (expect.nonStrict?.some((e) => sameEvents(got, e))) {
      return result("non-strict", `${describeEvents(got)}; ${how}`);
    }
    return result(
      "failed",
      `expected ${describeEvents(expected)}, got ${describeEvents(got)}`,
    );
  } finally {
    closeSocket();
    await session.done;
    // Whatever happened, the library's side must end before the next case.
    const end = await withTimeout(opened.closed, 4000);
    if (end === "timeout") opened.abort();
  }
}
