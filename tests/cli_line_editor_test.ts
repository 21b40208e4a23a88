import assert from "node:assert/strict";
import { LineEditor } from "../cli/_line_editor.ts";

// An editor whose terminal output is kept; `screen()` is the prompt line as
// last drawn, with the cursor shown as "|".
function editor() {
  let out = "";
  const edit = new LineEditor((text) => out += text);
  const screen = () => {
    const last = out.slice(out.lastIndexOf("\r\x1b[K") + 4);
    // A cursor left of the end is drawn as ESC [ n D after the line.
    const move = last.lastIndexOf("\x1b[");
    const back = move < 0 ? 0 : parseInt(last.slice(move + 2));
    const line = move < 0 ? last : last.slice(0, move);
    return line.slice(0, line.length - back) + "|" +
      line.slice(line.length - back);
  };
  return { edit, screen, output: () => out };
}

Deno.test("LineEditor submits typed lines and keeps them on screen", () => {
  const { edit, output } = editor();
  assert.deepEqual(edit.feed("hello\rworld\n"), ["hello", "world"]);
  assert.ok(output().includes("\r\x1b[K> hello\r\n"));
  assert.ok(output().includes("\r\x1b[K> world\r\n"));
  // An empty line is submitted too (the caller ignores it).
  assert.deepEqual(edit.feed("\r"), [""]);
});

Deno.test("LineEditor moves and deletes with the Emacs keys", () => {
  const { edit, screen } = editor();
  edit.feed("one two");
  assert.equal(screen(), "> one two|");
  edit.feed("\x01"); // Ctrl-A
  assert.equal(screen(), "> |one two");
  edit.feed("\x06\x06"); // Ctrl-F twice
  assert.equal(screen(), "> on|e two");
  edit.feed("\x0b"); // Ctrl-K
  assert.equal(screen(), "> on|");
  edit.feed("\x05 more words\x17"); // Ctrl-E, type, Ctrl-W
  assert.equal(screen(), "> on more |");
  edit.feed("\x7f\b"); // two backspaces
  assert.equal(screen(), "> on mor|");
  edit.feed("\x02\x02\x04"); // Ctrl-B twice, Ctrl-D deletes under the cursor
  assert.equal(screen(), "> on m|r");
  edit.feed("\x15"); // Ctrl-U
  assert.equal(screen(), "> |r");
  edit.feed("\x03"); // Ctrl-C clears a line that is not empty
  assert.equal(screen(), "> |");
});

Deno.test("LineEditor reads escape sequences, even split between reads", () => {
  const { edit, screen } = editor();
  edit.feed("abc");
  edit.feed("\x1b[D\x1bOD"); // left, twice, in both encodings
  assert.equal(screen(), "> a|bc");
  edit.feed("\x1b"); // the rest of "right" comes in the next read
  edit.feed("[");
  assert.equal(screen(), "> a|bc");
  edit.feed("C");
  assert.equal(screen(), "> ab|c");
  edit.feed("\x1b[H");
  assert.equal(screen(), "> |abc");
  edit.feed("\x1b[3~"); // Delete
  assert.equal(screen(), "> |bc");
  edit.feed("\x1b[F");
  assert.equal(screen(), "> bc|");
  // An unknown sequence is skipped; a stray escape is dropped.
  edit.feed("\x1b[5~\x1bxy");
  assert.equal(screen(), "> bcxy|");
});

Deno.test("LineEditor recalls history with up and down", () => {
  const { edit, screen } = editor();
  edit.feed("first\rsecond\r");
  edit.feed("\x1b[A");
  assert.equal(screen(), "> second|");
  edit.feed("\x1b[A\x1b[A"); // no further back than the first
  assert.equal(screen(), "> first|");
  edit.feed("\x1bOB");
  assert.equal(screen(), "> second|");
  edit.feed("\x1b[B"); // past the last: an empty line
  assert.equal(screen(), "> |");
});

Deno.test("LineEditor reports Ctrl-D and Ctrl-C on an empty line", () => {
  const { edit } = editor();
  assert.deepEqual(edit.feed("\x04"), [{ key: "eof" }]);
  assert.deepEqual(edit.feed("\x03"), [{ key: "interrupt" }]);
  assert.deepEqual(edit.feed("x\x04"), []);
});

Deno.test("LineEditor.print() writes above the prompt and redraws it", () => {
  const { edit, output, screen } = editor();
  edit.feed("typing");
  edit.print("< a\nb");
  assert.ok(output().includes("\r\x1b[K< a\r\nb\r\n"));
  assert.equal(screen(), "> typing|");
});
