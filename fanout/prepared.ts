/**
 * {@linkcode PreparedMessage}: a message encoded into its frame once and
 * written as is to many connections, the primitive for broadcast.
 *
 * @example Broadcasting one message to every connection
 * ```ts ignore
 * import { type Conn, PreparedMessage } from "@seed/websocket";
 *
 * function broadcast(peers: Iterable<Conn>, text: string): void {
 *   const message = new PreparedMessage(text);
 *   for (const peer of peers) peer.send(message).catch(() => {});
 * }
 * ```
 *
 * @module
 */

import { encodeFrame, Opcode } from "../frame.ts";

const encoder = new TextEncoder();

/**
 * A text or binary message encoded once as an unmasked RFC 6455 frame.
 * Sending it on a server-side connection writes the same bytes again, with
 * no encoding or copying per connection. Where the frame cannot be reused —
 * a client must mask every frame with a fresh key, a connection with
 * compression may compress, a legacy draft frames differently — the
 * connection sends {@linkcode PreparedMessage.data} as an ordinary message.
 *
 * @example Preparing a message
 * ```ts
 * import { PreparedMessage } from "@seed/websocket/prepared";
 *
 * const message = new PreparedMessage("Hello");
 * console.log(message.frame); // Uint8Array(7) [ 129, 5, 72, 101, 108, 108, 111 ]
 * ```
 */
export class PreparedMessage {
  /** The message itself. */
  readonly data: string | Uint8Array;
  /** The whole unmasked frame: header and payload. */
  readonly frame: Uint8Array;

  /**
   * Encodes a message into its frame.
   *
   * @param data A string (a text message) or bytes (a binary message); the
   * bytes are copied, so later changes to them do not show.
   */
  constructor(data: string | Uint8Array) {
    if (typeof data === "string") {
      this.data = data;
      this.frame = encodeFrame({
        opcode: Opcode.Text,
        payload: encoder.encode(data),
      });
    } else if (data instanceof Uint8Array) {
      this.data = data.slice();
      this.frame = encodeFrame({ opcode: Opcode.Binary, payload: this.data });
    } else {
      throw new TypeError("Cannot prepare message: not a string or Uint8Array");
    }
  }
}
