"""Switchyard: one OpenAI-compatible API in front of every LLM provider, as a library and a gateway.

from switchyard import Switchyard
async with Switchyard.from_config("config.yaml") as gateway:
    reply = await gateway.chat(model="demo", messages=[{"role": "user", "content": "Hi"}])
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.library import Switchyard, SwitchyardSync

__all__ = ["Switchyard", "SwitchyardSync"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `switchyard --version` and server start-up need none of it.
    if name in __all__:
        return getattr(_library(), name)
    raise AttributeError(f"module 'switchyard' has no attribute {name!r}")


_OPTIONAL = ("rich", "pygments")


def _library() -> Any:
    """The library module, loaded without rich and pygments: structlog (console tracebacks) and httpx (its
    command line) import them when they can, Switchyard renders nothing with them, and they cost 4-6 MB
    and a tenth of a second. Hidden only while the library loads: they stay importable for the
    application. (The server keeps them out for good: see switchyard.server.)"""
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    if "structlog" in sys.modules and "httpx" in sys.modules:
        hidden = []
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        from switchyard import library
    finally:
        for name in hidden:
            del sys.modules[name]
    return library
