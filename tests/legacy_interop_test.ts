// Interop with an independent implementation of the legacy drafts: Perl's
// Protocol::WebSocket (Debian: libprotocol-websocket-perl), which speaks
// draft-hixie-75, draft-hixie-76 (hybi-00) and RFC 6455. The peers are the
// scripts in tests/_interop/: a client (client.pl) against our echo server,
// and an echo server (echo_server.pl) for our dial().
//
// Without perl or the module the tests are skipped with a warning; under CI
// (CI=true) they fail instead, so that a missing peer is never silent.

import assert from "node:assert/strict";
import { type Conn, dial, type Message, serve } from "../mod.ts";

const ROOT = new URL("../", import.meta.url);
const CLIENT = new URL("tests/_interop/client.pl", ROOT);
const SERVER = new URL("tests/_interop/echo_server.pl", ROOT);
const CI = Deno.env.get("CI") === "true";
const decoder = new TextDecoder();

/** Why the Perl peer cannot run here, or undefined when it can. */
async function probePerl(): Promise<string | undefined> {
  try {
    const { success } = await new Deno.Command("perl", {
      args: ["-MProtocol::WebSocket", "-e", "1"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success ? undefined : "Perl's Protocol::WebSocket is not installed";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "perl is not installed";
    throw error;
  }
}

const missing = await probePerl();
if (missing !== undefined && !CI) {
  console.warn(
    `\n${"!".repeat(72)}\n` +
      `SKIPPING the legacy interop tests: ${missing}.\n` +
      "Install it with: apt-get install -y libprotocol-websocket-perl\n" +
      `${"!".repeat(72)}\n`,
  );
}

/** Registers a test that needs the Perl peer. */
function interop(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: missing !== undefined && !CI,
    async fn() {
      if (missing !== undefined) {
        assert.fail(
          `${missing}: CI must install libprotocol-websocket-perl`,
        );
      }
      await fn();
    },
  });
}

/** A subprocess whose output is read line by line. */
class Peer implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  #stdout: ReadableStreamDefaultReader<string>;
  #buffered = "";
  #stderr: Promise<string>;

  constructor(command: string, args: string[]) {
    this.child = new Deno.Command(command, {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdout = this.child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stderr = new Response(this.child.stderr).text();
  }

  /** The next line of standard output, without its newline. */
  async line(): Promise<string> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#stdout.read();
      if (done) {
        throw new Error(
          `The peer ended before a full line; stderr: ${await this.#stderr}`,
        );
      }
      this.#buffered += value;
    }
    const end = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, end);
    this.#buffered = this.#buffered.slice(end + 1);
    return line;
  }

  /** Waits for the exit; returns the status and the rest of the output. */
  async exit(): Promise<{ code: number; lines: string[]; stderr: string }> {
    let stdout = this.#buffered;
    this.#buffered = "";
    for (
      let r = await this.#stdout.read();
      !r.done;
      r = await this.#stdout.read()
    ) {
      stdout += r.value;
    }
    const { code } = await this.child.status;
    const lines = stdout === "" ? [] : stdout.replace(/\n$/, "").split("\n");
    return { code, lines, stderr: await this.#stderr };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#stdout.cancel();
    await this.#stderr;
  }
}

/** Runs the Perl client to its end; returns its status and output lines. */
async function runPerlClient(
  args: string[],
): Promise<{ code: number; lines: string[]; stderr: string }> {
  const output = await new Deno.Command("perl", {
    args: [CLIENT.pathname, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = decoder.decode(output.stdout);
  return {
    code: output.code,
    lines: stdout === "" ? [] : stdout.replace(/\n$/, "").split("\n"),
    stderr: decoder.decode(output.stderr),
  };
}

/** Reads `n` messages from a connection. */
async function readN(conn: Conn, n: number): Promise<Message[]> {
  const reader = conn.readable.getReader();
  const out: Message[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const { value, done } = await reader.read();
      assert.equal(done, false, `stream ended after ${i} messages`);
      out.push(value!);
    }
  } finally {
    reader.releaseLock();
  }
  return out;
}

/** Text that exercises UTF-8, the empty message and a longer message. */
const TEXTS = ["hello", "héllo wörld ✓ 🎉", "", "x".repeat(10_000)];

// ---- The Perl client against our echo server -----------------------------

interop(
  "the Perl client speaks RFC 6455 to examples/echo_server.ts",
  async () => {
    await using example = new Peer(Deno.execPath(), [
      "run",
      "-A",
      new URL("examples/echo_server.ts", ROOT).href,
      "--port",
      "0",
    ]);
    const listening = await example.line();
    const match = /^Listening on ws:\/\/127\.0\.0\.1:(\d+)\/$/.exec(listening);
    assert.ok(match, `unexpected first line: ${listening}`);
    const url = `ws://127.0.0.1:${match[1]}/echo?x=1`;
    const { code, lines, stderr } = await runPerlClient([
      "--version",
      "13",
      "--protocol",
      "chat",
      url,
      ...TEXTS,
    ]);
    assert.equal(code, 0, `the Perl client failed: ${stderr}`);
    assert.deepEqual(lines, [
      "open accept=ok protocol=chat",
      ...TEXTS.map((text) => `echo ${text}`),
      "closed code=1000 reason=bye",
    ]);
  },
);

// The drafts against an in-process serve() with the example's settings, so
// that the server side of the connection can be inspected too.
for (const [version, flag] of [["hixie-76", "76"], ["hixie-75", "75"]]) {
  interop(`the Perl client speaks ${version} to our echo server`, async () => {
    const served = Promise.withResolvers<
      { conn: Conn; error: unknown; closed: unknown }
    >();
    await using server = serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      checkOrigin: "any",
      protocols: (offered) => offered[0],
      versions: ["13", "hixie-76", "hixie-75"],
    }, async (conn) => {
      let error: unknown;
      try {
        for await (const message of conn) await conn.send(message);
      } catch (caught) {
        error = caught;
      }
      served.resolve({ conn, error, closed: await conn.closed });
    });
    const port = server.addr.port;
    const url = `ws://127.0.0.1:${port}/echo?x=1`;
    const { code, lines, stderr } = await runPerlClient([
      "--version",
      flag,
      "--protocol",
      "chat",
      url,
      ...TEXTS,
    ]);
    assert.equal(code, 0, `the Perl client failed: ${stderr}`);
    assert.deepEqual(lines, [
      `open location=${url} origin=http://127.0.0.1:${port} protocol=chat`,
      ...TEXTS.map((text) => `echo ${text}`),
      version === "hixie-76" ? "closed handshake" : "closed eof",
    ]);
    const { conn, error, closed } = await served.promise;
    assert.equal(error, undefined, `the server's stream errored: ${error}`);
    assert.equal(conn.version, version);
    assert.equal(conn.protocol, "chat");
    assert.deepEqual(closed, { code: 1005, reason: "", wasClean: true });
  });
}

