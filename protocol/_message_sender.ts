// The sending half of the RFC 6455 machine: which frames a message becomes
// (its opcode, compression by the extension, the frames of a message sent
// in parts), handed to the frame writer.

import type { PerMessageExtension } from "../extensions/extension.ts";
import type { PreparedMessage } from "../fanout/prepared.ts";
import { Opcode } from "../frame.ts";
import type { FrameWriter } from "./_frame_writer.ts";
import type { Message, SendOptions, SendPartOptions } from "./machine.ts";

const encoder = new TextEncoder();

/**
 * Turns messages into frames for one connection. The machine checks that
 * it may send at all; this checks what it sends.
 */
export class MessageSender {
  #writer: FrameWriter;
  #extension: PerMessageExtension | undefined;
  #client: boolean;
  // A message sent in parts: whether one is under way, its opcode, and
  // whether the extension transforms it.
  #streaming = false;
  #opcode = 0;
  #compressed = false;

  /**
   * @param writer Where the frames go.
   * @param extension The negotiated extension, if any.
   * @param client Whether this end is a client (whose frames are masked).
   */
  constructor(
    writer: FrameWriter,
    extension: PerMessageExtension | undefined,
    client: boolean,
  ) {
    this.#writer = writer;
    this.#extension = extension;
    this.#client = client;
  }

  /** Queues a message: a string as text, bytes as binary. */
  send(data: Message, options: SendOptions | undefined): void {
    this.#assertNoPartsUnderWay();
    const extension = this.#extension;
    let opcode: number;
    let payload: Uint8Array;
    if (typeof data === "string") {
      if (!extension && this.#writer.queueAsciiText(data)) return;
      opcode = Opcode.Text;
      payload = encoder.encode(data);
    } else if (data instanceof Uint8Array) {
      opcode = Opcode.Binary;
      payload = data;
    } else {
      throw new TypeError("Cannot send message: not a string or Uint8Array");
    }
    let rsv1 = false;
    if (extension && options?.compress !== false) {
      const compressed = extension.compress(payload);
      if (compressed) {
        payload = compressed;
        rsv1 = true;
      }
    }
    // Bytes of our own (encoded text, a compressed payload) may be written
    // as they are; the caller's may change once send() has returned.
    this.#writer.queueFrame(opcode, payload, rsv1, payload !== data);
  }

  /**
   * Queues a prepared message: its frame as is on a server without
   * compression, else its data as an ordinary message.
   */
  sendPrepared(message: PreparedMessage, options?: SendOptions): void {
    const compressible = this.#extension !== undefined &&
      options?.compress !== false;
    if (this.#client || compressible) {
      this.send(message.data, options);
      return;
    }
    this.#assertNoPartsUnderWay();
    this.#writer.queueEncoded(message.frame);
  }

  /** Queues one frame of a message sent in parts. */
  sendPart(data: Uint8Array, options: SendPartOptions): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("Cannot send part: data is not a Uint8Array");
    }
    const { first, fin } = options;
    const extension = this.#extension;
    let payload: Uint8Array | undefined = data;
    if (first) {
      this.#assertNoPartsUnderWay();
      this.#opcode = options.binary ? Opcode.Binary : Opcode.Text;
      payload = extension?.compressPart && options.compress !== false
        ? extension.compressPart(data, true, fin)
        : undefined;
      this.#compressed = payload !== undefined;
      payload ??= data;
    } else if (!this.#streaming) {
      throw new TypeError("Cannot send part: no message is under way");
    } else if (this.#compressed) {
      payload = extension!.compressPart!(data, false, fin)!;
    }
    this.#streaming = !fin;
    this.#writer.queueFrame(
      first ? this.#opcode : Opcode.Continuation,
      payload,
      first && this.#compressed,
      payload !== data,
      fin,
    );
  }

  #assertNoPartsUnderWay(): void {
    if (this.#streaming) {
      throw new TypeError(
        "Cannot send message: a message sent in parts is under way",
      );
    }
  }
}
