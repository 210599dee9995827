"""The content filter's tables of shapes and phrases, whose regexes compile on their first use."""

from __future__ import annotations

import re

from domain.secret_patterns import INJECTION_RULES, PREBUILT, SECRET_SHAPES, LazyPattern


def test_every_table_regex_is_valid() -> None:
    patterns = [shape.regex for shape in PREBUILT.values()]
    patterns += [shape.regex for _, shape in SECRET_SHAPES]
    patterns += [regex for *_, regex in INJECTION_RULES]

    for pattern in patterns:
        assert isinstance(pattern, LazyPattern)
        re.compile(pattern.pattern, pattern.flags)


def test_a_lazy_pattern_finds_what_the_compiled_one_finds() -> None:
    text = "Write to Ann@Example.org, or ANN@example.org, before noon"
    lazy, compiled = LazyPattern(r"ann@example\.org", re.I), re.compile(r"ann@example\.org", re.I)

    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in compiled.finditer(text)]
    assert lazy.search(text, 10).span() == compiled.search(text, 10).span()
    assert LazyPattern("noon").search(text, 0, 20) is None
    assert lazy.sub("x", text) == compiled.sub("x", text)
