"""PII found by Microsoft Presidio's analyzer, in process or as a service, masked or blocked."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.guardrails import post_json
from domain.errors import BadRequestError
from domain.guardrails import ALLOW, GuardrailSpec, Inspection, Verdict, block, masked
from ports.guardrail import Guardrail, GuardrailUnavailable

MASK, BLOCK = "MASK", "BLOCK"
ALL = "ALL"
"""A `presidio_score_thresholds` key: the threshold of every entity without one of its own."""
DEFAULT_TIMEOUT = 10.0
"""Seconds to wait on a Presidio analyzer service."""


@dataclass(frozen=True, slots=True)
class Finding:
    entity: str
    start: int
    end: int
    score: float


class PresidioGuardrail(Guardrail):
    """Asks a Presidio analyzer what PII each text holds, then blocks (an entity configured BLOCK) or
    masks the rest as Presidio's anonymizer would (`<EMAIL_ADDRESS>`), or with numbered placeholders
    (`<EMAIL_ADDRESS_1>`) and a `restore` map when `output_parse_pii` is on, as LiteLLM does.

    The analyzer is the one given (anything with Presidio's `AnalyzerEngine.analyze(text=, language=,
    entities=)`), else the Presidio service at `presidio_analyzer_api_base` over `client`, else an
    in-process `presidio_analyzer.AnalyzerEngine`, built at construction (it loads a spaCy model)."""

    kind = "presidio"

    def __init__(
        self, spec: GuardrailSpec, analyzer: Any = None, client: httpx.AsyncClient | None = None
    ) -> None:
        params = spec.params
        if params.get("presidio_ad_hoc_recognizers"):
            raise BadRequestError(
                "presidio_ad_hoc_recognizers is not supported", param="presidio_ad_hoc_recognizers"
            )
        self._language = _language(params.get("presidio_language"))
        self._actions = _actions(params.get("pii_entities_config"))
        self._thresholds = _thresholds(params.get("presidio_score_thresholds"))
        self._ignored = _entity_list(params.get("presidio_entities_deny_list"), "presidio_entities_deny_list")
        self._numbered = _flag(params.get("output_parse_pii"), "output_parse_pii")
        self._timeout = _timeout(params.get("timeout"))
        self._analyzer = analyzer
        self._remote: tuple[httpx.AsyncClient, str] | None = None
        if analyzer is None:
            base = params.get("presidio_analyzer_api_base")
            if base is not None:
                self._remote = _remote(base, client)
            else:
                self._analyzer = _in_process_analyzer(self._language)

    async def check(self, inspection: Inspection) -> Verdict:
        texts = inspection.texts
        found = await self._analyze(texts)
        findings = [self._kept(text, results) for text, results in zip(texts, found, strict=True)]
        blocked = sorted({f.entity for per_text in findings for f in per_text if self._action(f) == BLOCK})
        if blocked:
            return block(f"PII not allowed: {', '.join(blocked)}")
        if not any(findings):
            return ALLOW
        return self._masked(texts, findings)

    # -- analysis ---------------------------------------------------------------------------------

    @property
    def _entities(self) -> list[str] | None:
        return list(self._actions) or None

    async def _analyze(self, texts: Sequence[str]) -> list[list[Any]]:
        if self._remote is not None:
            client, url = self._remote
            return list(await asyncio.gather(*(self._analyze_remote(client, url, text) for text in texts)))
        try:
            # Presidio's analyzer is CPU-bound (spaCy): off the event loop.
            return await asyncio.to_thread(self._analyze_in_process, texts)
        except Exception as exc:
            raise GuardrailUnavailable(f"presidio analyzer failed ({type(exc).__name__})") from exc

    def _analyze_in_process(self, texts: Sequence[str]) -> list[list[Any]]:
        return [
            list(self._analyzer.analyze(text=text, language=self._language, entities=self._entities))
            if text.strip()
            else []
            for text in texts
        ]

    async def _analyze_remote(self, client: httpx.AsyncClient, url: str, text: str) -> list[Any]:
        if not text.strip():
            return []  # Presidio answers an error for an empty text
        body: dict[str, Any] = {"text": text, "language": self._language}
        if self._entities:
            body["entities"] = self._entities
        headers = {"Accept": "application/json"}
        results = await post_json(client, url, body, headers, self._timeout, "presidio analyzer")
        if not isinstance(results, list):
            raise GuardrailUnavailable("presidio analyzer answered something other than a list of results")
        return results

    def _kept(self, text: str, results: Sequence[Any]) -> list[Finding]:
        """The findings that count, one per span (the longer, then the surer, where two overlap),
        in the order they appear."""
        candidates: list[Finding] = []
        for result in results:
            finding = _finding(result, len(text))
            if finding is None or finding.entity in self._ignored:
                continue
            if self._actions and finding.entity not in self._actions:
                continue
            threshold = self._thresholds.get(finding.entity, self._thresholds.get(ALL))
            if threshold is not None and finding.score < threshold:
                continue
            candidates.append(finding)
        kept: list[Finding] = []
        for finding in sorted(candidates, key=lambda f: (f.start - f.end, -f.score, f.start)):
            if all(finding.end <= other.start or other.end <= finding.start for other in kept):
                kept.append(finding)
        return sorted(kept, key=lambda f: f.start)

    def _action(self, finding: Finding) -> str:
        return self._actions.get(finding.entity, MASK)

    # -- masking ----------------------------------------------------------------------------------

    def _masked(self, texts: Sequence[str], findings: Sequence[list[Finding]]) -> Verdict:
        placeholders: dict[tuple[str, str], str] = {}
        replacements: dict[str, str] = {}
        out: list[str] = []
        for text, per_text in zip(texts, findings, strict=True):
            pieces: list[str] = []
            cursor = 0
            for finding in per_text:
                original = text[finding.start : finding.end]
                key = (finding.entity, original)
                if key not in placeholders:
                    # Numbered left to right across the whole inspection, as LiteLLM numbers a text's.
                    number = f"_{len(placeholders) + 1}" if self._numbered else ""
                    placeholders[key] = f"<{finding.entity}{number}>"
                placeholder = placeholders[key]
                replacements.setdefault(original, placeholder)
                pieces += [text[cursor : finding.start], placeholder]
                cursor = finding.end
            out.append("".join(pieces) + text[cursor:])
        entities = sorted({entity for entity, _ in placeholders})
        restore = {p: original for (_, original), p in placeholders.items()} if self._numbered else None
        return masked(out, f"masked PII: {', '.join(entities)}", replacements.items(), restore)


def _finding(result: Any, length: int) -> Finding | None:
    """A result of Presidio's (a `RecognizerResult`, or the service's JSON of one), if it is sound."""
    get = result.get if isinstance(result, Mapping) else lambda name: getattr(result, name, None)
    entity, start, end, score = get("entity_type"), get("start"), get("end"), get("score")
    if not isinstance(entity, str) or not entity:
        return None
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= length:
        return None
    return Finding(entity, start, end, float(score) if isinstance(score, int | float) else 0.0)


def _in_process_analyzer(language: str) -> Any:
    try:
        from presidio_analyzer import AnalyzerEngine  # optional and heavy: only when configured
    except ImportError as exc:
        raise BadRequestError(
            "the presidio guardrail needs Presidio: install presidio-analyzer and its spaCy model "
            "(python -m spacy download en_core_web_lg), or set presidio_analyzer_api_base to a Presidio "
            "analyzer service",
            param="guardrail",
        ) from exc
    try:
        return AnalyzerEngine(supported_languages=[language])
    except Exception as exc:  # a spaCy model missing, a language without one
        raise BadRequestError(
            f"the presidio guardrail could not start Presidio's analyzer ({type(exc).__name__}: {exc}); "
            "is its spaCy model installed?",
            param="guardrail",
        ) from exc


def _remote(base: object, client: httpx.AsyncClient | None) -> tuple[httpx.AsyncClient, str]:
    if not isinstance(base, str) or not base.strip():
        raise BadRequestError("presidio_analyzer_api_base must be a URL", param="presidio_analyzer_api_base")
    if client is None:
        raise BadRequestError(
            "presidio_analyzer_api_base needs an HTTP client", param="presidio_analyzer_api_base"
        )
    url = base.strip()
    if not url.startswith(("http://", "https://")):
        url = "http://" + url  # as LiteLLM assumes: a service on a private network
    return client, url.rstrip("/") + "/analyze"


def _language(value: object) -> str:
    if value is None:
        return "en"
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(
            "presidio_language must be a language code such as 'en'", param="presidio_language"
        )
    return value.strip()


def _actions(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(
            "pii_entities_config must map entity types to MASK or BLOCK", param="pii_entities_config"
        )
    actions: dict[str, str] = {}
    for entity, action in value.items():
        action = action.upper() if isinstance(action, str) else action
        if not isinstance(entity, str) or not entity or action not in (MASK, BLOCK):
            raise BadRequestError(
                f"pii_entities_config: {entity!s} must be MASK or BLOCK", param="pii_entities_config"
            )
        actions[entity] = action
    return actions


def _thresholds(value: object) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(
            "presidio_score_thresholds must map entity types to scores", param="presidio_score_thresholds"
        )
    thresholds: dict[str, float] = {}
    for entity, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise BadRequestError(
                f"presidio_score_thresholds: {entity!s} must be a score from 0 to 1",
                param="presidio_score_thresholds",
            )
        thresholds[str(entity)] = float(score)
    return thresholds


def _entity_list(value: object, param: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise BadRequestError(f"{param} must be a list of entity types", param=param)
    return frozenset(value)


def _flag(value: object, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequestError(f"{param} must be true or false", param=param)
    return value


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise BadRequestError("timeout must be a positive number of seconds", param="timeout")
    return float(value)
