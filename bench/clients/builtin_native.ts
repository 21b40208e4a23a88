// Deno's built-in client against a native echo peer: `new WebSocket`, the
// same scenarios as bench/clients/ours_native.ts.
//
//   deno run -A bench/clients/builtin_native.ts '{"mode":"echo","port":8080,...}'

import { type Open, runClient } from "./_modes.ts";

const open: Open = (url, onMessage) =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onerror = () => reject(new Error("Cannot connect"));
    socket.onmessage = onMessage;
    socket.onopen = () => {
      socket.onerror = () => {};
      resolve({
        send(message) {
          socket.send(message);
        },
        close() {
          return new Promise<void>((done) => {
            socket.onclose = () => done();
            socket.close();
          });
        },
      });
    };
  });

await runClient(open);
