// Raw-wire helpers shared by the benchmark processes: the upgrade done by
// hand, pre-encoded masked frames, a frame counter that reads headers only,
// CPU and memory figures from /proc, and the line protocol between the
// runner and its children.

/** A fixed client key; the servers compute its accept value each time. */
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** The bytes of an upgrade request for `path`. */
export function upgradeRequest(port: number, path: string): Uint8Array {
  return new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${port}\r\n` +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  );
}

/** Writes every byte of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

function headEnd(bytes: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    ) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Connects and upgrades by hand. Resolves with the socket and whatever
 * bytes followed the 101 response head.
 */
export async function openRaw(
  port: number,
  path: string,
): Promise<{ conn: Deno.Conn; rest: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    conn.setNoDelay(true);
    await writeAll(conn, upgradeRequest(port, path));
    const head = new Uint8Array(4096);
    let filled = 0;
    while (true) {
      const n = await conn.read(head.subarray(filled));
      if (n === null) throw new Error("Connection closed during the upgrade");
      filled += n;
      const end = headEnd(head, filled);
      if (end >= 0) {
        const status = new TextDecoder().decode(head.subarray(0, 12));
        if (status !== "HTTP/1.1 101") {
          throw new Error(`Upgrade refused: ${status}`);
        }
        return { conn, rest: head.slice(end, filled) };
      }
      if (filled === head.length) throw new Error("Response head too large");
    }
  } catch (error) {
    conn.close();
    throw error;
  }
}

/**
 * Encodes `count` masked client frames of `payload`, back to back, each with
 * its own random key.
 */
export function maskedFrames(
  payload: Uint8Array,
  opcode: number,
  count: number,
): Uint8Array<ArrayBuffer> {
  const length = payload.length;
  const headerSize = (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + 4;
  const frameSize = headerSize + length;
  const out = new Uint8Array(frameSize * count);
  const key = new Uint8Array(4);
  for (let f = 0; f < count; f++) {
    const base = f * frameSize;
    out[base] = 0x80 | opcode;
    let o = base + 2;
    if (length < 126) {
      out[base + 1] = 0x80 | length;
    } else if (length < 0x10000) {
      out[base + 1] = 0x80 | 126;
      out[base + 2] = length >>> 8;
      out[base + 3] = length & 0xff;
      o = base + 4;
    } else {
      out[base + 1] = 0x80 | 127;
      const view = new DataView(out.buffer);
      view.setUint32(base + 2, Math.floor(length / 0x100000000));
      view.setUint32(base + 6, length >>> 0);
      o = base + 10;
    }
    crypto.getRandomValues(key);
    out.set(key, o);
    o += 4;
    for (let i = 0; i < length; i++) out[o + i] = payload[i] ^ key[i & 3];
  }
  return out;
}

/** A masked close frame with code 1000. */
export function maskedClose(): Uint8Array {
  return maskedFrames(new Uint8Array([0x03, 0xe8]), 0x8, 1);
}

/**
 * Counts the messages in a stream of unmasked server frames by reading
 * their headers only; payload bytes are skipped, never copied.
 */
export class FrameCounter {
  /** Whole data messages seen (frames with FIN and a data opcode). */
  messages = 0;
  /** Payload bytes seen, of every frame. */
  payloadBytes = 0;
  /** Whether a close frame has been seen. */
  closed = false;
  #header = new Uint8Array(14);
  #headerFilled = 0;
  #remaining = 0;
  #first = 0;

  /** Consumes `bytes[0..length)`; returns the messages completed. */
  push(bytes: Uint8Array, length: number): number {
    const before = this.messages;
    let i = 0;
    while (i < length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, length - i);
        i += take;
        this.#remaining -= take;
        this.payloadBytes += take;
        if (this.#remaining === 0) this.#end();
        continue;
      }
      // A header: on the fast path it lies whole in this chunk.
      let header: Uint8Array;
      let start: number;
      let need: number;
      if (
        this.#headerFilled === 0 && length - i >= 2 &&
        length - i >= (need = frameHeaderSize(bytes[i + 1]))
      ) {
        header = bytes;
        start = i;
        i += need;
      } else {
        this.#header[this.#headerFilled++] = bytes[i++];
        if (this.#headerFilled < 2) continue;
        if (this.#headerFilled < frameHeaderSize(this.#header[1])) continue;
        header = this.#header;
        start = 0;
        this.#headerFilled = 0;
      }
      const payload = payloadLength(header, start);
      this.#first = header[start];
      this.#remaining = payload;
      if (payload === 0) this.#end();
    }
    return this.messages - before;
  }

  #end(): void {
    const opcode = this.#first & 0x0f;
    if (opcode === 0x8) this.closed = true;
    else if (opcode < 0x8 && (this.#first & 0x80) !== 0) this.messages++;
  }
}

/** A frame header's size, masking key included, from its second byte. */
export function frameHeaderSize(second: number): number {
  const len7 = second & 0x7f;
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) +
    ((second & 0x80) !== 0 ? 4 : 0);
}

/** The payload length the frame header at `bytes[start]` declares. */
export function payloadLength(bytes: Uint8Array, start: number): number {
  const len7 = bytes[start + 1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (bytes[start + 2] << 8) | bytes[start + 3];
  return (bytes[start + 6] * 0x1000000 +
    ((bytes[start + 7] << 16) | (bytes[start + 8] << 8) | bytes[start + 9])) +
    (bytes[start + 2] * 0x1000000 +
        (bytes[start + 3] << 16 | bytes[start + 4] << 8 | bytes[start + 5])) *
      0x100000000;
}

/** CPU time (user + system) of a process, in clock ticks of 10 ms. */
export function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5), counted from the state (field 3).
  return Number(fields[11]) + Number(fields[12]);
}

/** The resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB/m);
  if (!match) throw new Error(`No VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** CPU ticks per second on Linux (`getconf CLK_TCK`). */
export const TICKS_PER_SECOND = 100;

/** Busy CPU time of the whole machine, in clock ticks (from /proc/stat). */
export function machineBusyTicks(): number {
  const line = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0];
  const [, ...fields] = line.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return user + nice + system + irq + softirq + steal;
}

