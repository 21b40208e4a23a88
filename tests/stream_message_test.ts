// Messages as streams: Conn.nextMessage() hands a message out frame by frame
// with backpressure, Conn.sendStream() sends one fragmented message from a
// stream, both roles, over loopback.

import assert from "node:assert/strict";
import { Conn } from "../conn.ts";
import { dial, serve } from "../mod.ts";
import type { ServeOptions } from "../server.ts";
import type { DialOptions } from "../client.ts";
import { HixieProtocol } from "../legacy/protocol.ts";
import { memoryPair } from "./_util.ts";

const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };
const roles = ["client", "server"] as const;

// A connected pair over loopback: the client and the server's end.
async function connected(
  options: { server?: Partial<ServeOptions>; client?: DialOptions },
  body: (client: Conn, server: Conn) => Promise<void>,
): Promise<void> {
  const done = Promise.withResolvers<void>();
  const accepted = Promise.withResolvers<Conn>();
  const server = serve(
    { ...quiet, pingInterval: 0, ...options.server },
    async (conn) => {
      accepted.resolve(conn);
      await done.promise;
      await conn.closed;
    },
  );
  let client: Conn | undefined;
  try {
    client = await dial(`ws://127.0.0.1:${server.addr.port}/`, {
      pingInterval: 0,
      ...options.client,
    });
    await body(client, await accepted.promise);
  } catch (error) {
    client?.abort();
    throw error;
  } finally {
    done.resolve();
    await client?.close().catch(() => {});
    await server.shutdown();
  }
}

// Seeded bytes, generated chunk by chunk (xorshift32).
function* seeded(
  seed: number,
  total: number,
  chunkSize: number,
): Generator<Uint8Array<ArrayBuffer>> {
  let x = seed >>> 0 || 1;
  for (let sent = 0; sent < total;) {
    const n = Math.min(chunkSize, total - sent);
    const chunk = new Uint8Array((n + 3) & ~3);
    const words = new Uint32Array(chunk.buffer);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    sent += n;
    yield chunk.subarray(0, n);
  }
}

// A running checksum of bytes in order, however they are split: bytes are
// gathered into 32-bit words, hashed a word at a time (FNV-1a style).
class Checksum {
  #value = 0x811c9dc5;
  bytes = 0;
  #stage = new Uint8Array(64 * 1024);
  #words = new Uint32Array(this.#stage.buffer);
  #staged = 0;
  update(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    for (let i = 0; i < bytes.length;) {
      const n = Math.min(bytes.length - i, this.#stage.length - this.#staged);
      this.#stage.set(bytes.subarray(i, i + n), this.#staged);
      this.#staged += n;
      i += n;
      if (this.#staged === this.#stage.length) this.#hash(this.#words.length);
    }
  }
  // Hashes the first `count` staged words and keeps the rest.
  #hash(count: number): void {
    const words = this.#words;
    let h = this.#value;
    for (let i = 0; i < count; i++) h = Math.imul(h ^ words[i], 16777619);
    this.#value = h;
    this.#stage.copyWithin(0, count * 4, this.#staged);
    this.#staged -= count * 4;
  }
  /** The checksum of everything so far (the last partial word padded). */
  digest(): number {
    this.#hash(this.#staged >> 2);
    let h = this.#value;
    for (let i = 0; i < this.#staged; i++) {
      h = Math.imul(h ^ this.#stage[i], 16777619);
    }
    return h;
  }
}

function checksumOf(chunks: Iterable<Uint8Array>): Checksum {
  const sum = new Checksum();
  for (const chunk of chunks) sum.update(chunk);
  return sum;
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<{ sum: Checksum; chunks: number }> {
  const sum = new Checksum();
  let chunks = 0;
  for await (const chunk of stream) {
    sum.update(chunk);
    chunks++;
  }
  return { sum, chunks };
}

for (const role of roles) {
  Deno.test(`${role}: a streamed send is received whole by a normal reader`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      // Chunks small, empty and over the frame size (split).
      const sizes = [1, 0, 300, 70_000, 600_000, 5];
      const chunks = sizes.map((n, i) =>
        [...seeded(i + 1, n, n || 1)][0] ?? new Uint8Array(0)
      );
      const sending = sender.sendStream(ReadableStream.from(chunks));
      const { value } = await receiver[Symbol.asyncIterator]().next();
      await sending;
      assert.ok(value instanceof Uint8Array);
      assert.equal(value.length, sizes.reduce((a, b) => a + b));
      assert.equal(checksumOf([value]).digest(), checksumOf(chunks).digest());
      // Text from strings, as one text message.
      await sender.sendStream((async function* () {
        yield "héllo ";
        yield "wörld";
      })());
      assert.equal(
        (await receiver[Symbol.asyncIterator]().next()).value,
        "héllo wörld",
      );
    });
  });

