"""The shapes the content filter knows by name (LiteLLM's prebuilt pattern names), the secret shapes
hide-secrets masks, the prompt-injection phrases, and the checks a regex alone cannot make."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from domain.frozen import frozen


class LazyPattern:
    """A regex compiled on its first search: the filter's ~50 shapes and phrases cost a start 5-8 ms of
    CPU to compile, and a configuration uses a few of them, or none. Its `finditer` and `search` are
    the compiled pattern's once it is."""

    __slots__ = ("finditer", "flags", "pattern", "search")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name: str) -> Any:
        # Only reached until the first search has set `finditer` and `search` (or for another method).
        compiled = re.compile(self.pattern, self.flags)
        self.finditer = compiled.finditer
        self.search = compiled.search
        return getattr(compiled, name)


Validator = Callable[[str, int, int], int | None]
"""(text, start, end) of a candidate match -> the end of what is really found there, or None."""


@frozen
class Shape:
    """One recognisable shape: its regex (compiled on first use), a cheap literal every match contains
    (`hint`, checked with `in` before the regex runs), and the check that confirms a candidate."""

    regex: re.Pattern[str] | LazyPattern
    validator: Validator | None = None
    hint: str | tuple[str, ...] | None = None
    min_digits: int = 0
    """A text with fewer digits than this cannot hold the shape (skips the regex)."""
    group: int = 0
    """The regex group that is the finding (a secret's value, not the `password=` before it)."""
    folded: bool = False
    """The hint is lower case, looked for in the lower-cased text."""


# --- validators ------------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(compact: str) -> bool:
    """ISO 13616: the country and check digits moved to the end, letters as 10..35, mod 97 == 1."""
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _mastercard_prefix(digits: str) -> bool:
    return 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720


_IBAN_HEAD = LazyPattern(r"[A-Z]{2}\d{2} ?$")


def _card(prefixes: tuple[str, ...] | Callable[[str], bool] = (), lengths: tuple[int, ...] = ()) -> Validator:
    def check(text: str, start: int, end: int) -> int | None:
        digits = _digits(text[start:end])
        if _IBAN_HEAD.search(text, max(0, start - 5), start):
            return None  # the account part of a spaced IBAN, not a card
        if not 13 <= len(digits) <= 19 or (lengths and len(digits) not in lengths):
            return None
        if callable(prefixes):
            if not prefixes(digits):
                return None
        elif prefixes and not digits.startswith(prefixes):
            return None
        return end if luhn_ok(digits) else None

    return check


def _iban(text: str, start: int, end: int) -> int | None:
    # The regex may have swallowed a following upper-case word: shorten group by group until it checks.
    while end - start >= 15:
        if iban_ok(text[start:end].replace(" ", "")):
            return end
        cut = text.rfind(" ", start, end)
        if cut <= start:
            break
        end = cut
    return None


def _ipv4(text: str, start: int, end: int) -> int | None:
    return end if all(int(part) <= 255 for part in text[start:end].split(".")) else None


def _ipv6(text: str, start: int, end: int) -> int | None:
    candidate = text[start:end]
    if sum(ch not in ":" for ch in candidate) < 2:
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return end


def _phone(text: str, start: int, end: int) -> int | None:
    return end if 8 <= len(_digits(text[start:end])) <= 15 else None


_AWS_CONTEXT = LazyPattern(r"aws|secret|amazon", re.IGNORECASE)


def _aws_secret(text: str, start: int, end: int) -> int | None:
    value = text[start:end]
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    if not (mixed and any(c.isdigit() for c in value)):
        return None
    return end if _AWS_CONTEXT.search(text, max(0, start - 80), start) else None


def _assigned_secret(text: str, start: int, end: int) -> int | None:
    # "password: required" is prose, not a password; a value with a digit, symbol or capital is one.
    value = text[start:end]
    return None if value.isalpha() and value.islower() else end


# --- the content filter's prebuilt patterns ---------------------------------------------------------

_CARD = r"(?<![\d-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d])"
_US_PHONE = r"(?<![\w+#])(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.-])[2-9]\d{2}[\s.-]\d{4}(?!\d)"
_INTL_PHONE = r"(?<![\w+])\+[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\d)"

