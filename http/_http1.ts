// HTTP/1.1 message framing for the server's plain-request path (RFC 9112),
// with no I/O: request heads, how a request's body is delimited and
// decoded, whether a connection persists, response heads and chunks, and
// the client address behind trusted proxies. Every fault is a HandshakeError
// with the HTTP status to answer; the caller closes the connection after
// answering one, since its framing can't be trusted. Each part lives in its
// own file; this one gathers them.

export {
  Fields,
  type FieldSource,
  type HeadInfo,
  type ParsedHead,
  parseHead,
} from "./_request_head.ts";
export {
  clientKeepsAlive,
  CONTINUE,
  expectsContinue,
  type RequestFraming,
  requestFraming,
} from "./_request_framing.ts";
export {
  type BodyDecoder,
  bodyDecoder,
  ChunkedDecoder,
  type DecodeResult,
  LengthDecoder,
  MAX_CHUNK_LINE,
  MAX_TRAILER_SIZE,
} from "./_body_decoder.ts";
export {
  dateHeaderLine,
  encodeResponseHead,
  ResponseFields,
  type ResponseFraming,
  responseHasNoBody,
  STATUS_TEXT,
} from "./_response_head.ts";
export { encodeChunk, LAST_CHUNK } from "./_chunk.ts";
export { clientAddress, type TrustProxy } from "./_client_address.ts";
