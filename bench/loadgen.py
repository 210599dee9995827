"""A lean closed-loop HTTP/1.1 load generator (its own process; raw asyncio Protocols, uvloop when installed).

`--concurrency` keep-alive connections each send a pre-built request, read the whole response (Content-Length,
chunked, or until close), record the latency and send the next one at once, until `--duration` has passed.
Everything runs in protocol callbacks: no coroutine, no header dict and no JSON parsing per request.
Each response is checked cheaply (status 200, the expected shape; for streams the SSE event count and the
terminating `data: [DONE]`), and the gateway's `x-*-overhead-duration-ms` header is collected when present.
Scenarios with a `tally` header (router: `x-switchyard-model-id`, chat-cached: `x-switchyard-cache-hit`) also
count the responses per value of it.

Prints one JSON object on stdout: requests, rps, latency percentiles (ms), time to the first body chunk for
streams, errors, and this process's own CPU use (so one can see it is not the bottleneck).

Run: python -m bench.loadgen --url http://127.0.0.1:4010 --scenario chat --concurrency 1 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import sys
import time
from urllib.parse import urlsplit

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

perf = time.perf_counter

CHAT_BODY = {
    "model": "bench-chat",
    "messages": [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "What is the capital of France, and which river runs through it?"},
    ],
    "temperature": 0.2,
    "max_tokens": 64,
}
STREAM_BODY = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
CLAUDE_BODY = {**CHAT_BODY, "model": "bench-claude"}
# The chat body sent to a model group of 4 deployments (bench/config.yaml): the router's share of the cost.
ROUTER_BODY = {**CHAT_BODY, "model": "bench-group"}
CLAUDE_STREAM_BODY = {**STREAM_BODY, "model": "bench-claude"}
# The same conversation in Anthropic's own format: what "direct" sends to the mock's /v1/messages.
MESSAGES_BODY = {
    "model": "claude-sonnet-4-5",
    "system": CHAT_BODY["messages"][0]["content"],
    "messages": [{"role": "user", "content": CHAT_BODY["messages"][1]["content"]}],
    "temperature": 0.2,
    "max_tokens": 64,
}
# The same conversation as a Responses API request (/v1/responses), translated to chat completions for the
# mock; the default `store: true` keeps every response in the gateway's database, as a client would get.
RESPONSES_BODY = {
    "model": "bench-chat",
    "instructions": CHAT_BODY["messages"][0]["content"],
    "input": CHAT_BODY["messages"][1]["content"],
    "temperature": 0.2,
    "max_output_tokens": 64,
}
EMBED_TEXT = "The food was delicious and the waiter was friendly; we will certainly come back next week."


class Scenario:
    def __init__(
        self,
        name: str,
        path: str,
        body: dict,
        kind: str,
        marker: bytes,
        events: int = 0,
        end: bytes = b"[DONE]",
        direct: Scenario | None = None,
        tally: bytes | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.body = json.dumps(body, separators=(",", ":")).encode()
        self.kind = kind  # "json" or "stream"
        self.marker = marker  # bytes every good response body contains
        self.events = events  # for streams: SSE events expected, [DONE] included
        self.end = end  # for streams: what the last event holds
        self.direct = direct  # the same call in the upstream's own format, for --direct (None: the same)
        # a response header whose values are counted (lower case, e.g. b"x-switchyard-model-id")
        self.tally = b"\r\n" + tally + b":" if tally else None


SCENARIOS = {
    "chat": Scenario("chat", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    # chat to a gateway with the response cache on (bench/run.py launches one and warms the entry), so
    # every call is a hit; counts the responses that say so (x-switchyard-cache-hit: true).
    "chat-cached": Scenario(
        "chat-cached",
        "/v1/chat/completions",
        CHAT_BODY,
        "json",
        b'"chat.completion"',
        tally=b"x-switchyard-cache-hit",
    ),
    # chat with a virtual key that has a model list and rpm / tpm / parallel limits (bench/run.py makes
    # it): authentication from the key cache, the model check and the rate-limit counters on every call.
    "keyed": Scenario("keyed", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    # chat with a virtual key that also has a budget (whole, per model, with a window) and an end user:
    # the cost estimate, the reservation, the settlement and the spend record on every call.
    "budgeted": Scenario("budgeted", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    # chat with every feature on (bench/launches.py: a launch of its own with the access log, metrics and
    # tracing to an OTLP sink) through a key with rate limits and budgets, like `budgeted`'s.
    "features": Scenario("features", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    # chat with the `keyed` key's limits and two guardrails attached to the key (bench/config.yaml): a PII
    # content filter on the prompt and the reply, and hide-secrets on the prompt.
    "guarded": Scenario("guarded", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    # chat to bench-group; counts which deployment answered. Direct, the mock ignores the model name.
    "router": Scenario(
        "router",
        "/v1/chat/completions",
        ROUTER_BODY,
        "json",
        b'"chat.completion"',
        tally=b"x-switchyard-model-id",
    ),
    # 20 content chunks + the finish chunk + the usage chunk + [DONE] (see bench/mock_upstream.py)
    "stream": Scenario("stream", "/v1/chat/completions", STREAM_BODY, "stream", b"[DONE]", events=23),
    # Through the gateway: OpenAI format in and out, Anthropic's between the gateway and the mock. The
    # stream is the role chunk, 20 content chunks, the finish chunk, the usage chunk and [DONE].
    "claude": Scenario(
        "claude",
        "/v1/chat/completions",
        CLAUDE_BODY,
        "json",
        b'"chat.completion"',
        direct=Scenario("claude", "/v1/messages", MESSAGES_BODY, "json", b'"type":"message"'),
    ),
    "claude-stream": Scenario(
        "claude-stream",
        "/v1/chat/completions",
        CLAUDE_STREAM_BODY,
        "stream",
        b"[DONE]",
        events=24,
        # message_start, content_block_start, ping, 20 deltas, content_block_stop, message_delta, message_stop
        direct=Scenario(
            "claude-stream",
            "/v1/messages",
            {**MESSAGES_BODY, "stream": True},
            "stream",
            b"message_stop",
            events=26,
            end=b"message_stop",
        ),
    ),
    # Anthropic's format in and out (/v1/messages). To an Anthropic deployment the request goes through as
    # sent and the reply comes back as received; to an OpenAI one both are translated.
    "messages": Scenario(
        "messages",
        "/v1/messages",
        {**MESSAGES_BODY, "model": "bench-claude"},
        "json",
        b'"type":"message"',
        direct=Scenario("messages", "/v1/messages", MESSAGES_BODY, "json", b'"type":"message"'),
    ),
    "messages-stream": Scenario(
        "messages-stream",
        "/v1/messages",
        {**MESSAGES_BODY, "model": "bench-claude", "stream": True},
        "stream",
        b"message_stop",
        events=26,
        end=b"message_stop",
        direct=Scenario(
            "messages-stream",
            "/v1/messages",
            {**MESSAGES_BODY, "stream": True},
            "stream",
            b"message_stop",
            events=26,
            end=b"message_stop",
        ),
    ),
    "messages-openai": Scenario(
        "messages-openai",
        "/v1/messages",
        {**MESSAGES_BODY, "model": "bench-chat"},
        "json",
        b'"type":"message"',
        direct=Scenario("messages-openai", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    ),
    # /v1/messages to an OpenAI model, streamed: the mock's chat stream translated to Anthropic's 26 events
    # (message_start, content_block_start, ping, 20 deltas, content_block_stop, message_delta, message_stop)
    "messages-openai-stream": Scenario(
        "messages-openai-stream",
        "/v1/messages",
        {**MESSAGES_BODY, "model": "bench-chat", "stream": True},
        "stream",
        b"message_stop",
        events=26,
        end=b"message_stop",
        direct=Scenario(
            "messages-openai-stream", "/v1/chat/completions", STREAM_BODY, "stream", b"[DONE]", events=23
        ),
    ),
    # The provider pass-through route: Anthropic's own API relayed byte for byte to the deployment marked
    # `use_in_pass_through: true` (bench-claude), the caller's key swapped for the deployment's. The same
    # body as messages-stream but for its model, so the two differ only in the route and the model's name;
    # the 26 events come back as received.
    # The body names Anthropic's model id, as a caller of Anthropic's own API does: the call is priced at
    # the deployment's config prices. (A model name the gateway has not priced yet is looked up in the
    # price catalog once, and the calls meanwhile wait for it to be recorded.)
    "passthrough-stream": Scenario(
        "passthrough-stream",
        "/anthropic/v1/messages",
        {**MESSAGES_BODY, "stream": True},
        "stream",
        b"message_stop",
        events=26,
        end=b"message_stop",
        direct=Scenario(
            "passthrough-stream",
            "/v1/messages",
            {**MESSAGES_BODY, "stream": True},
            "stream",
            b"message_stop",
            events=26,
            end=b"message_stop",
        ),
    ),
    "responses": Scenario(
        "responses",
        "/v1/responses",
        RESPONSES_BODY,
        "json",
        b'"object":"response"',
        direct=Scenario("responses", "/v1/chat/completions", CHAT_BODY, "json", b'"chat.completion"'),
    ),
    # created, in_progress, output_item.added, content_part.added, 20 deltas, output_text.done,
    # content_part.done, output_item.done, completed (whose response object ends the stream)
    "responses-stream": Scenario(
        "responses-stream",
        "/v1/responses",
        {**RESPONSES_BODY, "stream": True},
        "stream",
        b"response.completed",
        events=28,
        end=b'"metadata":{}}}',
        direct=Scenario(
            "responses-stream", "/v1/chat/completions", STREAM_BODY, "stream", b"[DONE]", events=23
        ),
    ),
    "embed": Scenario(
        "embed",
        "/v1/embeddings",
        {"model": "bench-embed", "input": EMBED_TEXT, "encoding_format": "base64"},
        "json",
        b'"embedding"',
    ),
    "embed-float": Scenario(
        "embed-float",
        "/v1/embeddings",
        {"model": "bench-embed", "input": EMBED_TEXT, "encoding_format": "float"},
        "json",
        b'"embedding"',
    ),
}


def build_request(sc: Scenario, host: str, api_key: str) -> bytes:
    head = (
        f"POST {sc.path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "User-Agent: switchyard-bench/1.0\r\n"
        f"Accept: {'text/event-stream' if sc.kind == 'stream' else 'application/json'}\r\n"
        "Accept-Encoding: identity\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Bearer {api_key}\r\n"
        f"Content-Length: {len(sc.body)}\r\n"
        "\r\n"
    )
    return head.encode() + sc.body


HEAD, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE = range(4)


class Conn(asyncio.Protocol):
    """One keep-alive connection; sends the next request from the callback that completes the last one."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pos = 0
        self.state = HEAD
        self.busy = False
        self.reset()

    def reset(self) -> None:
        self.status = 0
        self.need = 0
        self.keep_alive = True
        self.parts: list[bytes] = []
        self.t0 = 0.0
        self.t_first = 0.0
        self.overhead = -1.0
        self.tallied = b""

    # --- asyncio callbacks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.busy:
            if self.state == BODY_CLOSE:
                self.parts.append(bytes(self.buf[self.pos :]))
                self.finish()
            else:
                self.busy = False
                self.gen.failed(self, "connection_lost" if exc is None else type(exc).__name__)
        else:
            self.gen.dropped(self)

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            return
        self.buf += data
        self.parse()
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0

    # --- request / response ------------------------------------------------------------------------
    def send(self, request: bytes) -> None:
        self.reset()
        self.busy = True
        self.state = HEAD
        self.t0 = perf()
        self.transport.write(request)

    def parse(self) -> None:
        buf = self.buf
        while self.busy:
            state = self.state
            if state == HEAD:
                he = buf.find(b"\r\n\r\n", self.pos)
                if he < 0:
                    return
                head = bytes(buf[self.pos : he]).lower()
                self.pos = he + 4
                try:
                    self.status = int(head[9:12])
                except ValueError:
                    self.status = -1
                if self.status in (100, 103):  # interim response: the real one follows
                    continue
                i = head.find(b"overhead-duration-ms:")
                if i >= 0:
                    j = head.find(b"\r\n", i)
                    with contextlib.suppress(ValueError):
                        self.overhead = float(head[i + 21 : j if j >= 0 else len(head)])
                tally = self.gen.scenario.tally
                if tally is not None:
                    i = head.find(tally)
                    if i >= 0:
                        j = head.find(b"\r\n", i + 2)
                        self.tallied = head[i + len(tally) : j if j >= 0 else len(head)].strip()
                self.keep_alive = b"\r\nconnection: close" not in head and not head.startswith(b"http/1.0")
                i = head.find(b"\r\ncontent-length:")
                if i >= 0:
                    j = head.find(b"\r\n", i + 17)
                    self.need = int(head[i + 17 : j if j >= 0 else len(head)])
                    self.state = BODY_LENGTH
                elif b"\r\ntransfer-encoding: chunked" in head:
                    self.state = BODY_CHUNKED
                    self.need = -1
                elif self.status in (204, 304):
                    self.need = 0
                    self.state = BODY_LENGTH
                else:
                    self.state = BODY_CLOSE
                    self.keep_alive = False
            elif state == BODY_LENGTH:
                have = len(buf) - self.pos
                if have and not self.t_first:
                    self.t_first = perf()
                if have < self.need:
                    return
                self.parts.append(bytes(buf[self.pos : self.pos + self.need]))
                self.pos += self.need
                self.finish()
                return
            elif state == BODY_CHUNKED:
                if self.need < 0:  # expecting a chunk-size line
                    eol = buf.find(b"\r\n", self.pos)
                    if eol < 0:
                        return
                    size = int(bytes(buf[self.pos : eol]).split(b";", 1)[0], 16)
                    self.pos = eol + 2
                    if size == 0:
                        self.state = -1  # trailers until the empty line
                        continue
                    self.need = size
                if len(buf) - self.pos < self.need + 2:
                    return
                self.parts.append(bytes(buf[self.pos : self.pos + self.need]))
                if not self.t_first:
                    self.t_first = perf()
                self.pos += self.need + 2
                self.need = -1
            elif state == -1:
                eol = buf.find(b"\r\n", self.pos)
                if eol < 0:
                    return
                done = eol == self.pos
                self.pos = eol + 2
                if done:
                    self.finish()
                    return
            else:  # BODY_CLOSE: everything until the server closes
                if len(buf) > self.pos and not self.t_first:
                    self.t_first = perf()
                return

    def finish(self) -> None:
        t1 = perf()
        self.busy = False
        body = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        self.gen.completed(self, t1, body)


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        url = urlsplit(args.url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.scenario = SCENARIOS[args.scenario]
        if args.direct and self.scenario.direct is not None:
            self.scenario = self.scenario.direct
        self.request = build_request(self.scenario, f"{self.host}:{self.port}", args.api_key)
        self.concurrency = args.concurrency
        self.duration = args.duration
        self.loop = asyncio.get_running_loop()
        self.latencies: list[float] = []
        self.first_chunk: list[float] = []
        self.overheads: list[float] = []
        self.tallies: dict[bytes, int] = {}
        self.errors: dict[str, int] = {}
        self.invalid = 0
        self.responses = 0
        self.sample: str | None = None
        self.checked_json = False
        self.deadline = 0.0
        self.t_last = 0.0
        self.active = 0
        self.done = self.loop.create_future()

    async def connect(self) -> Conn:
        _, conn = await self.loop.create_connection(lambda: Conn(self), self.host, self.port)
        return conn  # type: ignore[return-value]

    async def run(self) -> float:
        conns = await asyncio.gather(*(self.connect() for _ in range(self.concurrency)))
        self.active = len(conns)
        t_start = perf()
        self.deadline = t_start + self.duration
        for c in conns:
            c.send(self.request)
        try:
            await asyncio.wait_for(asyncio.shield(self.done), self.duration + 30.0)
        except TimeoutError:
            self.errors["timeout"] = self.errors.get("timeout", 0) + self.active
        return t_start

    def _retire(self, conn: Conn) -> None:
        self.active -= 1
        if conn.transport is not None:
            conn.transport.close()
        if self.active == 0 and not self.done.done():
            self.done.set_result(None)

    def completed(self, conn: Conn, t1: float, body: bytes) -> None:
        sc = self.scenario
        self.responses += 1
        ok = conn.status == 200
        if not ok:
            key = f"http_{conn.status}"
            self.errors[key] = self.errors.get(key, 0) + 1
            if self.sample is None:
                self.sample = body[:500].decode(errors="replace")
        else:
            valid = sc.marker in body
            if valid and sc.kind == "stream":
                valid = body.count(b"data:") == sc.events and sc.end in body[-32:]
            elif valid and not self.checked_json:
                self.checked_json = True
                try:
                    _loads(body)
                except ValueError:
                    valid = False
            if not valid:
                self.invalid += 1
                if self.sample is None and sc.kind == "stream":
                    events = body.count(b"data:")
                    tail = body[-600:].decode(errors="replace")
                    self.sample = f"{events} SSE events (expected {sc.events}); body ends: {tail}"
                elif self.sample is None:
                    self.sample = body[:800].decode(errors="replace")
            self.latencies.append((t1 - conn.t0) * 1000.0)
            if sc.kind == "stream" and conn.t_first:
                self.first_chunk.append((conn.t_first - conn.t0) * 1000.0)
            if conn.overhead >= 0:
                self.overheads.append(conn.overhead)
            if conn.tallied:
                self.tallies[conn.tallied] = self.tallies.get(conn.tallied, 0) + 1
        self.t_last = t1
        if t1 >= self.deadline:
            self._retire(conn)
        elif conn.keep_alive and conn.transport is not None:
            conn.send(self.request)
        else:
            if conn.transport is not None:
                conn.transport.close()
            conn.transport = None
            self.loop.create_task(self.replace())

    def failed(self, conn: Conn, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1
        if perf() >= self.deadline:
            self._retire(conn)
        else:
            self.loop.create_task(self.replace(0.01))

    def dropped(self, conn: Conn) -> None:
        """An idle connection closed by the server (keep-alive timeout): nothing was lost."""

    async def replace(self, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        while perf() < self.deadline:
            try:
                conn = await self.connect()
            except OSError as exc:
                key = f"connect_{type(exc).__name__}"
                self.errors[key] = self.errors.get(key, 0) + 1
                await asyncio.sleep(0.05)
                continue
            conn.send(self.request)
            return
        self.active -= 1
        if self.active == 0 and not self.done.done():
            self.done.set_result(None)


def summarize(values: list[float]) -> dict | None:
    if not values:
        return None
    s = sorted(values)
    n = len(s)

    def pct(p: float) -> float:
        return round(s[min(n - 1, max(0, math.ceil(p / 100.0 * n) - 1))], 4)

    return {
        "n": n,
        "mean": round(sum(s) / n, 4),
        "min": round(s[0], 4),
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "p999": pct(99.9),
        "max": round(s[-1], 4),
    }


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def amain(args: argparse.Namespace) -> dict:
    gen = Generator(args)
    cpu0 = _cpu()
    t_start = await gen.run()
    cpu = _cpu() - cpu0
    wall = max(1e-9, (gen.t_last or perf()) - t_start)
    n = len(gen.latencies)
    result = {
        "scenario": args.scenario,
        "url": args.url,
        "concurrency": args.concurrency,
        "duration_s": round(wall, 3),
        "requests": n,
        "responses": gen.responses,
        "rps": round(n / wall, 1),
        "latency_ms": summarize(gen.latencies),
        "first_chunk_ms": summarize(gen.first_chunk),
        "overhead_header_ms": summarize(gen.overheads),
        "errors": gen.errors,
        "invalid": gen.invalid,
        "sample": gen.sample,
        "loadgen_cpu_s": round(cpu, 3),
        "loadgen_cpu_util": round(cpu / wall, 3),
        "loadgen_cpu_us_per_request": round(cpu / n * 1e6, 1) if n else None,
    }
    if gen.tallies:  # e.g. {"bench-group-a": 2471, ...}: the header is lower-cased with the head
        result["tally"] = {k.decode(errors="replace"): v for k, v in sorted(gen.tallies.items())}
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:4010")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="chat")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=5.0, help="seconds to keep sending")
    p.add_argument("--api-key", default="sk-bench-master")
    p.add_argument(
        "--direct", action="store_true", help="talking to the upstream itself: send its own format"
    )
    p.add_argument("--cpu", type=int, action="append", help="pin to this CPU (repeatable)")
    args = p.parse_args(argv)
    if args.cpu:
        os.sched_setaffinity(0, set(args.cpu))
    import gc

    gc.disable()  # nothing here makes cycles; keep collector pauses out of the latencies
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(amain(args))
    else:
        result = uvloop.run(amain(args)) if hasattr(uvloop, "run") else asyncio.run(amain(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
