"""Classes built by `@frozen` are the classes `dataclass(frozen=True, slots=True)` builds: every class of the
domain, the use cases, the ports and the composition root, loaded a second time with the dataclass in its
place, and classes with each feature the dataclass handles, compared attribute by attribute and on
instances (equality, hash, repr, immutability, pickling, fields, replace, asdict, match args, the
constructor and its errors)."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import inspect
import pickle
import pkgutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, InitVar, dataclass, field
from types import ModuleType
from typing import Any, ClassVar

import pytest

import application
import bootstrap
import domain
import domain.frozen
import ports
from domain.frozen import frozen

DATACLASS = dataclass(frozen=True, slots=True)
_ADDED_BY_USE = {"__msgspec_cache__"}
"""What a library puts on a class it has met (msgspec, once it encoded one), whichever test met it first."""
REBUILT = domain.frozen._REPLICATED


def frozen_modules() -> list[ModuleType]:
    """The modules of the packages checked here that build classes with `@frozen`."""
    found = []
    for package in (domain, application, ports, bootstrap):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            spec = importlib.util.find_spec(info.name)
            assert spec is not None and spec.origin is not None
            with open(spec.origin, encoding="utf-8") as source:
                if "\n@frozen\n" not in source.read():
                    continue
            module = importlib.import_module(info.name)
            if module is not domain.frozen and getattr(module, "frozen", None) is frozen:
                found.append(module)
    return found


@pytest.fixture(scope="module")
def reference_modules() -> Iterator[dict[str, ModuleType]]:
    """Each domain module that uses `@frozen`, loaded again as `reference_<name>` with the dataclass as
    its `frozen`."""
    loaded = {}
    modules = frozen_modules()
    domain.frozen.frozen = DATACLASS  # type: ignore[assignment]
    try:
        for module in modules:
            name = f"reference_{module.__name__.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(name, module.__file__)
            assert spec is not None and spec.loader is not None
            reference = importlib.util.module_from_spec(spec)
            sys.modules[name] = reference  # the dataclass and pickle find a class's module there
            spec.loader.exec_module(reference)
            loaded[module.__name__] = reference
    finally:
        domain.frozen.frozen = frozen  # type: ignore[assignment]
    yield loaded
    for reference in loaded.values():
        del sys.modules[reference.__name__]


def classes_of(module: ModuleType) -> dict[str, type]:
    """The module's own frozen dataclasses with slots (what `@frozen` builds; other dataclasses are left)."""
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == module.__name__
        and value.__dataclass_params__.frozen  # type: ignore[attr-defined]
        and "__slots__" in vars(value)
    }


def test_every_frozen_class_is_the_dataclass_the_stdlib_builds(
    reference_modules: dict[str, ModuleType],
) -> None:
    compared = rebuilt = 0
    for module in frozen_modules():
        built, reference = classes_of(module), classes_of(reference_modules[module.__name__])
        assert built.keys() == reference.keys()
        for name, cls in built.items():
            fast = "_FACTORY" in cls.__init__.__globals__  # type: ignore[misc]
            if REBUILT and module.__name__.startswith("domain."):
                assert fast, f"{name} was not rebuilt"  # every domain class is rebuilt; others may fall back
            assert_same_class(cls, reference[name])
            compared += 1
            rebuilt += fast
    assert compared > 120
    assert not REBUILT or rebuilt > 110


def test_classes_with_each_feature_of_the_dataclass_are_the_stdlib_s() -> None:
    built, reference = define(frozen), define(DATACLASS)
    assert [cls.__name__ for cls in built] == [cls.__name__ for cls in reference]
    for cls, twin in zip(built, reference, strict=True):
        assert_same_class(cls, twin)


def test_what_the_dataclass_refuses_is_refused_with_the_same_error() -> None:
    for body in REFUSED:
        outcomes = []
        for decorate in (frozen, DATACLASS):
            try:
                body(decorate)
                outcomes.append(None)
            except Exception as error:
                outcomes.append((type(error), str(error)))
        assert outcomes[0] == outcomes[1] and outcomes[0] is not None, body.__name__


