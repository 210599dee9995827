"""What is recorded of each upstream call."""

from __future__ import annotations

from domain.completions import Usage
from domain.errors import SwitchyardError
from domain.frozen import frozen


@frozen
class CallRecord:
    """One finished upstream call, successful or not."""

    call_id: str
    model: str
    deployment_id: str
    provider: str
    kind: str
    """chat, stream or embeddings."""
    started_at: float
    duration: float
    usage: Usage | None = None
    error: SwitchyardError | None = None
