"""A local OTLP/HTTP receiver for the benchmark (its own process): every POST (`/v1/traces`, ...) is read
to its end and answered 200 with an empty body (an empty Export*ServiceResponse), and counted.

    POST <any path>   200, `content-type: application/x-protobuf`, empty body
    GET  /__stats     {"requests": N, "bytes": B, "paths": {path: N}}: what it has received

Run: python -m bench.otlp_sink --port 4318   (prints "READY <port>" once listening)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from bench.mock_upstream import run_loop

_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
_REFUSED = b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class Received:
    requests = 0
    bytes = 0
    paths: dict[str, int] = {}

    @classmethod
    def as_json(cls) -> bytes:
        return json.dumps({"requests": cls.requests, "bytes": cls.bytes, "paths": cls.paths}).encode()


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, path = request_line.split(" ")[:2]
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
            if method == "GET" and path == "/__stats":
                body = Received.as_json()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%b" % (len(body), body))  # fmt: skip
            elif "content-length" not in headers:  # the OTLP exporters always send one
                writer.write(_REFUSED)
                break
            else:
                size = int(headers["content-length"])
                await reader.readexactly(size)
                Received.requests += 1
                Received.bytes += size
                Received.paths[path] = Received.paths.get(path, 0) + 1
                writer.write(_OK)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(_connection, host, port)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    print(f"otlp sink: {Received.as_json().decode()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4318, help="0 picks a free port (printed as READY <port>)")
    args = p.parse_args(argv)
    run_loop(serve(args.host, args.port))


if __name__ == "__main__":
    main()
