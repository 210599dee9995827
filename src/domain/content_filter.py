"""The content filter: named and custom patterns and blocked words found in texts, blocked or masked;
hide-secrets' masking of credentials; and the prompt-injection score."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from enum import StrEnum
from typing import Any

from domain.errors import BadRequestError
from domain.frozen import frozen
from domain.secret_patterns import ALIASES, GROUPS, INJECTION_RULES, PREBUILT, SECRET_SHAPES, Shape


class FilterAction(StrEnum):
    BLOCK = "BLOCK"
    MASK = "MASK"


KEYWORD_TAG = "[KEYWORD_REDACTED]"
SECRET_TAG = "[REDACTED]"
"""What hide-secrets puts in a secret's place (as LiteLLM's hide-secrets does)."""
DEFAULT_INJECTION_THRESHOLD = 0.5


@frozen
class FilterRule:
    """One thing to look for: a shape (prebuilt or custom regex) or a blocked word, what to do when it is
    found, the label its placeholders carry (`EMAIL` -> `[EMAIL_1]`), or a fixed `tag` that replaces it
    (keywords, secrets: not reversible)."""

    name: str
    action: FilterAction
    shapes: tuple[Shape, ...]
    label: str = ""
    tag: str | None = None
    description: str = ""

    @property
    def reason(self) -> str:
        return self.description or f"{self.name} detected"


@frozen
class ScanResult:
    """What a scan found. `blocked` is the reason of the first blocking rule (never the text found);
    else `texts` are the inputs with each finding replaced, `replacements` the (found, placeholder)
    pairs, `restore` placeholder -> original for the numbered (reversible) placeholders."""

    texts: tuple[str, ...]
    blocked: str | None = None
    replacements: tuple[tuple[str, str], ...] = ()
    restore: Mapping[str, str] = field(default_factory=dict)
    found: tuple[str, ...] = ()
    """The names of the rules that matched, in the order first met (for a reason)."""

    @property
    def changed(self) -> bool:
        return bool(self.replacements)


def _label(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_").upper() or "PATTERN"


def _action(value: Any, param: str) -> FilterAction:
    try:
        return FilterAction(str(value or "BLOCK").upper())
    except ValueError:
        raise BadRequestError(f"{param}: action must be BLOCK or MASK, not {value!r}", param=param) from None


def prebuilt_shapes(name: str) -> tuple[Shape, ...] | None:
    """The shapes a prebuilt pattern name (or one of its aliases) stands for; None if unknown."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key in GROUPS:
        return tuple(PREBUILT[part] for part in GROUPS[key])
    shape = PREBUILT.get(key)
    return (shape,) if shape else None


def keyword_rule(
    keyword: str, action: FilterAction, description: str = "", tag: str = KEYWORD_TAG
) -> FilterRule:
    """A blocked word or phrase: case-insensitive, on word boundaries, any run of spaces between words."""
    words = keyword.split()
    body = r"\s+".join(re.escape(word) for word in words)
    regex = re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
    hint = words[0].lower() if words[0].isascii() else None  # str.lower may change a non-ASCII length
    return FilterRule(
        name=f"keyword '{keyword}'",
        action=action,
        shapes=(Shape(regex, hint=hint, folded=True),),
        tag=tag,
        description=description,
    )


