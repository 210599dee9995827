"""Frozen dataclasses given quick_init's __init__ behave as the dataclass they are."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from domain.completions import ChunkChoice, CompletionChunk, Delta
from domain.quick_init import quick_init


@dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str | None = None
    c: tuple[int, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class Quick:
    a: int
    b: str | None = None
    c: tuple[int, ...] = ()


def test_it_takes_the_same_arguments_and_makes_the_same_instances() -> None:
    assert str(inspect.signature(Quick)) == str(inspect.signature(Plain))
    for args, kwargs in [((1,), {}), ((1, "x"), {}), ((1,), {"c": (2,)}), ((), {"a": 3, "b": "y"})]:
        assert dataclasses.astuple(Quick(*args, **kwargs)) == dataclasses.astuple(Plain(*args, **kwargs))
    with pytest.raises(TypeError):
        Quick()
    with pytest.raises(TypeError):
        Quick(1, "x", (), 4)


def test_its_instances_stay_frozen_equal_hashable_and_picklable() -> None:
    chunk = CompletionChunk("c", 1, "m", (ChunkChoice(0, Delta(content="Hi")),))

    with pytest.raises(dataclasses.FrozenInstanceError):
        chunk.id = "other"  # type: ignore[misc]
    assert chunk == CompletionChunk("c", 1, "m", (ChunkChoice(0, Delta(content="Hi")),))
    assert hash(chunk) == hash(CompletionChunk("c", 1, "m", (ChunkChoice(0, Delta(content="Hi")),)))
    assert pickle.loads(pickle.dumps(chunk)) == chunk
    assert dataclasses.replace(chunk, id="d").id == "d"


def test_a_class_it_cannot_build_as_the_dataclass_would_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(slots=True)
    class Mutable:
        a: int

    for cls in (Checked, Factory, Mutable):
        with pytest.raises(TypeError):
            quick_init(cls)