// ---- Our dial() against the Perl echo server -----------------------------

const PERL_NAMES = {
  "13": "draft-ietf-hybi-17",
  "hixie-76": "draft-ietf-hybi-00",
  "hixie-75": "draft-hixie-75",
} as const;

for (const version of ["hixie-76", "hixie-75", "13"] as const) {
  interop(`dial() speaks ${version} to the Perl echo server`, async () => {
    await using peer = new Peer("perl", [SERVER.pathname]);
    const listening = await peer.line();
    const match = /^listening (\d+)$/.exec(listening);
    assert.ok(match, `unexpected first line: ${listening}`);
    const port = Number(match[1]);
    const url = `ws://127.0.0.1:${port}/perl?room=1`;
    const conn = await dial(url, { version, protocols: ["chat"] });
    assert.equal(conn.version, version);
    assert.equal(conn.protocol, "chat");
    const messages: Message[] = [...TEXTS];
    if (version === "13") messages.push(new Uint8Array([0x00, 0x41, 0x7f]));
    for (const message of messages) await conn.send(message);
    assert.deepEqual(await readN(conn, messages.length), messages);
    assert.deepEqual(
      await conn.close(),
      version === "13"
        ? { code: 1000, reason: "", wasClean: true }
        : { code: 1005, reason: "", wasClean: true },
    );

    const { code, lines, stderr } = await peer.exit();
    assert.equal(code, 0, `the Perl server failed: ${stderr}`);
    const origin = version === "13" ? "" : `http://127.0.0.1:${port}`;
    assert.deepEqual(lines, [
      `handshake ${
        PERL_NAMES[version]
      } resource=/perl?room=1 origin=${origin} protocol=chat`,
      ...messages.map((message) =>
        `message ${
          typeof message === "string" ? message : decoder.decode(message)
        }`
      ),
      version === "13"
        ? "closed code=1000 reason="
        : version === "hixie-76"
        ? "closed handshake"
        : "closed eof",
    ]);
  });
}

// ---- The examples with the independent peers, in every version ------------

for (const [version, flag] of [["hixie-76", "76"], ["hixie-75", "75"]]) {
  interop(
    `the Perl client speaks ${version} to examples/echo_server.ts`,
    async () => {
      await using example = new Peer(Deno.execPath(), [
        "run",
        "-A",
        new URL("examples/echo_server.ts", ROOT).href,
        "--port",
        "0",
      ]);
      const listening = await example.line();
      const match = /^Listening on ws:\/\/127\.0\.0\.1:(\d+)\/$/.exec(
        listening,
      );
      assert.ok(match, `unexpected first line: ${listening}`);
      const url = `ws://127.0.0.1:${match[1]}/echo?x=1`;
      const { code, lines, stderr } = await runPerlClient([
        "--version",
        flag,
        "--protocol",
        "chat",
        url,
        ...TEXTS,
      ]);
      assert.equal(code, 0, `the Perl client failed: ${stderr}`);
      assert.deepEqual(lines, [
        `open location=${url} origin=http://127.0.0.1:${
          match[1]
        } protocol=chat`,
        ...TEXTS.map((text) => `echo ${text}`),
        version === "hixie-76" ? "closed handshake" : "closed eof",
      ]);
    },
  );
}

for (const version of ["hixie-76", "hixie-75", "13"] as const) {
  interop(
    `examples/echo_client.ts speaks ${version} to the Perl echo server`,
    async () => {
      await using peer = new Peer("perl", [SERVER.pathname]);
      const listening = await peer.line();
      const match = /^listening (\d+)$/.exec(listening);
      assert.ok(match, `unexpected first line: ${listening}`);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("examples/echo_client.ts", ROOT).href,
          `ws://127.0.0.1:${match[1]}/perl`,
          "--version",
          version,
        ],
        cwd: ROOT,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines = ["first line", "zweite Zeile ✓"];
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
      await writer.close();
      const output = await child.output();
      const stderr = decoder.decode(output.stderr);
      assert.equal(output.code, 0, `echo_client failed: ${stderr}`);
      assert.deepEqual(
        decoder.decode(output.stdout).replace(/\n$/, "").split("\n"),
        lines,
      );
    },
  );
}