  Deno.test(`${role}: a streamed send is received by a stream reader, frame by frame`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const total = 4 * 1024 * 1024;
      const sent = new Checksum();
      const sending = sender.sendStream((function* () {
        for (const chunk of seeded(7, total, 100_000)) {
          sent.update(chunk);
          yield chunk;
        }
      })());
      const message = await receiver.nextMessage();
      assert.ok(message);
      assert.equal(message.type, "binary");
      const { sum, chunks } = await readAll(message.stream);
      await sending;
      assert.equal(sum.bytes, total);
      assert.equal(sum.digest(), sent.digest());
      assert.ok(chunks > 10, `only ${chunks} chunks`);
      // A text message, decoded as it comes.
      const text = "ünïcødé ".repeat(50_000);
      const sendingText = sender.sendStream(ReadableStream.from(
        [text.slice(0, 1001), text.slice(1001)],
      ));
      const second = await receiver.nextMessage();
      assert.equal(second?.type, "text");
      let received = "";
      for await (const piece of second!.text()) received += piece;
      await sendingText;
      assert.equal(received, text);
    });
  });

  Deno.test(`${role}: whole messages are received as streams`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      // Received whole before the switch, and sent whole after it.
      await sender.send("first");
      await sender.flush();
      const early = await receiver.nextMessage();
      await sender.send(new Uint8Array([1, 2, 3]));
      await sender.send("ßecond");
      await sender.send(new Uint8Array(0));
      assert.equal(early?.type, "text");
      assert.equal(await new Response(early!.stream).text(), "first");
      const binary = await receiver.nextMessage();
      assert.equal(binary?.type, "binary");
      assert.deepEqual(
        new Uint8Array(await new Response(binary!.stream).arrayBuffer()),
        new Uint8Array([1, 2, 3]),
      );
      const text = await receiver.nextMessage();
      let decoded = "";
      for await (const piece of text!.text()) decoded += piece;
      assert.equal(decoded, "ßecond");
      const empty = await receiver.nextMessage();
      assert.equal((await readAll(empty!.stream)).sum.bytes, 0);
      // Whole reading is over once streamed reading began.
      await assert.rejects(
        () => receiver[Symbol.asyncIterator]().next(),
        TypeError,
      );
      await sender.close();
      assert.equal(await receiver.nextMessage(), null);
    });
  });

  Deno.test(`${role}: a stream reader that does not read stops the socket reads, and the sender waits`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const total = 64 * 1024 * 1024;
      let produced = 0;
      const sent = new Checksum();
      let settled = false;
      const sending = sender.sendStream((function* () {
        for (const chunk of seeded(3, total, 64 * 1024)) {
          produced += chunk.length;
          sent.update(chunk);
          yield chunk;
        }
      })()).finally(() => settled = true);
      const message = await receiver.nextMessage();
      const reader = message!.stream.getReader();
      const first = await reader.read();
      const received = new Checksum();
      received.update(first.value!);
      // The receiver stops reading: the sender's buffer fills past its
      // mark and its sendStream waits for room.
      for (let i = 0; sender.bufferedAmount <= 256 * 1024; i++) {
        assert.ok(i < 1000, "the send buffer never filled");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const stalled = produced;
      assert.ok(stalled < total / 2, `produced ${stalled} bytes unread`);
      assert.equal(settled, false);
      // Several turns later nothing more was produced.
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(produced - stalled <= 512 * 1024);
      assert.equal(settled, false);
      // Reading resumes, and everything arrives.
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        received.update(r.value);
      }
      await sending;
      assert.equal(received.bytes, total);
      assert.equal(received.digest(), sent.digest());
    });
  });

  Deno.test(`${role}: nothing interleaves with a streamed send but control frames`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const gate = Promise.withResolvers<void>();
      const streaming = sender.sendStream((async function* () {
        yield "one ";
        await gate.promise;
        yield "two";
      })());
      const after = sender.send("after");
      const afterStream = sender.sendStream(ReadableStream.from(["x", "y"]));
      // A ping goes between the frames and is answered meanwhile.
      const rtt = await sender.ping();
      assert.ok(rtt >= 0);
      gate.resolve();
      await Promise.all([streaming, after, afterStream]);
      const messages: string[] = [];
      for await (const message of receiver) {
        messages.push(message as string);
        if (messages.length === 3) break;
      }
      assert.deepEqual(messages, ["one two", "after", "xy"]);
    });
  });

  Deno.test(`${role}: a message stream cancelled or left for the next message skips the rest`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const size = 2 * 1024 * 1024;
      const first = sender.sendStream(seeded(1, size, 64 * 1024));
      const second = sender.sendStream(seeded(2, size, 64 * 1024));
      const third = sender.send("third");
      const a = await receiver.nextMessage();
      const reader = a!.stream.getReader();
      await reader.read();
      await reader.cancel();
      const b = await receiver.nextMessage();
      const bReader = b!.stream.getReader();
      await bReader.read();
      // Not read to its end: the next call skips it, and errors it.
      const c = await receiver.nextMessage();
      await assert.rejects(() => bReader.read(), TypeError);
      assert.equal(await new Response(c!.stream).text(), "third");
      await Promise.all([first, second, third]);
    });
  });

  Deno.test(`${role}: a source that fails mid-message closes the connection with 1011`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const failure = new Error("source broke");
      const sending = sender.sendStream((async function* () {
        yield new Uint8Array(10);
        throw failure;
      })());
      await assert.rejects(() => sending, (error) => error === failure);
      const message = await receiver.nextMessage();
      await assert.rejects(() => readAll(message!.stream));
      assert.equal((await receiver.closed).code, 1011);
    });
  });

  Deno.test(`${role}: invalid UTF-8 in a streamed text message fails with 1007`, async () => {
    await connected({}, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const gate = Promise.withResolvers<void>();
      sender.sendStream(
        (async function* () {
          yield new TextEncoder().encode("fine so far ");
          await gate.promise;
          yield new Uint8Array([0xc3, 0x28]);
        })(),
        { binary: false },
      ).catch(() => {});
      const message = await receiver.nextMessage();
      assert.equal(message?.type, "text");
      const reader = message!.stream.getReader();
      assert.equal(
        new TextDecoder().decode((await reader.read()).value),
        "fine so far ",
      );
      gate.resolve();
      await assert.rejects(() => reader.read());
      assert.equal((await sender.closed).code, 1007);
    });
  });

  Deno.test(`${role}: a streamed message over maxMessageSize fails with 1009`, async () => {
    const limit = 1024 * 1024;
    const options = role === "client"
      ? { server: { maxMessageSize: limit } }
      : { client: { maxMessageSize: limit } };
    await connected(options, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      sender.sendStream(seeded(5, 4 * limit, 64 * 1024)).catch(() => {});
      const message = await receiver.nextMessage();
      await assert.rejects(() => readAll(message!.stream));
      assert.equal((await sender.closed).code, 1009);
    });
  });

  Deno.test(`${role}: maxMessageSize Infinity is accepted for streamed messages (the 1 GiB test goes past the default)`, async () => {
    const options = role === "client"
      ? { server: { maxMessageSize: Infinity } }
      : { client: { maxMessageSize: Infinity } };
    await connected(options, async (client, server) => {
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const total = 3 * 1024 * 1024;
      const sending = sender.sendStream(seeded(9, total, 1024 * 1024));
      const message = await receiver.nextMessage();
      const { sum } = await readAll(message!.stream);
      await sending;
      assert.equal(
        sum.digest(),
        checksumOf(seeded(9, total, 1024 * 1024)).digest(),
      );
    });
  });

  Deno.test(`${role}: with permessage-deflate a streamed message is compressed as it goes`, async () => {
    await connected({
      server: { compression: true },
      client: { compression: true },
    }, async (client, server) => {
      assert.match(client.extensions, /permessage-deflate/);
      const [sender, receiver] = role === "client"
        ? [client, server]
        : [server, client];
      const line = "the same line again and again, compressible\n";
      const chunks = Array.from({ length: 200 }, () => line.repeat(100));
      // Streamed, twice (context takeover), then whole, read whole.
      for (let i = 0; i < 2; i++) {
        const sending = sender.sendStream(ReadableStream.from(chunks));
        const { value } = await receiver[Symbol.asyncIterator]().next();
        await sending;
        assert.equal(value, chunks.join(""));
      }
      await sender.send("whole after");
      assert.equal(
        (await receiver[Symbol.asyncIterator]().next()).value,
        "whole after",
      );
      // A whole compressed message, and a streamed one, read as streams.
      await sender.send(line.repeat(10_000));
      const whole = await receiver.nextMessage();
      let text = "";
      for await (const piece of whole!.text()) text += piece;
      assert.equal(text, line.repeat(10_000));
      const sending = sender.sendStream(ReadableStream.from(chunks));
      const streamed = await receiver.nextMessage();
      text = "";
      for await (const piece of streamed!.text()) text += piece;
      await sending;
      assert.equal(text, chunks.join(""));
    });
  });
}

