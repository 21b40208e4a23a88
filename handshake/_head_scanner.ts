// The HTTP/1.1 head grammar (RFC 9110 section 5.6, RFC 9112 sections 2-5)
// checked one byte at a time as the bytes arrive, so that garbage is refused
// at its first bad byte instead of after a blank line that never comes. The
// grammar is a table of states: most states take a run of one byte class
// and leave on one byte; the version and status digits are counted.

import { badRequest } from "./_head.ts";

// Byte classes of RFC 9110 section 5.6 and RFC 9112.
const TCHAR = 1; // token characters
const VCHAR = 2; // visible ASCII
const FIELD = 4; // field-value and reason-phrase: VCHAR, obs-text, SP, HTAB
const DIGIT = 8;
const CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const tokens = "!#$%&'*+-.^_`|~";
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    const alnum = /[0-9A-Za-z]/.test(c);
    if (alnum || tokens.includes(c)) table[b] |= TCHAR;
    if (b > 0x20 && b < 0x7f) table[b] |= VCHAR;
    if ((b > 0x20 && b !== 0x7f) || b === 0x20 || b === 0x09) {
      table[b] |= FIELD;
    }
    if (b >= 0x30 && b <= 0x39) table[b] |= DIGIT;
  }
  return table;
})();

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const HTTP_SLASH = [72, 84, 84, 80, 47, 0, 46, 0]; // "HTTP/" digit "." digit
// Empty lines skipped before a request line.
const MAX_LEADING_LINES = 2;

// The states. Those before FIELD_START are in the request or status line.
const START = 0; // before the method: a token byte, or CR of an empty line
const START_LF = 1; // the LF of an empty line before the request line
const METHOD = 2;
const TARGET_FIRST = 3; // the request target's first byte
const TARGET = 4;
const VERSION = 5; // "HTTP/" digit "." digit, the position counted
const LINE_CR = 6; // the request line's CR
const STATUS_SP = 7; // the space after a response's version
const STATUS = 8; // three digits, counted
const AFTER_STATUS = 9; // a space and a reason phrase, or CR
const REASON = 10;
const FIRST_LF = 11; // the LF ending the request or status line
const FIELD_START = 12; // a header name's first byte, or CR of the blank line
const NAME = 13;
const VALUE = 14;
const LINE_LF = 15; // the LF ending a header line
const END_LF = 16; // the LF of the blank line
const DONE = 17;

// The table: the byte class a state takes any run of, up to two bytes that
// each lead to a next state, and a byte class that leads to one.
const RUN = new Uint8Array(DONE);
const BYTE_A = new Int16Array(DONE).fill(-1);
const NEXT_A = new Uint8Array(DONE);
const BYTE_B = new Int16Array(DONE).fill(-1);
const NEXT_B = new Uint8Array(DONE);
const ENTER = new Uint8Array(DONE);
const ENTER_NEXT = new Uint8Array(DONE);

function rule(
  state: number,
  run: number,
  leave: [byte: number, next: number][],
  enter?: [byteClass: number, next: number],
): void {
  RUN[state] = run;
  if (leave[0]) [BYTE_A[state], NEXT_A[state]] = leave[0];
  if (leave[1]) [BYTE_B[state], NEXT_B[state]] = leave[1];
  if (enter) [ENTER[state], ENTER_NEXT[state]] = enter;
}

rule(START, 0, [], [TCHAR, METHOD]);
rule(METHOD, TCHAR, [[SP, TARGET_FIRST]]);
rule(TARGET_FIRST, 0, [], [VCHAR, TARGET]);
rule(TARGET, VCHAR, [[SP, VERSION]]);
rule(LINE_CR, 0, [[CR, FIRST_LF]]);
rule(STATUS_SP, 0, [[SP, STATUS]]);
// The reason phrase's space is often left out with the phrase.
rule(AFTER_STATUS, 0, [[SP, REASON], [CR, FIRST_LF]]);
rule(REASON, FIELD, [[CR, FIRST_LF]]);
rule(FIRST_LF, 0, [[LF, FIELD_START]]);
rule(FIELD_START, 0, [[CR, END_LF]], [TCHAR, NAME]);
rule(NAME, TCHAR, [[COLON, VALUE]]);
rule(VALUE, FIELD, [[CR, LINE_LF]]);
rule(LINE_LF, 0, [[LF, FIELD_START]]);
rule(END_LF, 0, [[LF, DONE]]);

// Whether `bytes` at `i` hold the usual end of a request line: "HTTP/"
// digit "." digit CRLF.
function versionLineAt(bytes: Uint8Array, i: number): boolean {
  return bytes[i] === 72 && bytes[i + 1] === 84 && bytes[i + 2] === 84 &&
    bytes[i + 3] === 80 && bytes[i + 4] === 47 &&
    (CLASS[bytes[i + 5]] & DIGIT) !== 0 && bytes[i + 6] === 46 &&
    (CLASS[bytes[i + 7]] & DIGIT) !== 0 && bytes[i + 8] === CR &&
    bytes[i + 9] === LF;
}

