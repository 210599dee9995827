"""Chat messages, content parts, tools and the shapes a reply may be asked to take."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import Any

from domain.errors import BadRequestError
from domain.frozen import frozen


class Role(StrEnum):
    SYSTEM = "system"
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@frozen
class TextPart:
    text: str


class ImageDetail(StrEnum):
    AUTO = "auto"
    LOW = "low"
    HIGH = "high"


@frozen
class ImagePart:
    """An image by URL: `https://...` or a `data:<mime>;base64,...` URL."""

    url: str
    detail: ImageDetail | None = None


@frozen
class DocumentPart:
    """A document to read: a `data:<mime>;base64,...` URL (a PDF, or plain text as
    `data:text/plain;base64,...`) or an `https://` URL of a PDF."""

    url: str
    title: str | None = None
    context: str | None = None


ContentPart = TextPart | ImagePart | DocumentPart
Content = str | tuple[ContentPart, ...]


@frozen
class ThinkingBlock:
    """A piece of the model's visible reasoning, with the provider's signature that lets it be sent back
    in a later turn; a redacted block holds only the provider's opaque `redacted` data."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


@frozen
class ToolCall:
    """A function call the assistant made; `arguments` is the JSON text exactly as the model wrote it."""

    id: str
    name: str
    arguments: str


@frozen
class Message:
    role: Role
    content: Content | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    thinking_blocks: tuple[ThinkingBlock, ...] = ()
    """An assistant's reasoning as blocks with their signatures (Anthropic's `thinking`), in order."""
    tool_error: bool = False
    """A tool message reporting that the call failed (Anthropic's `is_error`)."""

    def __post_init__(self) -> None:
        if self.tool_calls and self.role is not Role.ASSISTANT:
            raise BadRequestError("only assistant messages may carry tool_calls", param="messages")
        if self.role is Role.TOOL and not self.tool_call_id:
            raise BadRequestError("a tool message needs tool_call_id", param="messages")

    @property
    def text(self) -> str:
        """The message's text, parts joined; images contribute nothing."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@frozen
class FunctionTool:
    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None


class ToolChoiceMode(StrEnum):
    AUTO = "auto"
    NONE = "none"
    REQUIRED = "required"


@frozen
class NamedToolChoice:
    """Forces a call of the one named function."""

    name: str


ToolChoice = ToolChoiceMode | NamedToolChoice


class ResponseFormatType(StrEnum):
    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"


@frozen
class ResponseFormat:
    type: ResponseFormatType
    name: str | None = None
    schema: Mapping[str, Any] | None = field(default=None)
    strict: bool | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if self.type is ResponseFormatType.JSON_SCHEMA and (self.schema is None or not self.name):
            raise BadRequestError(
                "response_format json_schema needs json_schema.name and json_schema.schema",
                param="response_format",
            )