Deno.test("the legacy drafts refuse streamed messages with TypeError", async () => {
  const [a, b] = memoryPair();
  const conn = new Conn({
    role: "client",
    transport: a,
    machine: new HixieProtocol({ version: "hixie-76", role: "client" }),
    url: "ws://memory/",
    version: "hixie-76",
  });
  await assert.rejects(() => conn.nextMessage(), TypeError);
  await assert.rejects(
    () => conn.sendStream(ReadableStream.from(["x"])),
    TypeError,
  );
  conn.abort();
  b.close();
  await conn.closed;
});

Deno.test({
  name: "a 1 GiB message each way through one connection in constant memory",
  async fn() {
    const total = 1024 * 1024 * 1024;
    const chunkSize = 1024 * 1024;
    const gc = (globalThis as { gc?: () => void }).gc;
    await connected({
      server: { maxMessageSize: Infinity },
      client: { maxMessageSize: Infinity },
    }, async (client, server) => {
      gc?.();
      const base = Deno.memoryUsage().rss;
      let peak = base;
      const lines: string[] = [];
      for (
        const [sender, receiver, name] of [
          [client, server, "client to server"],
          [server, client, "server to client"],
        ] as const
      ) {
        const sent = new Checksum();
        const start = performance.now();
        const sending = sender.sendStream((function* () {
          for (const chunk of seeded(42, total, chunkSize)) {
            sent.update(chunk);
            yield chunk;
          }
        })());
        const message = await receiver.nextMessage();
        const received = new Checksum();
        let chunks = 0;
        for await (const chunk of message!.stream) {
          received.update(chunk);
          if ((++chunks & 255) === 0) {
            peak = Math.max(peak, Deno.memoryUsage().rss);
            // What is held, not what garbage waits for a lazy collector.
            if ((chunks & 1023) === 0) gc?.();
          }
        }
        await sending;
        const seconds = (performance.now() - start) / 1000;
        peak = Math.max(peak, Deno.memoryUsage().rss);
        assert.equal(received.bytes, total);
        assert.equal(received.digest(), sent.digest());
        lines.push(
          `${name}: ${(total / 2 ** 20 / seconds).toFixed(0)} MB/s, ` +
            `${seconds.toFixed(1)} s, ${chunks} chunks`,
        );
      }
      const growth = peak - base;
      console.log(
        `${lines.join("; ")}; RSS ${(base / 2 ** 20).toFixed(0)} MiB, ` +
          `peak growth ${(growth / 2 ** 20).toFixed(0)} MiB`,
      );
      assert.ok(growth < 128 * 2 ** 20, `RSS grew by ${growth} bytes`);
    });
  },
});