/**
 * Checks a request or response head against the grammar as its bytes
 * arrive, in any split. Throws `BAD_REQUEST` (HTTP 400) naming the first
 * byte that cannot begin or continue a valid head.
 */
export class HeadScanner {
  #request: boolean;
  #state: number;
  #pos = 0; // within VERSION or STATUS
  #skipped = 0; // bytes of empty lines before the request line

  /** A scanner for a request head, or else a response head. */
  constructor(request: boolean) {
    this.#request = request;
    this.#state = request ? START : VERSION;
  }

  /** Whether empty lines may still come before the request line. */
  get atStart(): boolean {
    return this.#request && this.#state <= START_LF;
  }

  /** Makes the scanner ready for the next head. */
  reset(): void {
    this.#skipped = 0;
    this.#pos = 0;
    this.#state = this.#request ? START : VERSION;
  }

  /**
   * Skips the CRLFs allowed before a request line (RFC 9112 section 2.2).
   *
   * @returns How many bytes were skipped.
   */
  skipEmptyLines(chunk: Uint8Array): number {
    let i = 0;
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.#state === START) {
        if (b !== CR) break;
        if (this.#skipped === 2 * MAX_LEADING_LINES) {
          throw badRequest(
            `Invalid HTTP request: more than ${MAX_LEADING_LINES} empty lines before the request line`,
          );
        }
        this.#state = START_LF;
      } else {
        if (b !== LF) throw badRequest(this.#describe(b, this.#skipped));
        this.#state = START;
      }
      this.#skipped++;
    }
    return i;
  }

  /**
   * Checks `bytes[0, end)` from where the last call stopped. Runs of one
   * class are taken in tight loops: no byte is looked at twice.
   *
   * @param offset How many bytes of the head came before `bytes`, for the
   * error's message.
   * @returns The index just past the blank line, or -1 for more.
   */
  scan(bytes: Uint8Array, end: number, offset: number): number {
    let state = this.#state;
    let pos = this.#pos;
    let i = 0;
    while (i < end) {
      const run = RUN[state];
      if (run !== 0) {
        while (i < end && CLASS[bytes[i]] & run) i++;
        if (i === end) break;
      }
      const b = bytes[i];
      if (state === VERSION) {
        const digit = pos === 5 || pos === 7;
        if (digit ? !(CLASS[b] & DIGIT) : b !== HTTP_SLASH[pos]) {
          this.#fail(state, b, offset + i);
        }
        i++;
        if (++pos === 8) {
          pos = 0;
          state = this.#request ? LINE_CR : STATUS_SP;
        }
        continue;
      }
      if (state === STATUS) {
        if (!(CLASS[b] & DIGIT)) this.#fail(state, b, offset + i);
        i++;
        if (++pos === 3) {
          pos = 0;
          state = AFTER_STATUS;
        }
        continue;
      }
      let next: number;
      if (b === BYTE_A[state]) next = NEXT_A[state];
      else if (b === BYTE_B[state]) next = NEXT_B[state];
      else if (CLASS[b] & ENTER[state]) next = ENTER_NEXT[state];
      else return this.#fail(state, b, offset + i);
      i++;
      if (next === DONE) {
        this.#state = state;
        return i;
      }
      // The usual line ends, taken at once: the request line's version and
      // CRLF, and a header line's LF with the next name's first byte.
      if (next === VERSION && i + 10 <= end && versionLineAt(bytes, i)) {
        next = FIELD_START;
        i += 10;
      } else if (
        next === LINE_LF && i + 1 < end && bytes[i] === LF &&
        CLASS[bytes[i + 1]] & TCHAR
      ) {
        next = NAME;
        i += 2;
      }
      state = next;
    }
    this.#state = state;
    this.#pos = pos;
    return -1;
  }

  #fail(state: number, b: number, offset: number): never {
    this.#state = state;
    throw badRequest(this.#describe(b, this.#skipped + offset));
  }

  // What is wrong with byte `b` at `offset` in the input.
  #describe(b: number, offset: number): string {
    const state = this.#state;
    const where = state >= FIELD_START
      ? "header line"
      : this.#request
      ? "request line"
      : "status line";
    if (state === FIELD_START && (b === SP || b === HTAB)) {
      return `Invalid HTTP head: line folding or whitespace before a header name at offset ${offset}`;
    }
    if (
      state === START_LF || state === FIRST_LF || state === LINE_LF ||
      state === END_LF
    ) {
      return `Invalid HTTP ${where}: bare CR at offset ${offset - 1}`;
    }
    if (b === LF) return `Invalid HTTP ${where}: bare LF at offset ${offset}`;
    const hex = b.toString(16).padStart(2, "0");
    return `Invalid HTTP ${where}: unexpected byte 0x${hex} at offset ${offset}`;
  }
}
