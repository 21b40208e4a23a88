/**
 * The frame codec as web streams: {@linkcode FrameDecoderStream} turns bytes
 * into frames and {@linkcode FrameEncoderStream} frames into bytes.
 *
 * @example Decoding the frames of a byte stream
 * ```ts
 * import { FrameDecoderStream } from "@seed/websocket/frame-stream";
 *
 * const bytes = ReadableStream.from([new Uint8Array([0x81, 0x02, 0x48]), new Uint8Array([0x69])]);
 * for await (const frame of bytes.pipeThrough(new FrameDecoderStream())) {
 *   console.log(frame.opcode, new TextDecoder().decode(frame.payload)); // 1 Hi
 * }
 * ```
 *
 * @module
 */

import {
  encodeFrame,
  type EncodeOptions,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  type FrameInit,
} from "../frame.ts";
import { ProtocolError } from "../errors.ts";

/**
 * A `TransformStream` from bytes to frames. A frame that breaks RFC 6455
 * errors the stream with a {@linkcode ProtocolError}; so does input that ends
 * in the middle of a frame (`UNEXPECTED_EOF`).
 *
 * @example Decoding masked client frames
 * ```ts
 * import { FrameDecoderStream } from "@seed/websocket/frame-stream";
 *
 * const decoder = new FrameDecoderStream({ role: "server", maxFrameSize: 1 << 20 });
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Frame> {
  /**
   * Creates a decoding stream.
   *
   * @param options Role, size limit and allowed RSV bits.
   */
  constructor(options: FrameDecoderOptions = {}) {
    const decoder = new FrameDecoder(options);
    super({
      transform(chunk, controller) {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame; frame = decoder.next()) {
          controller.enqueue(frame);
        }
      },
      flush() {
        if (decoder.inFrame) {
          throw new ProtocolError(
            "UNEXPECTED_EOF",
            "Input ended in the middle of a frame",
          );
        }
      },
    });
  }
}

/**
 * A `TransformStream` from frames to bytes, one chunk per frame.
 *
 * @example Encoding a masked text frame
 * ```ts
 * import { FrameEncoderStream } from "@seed/websocket/frame-stream";
 * import { Opcode } from "@seed/websocket/frame";
 *
 * const frames = ReadableStream.from([{ opcode: Opcode.Text, payload: new Uint8Array([0x48, 0x69]) }]);
 * for await (const bytes of frames.pipeThrough(new FrameEncoderStream({ mask: true }))) {
 *   console.log(bytes.length); // 8
 * }
 * ```
 */
export class FrameEncoderStream
  extends TransformStream<FrameInit, Uint8Array<ArrayBuffer>> {
  /**
   * Creates an encoding stream.
   *
   * @param options Whether to mask (a client must).
   */
  constructor(options: EncodeOptions = {}) {
    super({
      transform(frame, controller) {
        controller.enqueue(encodeFrame(frame, options));
      },
    });
  }
}
