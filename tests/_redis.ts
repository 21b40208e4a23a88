// A real redis-server for the tests: on a free loopback port, with a
// temporary directory and no persistence, stopped by its pid.

/** A port nobody listens on right now (bound on 0, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A redis-server process; `restart()` starts it again on the same port. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  #child: Deno.ChildProcess | undefined;
  #output: Promise<string> | undefined;
  #extra: string[];

  private constructor(port: number, dir: string, extra: string[]) {
    this.port = port;
    this.dir = dir;
    this.#extra = extra;
  }

  /** Starts a server and resolves once it accepts connections. */
  static async start(extra: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(
      freePort(),
      await Deno.makeTempDir({ prefix: "redis-test-" }),
      extra,
    );
    await server.#spawn();
    return server;
  }

  /** The pid of the running process. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #spawn(): Promise<void> {
    const child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
        "--daemonize",
        "no",
        ...this.#extra,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    // The log says when it is ready; the rest of it is drained so that the
    // pipe never fills, and kept for failures.
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let log = "";
    while (!log.includes("Ready to accept connections")) {
      const { value, done } = await reader.read();
      if (done) {
        await child.status;
        throw new Error(`redis-server did not start:\n${log}`);
      }
      log += value;
    }
    this.#output = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return log;
        log += value;
      }
    })();
  }

  /** Kills the process (SIGKILL: no goodbye to clients) and waits for it. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    child.kill("SIGKILL");
    await child.status;
    await this.#output;
  }

  /** Starts the server again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** Stops the server and removes its directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true });
  }
}

/**
 * Resolves like `promise`, or rejects once `ms` pass first: a bound on how
 * long a test may wait, never a way to wait.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Redis Cluster of masters on loopback, each a {@linkcode RedisServer}. */
export class RedisCluster implements AsyncDisposable {
  private constructor(readonly nodes: RedisServer[]) {}

  /** Starts `count` nodes and joins them; resolves once all say ok. */
  static async start(count = 3): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    const cluster = new RedisCluster(nodes);
    try {
      for (let i = 0; i < count; i++) {
        nodes.push(
          await RedisServer.start([
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "5000",
          ]),
        );
      }
      const create = await new Deno.Command("redis-cli", {
        args: [
          "--cluster",
          "create",
          ...nodes.map((node) => `127.0.0.1:${node.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!create.success) {
        throw new Error(new TextDecoder().decode(create.stderr));
      }
      // The nodes agree on the slots when the command returns; each turns
      // its state to ok on its next cluster tick (every 100 ms).
      for (const node of nodes) {
        for (let tries = 0;; tries++) {
          const info = await new Deno.Command("redis-cli", {
            args: ["-p", String(node.port), "CLUSTER", "INFO"],
            stdout: "piped",
          }).output();
          if (new TextDecoder().decode(info.stdout).includes("state:ok")) break;
          if (tries === 100) throw new Error("The cluster did not come up");
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      return cluster;
    } catch (error) {
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Stops every node. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const node of this.nodes) await node[Symbol.asyncDispose]();
  }
}
