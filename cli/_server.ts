// The server side of the command line: every message echoed to its
// sender, or with --broadcast encoded once and sent to every client.

import type { Conn } from "../conn.ts";
import { PreparedMessage } from "../fanout/prepared.ts";
import { serve } from "../server.ts";
import type { Args } from "./_args.ts";
import { describeClose, ExitCode, writeErr } from "./_output.ts";

/** --listen: an echo or broadcast server until SIGINT or SIGTERM. */
export async function listen(args: Args): Promise<number> {
  const clients = new Set<Conn>();
  const tls = args.cert !== undefined
    ? {
      cert: await Deno.readTextFile(args.cert),
      key: await Deno.readTextFile(args.key!),
    }
    : {};
  const server = serve({
    port: args.listen!,
    hostname: args.host,
    checkOrigin: "any",
    protocols: args.protocols.length
      ? (offered) => args.protocols.find((p) => offered.includes(p))
      : undefined,
    compression: args.compress,
    ...tls,
    onListen: ({ port, hostname }) => {
      const scheme = args.cert ? "wss" : "ws";
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      writeErr(
        `Listening on ${scheme}://${host}:${port}/ (${
          args.broadcast ? "broadcast" : "echo"
        })\n`,
      );
    },
  }, async (conn) => {
    const peer = conn.remoteAddr as Deno.NetAddr | undefined;
    const who = peer ? `${peer.hostname}:${peer.port}` : "a client";
    writeErr(`${who} connected\n`);
    clients.add(conn);
    try {
      for await (const message of conn) {
        if (!args.broadcast) {
          await conn.send(message);
          continue;
        }
        const prepared = new PreparedMessage(message);
        await Promise.all(
          [...clients].map((client) => client.send(prepared).catch(() => {})),
        );
      }
    } catch {
      // Closed abnormally: reported below.
    } finally {
      clients.delete(conn);
      const info = await conn.closed;
      writeErr(
        `${who} ${describeClose(info.code, info.reason).toLowerCase()}\n`,
      );
    }
  });
  const stop = () => server.shutdown();
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  return ExitCode.Ok;
}
