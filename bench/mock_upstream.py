"""A fast OpenAI-compatible mock upstream for benchmarking (its own process; never the bottleneck).

Raw asyncio Protocols (uvloop when installed), a minimal HTTP/1.1 keep-alive parser and pre-built
response bytes, so one request costs a few microseconds of CPU. Routes:

    POST .../chat/completions   non-stream: a chat.completion JSON with usage
                                stream: 20 content chunks (the first also carries the role), one
                                finish chunk (empty delta, finish_reason "stop"), a usage chunk
                                (choices [], only with stream_options.include_usage, as OpenAI does)
                                and `data: [DONE]`, each SSE event in its own HTTP chunk
    POST /v1/messages           Anthropic's Messages API: non-stream, a `message` with usage; stream,
                                Anthropic's SSE events (message_start, content_block_start, ping, 20
                                text_delta content_block_delta events, content_block_stop,
                                message_delta with the stop reason and usage, message_stop), each in
                                its own HTTP chunk, with Anthropic's response headers
    POST .../embeddings         1536-dim vectors, float or base64 per `encoding_format`
                                (OpenAI's API default is float), one per input, `dimensions` honoured
    GET  .../models             a model list
    GET  /__stats               {"requests": N, ...} served by this mock (to check a gateway forwards)

Run: python -m bench.mock_upstream --port 4010   (prints "READY <port>" once listening)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import random
import signal
import struct
import sys
import time
from email.utils import formatdate

try:  # orjson is a dependency of the gateway, but keep the mock runnable without it
    import orjson

    _loads = orjson.loads
    _dumps = orjson.dumps
except ImportError:  # pragma: no cover
    _loads = json.loads

    def _dumps(obj: object) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


CHAT_MODEL = "gpt-4o-mini-2024-07-18"
EMBED_MODEL = "text-embedding-3-small"
EMBED_DIMS = 1536
STREAM_CONTENT_CHUNKS = 20
COMPLETION_ID = "chatcmpl-BenchSwitchyard0000000000000"
FINGERPRINT = "fp_b8bc95a0ac"
CREATED = 1735689600
# 20 tokens: each is one content chunk of the stream; joined they are the non-stream content.
TOKENS = [
    "Sure",
    "!",
    " Here",
    " is",
    " a",
    " short",
    " answer",
    ":",
    " the",
    " capital",
    " of",
    " France",
    " is",
    " Paris",
    ",",
    " on",
    " the",
    " Seine",
    " river",
    ".",
]
assert len(TOKENS) == STREAM_CONTENT_CHUNKS
PROMPT_TOKENS = 27
COMPLETION_TOKENS = len(TOKENS)


def _usage(prompt: int, completion: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _head(status: str, content_type: str, extra: str = "") -> str:
    # The headers OpenAI sends (minus Cloudflare's), so a gateway parses a realistic header block.
    return (
        f"HTTP/1.1 {status}\r\n"
        f"date: {formatdate(usegmt=True)}\r\n"
        f"content-type: {content_type}\r\n"
        "access-control-expose-headers: X-Request-ID\r\n"
        "openai-organization: bench-org\r\n"
        "openai-processing-ms: 212\r\n"
        "openai-project: proj_bench\r\n"
        "openai-version: 2020-10-01\r\n"
        "x-ratelimit-limit-requests: 30000\r\n"
        "x-ratelimit-limit-tokens: 150000000\r\n"
        "x-ratelimit-remaining-requests: 29999\r\n"
        "x-ratelimit-remaining-tokens: 149999970\r\n"
        "x-ratelimit-reset-requests: 2ms\r\n"
        "x-ratelimit-reset-tokens: 0s\r\n"
        "x-request-id: req_0123456789abcdef0123456789abcdef\r\n"
        "strict-transport-security: max-age=31536000; includeSubDomains; preload\r\n"
        "x-content-type-options: nosniff\r\n"
        f"{extra}"
    )


def _fixed(status: str, content_type: str, body: bytes) -> bytes:
    head = _head(status, content_type, f"content-length: {len(body)}\r\nconnection: keep-alive\r\n")
    return head.encode() + b"\r\n" + body


def build_chat_response() -> bytes:
    body = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": CHAT_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "".join(TOKENS),
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(PROMPT_TOKENS, COMPLETION_TOKENS),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    return _fixed("200 OK", "application/json", _dumps(body))


def build_stream_events(include_usage: bool) -> list[bytes]:
    """The SSE events of one streamed completion, each `data: {...}\\n\\n`, ending with [DONE]."""

    def chunk(delta: dict, finish: str | None) -> dict:
        c = {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": CHAT_MODEL,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            c["usage"] = None  # OpenAI: every chunk carries usage null except the last one
        return c

    payloads = []
    for i, tok in enumerate(TOKENS):
        delta = {"role": "assistant", "content": tok, "refusal": None} if i == 0 else {"content": tok}
        payloads.append(chunk(delta, None))
    payloads.append(chunk({}, "stop"))
    if include_usage:
        last = chunk({}, None)
        last["choices"] = []
        last["usage"] = _usage(PROMPT_TOKENS, COMPLETION_TOKENS)
        payloads.append(last)
    events = [b"data: " + _dumps(p) + b"\n\n" for p in payloads]
    events.append(b"data: [DONE]\n\n")
    return events


def build_stream_response(include_usage: bool, framing: str) -> list[bytes]:
    """Pieces to write in order: the head glued to the first event, then one piece per event."""
    events = build_stream_events(include_usage)
    ctype = "text/event-stream; charset=utf-8"
    if framing == "chunked":
        head = _head("200 OK", ctype, "transfer-encoding: chunked\r\nconnection: keep-alive\r\n")
        pieces = [b"%x\r\n%s\r\n" % (len(e), e) for e in events]
        pieces[-1] += b"0\r\n\r\n"
    else:  # connection-close framing: no length, the body ends when the connection does
        head = _head("200 OK", ctype, "connection: close\r\n")
        pieces = list(events)
    pieces[0] = head.encode() + b"\r\n" + pieces[0]
    return pieces


CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
MESSAGE_ID = "msg_01BenchSwitchyard000000000"


def _anthropic_head(status: str, content_type: str, extra: str = "") -> str:
    # The headers the Messages API sends (minus Cloudflare's), so a gateway parses a realistic block.
    return (
        f"HTTP/1.1 {status}\r\n"
        f"date: {formatdate(usegmt=True)}\r\n"
        f"content-type: {content_type}\r\n"
        "anthropic-ratelimit-input-tokens-limit: 2000000\r\n"
        "anthropic-ratelimit-input-tokens-remaining: 2000000\r\n"
        "anthropic-ratelimit-input-tokens-reset: 2026-01-01T00:00:00Z\r\n"
        "anthropic-ratelimit-output-tokens-limit: 400000\r\n"
        "anthropic-ratelimit-output-tokens-remaining: 400000\r\n"
        "anthropic-ratelimit-output-tokens-reset: 2026-01-01T00:00:00Z\r\n"
        "anthropic-ratelimit-requests-limit: 4000\r\n"
        "anthropic-ratelimit-requests-remaining: 3999\r\n"
        "anthropic-ratelimit-requests-reset: 2026-01-01T00:00:00Z\r\n"
        "anthropic-ratelimit-tokens-limit: 2400000\r\n"
        "anthropic-ratelimit-tokens-remaining: 2400000\r\n"
        "anthropic-ratelimit-tokens-reset: 2026-01-01T00:00:00Z\r\n"
        "request-id: req_011CBenchSwitchyard0000000\r\n"
        "strict-transport-security: max-age=31536000; includeSubDomains; preload\r\n"
        "anthropic-organization-id: 00000000-0000-0000-0000-000000000000\r\n"
        "x-envoy-upstream-service-time: 212\r\n"
        f"{extra}"
    )


def _claude_usage(output_tokens: int) -> dict:
    return {
        "input_tokens": PROMPT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def build_messages_response() -> bytes:
    body = {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": CLAUDE_MODEL,
        "content": [{"type": "text", "text": "".join(TOKENS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _claude_usage(COMPLETION_TOKENS),
    }
    data = _dumps(body)
    head = _anthropic_head(
        "200 OK", "application/json", f"content-length: {len(data)}\r\nconnection: keep-alive\r\n"
    )
    return head.encode() + b"\r\n" + data


def build_messages_events() -> list[bytes]:
    """The SSE events of one streamed Message, each `event: <type>\\ndata: {...}\\n\\n`, as the API sends
    them (ping included)."""
    start = {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": CLAUDE_MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _claude_usage(1),
    }
    payloads: list[tuple[str, dict]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    payloads += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": tok}},
        )
        for tok in TOKENS
    ]
    payloads += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": COMPLETION_TOKENS}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return [b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n" for name, data in payloads]


def build_messages_stream(framing: str) -> list[bytes]:
    """Pieces to write in order: the head glued to the first event, then one piece per event."""
    events = build_messages_events()
    ctype = "text/event-stream; charset=utf-8"
    if framing == "chunked":
        head = _anthropic_head(
            "200 OK",
            ctype,
            "cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n",
        )
        pieces = [b"%x\r\n%s\r\n" % (len(e), e) for e in events]
        pieces[-1] += b"0\r\n\r\n"
    else:
        head = _anthropic_head("200 OK", ctype, "cache-control: no-cache\r\nconnection: close\r\n")
        pieces = list(events)
    pieces[0] = head.encode() + b"\r\n" + pieces[0]
    return pieces


def _unit_vector(seed: int, dims: int) -> list[float]:
    rnd = random.Random(seed)
    v = [rnd.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in v))
    packed = struct.pack(f"<{dims}f", *(x / norm for x in v))
    return list(struct.unpack(f"<{dims}f", packed))  # float32 values, as the API returns


class Embeddings:
    """Pre-built embedding responses keyed by (inputs, encoding, dims); built on first use."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, int], bytes] = {}
        self._vectors: dict[int, list[float]] = {}

    def response(self, n: int, fmt: str, dims: int) -> bytes:
        key = (n, fmt, dims)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        vec = self._vectors.get(dims)
        if vec is None:
            vec = self._vectors[dims] = _unit_vector(1536, dims)
        if fmt == "base64":
            emb: object = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        else:
            emb = vec
        body = {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": emb} for i in range(n)],
            "model": EMBED_MODEL,
            "usage": {"prompt_tokens": 9 * n, "total_tokens": 9 * n},
        }
        resp = _fixed("200 OK", "application/json", _dumps(body))
        if len(self._cache) < 256:
            self._cache[key] = resp
        return resp


