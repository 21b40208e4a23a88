// Reading the text of an HTTP/1.1 head, the same way on the upgrade path and
// the plain HTTP path: bytes as Latin-1 text, and each field line checked
// against _util/http_syntax.ts's grammar, a fault being a `BAD_REQUEST`
// (400) that says what is wrong.

import { HandshakeError } from "../errors.ts";
import { parseFieldLine } from "./http_syntax.ts";

const ascii = new TextDecoder();

/**
 * Decodes `bytes` one character per byte (ISO-8859-1): field values may hold
 * obs-text (0x80-0xff) that UTF-8 would reject or merge. ASCII, every usual
 * head, decodes the same as UTF-8, natively.
 */
export function latin1(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length && bytes[i] < 0x80) i++;
  if (i === bytes.length) return ascii.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/** A `BAD_REQUEST` handshake error (HTTP 400): a head that is not HTTP. */
export function badRequest(message: string): HandshakeError {
  return new HandshakeError("BAD_REQUEST", message, { status: 400 });
}

/**
 * Splits a field line into its name and trimmed value, or throws a
 * `BAD_REQUEST` for obsolete line folding, a name that is not a token, or a
 * value with a control byte.
 */
export function checkedField(line: string): [name: string, value: string] {
  const field = parseFieldLine(line);
  if (field === "folding") {
    throw badRequest("Invalid HTTP head: obsolete line folding");
  }
  if (field === "name") {
    throw badRequest(`Invalid HTTP header line: ${JSON.stringify(line)}`);
  }
  if (field === "value") {
    const name = line.slice(0, line.indexOf(":"));
    throw badRequest(`Invalid value in HTTP header ${name}`);
  }
  return field;
}
