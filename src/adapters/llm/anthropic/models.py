"""What the adapter knows of each Claude model: output limit, thinking mode, sampling and structured outputs.

Read from model ids by family and version (`claude-sonnet-4-5-20250929`, `claude-3-7-sonnet-latest`), so a
dated or aliased id finds its family. Sources: Anthropic's models overview and per-model pages, the
extended and adaptive thinking guides, the structured outputs guide and the Opus 4.7 migration guide.

| models                       | max output | thinking                 | sampling | structured outputs |
|------------------------------|------------|--------------------------|----------|--------------------|
| claude-3 (opus/sonnet/haiku) | 4096       | none                     | yes      | forced tool        |
| claude-3-5                   | 8192       | none                     | yes      | forced tool        |
| claude-3-7-sonnet            | 64000      | budget (`enabled`)       | yes      | forced tool        |
| claude-opus-4, -4-1          | 32000      | budget                   | yes      | forced tool        |
| claude-sonnet-4              | 64000      | budget                   | yes      | forced tool        |
| claude-*-4-5                 | 64000      | budget                   | yes      | native (GA)        |
| claude-*-4-6                 | 128000     | adaptive + effort        | yes      | native             |
| claude-*-4-7 on, 5.x, fable  | 128000     | adaptive (budget is 400) | no (400) | native             |
| anything else                | 4096       | budget                   | yes      | forced tool        |

Haiku models cap at 64000 from 4.5 on.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from domain.completions import ReasoningEffort

FALLBACK_MAX_OUTPUT = 4096
"""max_tokens for a model this table does not know, when neither the request nor the config sets one."""


class Thinking(StrEnum):
    NONE = "none"
    """The model cannot think: reasoning_effort is refused by name."""
    BUDGET = "budget"
    """`thinking: {type: enabled, budget_tokens}`."""
    ADAPTIVE = "adaptive"
    """`thinking: {type: adaptive}` with `output_config.effort`; budgets are deprecated or refused."""


@dataclass(frozen=True, slots=True)
class ModelProfile:
    max_output: int
    thinking: Thinking
    sampling: bool
    """Accepts temperature, top_p and top_k (Opus 4.7 and later answer 400 to them)."""
    structured_outputs: bool
    """Takes `output_config.format` (json_schema) natively; otherwise a forced tool stands in."""


# reasoning_effort -> thinking budget_tokens (models with budgeted thinking). The API's floor is 1024.
THINKING_BUDGETS: dict[ReasoningEffort, int] = {
    ReasoningEffort.MINIMAL: 1024,
    ReasoningEffort.LOW: 2048,
    ReasoningEffort.MEDIUM: 8192,
    ReasoningEffort.HIGH: 16384,
    ReasoningEffort.XHIGH: 32768,
}
# reasoning_effort -> output_config.effort (models with adaptive thinking).
EFFORTS: dict[ReasoningEffort, str] = {
    ReasoningEffort.MINIMAL: "low",
    ReasoningEffort.LOW: "low",
    ReasoningEffort.MEDIUM: "medium",
    ReasoningEffort.HIGH: "high",
    ReasoningEffort.XHIGH: "xhigh",
}


def effort_for_budget(budget: int) -> str:
    """The adaptive-thinking effort whose THINKING_BUDGETS budget covers `budget` tokens."""
    for effort, covered in THINKING_BUDGETS.items():
        if budget <= covered:
            return EFFORTS[effort]
    return EFFORTS[ReasoningEffort.XHIGH]


_UNKNOWN = ModelProfile(FALLBACK_MAX_OUTPUT, Thinking.BUDGET, sampling=True, structured_outputs=False)
_NAMED = re.compile(r"claude-(opus|sonnet|haiku|fable|mythos)(?:-(\d+)(?:[-.](\d{1,2})(?!\d))?)?")
_NUMBERED = re.compile(r"claude-(\d+)(?:[-.](\d)(?!\d))?-(opus|sonnet|haiku)")


@functools.lru_cache(maxsize=256)
def profile(model: str) -> ModelProfile:
    """The profile of an upstream model id (a Bedrock- or Vertex-style prefix or suffix is fine)."""
    model = model.lower()
    if found := _NAMED.search(model):
        family, major, minor = found.group(1), found.group(2), found.group(3)
    elif found := _NUMBERED.search(model):
        major, minor, family = found.group(1), found.group(2), found.group(3)
    else:
        return _UNKNOWN
    # claude-mythos-preview and the like name no version: the newest generation.
    version = (9, 0) if major is None else (int(major), int(minor or 0))
    return _by_version(family, version)


def _by_version(family: str, version: tuple[int, int]) -> ModelProfile:
    haiku_cap = 64000 if family == "haiku" else 128000
    if version >= (4, 7) or family in ("fable", "mythos"):
        return ModelProfile(haiku_cap, Thinking.ADAPTIVE, sampling=False, structured_outputs=True)
    if version >= (4, 6):
        return ModelProfile(haiku_cap, Thinking.ADAPTIVE, sampling=True, structured_outputs=True)
    if version >= (4, 5):
        return ModelProfile(64000, Thinking.BUDGET, sampling=True, structured_outputs=True)
    if version >= (4, 0):
        limit = 32000 if family == "opus" else 64000
        return ModelProfile(limit, Thinking.BUDGET, sampling=True, structured_outputs=False)
    if version >= (3, 7):
        return ModelProfile(64000, Thinking.BUDGET, sampling=True, structured_outputs=False)
    if version >= (3, 5):
        return ModelProfile(8192, Thinking.NONE, sampling=True, structured_outputs=False)
    return ModelProfile(4096, Thinking.NONE, sampling=True, structured_outputs=False)
