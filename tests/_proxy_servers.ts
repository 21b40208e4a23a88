// Real proxies for the tests: tinyproxy (HTTP CONNECT, with and without
// Basic auth), microsocks (SOCKS5, with and without RFC 1929 auth), a TLS
// front that turns tinyproxy into an https:// proxy, and a throwaway
// certificate authority for wss:// servers.

/** Whether a program is installed. */
export function hasProgram(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

export const TINYPROXY = "/usr/bin/tinyproxy";
export const MICROSOCKS = "/usr/bin/microsocks";

/** A free loopback port: bound, read and released. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Resolves once something accepts connections on the port. */
export async function waitForPort(port: number, what: string): Promise<void> {
  const start = performance.now();
  for (let delay = 5;; delay = Math.min(delay * 2, 100)) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (performance.now() - start > 10_000) {
        throw new Error(`${what} did not listen on port ${port}`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** A proxy process: its URL and a way to stop it. */
export interface ProxyProcess extends AsyncDisposable {
  /** The proxy's port. */
  port: number;
  /** The proxy's URL, with the credentials if any. */
  url: string;
  /** The process id. */
  pid: number;
  /** Kills the process (by its pid) and waits for it. */
  stop(): Promise<void>;
}

function processHandle(
  child: Deno.ChildProcess,
  port: number,
  url: string,
  cleanup: () => void = () => {},
): ProxyProcess {
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
      cleanup();
    })();
  return { port, url, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
}

/** Starts tinyproxy on a free loopback port with a generated config. */
export async function startTinyproxy(
  options: { auth?: [string, string]; connectPorts?: number[] } = {},
): Promise<ProxyProcess> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "tinyproxy-" });
  const lines = [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Timeout 30",
    "MaxClients 50",
    "LogLevel Critical",
    "Allow 127.0.0.1",
    ...(options.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
    ...(options.auth
      ? [`BasicAuth ${options.auth[0]} ${options.auth[1]}`]
      : []),
  ];
  if (Deno.uid?.() === 0) lines.push("User nobody", "Group nogroup");
  const config = `${dir}/tinyproxy.conf`;
  await Deno.writeTextFile(config, lines.join("\n") + "\n");
  const child = new Deno.Command(TINYPROXY, {
    args: ["-d", "-c", config],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const auth = options.auth
    ? `${encodeURIComponent(options.auth[0])}:${
      encodeURIComponent(options.auth[1])
    }@`
    : "";
  const handle = processHandle(
    child,
    port,
    `http://${auth}127.0.0.1:${port}`,
    () => Deno.removeSync(dir, { recursive: true }),
  );
  try {
    await waitForPort(port, "tinyproxy");
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/** Starts microsocks on a free loopback port. */
export async function startMicrosocks(
  options: { auth?: [string, string]; scheme?: "socks5" | "socks5h" } = {},
): Promise<ProxyProcess> {
  const port = freePort();
  const args = ["-i", "127.0.0.1", "-p", String(port)];
  if (options.auth) args.push("-u", options.auth[0], "-P", options.auth[1]);
  const child = new Deno.Command(MICROSOCKS, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const auth = options.auth
    ? `${encodeURIComponent(options.auth[0])}:${
      encodeURIComponent(options.auth[1])
    }@`
    : "";
  const handle = processHandle(
    child,
    port,
    `${options.scheme ?? "socks5"}://${auth}127.0.0.1:${port}`,
  );
  try {
    await waitForPort(port, "microsocks");
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/** A certificate authority and a server certificate for localhost and 127.0.0.1. */
export interface TestCert {
  /** The CA certificate (PEM), to trust. */
  ca: string;
  /** The server's certificate (PEM). */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
}

let certs: Promise<TestCert> | undefined;

/** Makes (once per process) a throwaway CA and server certificate with openssl. */
export function testCert(): Promise<TestCert> {
  return certs ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ws-cert-" });
    const run = async (args: string[]) => {
      const { success, stderr } = await new Deno.Command("openssl", {
        args,
        cwd: dir,
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!success) throw new Error(new TextDecoder().decode(stderr));
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    await run([
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=Test CA",
    ]);
    await run([
      "req",
      ...ec,
      "-nodes",
      "-keyout",
      "leaf.key",
      "-out",
      "leaf.csr",
      "-subj",
      "/CN=localhost",
    ]);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    await run([
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "leaf.pem",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
    ]);
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    const result = {
      ca: await read("ca.pem"),
      cert: await read("leaf.pem"),
      key: await read("leaf.key"),
    };
    await Deno.remove(dir, { recursive: true });
    return result;
  })();
}

/**
 * A TLS listener that relays each connection to a loopback port: with
 * tinyproxy behind it, an https:// proxy.
 */
export function tlsFront(
  backendPort: number,
  cert: TestCert,
):
  & { port: number; accepted: number; close(): Promise<void> }
  & AsyncDisposable {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.cert,
    key: cert.key,
  });
  const relays = new Set<Promise<void>>();
  const sockets = new Set<Deno.Conn>();
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        let offset = 0;
        while (offset < n) offset += await to.write(buffer.subarray(offset, n));
      }
      await to.closeWrite();
    } catch {
      // One side went away: drop both.
      for (const socket of [from, to]) {
        try {
          socket.close();
        } catch {
          // Already closed.
        }
        sockets.delete(socket);
      }
    }
  };
  const front = { accepted: 0 };
  const accepting = (async () => {
    for await (const client of listener) {
      front.accepted++;
      const relay = (async () => {
        let backend: Deno.Conn;
        try {
          backend = await Deno.connect({
            hostname: "127.0.0.1",
            port: backendPort,
          });
        } catch {
          client.close();
          return;
        }
        sockets.add(client);
        sockets.add(backend);
        await Promise.all([pump(client, backend), pump(backend, client)]);
        for (const socket of [client, backend]) {
          if (sockets.delete(socket)) {
            try {
              socket.close();
            } catch {
              // Already closed.
            }
          }
        }
      })();
      relays.add(relay);
      relay.finally(() => relays.delete(relay));
    }
  })().catch(() => {});
  const close = async () => {
    try {
      listener.close();
    } catch {
      // Already closed.
    }
    await accepting;
    await Promise.all(relays);
  };
  return Object.assign(front, {
    port: listener.addr.port,
    close,
    [Symbol.asyncDispose]: close,
  });
}
