// Headless Chromium for the browser interoperability test: finding and
// launching the binary, and a small Chrome DevTools Protocol client that
// speaks to the browser over this library's own dial().

import { type CloseInfo, type Conn, dial } from "../mod.ts";

/** Settles with `promise`, or rejects once `ms` pass; the timer is cleared. */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DOMException(`${what} timed out after ${ms} ms`, "TimeoutError"),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The Chromium binary: `$CHROMIUM_PATH` if set, else `chromium` or
 * `chromium-browser` on `$PATH`; undefined when there is none.
 */
export function findChromium(): string | undefined {
  const override = Deno.env.get("CHROMIUM_PATH");
  if (override) return override;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    for (const name of ["chromium", "chromium-browser"]) {
      const path = `${dir}/${name}`;
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // Not here.
      }
    }
  }
  return undefined;
}

/** A running headless Chromium. */
export interface Browser extends AsyncDisposable {
  /** The browser-level DevTools WebSocket URL. */
  readonly webSocketDebuggerUrl: string;
  /** The last few KiB of the browser's stderr, for failure messages. */
  stderrTail(): string;
  /**
   * Stops the browser (SIGTERM, then SIGKILL if it lingers), drains its
   * stderr and removes its profile directory. Idempotent.
   */
  close(): Promise<Deno.CommandStatus>;
}

const STDERR_TAIL = 8 * 1024;
const DEVTOOLS_LINE = /DevTools listening on (ws:\/\/\S+)/;

/**
 * Starts headless Chromium with a fresh profile and DevTools on a free
 * port; resolves once the DevTools WebSocket URL is known.
 */
export async function launchChromium(
  path: string,
  options: { timeout?: number } = {},
): Promise<Browser> {
  const timeout = options.timeout ?? 30_000;
  const userDataDir = await Deno.makeTempDir({ prefix: "websocket-chromium-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${userDataDir}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(userDataDir, { recursive: true });
    throw new Error(`Cannot start Chromium at ${path}`, { cause: error });
  }

  // Drain stderr for the browser's whole life (a full pipe would stall it),
  // keeping a tail for diagnostics and watching for the DevTools line.
  let tail = "";
  const listening = Promise.withResolvers<string>();
  listening.promise.catch(() => {});
  const reader = child.stderr.getReader();
  const pump = (async () => {
    const decoder = new TextDecoder();
    let line = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        tail = (tail + text).slice(-STDERR_TAIL);
        line += text;
        let newline: number;
        while ((newline = line.indexOf("\n")) !== -1) {
          const match = DEVTOOLS_LINE.exec(line.slice(0, newline));
          if (match) listening.resolve(match[1]);
          line = line.slice(newline + 1);
        }
      }
    } catch {
      // Cancelled by close().
    } finally {
      reader.releaseLock();
    }
  })();
  child.status.then((status) =>
    listening.reject(
      new Error(
        `Chromium exited with code ${status.code} before DevTools listened\n${tail}`,
      ),
    )
  );

  let closing: Promise<Deno.CommandStatus> | undefined;
  const close = (): Promise<Deno.CommandStatus> => {
    closing ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      let status = await withTimeout(child.status, 10_000, "Chromium exit")
        .catch(() => undefined);
      if (status === undefined) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
        status = await child.status;
      }
      // Helper processes share the pipe; give them a moment to let go.
      await withTimeout(pump, 10_000, "Chromium stderr").catch(async () => {
        await reader.cancel().catch(() => {});
        await pump;
      });
      await Deno.remove(userDataDir, { recursive: true });
      return status;
    })();
    return closing;
  };

  let webSocketDebuggerUrl: string;
  try {
    webSocketDebuggerUrl = await withTimeout(
      listening.promise,
      timeout,
      "Chromium start",
    );
  } catch (error) {
    await close();
    throw new Error(`Cannot start Chromium: ${String(error)}\n${tail}`, {
      cause: error,
    });
  }
  return {
    webSocketDebuggerUrl,
    stderrTail: () => tail,
    close,
    async [Symbol.asyncDispose]() {
      await close();
    },
  };
}

