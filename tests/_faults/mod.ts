// Helpers for the fault suite: the Python peer that sends real resets, a
// descriptor count, a self-signed certificate, and a listener that fails on
// demand.

import { fileURLToPath } from "node:url";

const PEER = fileURLToPath(new URL("./peer.py", import.meta.url));

/** What `peer.py` printed: one JSON summary. */
// deno-lint-ignore no-explicit-any
export type PeerSummary = Record<string, any>;

/**
 * Runs `peer.py MODE --port PORT ...` to completion and returns its summary.
 * The peer is seeded and bounded; it talks only to 127.0.0.1.
 */
export async function runPeer(
  mode: "reset" | "burst" | "silent",
  port: number,
  options: { count: number; seed?: number; concurrency?: number },
): Promise<PeerSummary> {
  const args = [
    PEER,
    mode,
    "--port",
    String(port),
    "--count",
    String(options.count),
    "--seed",
    String(options.seed ?? 1),
  ];
  if (options.concurrency) {
    args.push("--concurrency", String(options.concurrency));
  }
  const output = await new Deno.Command("python3", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(
      `peer.py ${mode} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** How many descriptors this process holds now. */
export function openDescriptors(): number {
  let count = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
  return count;
}

/**
 * Waits until this process holds at most `limit` descriptors, checking as
 * connections finish closing; rejects with the count past `ms`.
 */
export async function descriptorsBackTo(
  limit: number,
  ms: number,
): Promise<number> {
  const end = performance.now() + ms;
  let count = openDescriptors();
  while (count > limit) {
    if (performance.now() > end) {
      throw new Error(`${count} descriptors open, expected at most ${limit}`);
    }
    // Polling an OS count: sockets are released by the kernel and the
    // runtime, with no event to wait for.
    await new Promise((resolve) => setTimeout(resolve, 20));
    count = openDescriptors();
  }
  return count;
}

/**
 * A test certificate authority and a server certificate it signed for
 * 127.0.0.1 and localhost, made by openssl: `cert` and `key` for the server,
 * `ca` for the client's `caCerts`.
 */
export async function testCertificate(): Promise<
  { cert: string; key: string; ca: string }
> {
  const dir = await Deno.makeTempDir();
  const openssl = async (...args: string[]) => {
    const output = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(new TextDecoder().decode(output.stderr));
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  try {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=Test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    await openssl(
      "req",
      ...ec,
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-keyout",
      "key.pem",
      "-out",
      "server.csr",
    );
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      "subjectAltName=IP:127.0.0.1,DNS:localhost\n" +
        "basicConstraints=critical,CA:FALSE\n",
    );
    await openssl(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
      "-out",
      "cert.pem",
    );
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A listener over a real one whose `accept()` first throws the given errors,
 * one per call, as a kernel under pressure would.
 */
export function failingListener(
  inner: Deno.Listener,
  failures: Error[],
): Deno.Listener {
  const pending = [...failures];
  const listener = {
    get addr() {
      return inner.addr;
    },
    accept(): Promise<Deno.Conn> {
      const failure = pending.shift();
      return failure ? Promise.reject(failure) : inner.accept();
    },
    close(): void {
      inner.close();
    },
    ref(): void {},
    unref(): void {},
    [Symbol.dispose](): void {
      inner.close();
    },
    async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.Conn> {
      while (true) yield await listener.accept();
    },
  };
  return listener as unknown as Deno.Listener;
}

/** An error as the runtime reports running out of descriptors. */
export function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
