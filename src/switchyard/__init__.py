"""Switchyard: one OpenAI-compatible API in front of every LLM provider, as a library and a gateway.

from switchyard import Switchyard
async with Switchyard.from_config("config.yaml") as gateway:
    reply = await gateway.chat(model="demo", messages=[{"role": "user", "content": "Hi"}])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.library import Switchyard, SwitchyardSync

__all__ = ["Switchyard", "SwitchyardSync"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `switchyard --version` and server start-up need none of it.
    if name in __all__:
        from switchyard import library

        return getattr(library, name)
    raise AttributeError(f"module 'switchyard' has no attribute {name!r}")
