// The HTTP/1.1 grammar pieces (RFC 9110 section 5.6, RFC 9112 sections 3
// and 5) that the opening handshake, the legacy drafts, the HTTP path and the
// extension header parser all check against: written once, here.

/** The characters of a `token` (RFC 9110 section 5.6.2), as a class body. */
const TCHAR = "!#$%&'*+\\-.^_`|~0-9A-Za-z";

/** A whole string that is one `token`. */
export const TOKEN: RegExp = new RegExp(`^[${TCHAR}]+$`);

/** A `token` at `lastIndex` (sticky), for scanning a header value. */
export const TOKEN_AT: RegExp = new RegExp(`[${TCHAR}]+`, "y");

/** Optional white space at `lastIndex` (sticky). */
export const OWS_AT: RegExp = /[ \t]*/y;

/** A field value: visible ASCII, space, tab and obs-text. */
export const FIELD_VALUE: RegExp = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A request line: method, target and version digits. */
export const REQUEST_LINE: RegExp = new RegExp(
  `^([${TCHAR}]+) (\\S+) HTTP\\/(\\d)\\.(\\d)$`,
);

/** A field line with a token name and a field value after the colon. */
export const FIELD_LINE: RegExp = new RegExp(
  `^[${TCHAR}]+:[\\t\\x20-\\x7e\\x80-\\xff]*$`,
);

/** Why a field line is not one (for the caller's error). */
export type FieldLineFault = "folding" | "name" | "value";

/**
 * Splits one header field line into its name and its value without the
 * surrounding white space, or says what is wrong with it: obsolete line
 * folding, a name that is not a token, or a value with a control byte.
 */
export function parseFieldLine(
  line: string,
): [name: string, value: string] | FieldLineFault {
  if (line[0] === " " || line[0] === "\t") return "folding";
  const colon = line.indexOf(":");
  const name = colon > 0 ? line.slice(0, colon) : "";
  if (!TOKEN.test(name)) return "name";
  let start = colon + 1;
  let end = line.length;
  while (start < end && (line[start] === " " || line[start] === "\t")) start++;
  while (end > start && (line[end - 1] === " " || line[end - 1] === "\t")) {
    end--;
  }
  const value = line.slice(start, end);
  if (!FIELD_VALUE.test(value)) return "value";
  return [name, value];
}
