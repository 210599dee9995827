"""The tracing settings: whether spans are exported, and where (an OTLP collector, Langfuse)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import ConfigurationError

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
LANGFUSE_CLOUD = "https://cloud.langfuse.com"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """Where spans go: an OTLP collector (the `OTEL_*` variables), Langfuse, or both."""

    otlp: bool = False
    langfuse_host: str | None = None
    langfuse_auth: str | None = None
    """`Basic <base64(public:secret)>`, the header Langfuse's OTLP endpoint takes."""
    capture_content: bool = False
    """Prompt and reply text on the spans (`gen_ai.input.messages`, `gen_ai.output.messages`)."""


def tracing_settings(callbacks: Sequence[str], environ: Mapping[str, str]) -> TracingSettings | None:
    """What the config and environment ask for; None: tracing is off. Langfuse without its keys stops
    startup, naming the missing variable."""
    otlp = "otel" in callbacks or any(environ.get(name) for name in _ENDPOINTS)
    host = auth = None
    if "langfuse" in callbacks:
        public, secret = environ.get("LANGFUSE_PUBLIC_KEY"), environ.get("LANGFUSE_SECRET_KEY")
        for name, value in (("LANGFUSE_PUBLIC_KEY", public), ("LANGFUSE_SECRET_KEY", secret)):
            if not value:
                raise ConfigurationError(
                    "litellm_settings.callbacks", f"the langfuse callback needs {name} in the environment"
                )
        host = (environ.get("LANGFUSE_HOST") or environ.get("LANGFUSE_BASE_URL") or LANGFUSE_CLOUD).rstrip(
            "/"
        )
        auth = "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()
    if not otlp and host is None:
        return None
    capture = environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"
    return TracingSettings(otlp=otlp, langfuse_host=host, langfuse_auth=auth, capture_content=capture)
