import assert from "node:assert/strict";
import type { Transport } from "../conn.ts";
import { Closing } from "../conn/_closing.ts";
import { Ending } from "../conn/_ending.ts";
import { Inbox } from "../conn/_inbox.ts";
import { Pings } from "../conn/_keepalive.ts";
import { ReadLoop } from "../conn/_read_loop.ts";
import { Signal } from "../conn/_signal.ts";
import { Writer } from "../conn/_writer.ts";
import { Opcode } from "../frame.ts";
import { WebSocketProtocol } from "../protocol/rfc6455.ts";
import { closePayload, frame } from "./_peers.ts";

// A transport the test feeds chunk by chunk; it counts reads and keeps
// every write.
class ScriptedTransport implements Transport {
  chunks: (Uint8Array | null)[] = [];
  reads = 0;
  written: Uint8Array[] = [];
  closed = false;
  fins = 0;
  #more: PromiseWithResolvers<void> | undefined;
  feed(chunk: Uint8Array | null): void {
    this.chunks.push(chunk);
    this.#more?.resolve();
  }
  async read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    while (this.chunks.length === 0) {
      if (this.closed) throw new Deno.errors.BadResource("Transport closed");
      this.#more = Promise.withResolvers();
      await this.#more.promise;
    }
    const chunk = this.chunks[0];
    if (chunk === null) return null; // the end stays
    this.chunks.shift();
    p.set(chunk);
    return chunk.length;
  }
  write(p: Uint8Array): Promise<number> {
    this.written.push(p.slice());
    return Promise.resolve(p.length);
  }
  close(): void {
    this.closed = true;
    this.#more?.resolve();
  }
  closeWrite(): Promise<void> {
    this.fins++;
    return Promise.resolve();
  }
}

function setup(readBufferSize = 1 << 16, readTimeout = 0) {
  const transport = new ScriptedTransport();
  const machine = new WebSocketProtocol({ role: "server" });
  const wake = new Signal();
  const inbox = new Inbox(readBufferSize, wake);
  const aborted = Promise.withResolvers<unknown>();
  const finished = Promise.withResolvers<void>();
  const owner = {
    readTimeout,
    writeTimeout: 0,
    closeTimeout: 10_000,
    abort(reason?: unknown) {
      stop();
      aborted.resolve(reason);
    },
  };
  const writer = new Writer(transport, machine, owner, inbox, 1 << 16);
  const ending = new Ending(machine);
  const parts = { transport, machine, inbox, writer, wake, ending };
  const closing = new Closing(owner, parts);
  const pings = new Pings();
  const stop = () => {
    closing.stop();
    writer.stop(undefined);
    loop.stop();
    transport.close();
  };
  const loop = new ReadLoop({
    ...parts,
    owner,
    closing,
    pings,
    idle: undefined,
    finish: () => {
      stop();
      finished.resolve();
    },
  });
  const run = loop.run();
  return {
    transport,
    machine,
    inbox,
    pings,
    run,
    aborted: aborted.promise,
    finished: finished.promise,
  };
}

Deno.test("ReadLoop hands messages to the inbox and pongs to the pings, and writes the machine's answers", async () => {
  const { transport, inbox, pings, machine, run } = setup();
  const pong = pings.track(new Uint8Array([5]));
  transport.feed(frame("client", Opcode.Text, "hello"));
  transport.feed(frame("client", Opcode.Pong, new Uint8Array([5])));
  transport.feed(frame("client", Opcode.Ping, new Uint8Array([6])));
  await inbox.waitForMessage();
  assert.equal(inbox.shift(), "hello");
  assert.ok(await pong >= 0);
  // The peer closes: the echo goes once the inbox is drained, then the
  // server closes the transport, with no half-close first: both close
  // frames are through.
  transport.feed(frame("client", Opcode.Close, closePayload(1000)));
  await run;
  assert.equal(machine.state, "closed");
  assert.equal(transport.fins, 0);
  assert.equal(transport.closed, true, "the server closes first");
  const out = transport.written.flatMap((b) => [...b]);
  assert.deepEqual(out.slice(0, 3), [0x8a, 1, 6], "the pong");
  assert.equal(out[3], 0x88, "then the close echo");
});

Deno.test("ReadLoop stops reading while the inbox is full, and reads again once it has room", async () => {
  const { transport, inbox, run } = setup(4);
  transport.feed(frame("client", Opcode.Text, "full"));
  transport.feed(frame("client", Opcode.Text, "next"));
  await inbox.waitForMessage();
  // The loop went on at once, up to its wait for room.
  assert.equal(inbox.full, true);
  assert.equal(transport.chunks.length, 1, "the second frame stays unread");
  const next = inbox.waitForMessage(); // a waiting reader lifts it
  await next;
  assert.equal(transport.chunks.length, 0);
  assert.equal(inbox.shift(), "full");
  assert.equal(inbox.shift(), "next"); // room: the loop reads again
  transport.feed(null);
  await run;
});

Deno.test("ReadLoop drops a silent peer after readTimeout", async () => {
  const { aborted, run } = setup(1 << 16, 5);
  const reason = await aborted;
  assert.ok(reason instanceof DOMException);
  assert.equal(reason.message, "Read timed out");
  await run;
});

Deno.test("ReadLoop finishes at the peer's FIN without a closing handshake", async () => {
  const { transport, machine, finished, run } = setup();
  transport.feed(null);
  await finished;
  await run;
  assert.equal(machine.state, "closed");
  assert.equal(machine.closeReceived, undefined);
  assert.equal(transport.fins, 0, "the peer's FIN came first: close is enough");
  assert.equal(transport.closed, true);
});
