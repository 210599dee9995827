"""What the fake upstreams of the end-to-end tests share: a stdlib HTTP server on a free local port,
served from a thread while it is entered, that records the requests it gets and writes JSON answers and
chunked streams (SSE, NDJSON, AWS event streams). Each upstream extends it with its routes and its wire
format."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class FakeHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests; a subclass writes `do_POST` with the helpers below."""

    protocol_version = "HTTP/1.1"
    server: FakeServer
    json_type: ClassVar[str] = "application/json"
    """The content type of a JSON answer."""
    json_headers: ClassVar[Mapping[str, str]] = {}
    """Headers every JSON answer carries (a request id, say)."""

    def log_message(self, *args: object) -> None:
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers["content-length"]))

    def record(self, body: object, **fields: Any) -> dict[str, Any]:
        """Keeps the request for the tests, and returns it: its path, its headers (names in lower case),
        its body and whatever else the upstream reads from it."""
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = {"path": self.path, "headers": headers, "body": body, **fields}
        self.server.requests.append(request)
        return request

    def send_json(self, status: int, body: object, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", self.json_type)
        self.send_header("content-length", str(len(data)))
        for name, value in {**self.json_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def start_chunks(self, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        """Opens a 200 answer whose body follows in chunks (`send_chunk`, then an empty one to end it)."""
        self.send_response(200)
        self.send_header("content-type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        """One chunk of the body, sent at once; an empty one ends the body."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class FakeServer(ThreadingHTTPServer):
    """The upstream's server: `with Fake() as server` serves until the block ends."""

    daemon_threads = True
    handler: ClassVar[type[FakeHandler]]

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), self.handler)
        self.requests: list[dict] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What a deployment's api_base names."""
        return self.root

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
