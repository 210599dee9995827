"""Domain messages as Converse content blocks: text, images, documents, tool calls and results, Claude's
reasoning. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.errors import BadRequestError, UnsupportedParameterError
from domain.messages import DocumentPart, ImagePart, Message, TextPart, ToolCall

_IMAGE_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
_DATA_URL = re.compile(r"^data:image/([a-zA-Z0-9.+-]+);base64,", re.I)
# DocumentBlock's formats (the Converse API reference), by the media type of a data URL and by the
# extension of an s3:// object.
_DOCUMENT_TYPES = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/html": "html",
    "text/markdown": "md",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_DOCUMENT_EXTENSIONS = frozenset(_DOCUMENT_TYPES.values())
# A document's name may hold letters, digits, single whitespace, hyphens, parentheses and square
# brackets, at most 200 of them; anything else becomes a space.
_NAME_REFUSED = re.compile(r"[^A-Za-z0-9\-()\[\]]+")


@dataclass(slots=True)
class Blocks:
    """Builds one request's content blocks. `claude`: the model takes Claude's reasoning blocks back;
    `tool_status`: it takes a tool result's status (Claude and Nova, by the ToolResultBlock reference)."""

    claude: bool = False
    tool_status: bool = False
    _names: set[str] = field(default_factory=set)

    def user(self, message: Message, index: int) -> list[dict[str, Any]]:
        content = message.content
        if isinstance(content, str):
            return [{"text": content}] if content.strip() else []
        blocks: list[dict[str, Any]] = []
        for position, part in enumerate(content or ()):
            if isinstance(part, TextPart):
                if part.text.strip():
                    blocks.append({"text": part.text})
            else:
                block = self._media(part, f"messages[{index}].content[{position}]")
                if block is not None:
                    blocks.append(block)
        return blocks

    def assistant(self, message: Message, index: int) -> list[dict[str, Any]]:
        # Claude wants its signed reasoning back before the text it led to. Other models take none, and
        # reasoning without a signature (another provider's) Claude would refuse: those stay behind, as
        # earlier turns' reasoning only informs.
        blocks: list[dict[str, Any]] = []
        if self.claude:
            for block in message.thinking_blocks:
                if block.redacted is not None:
                    blocks.append({"reasoningContent": {"redactedContent": block.redacted}})
                elif block.signature:
                    reasoning = {"text": block.text, "signature": block.signature}
                    blocks.append({"reasoningContent": {"reasoningText": reasoning}})
        text = message.text
        if text.strip():
            blocks.append({"text": text})
        for position, call in enumerate(message.tool_calls):
            where = f"messages[{index}].tool_calls[{position}].function.arguments"
            blocks.append(
                {"toolUse": {"toolUseId": call.id, "name": call.name, "input": arguments(call, where)}}
            )
        return blocks

    def tool_result(self, message: Message, index: int) -> dict[str, Any]:
        content = message.content
        result: list[dict[str, Any]] = []
        if isinstance(content, str):
            if content:
                result.append({"text": content})
        else:
            for position, part in enumerate(content or ()):
                if isinstance(part, TextPart):
                    if part.text:
                        result.append({"text": part.text})
                else:
                    block = self._media(part, f"messages[{index}].content[{position}]")
                    if block is not None:
                        result.append(block)
        # A tool that printed nothing still answered; Bedrock refuses an empty result.
        out: dict[str, Any] = {"toolUseId": message.tool_call_id, "content": result or [{"text": "."}]}
        if message.tool_error and self.tool_status:
            # Models without a status read the failure from the content alone, which says what failed.
            out["status"] = "error"
        return {"toolResult": out}

    def _media(self, part: ImagePart | DocumentPart, where: str) -> dict[str, Any] | None:
        if isinstance(part, ImagePart):
            return image_block(part, f"{where}.image_url")
        source = document_source(part)
        if source is None:
            return None  # named unsupported ("documents"): here only when drop_params dropped it
        document_format, body = source
        document: dict[str, Any] = {"format": document_format, "name": self._name(part.title), "source": body}
        if part.context:
            document["context"] = part.context
        return {"document": document}

    def _name(self, title: str | None) -> str:
        """The document's title as a name Bedrock takes, unique within the request: Bedrock refuses
        two documents of one name ("Messages can't contain duplicate document names"), and the same
        order of documents always gets the same names, so that prompt caches still match."""
        name = " ".join(_NAME_REFUSED.sub(" ", title or "").split())[:190] or "document"
        unique, number = name, 1
        while unique.lower() in self._names:
            number += 1
            unique = f"{name} ({number})"
        self._names.add(unique.lower())
        return unique


def document_source(part: DocumentPart) -> tuple[str, dict[str, Any]] | None:
    """The document's format and source as Converse takes them: the bytes of a base64 `data:` URL, or
    an `s3://` object; None for what Bedrock cannot read (a web URL: it fetches none, nor does the
    gateway for it; a type it does not know)."""
    url = part.url
    if url.startswith("data:"):
        header, comma, data = url.partition(",")
        media_type = header[5:].removesuffix(";base64").lower()
        document_format = _DOCUMENT_TYPES.get(media_type)
        if not comma or not header.endswith(";base64") or document_format is None:
            return None
        return document_format, {"bytes": data}
    extension = url.rsplit(".", 1)[-1].lower()
    if url.startswith("s3://") and extension in _DOCUMENT_EXTENSIONS:
        return extension, {"s3Location": {"uri": url}}
    return None


def texts(message: Message) -> list[str]:
    content = message.content
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [part.text for part in content if isinstance(part, TextPart)]


def arguments(call: ToolCall, param: str) -> Any:
    if not call.arguments.strip():
        return {}
    try:
        return orjson.loads(call.arguments)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"Invalid '{param}': not valid JSON ({exc}).", param=param) from exc


def image_block(part: ImagePart, param: str) -> dict[str, Any]:
    """An image as Converse takes it: the bytes of a `data:` URL (sent base64, as they came) or an
    `s3://` object. Bedrock cannot fetch web URLs, and the gateway does not fetch them for it."""
    url = part.url
    found = _DATA_URL.match(url)
    if found is not None:
        image_format = _IMAGE_FORMATS.get(found.group(1).lower())
        if image_format is None:
            raise UnsupportedParameterError(
                f"Bedrock takes png, jpeg, gif and webp images, not image/{found.group(1)}.", param=param
            )
        return {"image": {"format": image_format, "source": {"bytes": url[found.end() :]}}}
    if url.startswith("s3://"):
        image_format = _IMAGE_FORMATS.get(url.rsplit(".", 1)[-1].lower())
        if image_format is None:
            raise UnsupportedParameterError(
                "An s3:// image needs a .png, .jpeg, .jpg, .gif or .webp name for Bedrock.", param=param
            )
        return {"image": {"format": image_format, "source": {"s3Location": {"uri": url}}}}
    raise UnsupportedParameterError(
        "Bedrock does not fetch images from URLs: send the image as a data: URL "
        "(data:image/png;base64,...) or an s3:// URI.",
        param=param,
    )
