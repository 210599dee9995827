"""`@frozen`: `dataclass(frozen=True, slots=True)` built in a third of the time, with the same classes; and
`evolve`, their `dataclasses.replace` at less than half its cost."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from _thread import get_ident
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")

_DATACLASS = dataclasses.dataclass(frozen=True, slots=True)
_BARE = dataclasses.dataclass(init=False, repr=False, eq=False, slots=True)
_REPLICATED = sys.version_info[:2] in {(3, 11), (3, 12)}
"""The versions whose `dataclasses` this module was checked against (tests/unit/test_frozen.py): 3.13
builds its methods in one exec itself and adds `__replace__`, so there `@frozen` is the dataclass."""
_PSEUDO_FIELDS = ("ClassVar", "InitVar", "KW_ONLY")


@_DATACLASS
class _Reference:
    """The parameters every `@frozen` class shares with a `dataclass(frozen=True, slots=True)`."""


_PARAMS = _Reference.__dataclass_params__  # type: ignore[attr-defined]


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """`dataclass(frozen=True, slots=True)(cls)`, the same class to every test of it (fields, equality,
    hash, repr, immutability, pickling, match args, docstring, `__post_init__`), at under a third of the
    CPU: the dataclass compiles six methods a class, one source each (0.65 ms a class, 64 ms of a
    start); here the fields and slots come from the dataclass without methods, `__init__` reuses the
    code of a class of the same shape (storing through the slots, not `object.__setattr__`: it runs twice
    as fast too), `__eq__`, `__hash__` and `__repr__` are the dataclass's own text compiled on first
    use, and `__setattr__`/`__delattr__` are closures (they only raise).

    A class with what this does not rebuild (a base dataclass, keyword-only, non-init, ClassVar or
    InitVar fields, its own `__init__`, `__setattr__` or metaclass), or on a Python whose dataclasses it
    was not checked against, gets the dataclass itself."""
    if not _REPLICATED or not _rebuildable(cls):
        return _DATACLASS(cls)
    body = cls.__dict__
    doc = body["__doc__"]
    hash_given = body.get("__hash__", _MISSING) is not _MISSING and not (
        body["__hash__"] is None and "__eq__" in body
    )
    cls.__doc__ = "-"  # so the bare dataclass does not compute a signature for its docstring
    built: Any = _BARE(cls)
    fields = dataclasses.fields(built)
    cls.__doc__ = built.__doc__ = doc or _signature_text(cls.__name__, fields)
    built.__dataclass_params__ = _PARAMS
    _add_methods(built, cls, fields, hash_given)
    return built  # type: ignore[no-any-return]


_MISSING: Any = dataclasses.MISSING


def _rebuildable(cls: type) -> bool:
    """Whether `cls` uses only what `frozen` rebuilds; anything else, errors included (a field without
    a default after one with), is left to the dataclass."""
    body = cls.__dict__
    if type(cls) is not type or cls.__bases__ != (object,):
        return False
    if any(name in body for name in ("__slots__", "__init__", "__setattr__", "__delattr__")):
        return False
    annotations = body.get("__annotations__", {})
    if "self" in annotations:
        return False
    defaulted = False
    for name, annotation in annotations.items():
        if not isinstance(annotation, str) or any(word in annotation for word in _PSEUDO_FIELDS):
            return False
        value = body.get(name, _MISSING)
        if isinstance(value, dataclasses.Field):
            if value.kw_only is True or not value.init:
                return False
            has_default = value.default is not _MISSING or value.default_factory is not _MISSING
        else:
            has_default = value is not _MISSING
        if defaulted and not has_default:
            return False
        defaulted = has_default
    return True


def _add_methods(
    built: Any, original: type, fields: tuple[dataclasses.Field[Any], ...], hash_given: bool
) -> None:
    """The methods `dataclass(frozen=True, slots=True)` gives a class, where the class has none of its own
    (`__setattr__` keeps naming the class the slots replaced, as the dataclass's own does)."""
    body = built.__dict__
    methods = [_init_method(built, fields), *_frozen_methods(original, tuple(f.name for f in fields))]
    if "__repr__" not in body:
        methods.append(_repr_method(tuple(f.name for f in fields if f.repr)))
    if "__eq__" not in body:
        compared = [f.name for f in fields if f.compare]
        mine, theirs = _tuple_text("self", compared), _tuple_text("other", compared)
        text = f"if other.__class__ is self.__class__:\n  return {mine}=={theirs}\n return NotImplemented"
        methods.append(_compiled_on_first_use(built, "__eq__", "self, other", text))
    if not hash_given:
        hashed = _tuple_text("self", [f.name for f in fields if (f.compare if f.hash is None else f.hash)])
        methods.append(_compiled_on_first_use(built, "__hash__", "self", f"return hash({hashed})"))
    for method in methods:
        method.__qualname__ = f"{built.__qualname__}.{method.__name__}"
        method.__module__ = built.__module__
        setattr(built, method.__name__, method)
    if "__getstate__" not in body:  # pickling: the dataclass's own two functions
        built.__getstate__ = dataclasses._dataclass_getstate  # type: ignore[attr-defined]
    if "__setstate__" not in body:
        built.__setstate__ = dataclasses._dataclass_setstate  # type: ignore[attr-defined]


def _init_method(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """The dataclass's `__init__` for `cls` (its signature, defaults, default factories, `__post_init__`
    called last), storing each field through its slot rather than through `object.__setattr__`, which
    costs twice as much. Its code is compiled once for all classes of the same shape (how many fields,
    which have a default factory, whether `__post_init__` runs; ~45 shapes for ~100 domain classes),
    with the fields' names put in place of the parameters' and this class's slots and factories as its
    globals."""
    factories = tuple(i for i, field in enumerate(fields) if field.default_factory is not _MISSING)
    shape = (len(fields), factories, hasattr(cls, "__post_init__"))
    template = _INIT_CODE.get(shape) or _INIT_CODE.setdefault(shape, _init_code(*shape))
    scope: dict[str, object] = {"_FACTORY": _FACTORY}
    defaults = []
    for i, field in enumerate(fields):
        scope[f"_set{i}"] = getattr(cls, field.name).__set__
        if field.default_factory is not _MISSING:
            scope[f"_factory{i}"] = field.default_factory
            defaults.append(_FACTORY)
        elif field.default is not _MISSING:
            defaults.append(field.default)
    code = template.replace(co_varnames=("self", *(field.name for field in fields)))
    init: Any = FunctionType(code, scope, "__init__", tuple(defaults) or None)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {field.name: field.type for field in fields} | {"return": None}
    return init  # type: ignore[no-any-return]


_INIT_CODE: dict[tuple[int, tuple[int, ...], bool], CodeType] = {}


def _init_code(count: int, factories: tuple[int, ...], post_init: bool) -> CodeType:
    """`def __init__(self, p0, p1, ...)` storing `p<i>` (or, for a field with a default factory left
    out, a new value from it) through the slot setter `_set<i>`, then calling `__post_init__`."""
    lines = [
        f"    _set{i}(self, _factory{i}() if p{i} is _FACTORY else p{i})\n"
        if i in factories
        else f"    _set{i}(self, p{i})\n"
        for i in range(count)
    ]
    if post_init:
        lines.append("    self.__post_init__()\n")
    params = "".join(f", p{i}" for i in range(count))
    scope: dict[str, Any] = {}
    exec(f"def __init__(self{params}):\n" + ("".join(lines) or "    pass\n"), scope)
    return scope["__init__"].__code__  # type: ignore[no-any-return]


class _FactoryDefault:
    """The default of a field with a default factory, as the dataclass's own `__init__` spells it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY: Any = _FactoryDefault()


def _tuple_text(owner: str, names: list[str]) -> str:
    """The dataclass's text of fields as a tuple: `(self.a,self.b,)`."""
    return f"({','.join(f'{owner}.{name}' for name in names)},)" if names else "()"


def _compiled_on_first_use(cls: Any, name: str, params: str, body: str) -> Callable[..., Any]:
    """A stand-in for the method `name` of `cls` that compiles the dataclass's own text of it when first
    called and puts it in its place: then it runs as fast as the dataclass's, and a class whose
    instances are never compared or hashed never pays for compiling it."""

    def stand_in(self: Any, *args: Any) -> Any:
        scope: dict[str, Any] = {}
        exec(f"def {name}({params}):\n {body}", scope)
        method = scope[name]
        method.__qualname__, method.__module__ = stand_in.__qualname__, stand_in.__module__
        setattr(cls, name, method)
        return method(self, *args)

    stand_in.__name__ = name
    return stand_in


def _frozen_methods(cls: type, names: tuple[str, ...]) -> tuple[Callable[..., Any], ...]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__


def _repr_method(names: tuple[str, ...]) -> Callable[[Any], str]:
    """The dataclass's `__repr__`: "..." for an instance inside itself, as `reprlib` says it, and the
    fields' text from the dataclass's own f-string, compiled when first shown."""
    running: set[tuple[int, int]] = set()
    shown: Callable[[Any], str] | None = None

    def __repr__(self: Any) -> str:
        nonlocal shown
        key = id(self), get_ident()
        if key in running:
            return "..."
        running.add(key)
        try:
            if shown is None:
                scope: dict[str, Any] = {}
                text = ", ".join(f"{name}={{self.{name}!r}}" for name in names)
                exec(f'def shown(self):\n return self.__class__.__qualname__ + f"({text})"', scope)
                shown = scope["shown"]
            return shown(self)
        finally:
            running.discard(key)

    return __repr__


def _signature_text(name: str, fields: tuple[dataclasses.Field[Any], ...]) -> str:
    """The docstring the dataclass gives a class without one, `Name(a: 'int', b: 'str' = 'x')`, without
    building the `inspect.Signature` it comes from."""
    params = []
    for field in fields:
        text = f"{field.name}: {inspect.formatannotation(field.type)}"
        if field.default_factory is not _MISSING:
            text += " = <factory>"
        elif field.default is not _MISSING:
            text += f" = {field.default!r}"
        params.append(text)
    return f"{name}({', '.join(params)}) -> None".replace(" -> None", "")


_UNSEEN: Any = object()
_REPLACERS: dict[type, Callable[[Any, dict[str, Any]], Any] | None] = {}
_FIELD_NAMES: dict[type, frozenset[str]] = {}


def evolve(obj: T, /, **changes: Any) -> T:
    """`dataclasses.replace(obj, **changes)` at less than half its cost for a frozen dataclass with slots
    and no `__post_init__`, copied slot by slot (a chat call replaces its Served result and its reply
    several times); any other dataclass, or a name that is not a field, goes through
    `dataclasses.replace`, errors included."""
    kind = type(obj)
    replacer = _REPLACERS.get(kind, _UNSEEN)
    if replacer is _UNSEEN:
        replacer = _REPLACERS[kind] = _replacer(kind)
    if replacer is None or not changes.keys() <= _FIELD_NAMES[kind]:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    return replacer(obj, changes)  # type: ignore[no-any-return]


def _replacer(cls: type) -> Callable[[Any, dict[str, Any]], Any] | None:
    params = getattr(cls, "__dataclass_params__", None)
    if (
        params is None
        or not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
    ):
        return None
    fields = dataclasses.fields(cls)
    if len(fields) != len(cls.__dataclass_fields__) or not all(f.init for f in fields):  # type: ignore[attr-defined]
        return None  # InitVar or ClassVar pseudo-fields, or fields __init__ does not take
    _FIELD_NAMES[cls] = frozenset(f.name for f in fields)
    scope: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    lines = ["def _replace(obj, changes):", "    new = _new(_cls)", "    get = changes.get"]
    for field in fields:
        scope[f"_set_{field.name}"] = getattr(cls, field.name).__set__
        lines.append(f"    _set_{field.name}(new, get({field.name!r}, obj.{field.name}))")
    lines.append("    return new")
    exec("\n".join(lines), scope)
    return scope["_replace"]  # type: ignore[return-value]
