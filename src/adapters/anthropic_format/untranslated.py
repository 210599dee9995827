"""What a Messages request holds that only Anthropic can serve, by path, for deployments of other formats
to refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.anthropic_format.content import UNTRANSLATABLE_BLOCKS


def untranslated_fields(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The paths of what a (valid) Messages body holds that the translation leaves out because only
    Anthropic can serve it: server and Anthropic-defined tools (`tools.3`), blocks of server tools,
    search results and uploads (`messages.2.content.0`), images and documents by Files API id. A
    deployment of another format must refuse these (or drop them under drop_params); an Anthropic one
    gets them in the native body."""
    found: list[str] = []
    tools = body.get("tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        if isinstance(tool, dict) and tool.get("type") not in (None, "custom"):
            found.append(f"tools.{index}")
    messages = body.get("messages")
    for index, message in enumerate(messages if isinstance(messages, list) else ()):
        content = message.get("content") if isinstance(message, dict) else None
        for position, block in enumerate(content if isinstance(content, list) else ()):
            if _untranslated_block(block):
                found.append(f"messages.{index}.content.{position}")
    return tuple(found)


def _untranslated_block(block: object, *, inside_result: bool = False) -> bool:
    if not isinstance(block, dict):
        return False
    kind = block.get("type")
    if (isinstance(kind, str) and kind in UNTRANSLATABLE_BLOCKS) or _file_source(block):
        return True
    if kind == "tool_result" and not inside_result and isinstance(block.get("content"), list):
        return any(_untranslated_block(item, inside_result=True) for item in block["content"])
    return False


def _file_source(block: dict) -> bool:
    source = block.get("source")
    if not isinstance(source, dict) or block.get("type") not in ("image", "document"):
        return False
    if source.get("type") == "file":
        return True
    content = source.get("content")
    # A custom-content document holding images.
    return isinstance(content, list) and any(
        isinstance(i, dict) and i.get("type") == "image" for i in content
    )