def build_rules(
    blocked_words: Sequence[Mapping[str, Any] | str] | None,
    patterns: Sequence[Mapping[str, Any]] | None,
    *,
    keyword_tag: str = KEYWORD_TAG,
) -> tuple[FilterRule, ...]:
    """The rules of a `litellm_content_filter` from its `blocked_words` and `patterns`; 400 naming the
    entry at fault (`patterns[1].pattern`) for a bad regex, an unknown prebuilt name or action."""
    rules: list[FilterRule] = []
    for i, entry in enumerate(patterns or ()):
        at = f"patterns[{i}]"
        if not isinstance(entry, Mapping):
            raise BadRequestError(f"{at}: must be a mapping", param=at)
        kind = str(entry.get("pattern_type") or ("regex" if entry.get("pattern") else "prebuilt")).lower()
        action = _action(entry.get("action"), f"{at}.action")
        if kind == "prebuilt":
            pattern_name = str(entry.get("pattern_name") or "")
            shapes = prebuilt_shapes(pattern_name) if pattern_name else None
            if shapes is None:
                raise BadRequestError(
                    f"{at}.pattern_name: unknown prebuilt pattern {pattern_name!r}",
                    param=f"{at}.pattern_name",
                )
            name = str(entry.get("name") or pattern_name)
        elif kind == "regex":
            source = entry.get("pattern")
            if not isinstance(source, str) or not source:
                raise BadRequestError(f"{at}.pattern: a regex is required", param=f"{at}.pattern")
            try:
                regex = re.compile(source)
            except re.error as exc:
                raise BadRequestError(f"{at}.pattern: invalid regex ({exc})", param=f"{at}.pattern") from None
            shapes = (Shape(regex),)
            name = str(entry.get("name") or entry.get("pattern_name") or f"custom_pattern_{i}")
        else:
            raise BadRequestError(
                f"{at}.pattern_type: must be prebuilt or regex, not {kind!r}", param=f"{at}.pattern_type"
            )
        description = str(entry.get("description") or "")
        rules.append(FilterRule(name, action, shapes, label=_label(name), description=description))
    for i, entry in enumerate(blocked_words or ()):
        at = f"blocked_words[{i}]"
        if isinstance(entry, str):
            entry = {"keyword": entry}
        keyword = entry.get("keyword") if isinstance(entry, Mapping) else None
        if not isinstance(keyword, str) or not keyword.strip():
            raise BadRequestError(f"{at}.keyword: a keyword is required", param=f"{at}.keyword")
        action = _action(entry.get("action"), f"{at}.action")
        rules.append(keyword_rule(keyword.strip(), action, str(entry.get("description") or ""), keyword_tag))
    return tuple(rules)


@frozen
class _Hit:
    start: int
    end: int
    rule: int


_DIGIT = re.compile(r"\d")


@frozen
class Gate:
    """What any rule of a set needs to find in a text before its regexes are worth running, checked in
    one pass: a hint (cased or not), or enough digits for a shape gated by digits alone. A set with a
    shape that needs neither is always open."""

    cased: re.Pattern[str] | None
    folded: re.Pattern[str] | None
    """Lower-case hints, looked for in the lower-cased text."""
    min_digits: int | None
    always: bool

    def open(self, text: str) -> bool:
        if self.always:
            return True
        if self.cased is not None and self.cased.search(text) is not None:
            return True
        if self.folded is not None and self.folded.search(text.lower()) is not None:
            return True
        return self.min_digits is not None and len(_DIGIT.findall(text)) >= self.min_digits


def gate_of(rules: Sequence[FilterRule]) -> Gate:
    cased: list[str] = []
    folded: list[str] = []
    digits: list[int] = []
    always = False
    for rule in rules:
        for shape in rule.shapes:
            hints = (shape.hint,) if isinstance(shape.hint, str) else shape.hint
            if hints:
                (folded if shape.folded else cased).extend(hints)
            elif shape.min_digits:
                digits.append(shape.min_digits)
            else:
                always = True

    def either(hints: list[str]) -> re.Pattern[str] | None:
        return re.compile("|".join(map(re.escape, dict.fromkeys(hints)))) if hints else None

    # Folded hints are lower case, looked for in the lower-cased text, as each shape looks for its own.
    return Gate(either(cased), either(folded), min(digits) if digits else None, always)


def _hits(text: str, rules: Sequence[FilterRule]) -> list[_Hit]:
    hits: list[_Hit] = []
    lowered: str | None = None
    digits = -1
    for index, rule in enumerate(rules):
        for shape in rule.shapes:
            hint = shape.hint
            if hint is not None:
                haystack = text
                if shape.folded:
                    lowered = lowered if lowered is not None else text.lower()
                    haystack = lowered
                if isinstance(hint, str):
                    if hint not in haystack:
                        continue
                elif not any(h in haystack for h in hint):
                    continue
            if shape.min_digits:
                if digits < 0:
                    digits = len(_DIGIT.findall(text))
                if digits < shape.min_digits:
                    continue
            for match in shape.regex.finditer(text):
                start, end = match.span(shape.group)
                if start < 0 or end <= start:
                    continue
                if shape.validator is not None:
                    checked = shape.validator(text, start, end)
                    if checked is None:
                        continue
                    end = checked
                hits.append(_Hit(start, end, index))
    return hits