/**
 * CPU shares over a window, each as a fraction of one core (the machine has
 * as many as it has cores): the load driver, the server, and every other
 * process on the machine (noise).
 */
export interface CpuShare {
  /** The load driver (generator or client). */
  driver: number;
  /** The server. */
  server: number;
  /** Everything else that ran meanwhile. */
  other: number;
}

/** Samples the CPU time of this process, `serverPid` and the machine. */
export class CpuMeter {
  #serverPid: number;
  #start = 0;
  #self = 0;
  #server = 0;
  #machine = 0;

  constructor(serverPid: number) {
    this.#serverPid = serverPid;
  }

  /** Starts the window. */
  start(): void {
    this.#start = performance.now();
    this.#self = cpuTicks(Deno.pid);
    this.#server = cpuTicks(this.#serverPid);
    this.#machine = machineBusyTicks();
  }

  /** Ends the window: the shares of one core each used. */
  stop(): CpuShare {
    const seconds = (performance.now() - this.#start) / 1000;
    const self = cpuTicks(Deno.pid) - this.#self;
    const server = cpuTicks(this.#serverPid) - this.#server;
    const machine = machineBusyTicks() - this.#machine;
    const share = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
    return {
      driver: share(self),
      server: share(server),
      other: Math.max(0, share(machine - self - server)),
    };
  }
}

/**
 * Waits `warmup` ms, then measures a window of `duration` ms: the rate at
 * which `count()` grows, and the CPU shares.
 */
export async function measureRate(
  warmup: number,
  duration: number,
  serverPid: number,
  count: () => number,
): Promise<{ rate: number; cpu: CpuShare }> {
  await sleep(warmup);
  const meter = new CpuMeter(serverPid);
  const before = count();
  meter.start();
  const start = performance.now();
  await sleep(duration);
  const after = count();
  const seconds = (performance.now() - start) / 1000;
  const cpu = meter.stop();
  return { rate: (after - before) / seconds, cpu };
}

/** What a load process prints as its one line of JSON. */
export interface RunResult {
  /** The figures, by metric name. */
  metrics: Record<string, number>;
  /** CPU shares over the measured window. */
  cpu: CpuShare;
  /** Anything worth telling the reader. */
  note?: string;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Exits the process once its stdin ends: the runner stops a server by
 * closing the pipe, so that `--cpu-prof` profiles get written.
 */
export async function exitOnStdinEnd(): Promise<void> {
  const buffer = new Uint8Array(64);
  try {
    while ((await Deno.stdin.read(buffer)) !== null) {
      // Nothing is sent on it.
    }
  } catch {
    // A closed pipe ends the process all the same.
  }
  Deno.exit(0);
}

/**
 * Builds bench/loadgen (the Go load generator) into `dir`, offline, against
 * the Debian-packaged gorilla/websocket (GOPATH mode) or a GOPATH that holds
 * it; returns the binary's path.
 */
export async function buildGenerator(dir: string): Promise<string> {
  const out = `${dir}/loadgen`;
  const env: Record<string, string> = { GO111MODULE: "off" };
  if (!Deno.env.get("GOPATH")) env.GOPATH = "/usr/share/gocode";
  if (!Deno.env.get("HOME") && !Deno.env.get("GOCACHE")) {
    env.GOCACHE = `${dir}/gocache`;
  }
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("go", {
      args: ["build", "-o", out, "./bench/loadgen"],
      cwd: new URL("..", import.meta.url).pathname,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    throw new Error(
      "Cannot run go: install golang-go and golang-github-gorilla-websocket-dev",
    );
  }
  if (!output.success) {
    throw new Error(
      `Cannot build bench/loadgen: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return out;
}

/**
 * Extracts `commit` of the repository at `root` into the directory `into`
 * (`git archive`): a snapshot to measure, which edits to the working tree
 * while a benchmark runs do not change.
 */
export async function extractCommit(
  root: string,
  commit: string,
  into: string,
): Promise<void> {
  await Deno.mkdir(into, { recursive: true });
  const extract = await new Deno.Command("sh", {
    args: [
      "-c",
      'git -C "$0" archive --format=tar "$1" | tar -x -C "$2"',
      root,
      commit,
      into,
    ],
  }).output();
  if (!extract.success) throw new Error(`Cannot extract ${commit}`);
}

/** Whether processes can be pinned to cores here (`taskset`, 2+ cores). */
export async function canPinToCores(): Promise<boolean> {
  if (navigator.hardwareConcurrency < 2) return false;
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-c", "0", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Stops a child that exits when its stdin ends (as the servers here do),
 * killing it if it has not within 5 seconds.
 */
export async function stopByStdin(child: Deno.ChildProcess): Promise<void> {
  await child.stdin.close().catch(() => {});
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await child.status;
  clearTimeout(timer);
}

/**
 * A bare server on `Deno.listen`: prints {"port": n}, runs `handle` for each
 * connection and closes it after, and exits when stdin ends.
 */
export async function serveBare(
  handle: (conn: Deno.TcpConn) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port }));
  exitOnStdinEnd();
  for await (const conn of listener) {
    handle(conn).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    });
  }
}
