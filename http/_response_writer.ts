// Writes one Response on the connection: a body of known size (declared, or
// found whole by a probe) with a Content-Length, its head and a small body
// in one write; a body still being produced streamed, chunked (or, for
// HTTP/1.0, until the close); the request's own body echoed from the read
// buffer; no body for HEAD, 1xx, 204 and 304. A failure before anything was
// sent is answered with a 500.

import type { Transport } from "../conn.ts";
import type { HandshakeError } from "../errors.ts";
import { concatBytes } from "../_util/bytes.ts";
import { giveHeadBuffer, takeHeadBuffer } from "./_buffer_pools.ts";
import { echoBody } from "./_echo.ts";
import type { RequestBody } from "./_request_body.ts";
import { DIGITS } from "./_request_framing.ts";
import { type Probe, probeBody, streamBody } from "./_response_body.ts";
import {
  encodeResponseHead,
  type ResponseFields,
  type ResponseFraming,
  responseHasNoBody,
} from "./_response_head.ts";
import type { Aborter } from "./_server_request.ts";
import type { Source } from "./_source.ts";

// The largest body sent in the same write as its head (copied to join it).
const COALESCE_LIMIT = 64 * 1024;

/** The answer to a malformed request: its status and message, as text. */
export function errorResponse(error: HandshakeError): Response {
  return new Response(error.message + "\n", {
    status: error.status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The answer when the handler or the response body failed. */
export function internalError(): Response {
  return new Response("Internal Server Error\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

// The response's Content-Length, when it is a usable number.
function declaredLength(fields: ResponseFields): number | undefined {
  const text = fields.contentLength;
  if (text === null || !DIGITS.test(text)) return undefined;
  const length = Number(text);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** Writes the responses of one connection. */
export class ResponseWriter {
  /** The connection's read side (its buffer may be written from). */
  readonly source: Source;
  /** Gets errors of the handler's response bodies. */
  readonly onError: (error: unknown) => void;
  #transport: Transport;

  constructor(
    transport: Transport,
    source: Source,
    onError: (error: unknown) => void,
  ) {
    this.#transport = transport;
    this.source = source;
    this.onError = onError;
  }

  /**
   * Writes `response`; false when it could not be completed (the peer
   * left, the body failed, or the framing forces a close).
   */
  async respond(
    response: Response,
    fields: ResponseFields,
    method: string,
    keepAlive: boolean,
    http10: boolean,
    body: RequestBody | undefined,
    aborter: Aborter,
  ): Promise<boolean> {
    const status = response.status;
    const noBody = responseHasNoBody(method, status);
    const declared = declaredLength(fields);
    const connection = !keepAlive ? "close" : http10 ? "keep-alive" : undefined;
    const stream = response.body;
    if (
      stream !== null && body !== undefined && stream === body.stream &&
      declared === undefined && !noBody && body.untouched
    ) {
      // The request's own body sent back: read here and written as it
      // arrives, without its stream.
      body.detach();
      return await echoBody(
        this,
        response,
        fields,
        method,
        connection,
        http10,
        body,
        aborter,
      );
    }
    let reader: ReadableStreamDefaultReader<unknown> | undefined;
    let probe: Probe | undefined;
    let known = declared;
    let ended = false;
    if (stream === null) {
      // No body is no bytes, whatever a content-length says (except for
      // HEAD, where it announces the length a GET would have).
      known = method === "HEAD" ? declared ?? 0 : 0;
      ended = true;
    } else if (declared === undefined) {
      // A body whose bytes are all there at once has a known size; a
      // stream that is still producing is sent chunked, its head at once.
      try {
        reader = stream.getReader();
        probe = await probeBody(reader);
      } catch (error) {
        this.onError(error);
        reader?.cancel(error).catch(() => {});
        return await this.writeError(internalError(), method);
      }
      known = probe.length;
      ended = known !== undefined;
    }
    if (noBody) {
      if (stream !== null && !ended) {
        (reader ?? stream).cancel().catch(() => {});
      }
      const length = method === "HEAD"
        ? known
        : status === 304
        ? declared
        : undefined;
      const into = takeHeadBuffer();
      const head = encodeResponseHead(
        status,
        response.statusText,
        fields,
        { kind: "head", length },
        connection,
        undefined,
        into,
      );
      const written = await this.write(head);
      giveHeadBuffer(into);
      return written;
    }
    let framing: ResponseFraming;
    let closeAfter = false;
    if (known !== undefined) framing = { kind: "length", length: known };
    else if (http10) {
      // HTTP/1.0 has no chunked coding: the end of the body is the close.
      framing = { kind: "none" };
      closeAfter = true;
    } else framing = { kind: "chunked" };
    const ready = probe?.ready;
    // A small body known whole goes out with its head in one write; a
    // large one is not copied for that.
    const joined = ended && ready !== undefined && ready.length > 0 &&
      ready.length <= COALESCE_LIMIT;
    // A head written at once is made in a pooled buffer.
    const into = ended ? takeHeadBuffer() : undefined;
    const head = encodeResponseHead(
      status,
      response.statusText,
      fields,
      framing,
      closeAfter ? "close" : connection,
      joined ? ready : undefined,
      into,
    );
    if (ended) {
      const written = joined || ready === undefined || ready.length === 0
        ? await this.write(head)
        : await this.write(head) && await this.write(ready);
      giveHeadBuffer(into!);
      return written;
    }
    const sent = await streamBody(
      this,
      {
        reader: reader ?? stream!.getReader(),
        head,
        probe,
        known,
        chunked: framing.kind === "chunked",
        method,
      },
      body,
      aborter,
    );
    return sent && !closeAfter;
  }

  /**
   * Writes a whole response read into memory, with `Connection: close`
   * (for a failure answered in place of the handler's response); false,
   * as the connection can't go on.
   */
  async writeError(response: Response, method?: string): Promise<boolean> {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const head = encodeResponseHead(
      response.status,
      "",
      response.headers,
      method === "HEAD"
        ? { kind: "head", length: bytes.length }
        : { kind: "length", length: bytes.length },
      "close",
    );
    await this.write(method === "HEAD" ? head : concatBytes([head, bytes]));
    return false;
  }

  /** Whether all of `bytes` was written (false when the peer is gone). */
  write(bytes: Uint8Array): Promise<boolean> {
    try {
      return this.#transport.write(bytes).then(
        (n) => n >= bytes.length || this.#writeRest(bytes.subarray(n)),
        () => false,
      );
    } catch {
      return Promise.resolve(false);
    }
  }

  async #writeRest(bytes: Uint8Array): Promise<boolean> {
    try {
      const transport = this.#transport;
      let n = 0;
      while (n < bytes.length) n += await transport.write(bytes.subarray(n));
      return true;
    } catch {
      return false;
    }
  }
}
