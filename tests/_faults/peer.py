#!/usr/bin/env python3
"""Hostile and honest WebSocket clients for the fault suite and the soak tool.

Deno cannot set SO_LINGER, so a real TCP reset (RST) comes from here: a
socket with SO_LINGER 0 that is closed sends RST instead of FIN. Every run is
seeded and bounded; it talks only to the loopback address it is given and
prints one JSON summary line.

  peer.py reset --port P [--count N] [--seed S] [--concurrency C]
      N clients, each resetting its socket at a random phase: right after
      connect (often before the server's accept), in the middle of the
      request, after the request, after the 101, in the middle of a frame,
      during an echo with replies unread, right after a close frame.
  peer.py burst --port P [--count N]
      N honest clients connecting at once; each completes the handshake,
      one echo and the closing handshake.
  peer.py silent --port P [--count N]
      N clients that complete the handshake, send half a frame, then stay
      silent without closing (half-open); each reports when the server
      ended it.
"""

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import struct
import sys
import time

PHASES = ["connect", "request", "handshake", "open", "frame", "echo", "close"]


def request_bytes(port, rnd):
    key = base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(16))).decode()
    return (
        "GET / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def client_frame(opcode, payload, rnd):
    """A masked client frame (RFC 6455 section 5.2)."""
    head = bytearray([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head += struct.pack("!H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack("!Q", n)
    mask = bytes(rnd.getrandbits(8) for _ in range(4))
    if not payload:
        return bytes(head) + mask
    # XOR as one big integer: fast enough for megabytes in pure Python.
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return bytes(head) + mask + body


async def read_frame(reader):
    """Reads one unmasked server frame; returns (opcode, payload)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


async def open_socket(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return reader, writer


def arm_reset(writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def handshake(reader, writer, port, rnd):
    writer.write(request_bytes(port, rnd))
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 101 " not in status + " ":
        raise RuntimeError(f"status {status!r}")


async def reset_one(port, phase, rnd):
    """Runs one client to `phase`, then resets. Returns an error or None."""
    reader, writer = await open_socket(port)
    arm_reset(writer)
    try:
        if phase == "connect":
            return None
        request = request_bytes(port, rnd)
        if phase == "request":
            writer.write(request[: rnd.randrange(1, len(request))])
            await writer.drain()
            return None
        if phase == "handshake":
            writer.write(request)
            await writer.drain()
            return None
        await handshake(reader, writer, port, rnd)
        if phase == "open":
            return None
        if phase == "frame":
            frame = client_frame(0x2, os.urandom(rnd.randrange(2, 2000)), rnd)
            writer.write(frame[: rnd.randrange(1, len(frame))])
            await writer.drain()
            return None
        messages = rnd.randrange(1, 20)
        for i in range(messages):
            size = rnd.choice([1, 16, 200, 5000, 70000])
            writer.write(client_frame(0x2, bytes([i % 256]) * size, rnd))
        if phase == "echo":
            await writer.drain()
            # Read some of the replies, leave the rest unread.
            for _ in range(rnd.randrange(0, messages)):
                await read_frame(reader)
            return None
        writer.write(client_frame(0x8, struct.pack("!H", 1000), rnd))
        await writer.drain()
        return None
    except (ConnectionError, asyncio.IncompleteReadError, RuntimeError) as error:
        return f"{phase}: {error!r}"
    finally:
        writer.transport.abort()


async def run_reset(args):
    rnd = random.Random(args.seed)
    plan = [(rnd.choice(PHASES), random.Random(rnd.getrandbits(32))) for _ in range(args.count)]
    counts = {phase: 0 for phase in PHASES}
    errors = []
    gate = asyncio.Semaphore(args.concurrency)

    async def one(phase, prng):
        async with gate:
            try:
                error = await asyncio.wait_for(reset_one(args.port, phase, prng), 30)
            except (OSError, asyncio.TimeoutError) as e:
                error = f"{phase}: {e!r}"
            counts[phase] += 1
            if error:
                errors.append(error)

    await asyncio.gather(*(one(phase, prng) for phase, prng in plan))
    return {"mode": "reset", "count": args.count, "phases": counts, "errors": errors[:20], "errorCount": len(errors)}


async def honest_one(port, i, rnd):
    reader, writer = await open_socket(port)
    try:
        await handshake(reader, writer, port, rnd)
        text = f"hello {i}".encode()
        writer.write(client_frame(0x1, text, rnd))
        await writer.drain()
        opcode, payload = await read_frame(reader)
        if opcode != 0x1 or payload != text:
            raise RuntimeError(f"echo {opcode} {payload!r}")
        writer.write(client_frame(0x8, struct.pack("!H", 1000), rnd))
        await writer.drain()
        opcode, payload = await read_frame(reader)
        if opcode != 0x8:
            raise RuntimeError(f"expected close, got {opcode}")
        rest = await reader.read()
        if rest:
            raise RuntimeError("bytes after the close frame")
        return None
    finally:
        writer.close()


async def run_burst(args):
    rnd = random.Random(args.seed)
    errors = []
    start = time.monotonic()

    async def one(i, prng):
        try:
            error = await asyncio.wait_for(honest_one(args.port, i, prng), 60)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, RuntimeError) as e:
            error = repr(e)
        if error:
            errors.append(error)

    await asyncio.gather(*(one(i, random.Random(rnd.getrandbits(32))) for i in range(args.count)))
    return {
        "mode": "burst",
        "count": args.count,
        "served": args.count - len(errors),
        "errors": errors[:20],
        "seconds": round(time.monotonic() - start, 3),
    }


async def silent_one(port, rnd):
    reader, writer = await open_socket(port)
    try:
        await handshake(reader, writer, port, rnd)
        frame = client_frame(0x2, b"x" * 100, rnd)
        writer.write(frame[:10])
        await writer.drain()
        start = time.monotonic()
        # Whatever the server sends (pings, a close frame) is read and
        # ignored; the connection ends when the server closes it.
        while await reader.read(4096):
            pass
        return time.monotonic() - start
    except ConnectionError:
        return time.monotonic() - start
    finally:
        writer.close()


async def run_silent(args):
    rnd = random.Random(args.seed)
    ended = await asyncio.gather(
        *(asyncio.wait_for(silent_one(args.port, random.Random(rnd.getrandbits(32))), 60) for _ in range(args.count)),
        return_exceptions=True,
    )
    seconds = [e for e in ended if isinstance(e, float)]
    return {
        "mode": "silent",
        "count": args.count,
        "ended": len(seconds),
        "errors": [repr(e) for e in ended if not isinstance(e, float)][:20],
        "maxSeconds": round(max(seconds, default=0), 3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["reset", "burst", "silent"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    run = {"reset": run_reset, "burst": run_burst, "silent": run_silent}[args.mode]
    print(json.dumps(asyncio.run(run(args))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
