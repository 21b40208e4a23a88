import assert from "node:assert/strict";
import { Ending } from "../conn/_ending.ts";
import { Inbox } from "../conn/_inbox.ts";
import { Reader } from "../conn/_reader.ts";
import { ConnectionClosedError } from "../errors.ts";
import { MessageStreams, wholeStream } from "../conn/_message_stream.ts";
import { Signal } from "../conn/_signal.ts";
import type { MessagePart, ProtocolMachine } from "../protocol/machine.ts";

function part(text: string, first: boolean, fin: boolean): MessagePart {
  const data = new TextEncoder().encode(text);
  return { type: "part", binary: false, data, first, fin };
}

// An inbox, the reader of whole messages and the end of a connection that
// the test ends, normally or not.
function setup() {
  const machine = {
    closeReceived: undefined as { code: number; reason: string } | undefined,
    closeSent: false,
    error: undefined,
  };
  const inbox = new Inbox(1 << 20, new Signal());
  const ending = new Ending(machine as unknown as ProtocolMachine);
  const reader = new Reader(inbox, ending, { close: () => Promise.resolve() });
  const streams = new MessageStreams({
    inbox,
    reader,
    ending,
    machine: machine as unknown as ProtocolMachine,
  });
  return {
    inbox,
    streams,
    end(normal: boolean) {
      if (normal) {
        machine.closeReceived = { code: 1000, reason: "" };
        machine.closeSent = true;
      } else ending.aborted = new Error("dropped");
      ending.settle();
      inbox.wakeReaders();
    },
  };
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("wholeStream() is a stream of one chunk, typed by the message", async () => {
  const textual = wholeStream("hé");
  assert.equal(textual.type, "text");
  assert.equal(await text(textual.stream), "hé");
  const binary = wholeStream(new Uint8Array([1, 2]));
  assert.equal(binary.type, "binary");
  assert.deepEqual(
    await new Response(binary.stream).bytes(),
    new Uint8Array([1, 2]),
  );
  const empty = wholeStream("");
  assert.deepEqual(await Array.fromAsync(empty.text()), []);
});

Deno.test("MessageStreams hands out whole messages first, then pieces as they arrive", async () => {
  const { inbox, streams } = setup();
  inbox.push("whole");
  inbox.pushPart(part("ab", true, false));
  const first = await streams.next();
  assert.equal(await text(first!.stream), "whole");
  const second = (await streams.next())!;
  assert.equal(second.type, "text");
  const reading = text(second.stream);
  inbox.pushPart(part("", false, false)); // empty pieces are not handed out
  inbox.pushPart(part("cd", false, true));
  inbox.wakeReaders();
  assert.equal(await reading, "abcd");
  assert.equal(inbox.bytes, 0);
});

Deno.test("MessageStreams skips the rest of a message when the next is asked for", async () => {
  const { inbox, streams } = setup();
  inbox.pushPart(part("a", true, false));
  const first = (await streams.next())!;
  const reader = first.stream.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "a");
  inbox.pushPart(part("b", false, false));
  const next = streams.next();
  await assert.rejects(reader.read(), TypeError);
  inbox.pushPart(part("c", false, true)); // the skipped message's end
  inbox.pushPart(part("new", true, true));
  inbox.wakeReaders();
  assert.equal(await text((await next)!.stream), "new");
});

Deno.test("MessageStreams: a cancelled stream skips the rest of its message", async () => {
  const { inbox, streams } = setup();
  inbox.pushPart(part("a", true, false));
  const first = (await streams.next())!;
  await first.stream.cancel();
  inbox.pushPart(part("b", false, true));
  inbox.pushPart(part("kept", true, true));
  assert.equal(await text((await streams.next())!.stream), "kept");
});

Deno.test("MessageStreams ends with null at a normal end, and errors a message cut off", async () => {
  const { inbox, streams, end } = setup();
  inbox.pushPart(part("a", true, false));
  const cut = (await streams.next())!;
  const reading = text(cut.stream);
  end(true);
  await assert.rejects(reading, (e) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.message, "Connection closed before the message ended");
    return true;
  });
  assert.equal(await streams.next(), null);
});

Deno.test("MessageStreams rejects at an abnormal end", async () => {
  const { streams, end } = setup();
  const next = streams.next();
  end(false);
  await assert.rejects(next, (e) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal((e.cause as Error).message, "dropped");
    assert.equal(e.code, 1006);
    return true;
  });
});