def test_a_default_factory_gives_each_instance_its_own_value_and_post_init_runs_last() -> None:
    checked, _ = define(frozen)[:2]
    first, second = checked(1), checked(1)
    assert first.items == [] and first.items is not second.items
    with pytest.raises(ValueError, match="a < 0"):
        checked(-1)


def test_an_instance_inside_itself_shows_as_dots_in_its_repr() -> None:
    shown = []
    for decorate in (frozen, DATACLASS):
        checked = define(decorate)[0]
        inside = checked(1)
        inside.items.append(inside)
        shown.append(repr(inside))
    assert shown[0] == shown[1] and "items=[...]" in shown[0]


def define(decorate: Callable[[type], type]) -> list[type]:
    """The same class bodies, built by `decorate`."""

    @decorate
    class Checked:
        """Validated."""

        a: int
        items: list[int] = field(default_factory=list)
        label: str = "it's"

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("a < 0")

    @decorate
    class Undocumented:
        a: int
        b: str | None = None
        c: tuple[int, ...] = ()
        d: dict[str, int] = field(default_factory=dict)
        e: float = 1.5

    @decorate
    class Empty:
        pass

    @decorate
    class One:
        value: float

    @decorate
    class Options:
        shown: str
        hidden: str = field(default="h", repr=False)
        ignored: int = field(default=0, compare=False)
        unhashed: int = field(default=0, hash=False)
        tagged: int = field(default=0, metadata={"unit": "ms"})

    @decorate
    class OwnHash:
        a: int

        def __hash__(self) -> int:
            return 7

    @decorate
    class OwnEq:
        a: int

        def __eq__(self, other: object) -> bool:
            return True

    @decorate
    class OwnRepr:
        a: int

        def __repr__(self) -> str:
            return "mine"

    @decorate
    class WithClassVar:
        a: int
        kind: ClassVar[str] = "k"

    @decorate
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

        def __post_init__(self, scale: int) -> None:
            object.__setattr__(self, "a", self.a * scale)

    @decorate
    class KeywordOnly:
        a: int
        _: KW_ONLY
        b: int = 2

    @decorate
    class NotInInit:
        a: int
        b: int = field(default=3, init=False)

    @DATACLASS
    class Base:
        a: int

    @decorate
    class Derived(Base):
        b: int = 0

    return [
        Checked,
        Undocumented,
        Empty,
        One,
        Options,
        OwnHash,
        OwnEq,
        OwnRepr,
        WithClassVar,
        WithInitVar,
        KeywordOnly,
        NotInInit,
        Derived,
    ]


def mutable_default(decorate: Callable[[type], type]) -> None:
    @decorate
    class Shared:
        items: list[int] = []


def default_first(decorate: Callable[[type], type]) -> None:
    @decorate
    class Misordered:
        a: int = 0
        b: int  # type: ignore[misc]


def own_setattr(decorate: Callable[[type], type]) -> None:
    @decorate
    class Settable:
        a: int

        def __setattr__(self, name: str, value: Any) -> None:
            pass


def own_slots(decorate: Callable[[type], type]) -> None:
    @decorate
    class Slotted:
        __slots__ = ("a",)
        a: int


def field_without_annotation(decorate: Callable[[type], type]) -> None:
    @decorate
    class Unannotated:
        a = field(default=1)


REFUSED = [mutable_default, default_first, own_setattr, own_slots, field_without_annotation]


