// The receiving half of the RFC 6455 machine: received bytes decoded into
// frames, and data frames turned into messages: fragments reassembled
// under the size limit, inflated by the extension, text validated as UTF-8
// as it arrives (so invalid text fails at once), or every piece handed out
// as it comes when messages are streamed.

import { ProtocolError } from "../errors.ts";
import { concatBytes } from "../_util/bytes.ts";
import type { PerMessageExtension } from "../extensions/extension.ts";
import { type Frame, FrameDecoder, Opcode } from "../frame.ts";
import { invalidUtf8 } from "./_close_frame.ts";
import type { ProtocolEvent } from "./machine.ts";

const strictDecoder = new TextDecoder("utf-8", { fatal: true });
// A frame with at least this much still to come is read straight into its
// payload buffer (see payloadTarget).
const DIRECT_READ_MINIMUM = 128 * 1024;

// Short ASCII text skips the TextDecoder op call.
function asciiOrDecode(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) return strictDecoder.decode(bytes);
  }
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

// Whether a piece of text is short and ASCII (decoded without a decoder).
function isShortAscii(bytes: Uint8Array): boolean {
  if (bytes.length > 128) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

/** Options of {@linkcode MessageReader}. */
export interface MessageReaderOptions {
  /** Which end reads: a server expects masked frames, a client unmasked. */
  role: "client" | "server";
  /** The largest message, after decompression. */
  maxMessageSize: number;
  /** The negotiated extension, if any. */
  extension?: PerMessageExtension;
  /** Whether received chunks may be unmasked in place. */
  ownsInput?: boolean;
}

/**
 * Decodes one connection's received bytes: data frames become messages (or
 * message parts, when streamed), pushed to the events given; control
 * frames are handed back to the machine, which answers them. Throws
 * {@linkcode ProtocolError} for a violation.
 */
export class MessageReader {
  #extension: PerMessageExtension | undefined;
  #maxMessageSize: number;
  #decoder: FrameDecoder;
  // The message being reassembled; opcode 0 when none.
  #opcode = 0;
  #compressed = false;
  #parts: Uint8Array[] = [];
  // The decoded pieces of a text message, joined once it ends: one flat
  // string rather than a chain of concatenations.
  #text: string[] = [];
  #size = 0;
  // Text that arrives in pieces (fragments, or a frame taken as it
  // arrives) is decoded piece by piece. Short ASCII pieces need no decoder;
  // one starts at the first other piece: at the start of a message, one
  // that drops a leading BOM as a whole message's decoding does; further
  // in, one that keeps it. Each is made once: a decode call that does not
  // stream leaves it ready for the next message.
  #utf8: TextDecoder | undefined;
  #utf8Inner: TextDecoder | undefined;
  #decoding: TextDecoder | undefined;
  #inText = false;
  // Whether part of the current frame's payload was taken before the frame
  // was complete (its header checks are then done).
  #midFrame = false;
  // Streamed reading: the mode for messages to come, whether the message
  // under way is streamed, whether its first piece is still to be handed
  // out, and the decoder that validates its text.
  #streamMessages = false;
  #streamed = false;
  #partFirst = false;
  #partUtf8: TextDecoder | undefined;

  /** @param options Role, size limit, extension. */
  constructor(options: MessageReaderOptions) {
    this.#maxMessageSize = options.maxMessageSize;
    this.#extension = options.extension;
    this.#decoder = new FrameDecoder({
      role: options.role,
      // A compressed frame may be as large as the message it inflates to.
      maxFrameSize: options.maxMessageSize,
      allowedRsv: options.extension ? 0x40 : 0,
      ownsInput: options.ownsInput,
    });
  }

  /** Whether messages that begin from now on are streamed. */
  get streamMessages(): boolean {
    return this.#streamMessages;
  }
  set streamMessages(value: boolean) {
    this.#streamMessages = value;
  }

  /** Whether a message has begun and not yet ended. */
  get inMessage(): boolean {
    return this.#opcode !== 0 || this.#decoder.inFrame;
  }

  /** Adds received bytes, in any split. */
  push(data: Uint8Array): void {
    this.#decoder.push(data);
  }

  /**
   * Where the transport may read the rest of a large frame directly (see
   * `FrameDecoder.payloadTarget`); never for a streamed message, which is
   * taken as it arrives, never held whole.
   */
  payloadTarget(): Uint8Array | undefined {
    if (this.#streamMessages || this.#streamed) return undefined;
    return this.#decoder.payloadTarget(DIRECT_READ_MINIMUM);
  }

  /** Reports `n` bytes read into the buffer from `payloadTarget()`. */
  receivedDirect(n: number): void {
    this.#decoder.receivedDirect(n);
  }

  /**
   * Decodes what has arrived: each data frame's message or part goes to
   * `events`, up to the next control frame, which is returned; undefined
   * once no whole frame is left. Then a text frame under way is validated
   * as far as it has arrived, so that invalid UTF-8 fails at once, not when
   * the frame is complete.
   */
  nextControl(events: ProtocolEvent[]): Frame | undefined {
    const decoder = this.#decoder;
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      if (frame.opcode >= Opcode.Close) {
        if (frame.rsv1) {
          throw new ProtocolError(
            "RESERVED_BITS",
            "Received a control frame with RSV1 set",
          );
        }
        return frame;
      }
      const event = this.#onData(frame, true);
      if (event) events.push(event);
    }
    if (
      decoder.bufferedBytes > 0 && this.#takesPartial(decoder.pendingHeader)
    ) {
      const part = decoder.takePartial();
      const event = part && this.#onData(part, false);
      if (event) events.push(event);
    }
    return undefined;
  }

  /** Forgets the message under way (the connection failed). */
  reset(): void {
    this.#parts = [];
    this.#text = [];
    this.#inText = false;
    this.#decoding = undefined;
    this.#partUtf8 = undefined;
  }

  // Whether the frame under way (its first header byte, -1 for none) is
  // one whose payload is taken before it is complete: any frame of a
  // streamed message, else uncompressed text (compressed text is validated
  // once inflated).
  #takesPartial(first: number): boolean {
    if (first < 0) return false;
    const opcode = first & 0x0f;
    if (opcode >= Opcode.Close) return false;
    if (
      opcode === Opcode.Continuation ? this.#streamed : this.#streamMessages
    ) {
      return true;
    }
    if ((first & 0x40) !== 0) return false;
    return opcode === Opcode.Text ||
      (opcode === Opcode.Continuation && this.#opcode === Opcode.Text &&
        !this.#compressed);
  }

  // A data frame, or with `end` false the part of its payload that arrived
  // so far: the message or part it completes, if any.
  #onData(frame: Frame, end: boolean): ProtocolEvent | undefined {
    const opcode = frame.opcode;
    if (this.#midFrame) {
      // The rest of a frame whose header was checked with its first part.
    } else if (opcode === Opcode.Continuation) {
      if (this.#opcode === 0) {
        throw new ProtocolError(
          "UNEXPECTED_CONTINUATION",
          "Received a continuation frame without a message to continue",
        );
      }
      if (frame.rsv1) {
        throw new ProtocolError(
          "RESERVED_BITS",
          "Received a continuation frame with RSV1 set",
        );
      }
    } else {
      if (this.#opcode !== 0) {
        throw new ProtocolError(
          "EXPECTED_CONTINUATION",
          "Received a new message before the previous one ended",
        );
      }
      this.#opcode = opcode;
      this.#compressed = frame.rsv1;
      this.#size = 0;
      this.#streamed = this.#partFirst = this.#streamMessages;
    }
    let payload = frame.payload;
    if (this.#compressed) {
      payload = this.#extension!.decompress(
        payload,
        frame.fin,
        this.#maxMessageSize,
      );
    }
    this.#size += payload.length;
    if (this.#size > this.#maxMessageSize) {
      throw new ProtocolError(
        "MESSAGE_TOO_LARGE",
        `Received a message over the limit of ${this.#maxMessageSize} bytes`,
      );
    }
    this.#midFrame = !end;
    const fin = frame.fin && end;
    const event = this.#streamed
      ? this.#onPart(payload, fin)
      : this.#opcode === Opcode.Text
      ? this.#onText(payload, fin)
      : this.#onBinary(payload, fin);
    if (!end) return event;
    if (fin) {
      this.#opcode = 0;
      this.#streamed = false;
      this.#decoder.continuationLimit = Infinity;
    } else if (!this.#compressed) {
      // The next fragment may carry only what is left of the allowance, so
      // an oversized message fails on its header, before its payload is
      // buffered.
      this.#decoder.continuationLimit = this.#maxMessageSize - this.#size;
    }
    return event;
  }

  #onText(payload: Uint8Array, fin: boolean): ProtocolEvent | undefined {
    if (fin && !this.#inText) {
      try {
        const data = payload.length <= 64
          ? asciiOrDecode(payload)
          : strictDecoder.decode(payload);
        return { type: "message", data };
      } catch (error) {
        throw invalidUtf8(error);
      }
    }
    // Fragments are validated as they come, so invalid UTF-8 fails at once.
    this.#inText = !fin;
    let decoder = this.#decoding;
    if (decoder === undefined && isShortAscii(payload)) {
      this.#text.push(
        String.fromCharCode.apply(null, payload as unknown as number[]),
      );
    } else {
      if (decoder === undefined) {
        // #size already counts this piece.
        decoder = this.#decoding = this.#size === payload.length
          ? this.#utf8 ??= new TextDecoder("utf-8", { fatal: true })
          : this.#utf8Inner ??= new TextDecoder("utf-8", {
            fatal: true,
            ignoreBOM: true,
          });
      }
      try {
        this.#text.push(decoder.decode(payload, { stream: !fin }));
      } catch (error) {
        throw invalidUtf8(error);
      }
    }
    if (!fin) return undefined;
    const text = this.#text;
    const data = text.length === 1 ? text[0] : text.join("");
    // The array is never handed out: emptied, it serves the next message.
    text.length = 0;
    this.#decoding = undefined;
    return { type: "message", data };
  }

  // A piece of a streamed message: handed out as it is, text validated
  // first (invalid UTF-8 fails at once, with 1007).
  #onPart(payload: Uint8Array, fin: boolean): ProtocolEvent | undefined {
    const first = this.#partFirst;
    if (payload.length === 0 && !first && !fin) return undefined;
    const binary = this.#opcode === Opcode.Binary;
    if (!binary) {
      const utf8 = this.#partUtf8 ??= new TextDecoder("utf-8", {
        fatal: true,
      });
      try {
        utf8.decode(payload, { stream: !fin });
      } catch (error) {
        throw invalidUtf8(error);
      }
    }
    this.#partFirst = false;
    return { type: "part", binary, data: payload, first, fin };
  }

  #onBinary(payload: Uint8Array, fin: boolean): ProtocolEvent | undefined {
    const parts = this.#parts;
    if (payload.length > 0) parts.push(payload);
    if (!fin) return undefined;
    const data = parts.length === 0
      ? new Uint8Array(0)
      : concatBytes(parts, this.#size);
    // The array is never handed out: emptied, it serves the next message.
    parts.length = 0;
    return { type: "message", data };
  }
}
