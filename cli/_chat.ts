// The terminal mode of the command line: raw input through a line editor,
// received messages printed above the prompt, and the slash commands.

import type { Conn, Message } from "../conn.ts";
import { LineEditor } from "./_line_editor.ts";
import {
  describeClose,
  exitCodeFor,
  parseHex,
  printMessages,
  writeOut,
} from "./_output.ts";

const encoder = new TextEncoder();

const COMMANDS =
  `Commands: /ping [text], /close [code] [reason], /binary <hex>, /quit, /help; //text sends "/text"`;

/** In a terminal: raw mode, a line editor, commands; resolves with the exit status. */
export async function chat(conn: Conn, connected: string): Promise<number> {
  const editor = new LineEditor();
  Deno.stdin.setRaw(true);
  try {
    editor.print(`${connected}. /help for commands, Ctrl-D to quit`);
    const printing = printMessages(conn, (text) => editor.print(`< ${text}`));
    const typing = (async () => {
      const textDecoder = new TextDecoder();
      const buffer = new Uint8Array(1024);
      while (true) {
        const n = await Deno.stdin.read(buffer);
        if (n === null) {
          await conn.close(1000).catch(() => {});
          return;
        }
        const events = editor.feed(
          textDecoder.decode(buffer.subarray(0, n), { stream: true }),
        );
        for (const event of events) {
          if (typeof event === "string") {
            if (await command(conn, editor, event)) return;
          } else {
            await conn.close(1000).catch(() => {});
            return;
          }
        }
      }
    })();
    typing.catch(() => {});
    const info = await conn.closed;
    await printing;
    editor.print(describeClose(info.code, info.reason));
    writeOut("\r\x1b[K");
    return exitCodeFor(info.code);
  } finally {
    Deno.stdin.setRaw(false);
  }
}

/** Runs one typed line; resolves with true once the connection is closing. */
export async function command(
  conn: Conn,
  editor: LineEditor,
  line: string,
): Promise<boolean> {
  const send = (message: Message) =>
    conn.send(message).catch((error) => editor.print(`! ${error.message}`));
  if (!line.startsWith("/") || line.startsWith("//")) {
    if (line !== "") await send(line.startsWith("//") ? line.slice(1) : line);
    return false;
  }
  const [name, ...rest] = line.slice(1).split(" ");
  switch (name) {
    case "ping": {
      const text = rest.join(" ");
      conn.ping(text ? encoder.encode(text) : undefined).then(
        (ms) => editor.print(`< pong (${ms.toFixed(1)} ms)`),
        (error) => editor.print(`! ${error.message}`),
      );
      return false;
    }
    case "close":
    case "quit": {
      const code = name === "close" && rest[0] !== undefined
        ? Number(rest[0])
        : 1000;
      const reason = name === "close" ? rest.slice(1).join(" ") : "";
      try {
        conn.close(code, reason).catch(() => {});
        return true;
      } catch (error) {
        editor.print(`! ${(error as Error).message}`);
        return false;
      }
    }
    case "binary": {
      const bytes = parseHex(rest.join(""));
      if (bytes === undefined) editor.print("! Invalid hex");
      else await send(bytes);
      return false;
    }
    case "help":
      editor.print(COMMANDS);
      return false;
    default:
      editor.print(`! Unknown command /${name}. ${COMMANDS}`);
      return false;
  }
}