def assert_same_class(cls: type, twin: type) -> None:
    """`cls` and `twin`, from the same class body, are alike in every way but their module."""
    assert cls.__qualname__ == twin.__qualname__
    assert [field_facts(f) for f in dataclasses.fields(cls)] == [
        field_facts(f) for f in dataclasses.fields(twin)
    ]
    assert repr(cls.__dataclass_params__) == repr(twin.__dataclass_params__)  # type: ignore[attr-defined]
    assert cls.__doc__ == twin.__doc__
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__init__.__annotations__ == twin.__init__.__annotations__  # type: ignore[misc]
    assert set(vars(cls)) - _ADDED_BY_USE == set(vars(twin)) - _ADDED_BY_USE
    for name in ("__slots__", "__match_args__"):
        assert getattr(cls, name, None) == getattr(twin, name, None), name
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
        method, other = cls.__dict__.get(name), twin.__dict__.get(name)
        assert (method is None) == (other is None), name
        assert getattr(method, "__qualname__", None) == getattr(other, "__qualname__", None), name
    assert_same_instances(cls, twin)


def field_facts(f: dataclasses.Field[Any]) -> tuple[Any, ...]:
    """What the dataclass records of a field; a default by its repr and a factory by its name, as the
    reference module has its own copies of the domain's classes."""
    facts = ("name", "type", "init", "repr", "hash", "compare", "metadata", "kw_only", "_field_type")
    factory = getattr(f.default_factory, "__qualname__", f.default_factory)
    return (*(getattr(f, name) for name in facts), repr(f.default), factory)


def assert_same_instances(cls: type, twin: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    values = {name: f"{name}!" for name in names}
    one, other = made(cls, values), made(twin, values)
    assert repr(one) == repr(other)
    assert outcome(hash, one) == outcome(hash, other)
    assert not hasattr(one, "__dict__") and not hasattr(other, "__dict__")
    assert (one == made(cls, values)) == (other == made(twin, values))
    for name in names:
        changed = values | {name: "changed"}
        assert (one == made(cls, changed)) == (other == made(twin, changed)), name
        assert outcome(setattr, one, name, 1) == outcome(setattr, other, name, 1)
        assert outcome(delattr, one, name) == outcome(delattr, other, name)
        assert outcome(dataclasses.replace, one, **{name: "new"}) == outcome(
            dataclasses.replace, other, **{name: "new"}
        )
    assert outcome(setattr, one, "unknown", 1) == outcome(setattr, other, "unknown", 1)
    assert outcome(delattr, one, "unknown") == outcome(delattr, other, "unknown")
    assert (one == 1) == (other == 1) and (one != made(cls, values)) == (other != made(twin, values))
    assert one.__getstate__() == other.__getstate__()
    if "<locals>" not in cls.__qualname__:  # pickle finds a class by its module and name
        assert pickle.loads(pickle.dumps(one)) == one and pickle.loads(pickle.dumps(other)) == other
    assert copy.deepcopy(one) == one and copy.copy(one) == one
    assert dataclasses.asdict(one) == dataclasses.asdict(other)
    assert dataclasses.astuple(one) == dataclasses.astuple(other)
    for args, kwargs in constructor_calls(cls, values):
        assert outcome(cls, *args, **kwargs) == outcome(twin, *args, **kwargs), (args, kwargs)


def made(cls: type, values: dict[str, Any]) -> Any:
    """An instance holding `values`, past any validation in `__init__`."""
    obj = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """What `call` gives, or what it raises: comparable between the two classes of a pair."""
    try:
        result = call(*args, **kwargs)
    except Exception as error:
        return "raised", (type(error), str(error))
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return "made", [repr(getattr(result, f.name)) for f in dataclasses.fields(result)]
    return "returned", result


def constructor_calls(cls: type, values: dict[str, Any]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    params = [p for p in inspect.signature(cls).parameters.values()]
    required = {p.name: values.get(p.name, 1) for p in params if p.default is inspect.Parameter.empty}
    every = [values.get(p.name, 1) for p in params]
    return [
        ((), required),
        (tuple(every), {}),
        ((), {}),
        ((*every, "extra"), {}),
        ((), required | {"nope": 1}),
    ]
