"""The Presidio guardrail over an analyzer with Presidio's interface (a fake, a service, the real one)."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.guardrails.presidio import PresidioGuardrail
from domain.errors import BadRequestError
from domain.guardrails import Decision, GuardrailMode, GuardrailSpec, Inspection, restored
from ports.guardrail import GuardrailUnavailable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\+?\d[\d -]{8,}\d")
PERSON = re.compile(r"\b(?:Jane Doe|Rahul Mehta)\b")


@dataclass(frozen=True)
class RecognizerResult:
    """What Presidio's analyzer returns for one finding."""

    entity_type: str
    start: int
    end: int
    score: float


class FakeAnalyzer:
    """Finds people, emails and phone numbers the way Presidio reports them, and remembers each call."""

    def __init__(self, scores: dict[str, float] | None = None, extra: list[RecognizerResult] | None = None):
        self.scores = {"PERSON": 0.85, "EMAIL_ADDRESS": 1.0, "PHONE_NUMBER": 0.75, **(scores or {})}
        self.extra = extra or []
        self.calls: list[dict[str, Any]] = []

    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> list[RecognizerResult]:
        self.calls.append(
            {"text": text, "language": language, "entities": entities, "thread": threading.current_thread()}
        )
        found = [
            RecognizerResult(entity, m.start(), m.end(), self.scores[entity])
            for entity, pattern in (("PERSON", PERSON), ("EMAIL_ADDRESS", EMAIL), ("PHONE_NUMBER", PHONE))
            for m in pattern.finditer(text)
        ]
        return [r for r in found + self.extra if entities is None or r.entity_type in entities]


class BrokenAnalyzer:
    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> list[RecognizerResult]:
        raise RuntimeError("spaCy pipeline crashed")


def spec(**params: Any) -> GuardrailSpec:
    return GuardrailSpec(name="pii", kind="presidio", modes=(GuardrailMode.PRE_CALL,), params=params)


def inspect(*texts: str) -> Inspection:
    return Inspection(GuardrailMode.PRE_CALL, texts)


async def test_pii_is_masked_as_presidios_anonymizer_masks_it():
    guardrail = PresidioGuardrail(spec(), analyzer=FakeAnalyzer())

    verdict = await guardrail.check(
        inspect("Hi, I'm Jane Doe, reach me at jane.doe@example.com or +44 20 7946 0958.")
    )

    assert verdict.decision is Decision.MASKED
    assert verdict.texts == ("Hi, I'm <PERSON>, reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER>.",)
    assert dict(verdict.replacements) == {
        "Jane Doe": "<PERSON>",
        "jane.doe@example.com": "<EMAIL_ADDRESS>",
        "+44 20 7946 0958": "<PHONE_NUMBER>",
    }
    assert verdict.reason == "masked PII: EMAIL_ADDRESS, PERSON, PHONE_NUMBER"
    assert verdict.restore == {}


async def test_text_without_pii_is_allowed_and_every_text_keeps_its_place():
    guardrail = PresidioGuardrail(spec(), analyzer=FakeAnalyzer())

    clean = await guardrail.check(inspect("What is the boiling point of water at altitude?"))
    mixed = await guardrail.check(inspect("Translate to French:", "Write to rahul@acme.io", "   "))

    assert clean.decision is Decision.ALLOWED
    assert mixed.texts == ("Translate to French:", "Write to <EMAIL_ADDRESS>", "   ")


async def test_an_entity_configured_block_blocks_without_quoting_it():
    analyzer = FakeAnalyzer()
    guardrail = PresidioGuardrail(
        spec(pii_entities_config={"EMAIL_ADDRESS": "MASK", "PHONE_NUMBER": "BLOCK"}), analyzer=analyzer
    )

    verdict = await guardrail.check(inspect("Email jane.doe@example.com", "or call +1 415 555 0132 tonight"))

    assert verdict.blocked
    assert verdict.reason == "PII not allowed: PHONE_NUMBER"
    assert "555" not in verdict.reason