def _error(status: str, message: str, etype: str, code: str | None = None) -> bytes:
    body = _dumps({"error": {"message": message, "type": etype, "param": None, "code": code}})
    return _fixed(status, "application/json", body)


MODELS_RESPONSE = _fixed(
    "200 OK",
    "application/json",
    _dumps(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": CREATED, "owned_by": "system"}
                for m in ("gpt-4o-mini", CHAT_MODEL, EMBED_MODEL)
            ],
        }
    ),
)
NOT_FOUND = _error("404 Not Found", "Unknown route", "invalid_request_error", "unknown_url")
BAD_JSON = _error(
    "400 Bad Request", "We could not parse the JSON body of your request.", "invalid_request_error"
)


class Stats:
    requests = 0
    chat = 0
    stream = 0
    messages = 0
    embeddings = 0
    started = time.monotonic()


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked request body starting at pos; (body, end) or None when incomplete."""
    parts = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            while True:  # trailers, then the empty line
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return b"".join(parts), eol + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        parts.append(buf[pos : pos + size])
        pos += size + 2


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = ("app", "buf", "closing", "loop", "transport")

    def __init__(self, app: App) -> None:
        self.app = app
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.closing = False
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while not self.closing:
            he = buf.find(b"\r\n\r\n")
            if he < 0:
                if len(buf) > 65536:
                    self.transport.close()
                    return
                break
            head = buf[:he].lower()
            start = he + 4
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 17)
                end = start + int(head[i + 17 : j if j >= 0 else len(head)])
                if len(buf) < end:
                    break
                body = buf[start:end]
            elif b"\r\ntransfer-encoding: chunked" in head:
                got = _dechunk(buf, start)
                if got is None:
                    break
                body, end = got
            else:
                body, end = b"", start
            buf = buf[end:]
            line_end = head.find(b"\r\n")
            request_line = head[:line_end] if line_end >= 0 else head
            keep_alive = b"\r\nconnection: close" not in head and not request_line.endswith(b"http/1.0")
            self.handle(request_line, body, keep_alive)
        self.buf = buf

    def handle(self, request_line: bytes, body: bytes, keep_alive: bool) -> None:
        app = self.app
        Stats.requests += 1
        try:
            method, target, _ = request_line.split(b" ", 2)
        except ValueError:
            self.transport.close()
            return
        path = target.split(b"?", 1)[0].rstrip(b"/")
        transport = self.transport
        if method == b"post" and path.endswith(b"/chat/completions"):
            try:
                req = _loads(body)
            except ValueError:
                self._send(BAD_JSON, keep_alive)
                return
            Stats.chat += 1
            if req.get("stream"):
                Stats.stream += 1
                opts = req.get("stream_options") or {}
                pieces = app.stream_usage if opts.get("include_usage") else app.stream_plain
                if app.framing == "close":
                    keep_alive = False
                if app.token_delay > 0:
                    self._drip(pieces, 0, keep_alive)
                elif app.latency > 0:
                    self.loop.call_later(app.latency, self._send_pieces, pieces, keep_alive)
                else:
                    self._send_pieces(pieces, keep_alive)
                return
            resp = app.chat
        elif method == b"post" and path.endswith(b"/v1/messages"):
            try:
                req = _loads(body)
            except ValueError:
                self._send(BAD_JSON, keep_alive)
                return
            Stats.messages += 1
            if req.get("stream"):
                Stats.stream += 1
                pieces = app.messages_stream
                if app.framing == "close":
                    keep_alive = False
                if app.token_delay > 0:
                    self._drip(pieces, 0, keep_alive)
                elif app.latency > 0:
                    self.loop.call_later(app.latency, self._send_pieces, pieces, keep_alive)
                else:
                    self._send_pieces(pieces, keep_alive)
                return
            resp = app.messages
        elif method == b"post" and path.endswith(b"/embeddings"):
            try:
                req = _loads(body)
            except ValueError:
                self._send(BAD_JSON, keep_alive)
                return
            Stats.embeddings += 1
            inp = req.get("input")
            n = len(inp) if isinstance(inp, list) and inp and not isinstance(inp[0], int) else 1
            fmt = "base64" if req.get("encoding_format") == "base64" else "float"
            dims = req.get("dimensions") or EMBED_DIMS
            resp = app.embeddings.response(n, fmt, int(dims))
        elif method == b"get" and path.endswith(b"/models"):
            resp = MODELS_RESPONSE
        elif method == b"get" and path == b"/__stats":
            Stats.requests -= 1  # count only the traffic being benchmarked
            resp = _fixed(
                "200 OK",
                "application/json",
                _dumps(
                    {
                        "requests": Stats.requests,
                        "chat": Stats.chat,
                        "stream": Stats.stream,
                        "messages": Stats.messages,
                        "embeddings": Stats.embeddings,
                    }
                ),
            )
        elif method == b"get" and path in (b"/health", b"/health/liveliness", b""):
            resp = _fixed("200 OK", "application/json", b'{"status":"ok"}')
        else:
            resp = NOT_FOUND
        if app.latency > 0:
            self.loop.call_later(app.latency, self._send, resp, keep_alive)
        elif transport is not None:
            transport.write(resp)
            if not keep_alive:
                self.closing = True
                transport.close()

    def _send(self, resp: bytes, keep_alive: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(resp)
        if not keep_alive:
            self.closing = True
            self.transport.close()

    def _send_pieces(self, pieces: list[bytes], keep_alive: bool) -> None:
        self._send(b"".join(pieces) if len(pieces) > 1 else pieces[0], keep_alive)

    def _drip(self, pieces: list[bytes], i: int, keep_alive: bool) -> None:
        if self.transport is None:
            return
        if i == len(pieces) - 1:
            self._send(pieces[i], keep_alive)
            return
        self.transport.write(pieces[i])
        self.loop.call_later(self.app.token_delay, self._drip, pieces, i + 1, keep_alive)


class App:
    def __init__(self, framing: str, latency_ms: float, token_delay_ms: float) -> None:
        self.framing = framing
        self.latency = latency_ms / 1000.0
        self.token_delay = token_delay_ms / 1000.0
        self.chat = build_chat_response()
        self.stream_usage = build_stream_response(True, framing)
        self.stream_plain = build_stream_response(False, framing)
        if token_delay_ms <= 0:  # one write per stream: cheapest for the mock
            self.stream_usage = [b"".join(self.stream_usage)]
            self.stream_plain = [b"".join(self.stream_plain)]
        self.messages = build_messages_response()
        self.messages_stream = build_messages_stream(framing)
        if token_delay_ms <= 0:
            self.messages_stream = [b"".join(self.messages_stream)]
        self.embeddings = Embeddings()
        for fmt in ("float", "base64"):
            self.embeddings.response(1, fmt, EMBED_DIMS)


async def serve(host: str, port: int, app: App) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamProtocol(app), host, port, backlog=4096, reuse_address=True
    )
    actual = server.sockets[0].getsockname()[1]
    print(f"READY {actual}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    up = time.monotonic() - Stats.started
    print(
        f"mock upstream: {Stats.requests} requests in {up:.1f}s "
        f"(chat {Stats.chat}, messages {Stats.messages}, stream {Stats.stream}, "
        f"embeddings {Stats.embeddings})",
        file=sys.stderr,
    )


def run_loop(coro) -> None:  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    if hasattr(uvloop, "run"):
        uvloop.run(coro)
    else:  # pragma: no cover - old uvloop
        uvloop.install()
        asyncio.run(coro)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4010, help="0 picks a free port (printed as READY <port>)")
    p.add_argument("--stream-framing", choices=("chunked", "close"), default="chunked")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before every response")
    p.add_argument("--token-delay-ms", type=float, default=0.0, help="delay between stream chunks")
    p.add_argument("--cpu", type=int, action="append", help="pin to this CPU (repeatable)")
    args = p.parse_args(argv)
    if args.cpu:
        os.sched_setaffinity(0, set(args.cpu))
    app = App(args.stream_framing, args.latency_ms, args.token_delay_ms)
    run_loop(serve(args.host, args.port, app))


if __name__ == "__main__":
    main()
