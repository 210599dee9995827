"""Guardrails through the real server: the official `openai` and `anthropic` clients in front of scripted
upstreams (the `echo` model says back what it was sent) and a local service speaking LiteLLM's Generic
Guardrail API. One gateway holds every guardrail; most are off by default and each test picks its own,
by the request's `guardrails` or by a key's."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.conftest import MASTER_KEY, free_port, ledger_record, running_gateway
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

EMAIL = "ada.lovelace@example.com"
CARD = "4111 1111 1111 1111"
"""A Luhn-valid card number (Visa's test number)."""
NOT_A_CARD = "4111 1111 1111 1112"
"""Sixteen digits that fail the Luhn check: an order number, say."""
CODENAME = "nightingale"
GUARD_PATH = "/beta/litellm_basic_guardrail_api"
ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


class GuardService(ThreadingHTTPServer):
    """A guardrail service speaking LiteLLM's Generic Guardrail API: it blocks texts about ransomware,
    lets the rest through, and first waits the seconds its `x-delay` header asks (to play a slow one)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GuardHandler)
        self.requests: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> GuardService:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()


class _GuardHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GuardService

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        time.sleep(float(self.headers.get("x-delay") or 0))
        if any("ransomware" in text.lower() for text in body.get("texts") or []):
            answer = {"action": "BLOCKED", "blocked_reason": "Malware development is not allowed"}
        else:
            answer = {"action": "NONE"}
        data = json.dumps(answer).encode()
        try:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the gateway stopped waiting


def _filter(mode: str, **params: Any) -> dict[str, Any]:
    return {"guardrail": "litellm_content_filter", "mode": mode, "default_on": False, **params}


def _http(service: str, mode: str = "pre_call", **params: Any) -> dict[str, Any]:
    return {"guardrail": "generic_guardrail_api", "mode": mode, "api_base": service, "default_on": False,
            **params}  # fmt: skip


def guardrails_config(service: str, nowhere: str) -> list[dict[str, Any]]:
    email = {"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"}
    card = {"pattern_type": "prebuilt", "pattern_name": "credit_card", "action": "BLOCK"}
    codename = [{"keyword": CODENAME, "action": "BLOCK", "description": "an unreleased project's codename"}]
    slow = {"headers": {"x-delay": "1.5"}, "timeout": 0.3}
    entries = {
        "secrets": {"guardrail": "hide-secrets", "mode": "pre_call", "default_on": True},
        "pii": _filter("pre_call", patterns=[email, card]),
        "pii-restore": _filter("pre_call", patterns=[email], output_parse_pii=True),
        "no-codename": _filter("post_call", blocked_words=codename),
        "no-codename-window": _filter("post_call", blocked_words=codename, streaming="window", window=16),
        "no-codename-during": _filter("during_call", blocked_words=codename),
        "malware": _http(service, on_error="block"),
        "malware-during": _http(service, "during_call", headers={"x-delay": "0.4"}, timeout=3),
        "malware-slow-closed": _http(service, on_error="block", **slow),
        "malware-slow-open": _http(service, on_error="allow", **slow),
        "malware-down-closed": _http(nowhere, on_error="block", timeout=1),
        "malware-down-open": _http(nowhere, on_error="allow", timeout=1),
    }
    described = {"pii": "Masks e-mail addresses and blocks card numbers."}
    return [
        {"guardrail_name": name, "litellm_params": params}
        | ({"guardrail_info": {"description": described[name]}} if name in described else {})
        for name, params in entries.items()
    ]


@dataclass
class Setup:
    url: str
    upstream: FakeUpstream
    claude: FakeAnthropic
    service: GuardService

    def client(self, key: str = MASTER_KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=10)

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url, auth_token=MASTER_KEY, default_headers={"x-api-key": anthropic.omit},
            max_retries=0, timeout=10,
        )  # fmt: skip

    def sent_upstream(self, marker: str) -> list[str]:
        """The last user message of each request the OpenAI upstream got that holds `marker`."""
        said = []
        for request in self.upstream.requests:
            body = request["body"]
            if isinstance(body, dict) and "messages" in body:
                text = body["messages"][-1]["content"]
                if marker in json.dumps(text):
                    said.append(text)
        return said


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with FakeUpstream() as upstream, FakeAnthropic() as claude, GuardService() as service:
        openai_params = {"api_base": upstream.base_url, "api_key": "sk-upstream"}
        model_list = [
            {"model_name": "echo", "litellm_params": {"model": "openai/echo", **openai_params}},
            {"model_name": "slow", "litellm_params": {"model": "openai/slow-stream", **openai_params}},
            {
                "model_name": "claude",
                "litellm_params": {"model": "anthropic/claude-ok", "api_base": claude.base_url,
                                   "api_key": "sk-ant-upstream"},
            },
        ]  # fmt: skip
        config = {
            "model_list": model_list,
            "guardrails": guardrails_config(service.root, f"http://127.0.0.1:{free_port()}"),
            "general_settings": {"master_key": MASTER_KEY},
            "router_settings": {"num_retries": 0, "allowed_fails": 1000},
        }
        with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-guardrails"))) as url:
            yield Setup(url, upstream, claude, service)


def ask(setup: Setup, text: str, *guardrails: str, model: str = "echo", key: str = MASTER_KEY) -> str | None:
    extra = {"guardrails": list(guardrails)} if guardrails else None
    reply = setup.client(key).chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], extra_body=extra
    )
    return reply.choices[0].message.content


def streamed(setup: Setup, text: str, *guardrails: str, model: str = "echo") -> str:
    stream = setup.client().chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        stream=True,
        extra_body={"guardrails": list(guardrails)},
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def admin_post(setup: Setup, path: str, body: dict[str, Any], key: str = MASTER_KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{setup.url}{path}", json=body, headers=headers, timeout=10)


# pre_call


def test_an_email_is_masked_before_the_upstream_sees_it(setup: Setup) -> None:
    text = f"Please write to {EMAIL} about invoice 2291."
    reply = ask(setup, text, "pii")
    assert setup.sent_upstream("invoice 2291") == ["Please write to [EMAIL_1] about invoice 2291."]
    assert reply == "Please write to [EMAIL_1] about invoice 2291."


def test_a_card_number_is_blocked_with_400_naming_the_guardrail_never_the_digits(setup: Setup) -> None:
    text = f"Charge my card {CARD} for the renewal of order 7781."
    with pytest.raises(openai.BadRequestError) as refused:
        ask(setup, text, "pii")
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "guardrail_violation"
    assert "pii" in error["message"]
    assert (
        CARD not in refused.value.response.text and CARD.replace(" ", "") not in refused.value.response.text
    )
    assert setup.sent_upstream("order 7781") == []


def test_sixteen_digits_that_fail_the_luhn_check_pass_untouched(setup: Setup) -> None:
    text = f"Tracking number {NOT_A_CARD} for parcel 5530."
    assert ask(setup, text, "pii") == text
    assert setup.sent_upstream("parcel 5530") == [text]


def test_with_output_parse_pii_the_reply_gets_the_original_email_back(setup: Setup) -> None:
    text = f"Forward the minutes to {EMAIL} before Friday's meeting."
    assert ask(setup, text, "pii-restore") == text
    assert setup.sent_upstream("Friday's meeting") == [
        "Forward the minutes to [EMAIL_1] before Friday's meeting."
    ]


def test_with_output_parse_pii_a_stream_gets_the_original_email_back(setup: Setup) -> None:
    text = f"Copy {EMAIL} on the Tuesday release notes, please."
    assert streamed(setup, text, "pii-restore") == text
    assert setup.sent_upstream("Tuesday release") == ["Copy [EMAIL_1] on the Tuesday release notes, please."]


def test_a_guardrail_on_by_default_runs_on_every_call_unasked(setup: Setup) -> None:
    token = "sk-proj-" + "Qw3rTy9uIoPaSdFgHjKlZxCvBnM1234567890abcd"
    ask(setup, f"My deploy script uses {token} for the staging account.")
    [sent] = setup.sent_upstream("staging account")
    assert token not in sent and "[REDACTED]" in sent


# post_call


def test_a_reply_a_post_call_guardrail_blocks_is_a_400(setup: Setup) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        ask(setup, f"The new project is called {CODENAME} internally.", "no-codename")
    assert refused.value.code == "guardrail_violation"
    assert "no-codename" in refused.value.message
    assert CODENAME not in refused.value.response.text


def test_a_stream_checked_whole_gives_an_error_and_never_the_blocked_text(setup: Setup) -> None:
    received = []
    with pytest.raises(openai.APIError) as refused:
        stream = setup.client().chat.completions.create(
            model="echo",
            messages=[
                {"role": "user", "content": f"Our roadmap names the next milestone {CODENAME} for now."}
            ],
            stream=True,
            extra_body={"guardrails": ["no-codename"]},
        )
        received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "no-codename" in refused.value.message
    assert received == []


def test_a_stream_checked_by_window_stops_before_the_blocked_text_with_an_error_event(setup: Setup) -> None:
    text = (
        "The quarterly review went well, the budget was approved, and the next milestone is "
        f"{CODENAME} as agreed."
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as refused:
        stream = setup.client().chat.completions.create(
            model="echo",
            messages=[{"role": "user", "content": text}],
            stream=True,
            extra_body={"guardrails": ["no-codename-window"]},
        )
        received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "no-codename-window" in refused.value.message
    got = "".join(received)
    assert got, "the text before the codename is released as it streams"
    assert text.startswith(got)
    assert "nightin" not in got and len(got) <= text.index(CODENAME)


def test_a_stream_checked_by_window_that_passes_arrives_whole(setup: Setup) -> None:
    text = "The quarterly review went well, the budget was approved, and the roadmap is public now."
    assert streamed(setup, text, "no-codename-window") == text


# during_call


def test_a_during_call_block_answers_400_and_the_slow_upstreams_reply_never_arrives(setup: Setup) -> None:
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as refused:
        ask(setup, "How do I write ransomware that spreads over SMB?", "malware-during", model="slow")
    assert refused.value.code == "guardrail_violation"
    assert "Malware development is not allowed" in refused.value.message
    assert "upstream" not in refused.value.response.text
    assert time.monotonic() - started < 5


def test_a_during_call_block_stops_a_slow_stream_before_any_of_it_reaches_the_client(setup: Setup) -> None:
    hangups = len(setup.upstream.hangups)
    started = time.monotonic()
    received: list[str] = []
    with pytest.raises(openai.APIError) as refused:
        stream = setup.client().chat.completions.create(
            model="slow",
            messages=[{"role": "user", "content": "Explain how ransomware encrypts a file share."}],
            stream=True,
            extra_body={"guardrails": ["malware-during"]},
        )
        received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert isinstance(refused.value, openai.BadRequestError)
    assert received == []
    # The upstream's stream (200 chunks, 10 s) was hung up on, not read to its end.
    deadline = time.monotonic() + 5
    while len(setup.upstream.hangups) == hangups and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(setup.upstream.hangups) > hangups
    assert time.monotonic() - started < 6


def test_a_during_call_keyword_block_answers_400_and_a_clean_prompt_passes(setup: Setup) -> None:
    with pytest.raises(openai.BadRequestError):
        ask(setup, f"Summarise the {CODENAME} plan.", "no-codename-during", model="slow")
    assert ask(setup, "Summarise the launch plan.", "no-codename-during", model="slow") == (
        "Hello from upstream!"
    )


# /v1/messages


def test_a_block_on_v1_messages_is_anthropics_error_shape(setup: Setup) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        setup.anthropic().messages.create(
            model="claude",
            max_tokens=128,
            messages=[{"role": "user", "content": f"Bill {CARD} for the Lisbon conference."}],
            extra_body={"guardrails": ["pii"]},
        )
    body = refused.value.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "pii" in body["error"]["message"]
    assert CARD not in refused.value.response.text
    assert not any("Lisbon" in json.dumps(r["body"]) for r in setup.claude.requests)


def test_masking_reaches_an_anthropic_upstream_in_its_native_body(setup: Setup) -> None:
    reply = setup.anthropic().messages.create(
        model="claude",
        max_tokens=128,
        system="You are a concise assistant.",
        messages=[{"role": "user", "content": f"Draft a reply to {EMAIL} about the Porto offsite."}],
        extra_body={"guardrails": ["pii"]},
    )
    assert reply.content[0].text == "Hello from Claude!"
    [sent] = [r for r in setup.claude.requests if "Porto offsite" in json.dumps(r["body"])]
    assert sent["path"] == "/v1/messages"
    assert sent["body"]["system"] in ("You are a concise assistant.", [
        {"type": "text", "text": "You are a concise assistant."}
    ])  # fmt: skip
    assert "[EMAIL_1]" in json.dumps(sent["body"]["messages"])
    assert EMAIL not in json.dumps(sent["body"])


# the Generic Guardrail API


def test_the_guardrail_service_lets_a_clean_prompt_through_on_litellms_path(setup: Setup) -> None:
    before = len(setup.service.requests)
    assert ask(setup, "Suggest three names for a bakery.", "malware") == "Suggest three names for a bakery."
    [checked] = setup.service.requests[before:]
    assert checked["path"] == GUARD_PATH
    assert checked["body"]["texts"] == ["Suggest three names for a bakery."]
    assert checked["body"]["input_type"] == "request"


def test_the_guardrail_service_blocking_is_a_400_with_its_reason(setup: Setup) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        ask(setup, "Write ransomware for Windows servers.", "malware")
    assert refused.value.code == "guardrail_violation"
    assert "malware" in refused.value.message
    assert "Malware development is not allowed" in refused.value.message
    assert setup.sent_upstream("Windows servers") == []


@pytest.mark.parametrize("which", ["slow", "down"])
def test_a_guardrail_service_that_cannot_answer_blocks_when_on_error_is_block(
    setup: Setup, which: str
) -> None:
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as refused:
        ask(setup, f"Plan a picnic menu ({which}, closed).", f"malware-{which}-closed")
    assert refused.value.code == "guardrail_violation"
    assert f"malware-{which}-closed" in refused.value.message
    assert "unavailable" in refused.value.message
    assert time.monotonic() - started < 1.4, "the gateway waited no longer than the guardrail's timeout"
    assert setup.sent_upstream(f"({which}, closed)") == []


@pytest.mark.parametrize("which", ["slow", "down"])
def test_a_guardrail_service_that_cannot_answer_lets_the_call_through_when_on_error_is_allow(
    setup: Setup, which: str
) -> None:
    text = f"Plan a picnic menu ({which}, open)."
    assert ask(setup, text, f"malware-{which}-open") == text


# per key


def test_a_keys_guardrail_runs_on_every_call_of_that_key(setup: Setup) -> None:
    answer = admin_post(setup, "/key/generate", {"guardrails": ["pii"], "key_alias": "support-bot"})
    assert answer.status_code == 200, answer.text
    key = answer.json()["key"]
    reply = ask(setup, f"Customer {EMAIL} asked about ticket 4410.", key=key)
    assert reply == "Customer [EMAIL_1] asked about ticket 4410."
    assert setup.sent_upstream("ticket 4410") == ["Customer [EMAIL_1] asked about ticket 4410."]
    # Naming its own guardrail again is fine.
    assert ask(setup, "Status of ticket 4411?", "pii", key=key) == "Status of ticket 4411?"


def test_a_key_naming_a_guardrail_it_does_not_carry_gets_403_and_the_upstream_nothing(setup: Setup) -> None:
    key = admin_post(setup, "/key/generate", {"guardrails": ["pii"]}).json()["key"]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        ask(setup, "Summarise ticket 4412.", "no-codename", key=key)
    assert "no-codename" in refused.value.message
    assert setup.sent_upstream("ticket 4412") == []


def test_the_master_key_may_name_any_guardrail(setup: Setup) -> None:
    assert ask(setup, "Summarise ticket 4413.", "no-codename", "malware") == "Summarise ticket 4413."


def test_a_guardrail_named_that_is_not_configured_is_a_400(setup: Setup) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        ask(setup, "Summarise ticket 4414.", "lakera")
    assert "lakera" in refused.value.message
    assert setup.sent_upstream("ticket 4414") == []


# the guardrail routes


def test_the_guardrail_list_shows_each_guardrail_as_litellm_does(setup: Setup) -> None:
    listed = httpx.get(f"{setup.url}/guardrails/list", headers=ADMIN, timeout=10).json()
    names = [g["guardrail_name"] for g in listed["guardrails"]]
    assert names[:4] == ["secrets", "pii", "pii-restore", "no-codename"] and "malware-down-open" in names
    pii = next(g for g in listed["guardrails"] if g["guardrail_name"] == "pii")
    assert pii == {
        "guardrail_name": "pii",
        "litellm_params": {"guardrail": "litellm_content_filter", "mode": ["pre_call"], "default_on": False},
        "guardrail_info": {"description": "Masks e-mail addresses and blocks card numbers."},
    }
    # A guardrail's settings (its service's address and headers) are never shown.
    assert setup.service.root not in json.dumps(listed) and "x-delay" not in json.dumps(listed)


def test_a_key_lists_the_guardrails_on_by_default_and_its_own(setup: Setup) -> None:
    key = admin_post(setup, "/key/generate", {"guardrails": ["pii"]}).json()["key"]
    listed = httpx.get(f"{setup.url}/guardrails/list", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert [g["guardrail_name"] for g in listed.json()["guardrails"]] == ["secrets", "pii"]


def test_apply_guardrail_answers_the_masked_text(setup: Setup) -> None:
    answer = admin_post(
        setup, "/guardrails/apply_guardrail", {"guardrail_name": "pii", "text": f"Reach me at {EMAIL}."}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"response_text": "Reach me at [EMAIL_1]."}


def test_apply_guardrail_answers_a_block_with_400(setup: Setup) -> None:
    answer = admin_post(
        setup, "/guardrails/apply_guardrail", {"guardrail_name": "pii", "text": f"My card is {CARD}."}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "guardrail_violation"
    assert CARD not in answer.text
    unknown = admin_post(setup, "/guardrails/apply_guardrail", {"guardrail_name": "nope", "text": "hi"})
    assert unknown.status_code == 400


# what was recorded


def test_the_ledger_records_each_guardrail_run(setup: Setup) -> None:
    raw = setup.client().chat.completions.with_raw_response.create(
        model="echo",
        messages=[{"role": "user", "content": f"Send the Q3 figures to {EMAIL}."}],
        extra_body={"guardrails": ["pii", "no-codename"]},
    )
    assert raw.parse().choices[0].message.content == "Send the Q3 figures to [EMAIL_1]."
    record = ledger_record(setup.url, raw.headers["x-switchyard-call-id"])
    runs = record["metadata"]["guardrail_information"]
    seen = {(r["guardrail_name"], r["guardrail_mode"], r["guardrail_status"]) for r in runs}
    assert seen == {
        ("secrets", "pre_call", "allowed"),
        ("pii", "pre_call", "masked"),
        ("no-codename", "post_call", "allowed"),
    }
    assert all(isinstance(r["duration_ms"], int | float) and r["duration_ms"] >= 0 for r in runs)
    assert EMAIL not in json.dumps(runs)


def test_the_ledger_records_a_blocked_call_with_its_blocking_guardrail(setup: Setup) -> None:
    answer = httpx.post(
        f"{setup.url}/v1/chat/completions",
        headers=ADMIN,
        json={
            "model": "echo",
            "messages": [{"role": "user", "content": f"Refund {CARD} for booking 6620."}],
            "guardrails": ["pii"],
        },
        timeout=10,
    )
    assert answer.status_code == 400
    record = ledger_record(setup.url, answer.headers["x-switchyard-call-id"])
    runs = record["metadata"]["guardrail_information"]
    blocked = [r for r in runs if r["guardrail_status"] == "blocked"]
    assert [(r["guardrail_name"], r["guardrail_mode"]) for r in blocked] == [("pii", "pre_call")]
    assert CARD not in json.dumps(record)


def decisions(scraped: str) -> set[tuple[str, str, str]]:
    """The (guardrail, mode, decision) series of `switchyard_guardrail_decisions_total` with a count."""
    found = set()
    for line in scraped.splitlines():
        if line.startswith("switchyard_guardrail_decisions_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            if float(line.rsplit(" ", 1)[1]) > 0:
                found.add((labels["guardrail"], labels["mode"], labels["decision"]))
    return found


def test_metrics_count_each_guardrails_decisions(setup: Setup) -> None:
    with pytest.raises(openai.BadRequestError):
        ask(setup, f"Pay with {CARD} for seat 14C.", "pii")
    ask(setup, f"Ping {EMAIL} about seat 15A.", "pii")
    wanted = {
        ("pii", "pre_call", "blocked"),
        ("pii", "pre_call", "masked"),
        ("secrets", "pre_call", "allowed"),
    }
    deadline = time.monotonic() + 10
    while True:
        scraped = httpx.get(f"{setup.url}/metrics", headers=ADMIN, timeout=10).text
        missing = wanted - decisions(scraped)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not missing, missing
