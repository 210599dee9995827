"""Anthropic's Messages wire format on the client side: what /v1/messages and /v1/messages/count_tokens
accept and answer. Pure translation between that format and the domain; no I/O."""

from adapters.anthropic_format.events import message_events
from adapters.anthropic_format.render import render_count_tokens, render_error, render_message
from adapters.anthropic_format.requests import parse_count_tokens_request, parse_messages_request
from adapters.anthropic_format.untranslated import untranslated_fields

__all__ = [
    "message_events",
    "parse_count_tokens_request",
    "parse_messages_request",
    "render_count_tokens",
    "render_error",
    "render_message",
    "untranslated_fields",
]