async def test_only_the_configured_entities_are_asked_for_and_masked():
    analyzer = FakeAnalyzer(extra=[RecognizerResult("PERSON", 0, 8, 0.9)])
    guardrail = PresidioGuardrail(
        spec(pii_entities_config={"EMAIL_ADDRESS": "mask"}, presidio_language="de"), analyzer=analyzer
    )

    verdict = await guardrail.check(inspect("Jane Doe schreibt an jane.doe@example.com"))

    assert verdict.texts == ("Jane Doe schreibt an <EMAIL_ADDRESS>",)
    assert analyzer.calls[0]["entities"] == ["EMAIL_ADDRESS"]
    assert analyzer.calls[0]["language"] == "de"


async def test_findings_below_their_score_threshold_are_left_alone():
    analyzer = FakeAnalyzer(scores={"PERSON": 0.4, "PHONE_NUMBER": 0.55})
    guardrail = PresidioGuardrail(
        spec(presidio_score_thresholds={"PHONE_NUMBER": 0.5, "ALL": 0.6}), analyzer=analyzer
    )

    verdict = await guardrail.check(inspect("Rahul Mehta: +91 98765 43210, rahul@acme.io"))

    # PERSON falls under ALL (0.6); the phone clears its own 0.5; the email scores 1.0.
    assert verdict.texts == ("Rahul Mehta: <PHONE_NUMBER>, <EMAIL_ADDRESS>",)


async def test_a_denied_entity_type_is_never_masked():
    guardrail = PresidioGuardrail(spec(presidio_entities_deny_list=["PERSON"]), analyzer=FakeAnalyzer())

    verdict = await guardrail.check(inspect("Jane Doe <jane.doe@example.com>"))

    assert verdict.texts == ("Jane Doe <<EMAIL_ADDRESS>>",)


async def test_output_parse_pii_numbers_placeholders_and_maps_them_back():
    guardrail = PresidioGuardrail(spec(output_parse_pii=True), analyzer=FakeAnalyzer())
    texts = (
        "You are a helpful assistant for Jane Doe.",
        "Draft a reply to rahul@acme.io, cc jane.doe@example.com, signed Jane Doe.",
    )

    verdict = await guardrail.check(inspect(*texts))

    assert verdict.texts == (
        "You are a helpful assistant for <PERSON_1>.",
        "Draft a reply to <EMAIL_ADDRESS_2>, cc <EMAIL_ADDRESS_3>, signed <PERSON_1>.",
    )
    assert verdict.restore == {
        "<PERSON_1>": "Jane Doe",
        "<EMAIL_ADDRESS_2>": "rahul@acme.io",
        "<EMAIL_ADDRESS_3>": "jane.doe@example.com",
    }
    reply = "Dear <PERSON_1>, I have written to <EMAIL_ADDRESS_2> as asked."
    assert restored(reply, verdict.restore) == "Dear Jane Doe, I have written to rahul@acme.io as asked."
    assert all(restored(m, verdict.restore) == t for m, t in zip(verdict.texts, texts, strict=True))


async def test_of_two_overlapping_findings_the_longer_one_is_masked():
    text = "Contact jane.doe@example.com"
    url_inside = RecognizerResult("URL", text.index("example.com"), len(text), 0.5)
    guardrail = PresidioGuardrail(spec(), analyzer=FakeAnalyzer(extra=[url_inside]))

    verdict = await guardrail.check(inspect(text))

    assert verdict.texts == ("Contact <EMAIL_ADDRESS>",)


async def test_the_analyzer_runs_off_the_event_loop():
    analyzer = FakeAnalyzer()
    guardrail = PresidioGuardrail(spec(), analyzer=analyzer)

    await guardrail.check(inspect("Call +1 415 555 0132"))

    assert analyzer.calls[0]["thread"] is not threading.current_thread()