def _kept(hits: list[_Hit]) -> list[_Hit]:
    """Overlapping findings: the earliest wins, the longest of those starting together, then the rule
    listed first; the others are dropped so no placeholder is cut into another."""
    hits.sort(key=lambda h: (h.start, h.start - h.end, h.rule))
    kept: list[_Hit] = []
    reach = -1
    for hit in hits:
        if hit.start >= reach:
            kept.append(hit)
            reach = hit.end
    return kept


def scan(texts: Sequence[str], rules: Sequence[FilterRule], gate: Gate | None = None) -> ScanResult:
    """Finds the rules in `texts`: blocked by the first blocking rule met (text by text, left to right),
    else each masked finding replaced by its rule's tag or a placeholder `[LABEL_n]`, numbered per label
    over the whole scan, one original always getting the same placeholder. With the rules' `gate`
    (`gate_of`), a text that cannot hold any of them costs one pass."""
    per_text = [_hits(text, rules) if gate is None or gate.open(text) else [] for text in texts]
    if not any(per_text):
        return ScanResult(tuple(texts))
    firsts = sorted(
        ((t, hit.start, hit.rule) for t, hits in enumerate(per_text) for hit in hits),
    )
    found = tuple(dict.fromkeys(rules[rule].name for _, _, rule in firsts))
    for _, _, rule in firsts:
        if rules[rule].action is FilterAction.BLOCK:
            return ScanResult(tuple(texts), blocked=rules[rule].reason, found=found)
    if not firsts:
        return ScanResult(tuple(texts))
    counters: dict[str, int] = {}
    assigned: dict[tuple[str, str], str] = {}
    restore: dict[str, str] = {}
    replacements: dict[tuple[str, str], None] = {}
    out: list[str] = []
    for text, hits in zip(texts, per_text, strict=True):
        if not hits:
            out.append(text)
            continue
        pieces: list[str] = []
        last = 0
        for hit in _kept(hits):
            rule = rules[hit.rule]
            original = text[hit.start : hit.end]
            if rule.tag is not None:
                placeholder = rule.tag
            else:
                placeholder = assigned.get((rule.label, original), "")
                if not placeholder:
                    counters[rule.label] = counters.get(rule.label, 0) + 1
                    placeholder = f"[{rule.label}_{counters[rule.label]}]"
                    assigned[(rule.label, original)] = placeholder
                    restore[placeholder] = original
            pieces.append(text[last : hit.start])
            pieces.append(placeholder)
            replacements[(original, placeholder)] = None
            last = hit.end
        pieces.append(text[last:])
        out.append("".join(pieces))
    return ScanResult(tuple(out), replacements=tuple(replacements), restore=restore, found=found)


SECRET_RULES: tuple[FilterRule, ...] = tuple(
    FilterRule(name, FilterAction.MASK, (shape,), tag=SECRET_TAG) for name, shape in SECRET_SHAPES
)
_SECRET_GATE = gate_of(SECRET_RULES)


def hide_secrets(texts: Sequence[str]) -> ScanResult:
    """Each credential-shaped piece of `texts` replaced by `[REDACTED]` (keys, tokens, private keys, a
    URL's password, the value of `password=...`-style assignments)."""
    return scan(texts, SECRET_RULES, _SECRET_GATE)


def injection_score(text: str) -> tuple[float, tuple[str, ...]]:
    """How much `text` reads like a prompt injection (0..1) and which heuristics it tripped (rules of
    one name count once, the first listed, the strongest, that matches)."""
    score = 0.0
    seen: list[str] = []
    lowered = text.lower()
    for name, weight, hints, regex in INJECTION_RULES:
        if name in seen or not any(hint in lowered for hint in hints):
            continue
        if regex.search(text):
            seen.append(name)
            score += weight
    return min(score, 1.0), tuple(seen)


def injection_found(texts: Iterable[str], threshold: float = DEFAULT_INJECTION_THRESHOLD) -> tuple[str, ...]:
    """The heuristics tripped by the first text whose score reaches `threshold`; () when none does."""
    for text in texts:
        score, seen = injection_score(text)
        if seen and score >= threshold:
            return seen
    return ()
