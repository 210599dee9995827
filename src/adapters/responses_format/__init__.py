"""OpenAI's Responses API wire format on the client side: what /v1/responses accepts and answers, as the
domain's chat requests and replies. Pure translation; no I/O (the stored conversation comes in as items)."""

from adapters.responses_format.events import response_events
from adapters.responses_format.render import (
    error_code,
    failed_response,
    pending_response,
    render_response,
    visible,
)
from adapters.responses_format.requests import (
    FORMAT,
    ResponsesCall,
    completion_request,
    parse_responses_request,
)

__all__ = [
    "FORMAT",
    "ResponsesCall",
    "completion_request",
    "error_code",
    "failed_response",
    "parse_responses_request",
    "pending_response",
    "render_response",
    "response_events",
    "visible",
]
