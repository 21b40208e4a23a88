// The proxy variables as a dial reads them: the env permission is asked
// once and its status followed after that, so a permission revoked (or
// granted) at run time changes what the next dial reads. In a process of
// its own: the variables and permissions are process-wide.

import assert from "node:assert/strict";
import { serve } from "../server.ts";

const script = `
import { dial } from ${
  JSON.stringify(new URL("../client.ts", import.meta.url).href)
};
async function attempt() {
  try {
    const conn = await dial(Deno.args[0]);
    await conn.close();
    return "open";
  } catch (error) {
    return error.cause?.name ?? error.name;
  }
}
const results = [await attempt(), await attempt()];
Deno.permissions.revokeSync({ name: "env" });
results.push(await attempt());
console.log(results.join(" "));
`;

Deno.test("dial() reads the proxy variables while env access is granted, and stops once it is revoked", async () => {
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (conn) => {
      for await (const _ of conn) {
        // Nothing is sent.
      }
    },
  );
  // A proxy that refuses connections: a dial through it fails.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const proxyPort = closed.addr.port;
  closed.close();
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const { stdout, stderr, success } = await new Deno.Command(
      Deno.execPath(),
      {
        args: [
          "run",
          "--no-prompt",
          "--allow-net",
          "--allow-read",
          "--allow-env",
          file,
          `ws://127.0.0.1:${server.addr.port}/`,
        ],
        env: {
          NO_COLOR: "1",
          PATH: Deno.env.get("PATH") ?? "",
          HOME: Deno.env.get("HOME") ?? "",
          HTTP_PROXY: `http://127.0.0.1:${proxyPort}`,
        },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      },
    ).output();
    const decoder = new TextDecoder();
    assert.ok(success, decoder.decode(stderr));
    assert.equal(
      decoder.decode(stdout).trim(),
      "ProxyError ProxyError open",
    );
  } finally {
    await Deno.remove(file);
  }
});
