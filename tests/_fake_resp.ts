// A stand-in for a RespClient connection, for the parts of the Redis bus
// that only open, watch and close connections and send on them.

import type { RespArg, RespClient, RespValue } from "../fanout/_resp.ts";

/** Records what is sent; `close()` (or a test) ends it. */
export class FakeRespClient {
  isClosed = false;
  readonly sent: [readonly RespArg[], boolean][] = [];
  readonly closed: Promise<void>;
  #end = Promise.withResolvers<void>();
  #answer: (args: readonly RespArg[]) => RespValue;

  /** @param answer The reply to each command. */
  constructor(answer: (args: readonly RespArg[]) => RespValue = () => "OK") {
    this.closed = this.#end.promise;
    this.#answer = answer;
  }

  command(args: readonly RespArg[]): Promise<RespValue> {
    this.sent.push([args, true]);
    return Promise.resolve(this.#answer(args));
  }

  send(args: readonly RespArg[], reply = true): void {
    this.sent.push([args, reply]);
  }

  close(): void {
    this.isClosed = true;
    this.#end.resolve();
  }

  /** This, typed as what the code under test expects. */
  get client(): RespClient {
    return this as unknown as RespClient;
  }
}

/** A connect that waits until the signal aborts, then rejects. */
export function neverConnects(signal: AbortSignal): Promise<RespClient> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), {
      once: true,
    });
  });
}
