// Deno's built-in server under test: `Deno.serve` + `Deno.upgradeWebSocket`,
// an echo server with the same broadcast endpoints as servers/ours.ts.
// Prints {"port": n} once listening; exits when stdin ends.
//
//   deno run -A bench/servers/builtin.ts

import { exitOnStdinEnd } from "../_wire.ts";

const sinks = new Set<WebSocket>();

Deno.serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: (addr) => console.log(JSON.stringify({ port: addr.port })),
  onError: () => new Response(null, { status: 500 }),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onerror = () => {};
  const path = new URL(request.url).pathname;
  if (path === "/broadcast-sink") {
    socket.onopen = () => sinks.add(socket);
    socket.onclose = () => sinks.delete(socket);
  } else if (path === "/broadcast-source") {
    socket.onmessage = (event) => {
      for (const peer of sinks) {
        if (peer.readyState === WebSocket.OPEN) peer.send(event.data);
      }
    };
  } else {
    socket.onmessage = (event) => socket.send(event.data);
  }
  return response;
});

exitOnStdinEnd();
