"""Frozen dataclasses given quick_init's __init__ behave as the dataclass they are, and `evolve` copies one as
`dataclasses.replace` does."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from domain.completions import ChunkChoice, CompletionChunk, Delta
from domain.quick_init import evolve, quick_init


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


def test_post_init_and_default_factories_run_as_in_the_dataclass() -> None:
    def define() -> tuple[type, ...]:
        @dataclass(frozen=True, slots=True)
        class Checked:
            a: int
            b: list[int] = field(default_factory=list)
            c: str = "c"

            def __post_init__(self) -> None:
                if self.a < 0:
                    raise ValueError("a < 0")

        return (Checked,)

    (plain,) = define()
    (quick,) = define()
    quick_init(quick)
    assert str(inspect.signature(quick)) == str(inspect.signature(plain))
    for args, kwargs in [((1,), {}), ((1, [2]), {}), ((1,), {"c": "x"}), ((), {"a": 3, "b": [4], "c": "y"})]:
        assert dataclasses.astuple(quick(*args, **kwargs)) == dataclasses.astuple(plain(*args, **kwargs))
    first, second = quick(1), quick(1)
    assert first.b == [] and first.b is not second.b  # a fresh default from the factory each time
    with pytest.raises(ValueError, match="a < 0"):
        quick(-1)


def test_a_class_it_cannot_build_as_the_dataclass_would_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: dataclasses.InitVar[int] = 1

    @dataclass(slots=True)
    class Mutable:
        a: int

    for cls in (KeywordOnly, Derived, WithInitVar, Mutable):
        with pytest.raises(TypeError):
            quick_init(cls)


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