PREBUILT: dict[str, Shape] = {
    "email": Shape(
        LazyPattern(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        hint="@",
    ),
    "us_ssn": Shape(
        LazyPattern(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
        hint="-",
        min_digits=9,
    ),
    "us_ssn_no_dash": Shape(
        LazyPattern(r"(?<!\d)(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}(?!\d)"), min_digits=9
    ),
    "us_phone": Shape(LazyPattern(_US_PHONE), min_digits=10),
    "intl_phone": Shape(LazyPattern(_INTL_PHONE), _phone, hint="+", min_digits=8),
    "phone": Shape(LazyPattern(f"{_INTL_PHONE}|{_US_PHONE}"), _phone, min_digits=8),
    "credit_card": Shape(LazyPattern(_CARD), _card(), min_digits=13),
    "visa": Shape(LazyPattern(_CARD), _card(("4",), (13, 16, 19)), min_digits=13),
    "mastercard": Shape(LazyPattern(_CARD), _card(_mastercard_prefix, (16,)), min_digits=16),
    "amex": Shape(LazyPattern(_CARD), _card(("34", "37"), (15,)), min_digits=15),
    "discover": Shape(
        LazyPattern(_CARD),
        _card(("6011", "65", "644", "645", "646", "647", "648", "649"), (16, 19)),
        min_digits=16,
    ),
    "iban": Shape(
        LazyPattern(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban, min_digits=2
    ),
    "ipv4": Shape(LazyPattern(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)"), _ipv4, hint=".", min_digits=4),
    "ipv6": Shape(
        LazyPattern(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ipv6, hint=":"
    ),
    "aws_access_key": Shape(
        LazyPattern(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"), hint=("AKIA", "ASIA", "ABIA", "ACCA")
    ),
    "aws_secret_key": Shape(
        LazyPattern(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        _aws_secret,
        hint=("aws", "secret", "amazon"),
        folded=True,
    ),
    "openai_api_key": Shape(
        LazyPattern(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), hint="sk-"
    ),
    "anthropic_api_key": Shape(LazyPattern(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), hint="sk-ant-"),
    "github_token": Shape(
        LazyPattern(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
        hint=("gh", "github_pat_"),
    ),
    "slack_token": Shape(LazyPattern(r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}"), hint="xox"),
    "google_api_key": Shape(LazyPattern(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), hint="AIza"),
    "stripe_key": Shape(
        LazyPattern(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b"), hint=("_live_", "_test_")
    ),
    "jwt": Shape(LazyPattern(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), hint="eyJ"),
    "bearer_token": Shape(LazyPattern(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)"), hint="earer", group=1),
    "private_key": Shape(
        LazyPattern(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY-----"),
        hint="PRIVATE KEY-----",
    ),
}

ALIASES: dict[str, str] = {
    "ssn": "us_ssn",
    "email_address": "email",
    "phone_number": "phone",
    "international_phone": "intl_phone",
    "card": "credit_card",
    "credit_card_number": "credit_card",
    "american_express": "amex",
    "eu_iban_enhanced": "iban",
    "iban_code": "iban",
    "ip_address": "ip",
    "aws_access_key_id": "aws_access_key",
    "aws_secret_access_key": "aws_secret_key",
    "openai_key": "openai_api_key",
    "anthropic_key": "anthropic_api_key",
    "github_pat": "github_token",
    "google_key": "google_api_key",
    "stripe_api_key": "stripe_key",
    "jwt_token": "jwt",
    "bearer": "bearer_token",
    "pem_private_key": "private_key",
}

GROUPS: dict[str, tuple[str, ...]] = {"ip": ("ipv4", "ipv6")}
"""A name that stands for several shapes (their placeholders keep the group's name)."""


# --- hide-secrets ---------------------------------------------------------------------------------

_SECRET_NAMES = (
    "private_key",
    "jwt",
    "anthropic_api_key",
    "openai_api_key",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "slack_token",
    "google_api_key",
    "stripe_key",
    "bearer_token",
)

SECRET_SHAPES: tuple[tuple[str, Shape], ...] = (
    *((name, PREBUILT[name]) for name in _SECRET_NAMES),
    # scheme://user:password@host: the password alone goes.
    (
        "url_password",
        Shape(LazyPattern(r"[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s@/]+)@", re.I), hint="://", group=1),
    ),
    # api_key = '...', password: "...", OPENAI_API_KEY=...: the value alone goes (LiteLLM's "Secret Keyword").
    (
        "secret_keyword",
        Shape(
            LazyPattern(
                r"(?i)(?:api[_-]?key|secret|password|passwd|pwd|token|credentials?|access[_-]?key)[\w.-]{0,20}"
                r"['\"]?\s*[:=]\s*['\"]?([^\s'\"`,;]{4,})"
            ),
            _assigned_secret,
            hint=("key", "secret", "passw", "pwd", "token", "credential"),
            group=1,
            folded=True,
        ),
    ),
)


# --- prompt injection -----------------------------------------------------------------------------

_VERB = (
    r"(?:ignore|disregard|forget|skip|neglect|overlook|omit|bypass|override"
    r"|pay\s+no\s+attention\s+to|do\s+not\s+(?:follow|obey))"
)
# No "my": "ignore my previous prompt" is a user correcting themselves, not an attack.
_OLD = (
    r"(?:previous|prior|preceding|above|foregoing|earlier|initial|original|system|developer"
    r"|all|any|your|the|these|those)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|restrictions|programming)"
)

_OVERRIDE_HINTS = (
    "ignore",
    "disregard",
    "forget",
    "skip",
    "neglect",
    "overlook",
    "omit",
    "bypass",
    "overrid",
    "attention",
    "not ",
)

INJECTION_RULES: tuple[tuple[str, float, tuple[str, ...], LazyPattern], ...] = (
    # "Ignore all previous instructions", "disregard your rules" (LiteLLM's heuristics combine the same
    # verbs, adjectives and nouns); "ignore the typo in my previous message" is no match.
    (
        "instruction override",
        1.0,
        _OVERRIDE_HINTS,
        LazyPattern(rf"\b{_VERB}\s+(?:{_OLD}\s+){{1,3}}{_RULES}\b", re.I),
    ),
    (
        "instruction override",
        0.6,
        _OVERRIDE_HINTS,
        LazyPattern(
            rf"\b{_VERB}\s+(?:everything|all|anything)\s+(?:above|before|prior|previously|you\s+were\s+told)",
            re.I,
        ),
    ),
    # "disregard the above" alone may be a user taking back what they wrote; with "and start over" (or
    # another marker) it is an attack.
    (
        "instruction override",
        0.4,
        _OVERRIDE_HINTS,
        LazyPattern(rf"\b{_VERB}\s+(?:the\s+|all\s+)?above\b", re.I),
    ),
    (
        "reset",
        0.3,
        ("start", "begin"),
        LazyPattern(r"\band\s+(?:start\s+(?:over|anew|from\s+scratch)|begin\s+afresh)\b", re.I),
    ),
    (
        "persona jailbreak",
        0.8,
        ("you", "anything now"),
        LazyPattern(r"\byou\s+are\s+(?:now\s+)?(?:DAN|STAN|DUDE|AIM)\b|\bdo\s+anything\s+now\b", re.I),
    ),
    (
        "persona jailbreak",
        0.6,
        ("you",),
        LazyPattern(
            r"\byou\s+are\s+now\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil)\b", re.I
        ),
    ),
    (
        "system prompt extraction",
        0.6,
        ("system", "instructions"),
        LazyPattern(
            r"\b(?:reveal|show|print|output|repeat|display|leak|dump|tell\s+me|give\s+me|what\s+(?:is|are|was))"
            r"\s+(?:me\s+)?(?:your|the)\s+(?:(?:full|entire|exact|original|hidden|initial|secret)\s+)*"
            r"(?:system\s+(?:prompt|message|instructions)|hidden\s+instructions|initial\s+instructions)",
            re.I,
        ),
    ),
    # "with Developer Mode enabled" is the jailbreak's idiom; "developer mode is enabled" alone may be a
    # phone's settings, so it only counts towards the threshold.
    (
        "developer mode",
        0.6,
        ("mode",),
        LazyPattern(r"\bwith\s+developer\s+mode\s+enabled\b|\b(?:god|DAN|jailbreak)\s+mode\b", re.I),
    ),
    (
        "developer mode",
        0.4,
        ("mode",),
        LazyPattern(r"\bdeveloper\s+mode\s+(?:is\s+)?(?:now\s+)?(?:enabled|activated)\b", re.I),
    ),
    (
        "jailbreak marker",
        0.3,
        ("jailbreak", "character"),
        LazyPattern(r"\bjailbreak(?:ed|ing)?\b|\bstay\s+in\s+character\b", re.I),
    ),
    (
        "role-play without limits",
        0.6,
        ("pretend", "imagine", "act as", "role"),
        LazyPattern(
            r"\b(?:pretend|imagine|act\s+as\s+if|roleplay\s+as|role-play\s+as)\b[^.\n]{0,60}?"
            r"\b(?:no|without(?:\s+any)?)\s+(?:\w+\s+)?(?:restrictions|rules|limits|filters|guidelines|limitations)",
            re.I,
        ),
    ),
    (
        "delimiter injection",
        0.6,
        ("<", "[", "#"),
        LazyPattern(
            r"</?\s*system\s*>|<\|im_(?:start|end)\|>|\[/?INST\]|\[/?SYSTEM\]"
            r"|^\s*#{2,}\s*(?:system|instructions?)\s*:",
            re.I | re.M,
        ),
    ),
    (
        "new instructions",
        0.3,
        ("instructions",),
        LazyPattern(r"\bnew\s+(?:system\s+)?instructions\s*:", re.I),
    ),
)
"""(what it is, its weight, words one of which it needs in the lower-cased text, the phrase): the weights
of the rules a text matches add up (capped at 1, a name counted once); the text is an injection when
that score reaches the threshold (0.5 unless configured)."""