async def test_an_analyzer_that_fails_leaves_the_guardrail_unavailable_without_quoting_the_text():
    guardrail = PresidioGuardrail(spec(), analyzer=BrokenAnalyzer())

    with pytest.raises(GuardrailUnavailable) as caught:
        await guardrail.check(inspect("My SSN is 078-05-1120"))

    assert "078-05" not in str(caught.value)


def presidio_service(seen: list[httpx.Request], status: int = 200) -> httpx.AsyncClient:
    """Presidio's analyzer service: POST /analyze answers its findings as JSON."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        found = FakeAnalyzer().analyze(body["text"], body["language"], body.get("entities"))
        return httpx.Response(status, json=[r.__dict__ for r in found])

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_a_presidio_analyzer_service_can_do_the_analysis():
    seen: list[httpx.Request] = []
    async with presidio_service(seen) as client:
        guardrail = PresidioGuardrail(
            spec(presidio_analyzer_api_base="presidio-analyzer:3000", pii_entities_config={"PERSON": "MASK"}),
            client=client,
        )

        verdict = await guardrail.check(inspect("Book a table for Rahul Mehta", ""))

    assert verdict.texts == ("Book a table for <PERSON>", "")
    [call] = seen  # the empty text is not sent
    assert str(call.url) == "http://presidio-analyzer:3000/analyze"
    assert json.loads(call.content) == {
        "text": "Book a table for Rahul Mehta",
        "language": "en",
        "entities": ["PERSON"],
    }


async def test_a_failing_presidio_analyzer_service_leaves_the_guardrail_unavailable():
    async with presidio_service([], status=503) as client:
        guardrail = PresidioGuardrail(spec(presidio_analyzer_api_base="http://presidio:3000/"), client=client)

        with pytest.raises(GuardrailUnavailable, match="HTTP 503"):
            await guardrail.check(inspect("Jane Doe"))


def test_without_presidio_installed_the_config_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)

    with pytest.raises(BadRequestError) as caught:
        PresidioGuardrail(spec())

    assert caught.value.param == "guardrail"
    assert "install presidio-analyzer and its spaCy model" in str(caught.value)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"pii_entities_config": {"EMAIL_ADDRESS": "REDACT"}}, "pii_entities_config"),
        ({"pii_entities_config": ["EMAIL_ADDRESS"]}, "pii_entities_config"),
        ({"presidio_score_thresholds": {"PERSON": 1.5}}, "presidio_score_thresholds"),
        ({"output_parse_pii": "yes"}, "output_parse_pii"),
        ({"presidio_language": ""}, "presidio_language"),
        ({"presidio_entities_deny_list": "PERSON"}, "presidio_entities_deny_list"),
        ({"presidio_ad_hoc_recognizers": "/etc/recognizers.json"}, "presidio_ad_hoc_recognizers"),
        ({"presidio_analyzer_api_base": "http://presidio:3000"}, "presidio_analyzer_api_base"),
    ],
)
def test_a_bad_setting_is_refused_at_construction_naming_it(params, param):
    analyzer = None if "presidio_analyzer_api_base" in params else FakeAnalyzer()

    with pytest.raises(BadRequestError) as caught:
        PresidioGuardrail(spec(**params), analyzer=analyzer)

    assert caught.value.param == param


async def test_the_real_presidio_analyzer_masks_an_email():
    pytest.importorskip("presidio_analyzer")
    try:
        guardrail = PresidioGuardrail(spec(pii_entities_config={"EMAIL_ADDRESS": "MASK"}))
    except BadRequestError as exc:  # presidio without its spaCy model
        pytest.skip(str(exc))

    verdict = await guardrail.check(inspect("Please write to jane.doe@example.com about the invoice."))

    assert verdict.texts == ("Please write to <EMAIL_ADDRESS> about the invoice.",)