/** A DevTools protocol event. */
export interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

interface Pending {
  method: string;
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: unknown) => void;
}

/**
 * A DevTools protocol client: commands are `{id, method, params,
 * sessionId?}`, answers are matched by id, events are collected in order.
 */
export class CdpClient implements AsyncDisposable {
  /** Every event received, in order. */
  readonly events: CdpEvent[] = [];
  /** Text of messages that were not valid protocol JSON. */
  readonly malformed: string[] = [];
  #conn: Conn;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #waiters = new Set<() => void>();
  #ended: unknown = undefined;
  #reading: Promise<void>;

  constructor(conn: Conn) {
    this.#conn = conn;
    this.#reading = this.#read();
  }

  /** Dials a DevTools WebSocket URL. */
  static async connect(url: string, timeout = 10_000): Promise<CdpClient> {
    return new CdpClient(await dial(url, { handshakeTimeout: timeout }));
  }

  /** The underlying connection. */
  get conn(): Conn {
    return this.#conn;
  }

  /** Sends a command and resolves with its result; rejects on its error. */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    options: { sessionId?: string; timeout?: number } = {},
  ): Promise<T> {
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    const id = this.#nextId++;
    const answer = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { method, ...answer });
    const message: Record<string, unknown> = { id, method, params };
    if (options.sessionId !== undefined) message.sessionId = options.sessionId;
    this.#conn.send(JSON.stringify(message)).catch((error) => {
      this.#pending.delete(id);
      answer.reject(error);
    });
    return withTimeout(answer.promise, options.timeout ?? 15_000, method)
      .finally(() => this.#pending.delete(id)) as Promise<T>;
  }

  /**
   * Resolves with the first event named `method` (of `sessionId`, if given)
   * at index `after` or later in {@linkcode CdpClient.events}.
   */
  waitForEvent(
    method: string,
    options: { sessionId?: string; after?: number; timeout?: number } = {},
  ): Promise<CdpEvent> {
    const find = () =>
      this.events.slice(options.after ?? 0).find((event) =>
        event.method === method &&
        (options.sessionId === undefined ||
          event.sessionId === options.sessionId)
      );
    const found = Promise.withResolvers<CdpEvent>();
    const check = () => {
      const event = find();
      if (event) found.resolve(event);
      else if (this.#ended !== undefined) found.reject(this.#ended);
    };
    this.#waiters.add(check);
    check();
    return withTimeout(
      found.promise,
      options.timeout ?? 15_000,
      `Event ${method}`,
    ).finally(() => this.#waiters.delete(check));
  }

  /** Closes the connection and waits for the read loop to end. */
  async close(): Promise<CloseInfo> {
    const info = await this.#conn.close(1000);
    await this.#reading;
    return info;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #read(): Promise<void> {
    try {
      for await (const message of this.#conn) {
        const text = typeof message === "string"
          ? message
          : new TextDecoder().decode(message);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text);
        } catch {
          this.malformed.push(text);
          continue;
        }
        this.#dispatch(parsed);
      }
      this.#end(new Error("DevTools connection closed"));
    } catch (error) {
      this.#end(error);
    }
  }

  #dispatch(message: Record<string, unknown>): void {
    if (typeof message.id === "number") {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      const error = message.error as { code?: number; message?: string };
      if (error) {
        pending.reject(
          new Error(
            `${pending.method} failed: ${error.message} (${error.code})`,
          ),
        );
      } else {
        pending.resolve((message.result ?? {}) as Record<string, unknown>);
      }
      return;
    }
    if (typeof message.method === "string") {
      this.events.push({
        method: message.method,
        params: (message.params ?? {}) as Record<string, unknown>,
        sessionId: message.sessionId as string | undefined,
      });
      for (const check of this.#waiters) check();
    } else {
      this.malformed.push(JSON.stringify(message));
    }
  }

  #end(reason: unknown): void {
    this.#ended = reason;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    for (const check of this.#waiters) check();
  }
}
