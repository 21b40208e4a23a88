// The page the browser interoperability test serves: its script opens a
// WebSocket to the page's own origin with the browser's WebSocket, sends a
// list of messages, collects the echoes, closes with a code and a reason,
// and exposes the outcome as the promise `window.exchange`.

/** A message as it crosses the page boundary: binary travels as base64. */
export type PageMessage =
  | { type: "text"; data: string }
  | { type: "binary"; base64: string };

/** What the page reports once its WebSocket has closed. */
export interface PageResult {
  /** Whether `open` fired. */
  opened: boolean;
  /** `WebSocket.protocol` once open. */
  protocol: string;
  /** `WebSocket.extensions` once open. */
  extensions: string;
  /** The messages received, in order. */
  echoes: PageMessage[];
  /** How many `error` events fired. */
  errors: number;
  /** The `close` event. */
  close: { code: number; reason: string; wasClean: boolean } | null;
}

/** Bytes to base64 (the page does the same with `btoa`). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Base64 to bytes. */
export function fromBase64(base64: string): Uint8Array {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** A message in page form. */
export function toPageMessage(message: string | Uint8Array): PageMessage {
  return typeof message === "string"
    ? { type: "text", data: message }
    : { type: "binary", base64: toBase64(message) };
}

// JSON that is safe inside <script>: no "<" (so no "</script>") and only
// ASCII, whatever the texts hold.
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The page's HTML: it connects to `ws://<page host><path>`, sends
 * `messages` in order, and once as many messages came back, closes with
 * `closeCode` and `closeReason`.
 */
export function browserPage(options: {
  path: string;
  messages: PageMessage[];
  closeCode: number;
  closeReason: string;
}): string {
  const config = scriptJson(options);
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>WebSocket interoperability</title></head>
<body>
<script>
"use strict";
const config = ${config};
function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
function fromBase64(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}
window.exchange = new Promise((resolve) => {
  const result = {
    opened: false,
    protocol: "",
    extensions: "",
    echoes: [],
    errors: 0,
    close: null,
  };
  const ws = new WebSocket("ws://" + location.host + config.path);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    result.opened = true;
    result.protocol = ws.protocol;
    result.extensions = ws.extensions;
    for (const message of config.messages) {
      ws.send(message.type === "text" ? message.data : fromBase64(message.base64));
    }
  };
  ws.onmessage = (event) => {
    result.echoes.push(typeof event.data === "string"
      ? { type: "text", data: event.data }
      : { type: "binary", base64: toBase64(new Uint8Array(event.data)) });
    if (result.echoes.length === config.messages.length) {
      ws.close(config.closeCode, config.closeReason);
    }
  };
  ws.onerror = () => {
    result.errors++;
  };
  ws.onclose = (event) => {
    result.close = {
      code: event.code,
      reason: event.reason,
      wasClean: event.wasClean,
    };
    resolve(result);
  };
});
</script>
</body>
</html>
`;
}
