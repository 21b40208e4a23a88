// A request's own body sent back as its response's, straight from the read
// buffer, without going through the body's stream: chunked (closed after,
// for HTTP/1.0), as a stream of unknown length would be, each read framed as
// one chunk around the bytes where they lie.

import { concatBytes } from "../_util/bytes.ts";
import { giveScratch } from "./_buffer_pools.ts";
import { frameChunk, type FramedChunk, frameInPlace } from "./_chunk.ts";
import type { RequestBody } from "./_request_body.ts";
import { encodeResponseHead, type ResponseFields } from "./_response_head.ts";
import type { Aborter } from "./_server_request.ts";
import { internalError, type ResponseWriter } from "./_response_writer.ts";

/**
 * Writes `response`'s head, then `body` as it arrives, the next piece read
 * while the last one is written. Whether the connection can go on.
 */
export async function echoBody(
  writer: ResponseWriter,
  response: Response,
  fields: ResponseFields,
  method: string,
  connection: "close" | "keep-alive" | undefined,
  http10: boolean,
  body: RequestBody,
  aborter: Aborter,
): Promise<boolean> {
  const source = writer.source;
  const chunked = !http10;
  let pendingHead: Uint8Array | undefined = encodeResponseHead(
    response.status,
    response.statusText,
    fields,
    chunked ? { kind: "chunked" } : { kind: "none" },
    chunked ? connection : "close",
  );
  // With none of the body there yet, the head goes at once; it goes with
  // the first bytes otherwise (after the 100 that asks for them).
  if (source.buffered.length === 0 && !body.awaitingContinue) {
    if (!(await writer.write(pendingHead))) return false;
    pendingHead = undefined;
  }
  let ahead: Promise<Uint8Array[]> | undefined;
  while (true) {
    let parts: Uint8Array[];
    try {
      parts = await (ahead ?? body.next());
      ahead = undefined;
    } catch (error) {
      body.failure ??= error;
      if (!aborter.aborted) writer.onError(error);
      // Nothing was sent yet: the failure can still be answered.
      if (pendingHead) {
        return await writer.writeError(internalError(), method);
      }
      return false;
    }
    const last = body.done;
    let out: FramedChunk | undefined;
    if (!chunked) {
      out = {
        bytes: concatBytes(pendingHead ? [pendingHead, ...parts] : parts),
        scratch: undefined,
      };
    } else if (parts.length === 1 && source.surrounds(parts[0])) {
      out = frameInPlace(parts[0], pendingHead, last);
    }
    out ??= frameChunk(parts, pendingHead, last);
    pendingHead = undefined;
    if (out.bytes.length === 0) {
      if (last) return chunked;
      continue;
    }
    // Bytes written from the read buffer take it along: the piece read
    // meanwhile goes into another.
    const held = out.bytes.buffer === source.memory
      ? source.detach()
      : undefined;
    const writing = writer.write(out.bytes);
    if (!last) {
      ahead = body.next();
      ahead.catch(() => {}); // seen when awaited; the write may fail first
    }
    const written = await writing;
    giveScratch(out.scratch);
    source.giveBack(held);
    if (!written) return false;
    if (last) return chunked;
  }
}
