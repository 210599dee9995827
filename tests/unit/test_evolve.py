"""`evolve` copies a frozen dataclass as `dataclasses.replace` does, slot by slot where it can."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from domain.completions import ChunkChoice, CompletionChunk, Delta
from domain.frozen import evolve, frozen


@dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str | None = None
    c: tuple[int, ...] = ()


@frozen
class Quick:
    a: int
    b: str | None = None
    c: tuple[int, ...] = ()


def test_evolve_makes_what_dataclasses_replace_makes() -> None:
    for obj in (Plain(1, "x", (2,)), Quick(1), CompletionChunk("c", 1, "m", (ChunkChoice(0, Delta()),))):
        for changes in ({}, {"a": 5}, {"b": None, "c": (3,)}, {"id": "d", "model": "n"}):
            known = {k: v for k, v in changes.items() if hasattr(obj, k)}
            evolved = evolve(obj, **known)
            assert type(evolved) is type(obj)
            assert evolved == dataclasses.replace(obj, **known)
            assert evolved is not obj
    with pytest.raises(TypeError):
        evolve(Plain(1), d=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolve(Plain(1), a=2).a = 3  # type: ignore[misc]


def test_evolve_leaves_a_class_it_cannot_copy_slot_by_slot_to_dataclasses_replace() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("a < 0")

    @dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass
    class Mutable:
        a: int

    with pytest.raises(ValueError, match="a < 0"):
        evolve(Checked(1), a=-1)  # its __post_init__ still runs
    assert evolve(Derived(1), a=2) == Derived(2)
    with pytest.raises(ValueError):
        evolve(Derived(1), b=2)  # as dataclasses.replace refuses a field __init__ does not take
    assert evolve(Mutable(1), a=2) == Mutable(2)
