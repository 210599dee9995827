"""`switchyard serve` exporting its spans over OTLP http/protobuf to a local receiver, as a collector
would get them."""

from __future__ import annotations

import http.server
import threading
import time

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.conftest import running_gateway

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _value(attribute) -> object:  # type: ignore[no-untyped-def]
    kind = attribute.value.WhichOneof("value")
    value = getattr(attribute.value, kind)
    return list(v.string_value for v in value.values) if kind == "array_value" else value


def test_the_server_exports_a_server_span_and_its_genai_attempt_span_continuing_the_clients_trace(
    tmp_path,
) -> None:
    spans: dict[str, dict] = {}
    headers: list[str | None] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers.append(self.headers.get("x-collector-token"))
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                service = {a.key: _value(a) for a in resource.resource.attributes}["service.name"]
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        spans[span.name] = {
                            "service": service,
                            "trace": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "kind": span.kind,
                            "attributes": {a.key: _value(a) for a in span.attributes},
                        }
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    config = {"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo-v1"}}]}
    environment = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-token=c-1",
        "OTEL_SERVICE_NAME": "gateway-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    try:
        with running_gateway(config, tmp_path, environment=environment) as url:
            chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
            parent = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
            answer = httpx.post(f"{url}/v1/chat/completions", json=chat, headers=parent, timeout=10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(spans) < 2:
                time.sleep(0.05)
    finally:
        receiver.shutdown()

    server, attempt = spans["POST /v1/chat/completions"], spans["chat demo"]
    assert server["service"] == "gateway-under-test" and set(headers) == {"c-1"}
    assert (server["trace"], server["parent"]) == (TRACE_ID, "00f067aa0ba902b7")
    assert (attempt["trace"], attempt["parent"]) == (TRACE_ID, server["id"])
    assert attempt["attributes"]["gen_ai.request.model"] == "demo"
    assert attempt["attributes"]["gen_ai.response.id"] == answer.json()["id"]
    assert attempt["attributes"]["gen_ai.usage.output_tokens"] == answer.json()["usage"]["completion_tokens"]
    assert server["attributes"]["switchyard.call_id"] == answer.headers["x-switchyard-call-id"]
