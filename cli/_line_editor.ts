// The terminal's line editor: the chat mode types into a prompt line that
// received messages must not break, so the editor owns the line and redraws
// it after every key and every message printed above it.

import { writeOut } from "./_output.ts";

/** What typing produced: a submitted line, or Ctrl-D / Ctrl-C on an empty line. */
export type EditorEvent = string | { key: "eof" | "interrupt" };

/**
 * A line editor for a raw-mode terminal: the prompt line is redrawn after
 * every key and every received message, so output never breaks it.
 */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #pending = "";
  readonly prompt = "> ";
  #write: (text: string) => void;

  /** @param write Where the terminal output goes (standard output). */
  constructor(write: (text: string) => void = writeOut) {
    this.#write = write;
  }

  /** Prints a line above the prompt, then redraws the prompt line. */
  print(text: string): void {
    this.#write(`\r\x1b[K${text.replace(/\r?\n/g, "\r\n")}\r\n`);
    this.redraw();
  }

  /** Draws the prompt line again, with the cursor where it was. */
  redraw(): void {
    const back = this.#chars.length - this.#cursor;
    this.#write(
      `\r\x1b[K${this.prompt}${this.#chars.join("")}${
        back > 0 ? `\x1b[${back}D` : ""
      }`,
    );
  }

  /**
   * Takes typed text; returns the events: submitted lines, and "eof" for
   * Ctrl-D on an empty line, "interrupt" for Ctrl-C on an empty line.
   */
  feed(text: string): EditorEvent[] {
    const events: EditorEvent[] = [];
    let input = this.#pending + text;
    this.#pending = "";
    while (input.length > 0) {
      if (input[0] === "\x1b") {
        const match = /^(\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(input.slice(1));
        if (!match) {
          // An escape sequence cut between two reads: wait for the rest.
          if (input.length < 8 && /^(\[[0-9;]*|O)?$/.test(input.slice(1))) {
            this.#pending = input;
            break;
          }
          input = input.slice(1);
          continue;
        }
        this.#escape(match[1]);
        input = input.slice(1 + match[0].length);
        continue;
      }
      const char = String.fromCodePoint(input.codePointAt(0)!);
      input = input.slice(char.length);
      switch (char) {
        case "\r":
        case "\n": {
          const line = this.#chars.join("");
          if (line) this.#history.push(line);
          this.#historyIndex = this.#history.length;
          this.#chars = [];
          this.#cursor = 0;
          // Keep the typed line on screen, then a fresh prompt.
          this.#write(`\r\x1b[K${this.prompt}${line}\r\n`);
          events.push(line);
          break;
        }
        case "\x7f":
        case "\b":
          if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
          break;
        case "\x01": // Ctrl-A
          this.#cursor = 0;
          break;
        case "\x05": // Ctrl-E
          this.#cursor = this.#chars.length;
          break;
        case "\x02": // Ctrl-B
          this.#cursor = Math.max(0, this.#cursor - 1);
          break;
        case "\x06": // Ctrl-F
          this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
          break;
        case "\x0b": // Ctrl-K
          this.#chars.splice(this.#cursor);
          break;
        case "\x15": // Ctrl-U
          this.#chars.splice(0, this.#cursor);
          this.#cursor = 0;
          break;
        case "\x17": { // Ctrl-W
          let start = this.#cursor;
          while (start > 0 && this.#chars[start - 1] === " ") start--;
          while (start > 0 && this.#chars[start - 1] !== " ") start--;
          this.#chars.splice(start, this.#cursor - start);
          this.#cursor = start;
          break;
        }
        case "\x03": // Ctrl-C: clears the line, or quits on an empty one
          if (this.#chars.length > 0) {
            this.#chars = [];
            this.#cursor = 0;
          } else events.push({ key: "interrupt" });
          break;
        case "\x04": // Ctrl-D: deletes, or quits on an empty line
          if (this.#chars.length === 0) events.push({ key: "eof" });
          else if (this.#cursor < this.#chars.length) {
            this.#chars.splice(this.#cursor, 1);
          }
          break;
        case "\x0c": // Ctrl-L
          this.#write("\x1b[2J\x1b[H");
          break;
        default:
          if (char >= " " || char === "\t") {
            this.#chars.splice(this.#cursor++, 0, char);
          }
      }
    }
    this.redraw();
    return events;
  }

  #escape(sequence: string): void {
    switch (sequence) {
      case "[D":
      case "OD":
        this.#cursor = Math.max(0, this.#cursor - 1);
        break;
      case "[C":
      case "OC":
        this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
        break;
      case "[H":
      case "OH":
      case "[1~":
      case "[7~":
        this.#cursor = 0;
        break;
      case "[F":
      case "OF":
      case "[4~":
      case "[8~":
        this.#cursor = this.#chars.length;
        break;
      case "[3~":
        if (this.#cursor < this.#chars.length) {
          this.#chars.splice(this.#cursor, 1);
        }
        break;
      case "[A":
      case "OA":
        if (this.#historyIndex > 0) this.#recall(--this.#historyIndex);
        break;
      case "[B":
      case "OB":
        if (this.#historyIndex < this.#history.length) {
          this.#recall(++this.#historyIndex);
        }
        break;
    }
  }

  #recall(index: number): void {
    this.#chars = Array.from(this.#history[index] ?? "");
    this.#cursor = this.#chars.length;
  }
}
