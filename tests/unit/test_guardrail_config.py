"""The config's `guardrails:` list (LiteLLM's shape), read into specs and built at startup."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.config.loader import load_config
from bootstrap import build_container, resolve
from domain.errors import ConfigurationError
from domain.guardrails import GuardrailMode, StreamCheck

MODELS = [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}]


def _config(*entries: Any) -> dict[str, Any]:
    return {"model_list": MODELS, "guardrails": list(entries)}


def _entry(name: str = "pii", **params: Any) -> dict[str, Any]:
    return {
        "guardrail_name": name,
        "litellm_params": {"guardrail": "hide-secrets", "mode": "pre_call", **params},
    }


def test_litellms_guardrail_entries_become_specs_in_the_configs_order() -> None:
    config = load_config(
        _config(
            _entry("secrets", default_on=True),
            {
                "guardrail_name": "clean",
                "litellm_params": {
                    "guardrail": "litellm_content_filter",
                    "mode": ["pre_call", "post_call"],
                    "streaming": "window",
                    "window": 64,
                    "unreachable_fallback": "fail_open",
                    "blocked_words": [{"keyword": "falcon", "action": "BLOCK"}],
                },
                "guardrail_info": {"description": "no code names"},
            },
        ),
        {},
    )

    secrets, clean = config.guardrails
    assert (secrets.name, secrets.kind, secrets.modes, secrets.default_on) == (
        "secrets", "hide-secrets", (GuardrailMode.PRE_CALL,), True,
    )  # fmt: skip
    assert clean.modes == (GuardrailMode.PRE_CALL, GuardrailMode.POST_CALL)
    assert (clean.stream, clean.window, clean.fail_open) == (StreamCheck.WINDOW, 64, True)
    assert clean.description == "no code names"
    assert clean.params == {"blocked_words": [{"keyword": "falcon", "action": "BLOCK"}]}


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        (
            {"litellm_params": {"guardrail": "hide-secrets", "mode": "pre_call"}},
            "guardrails[0].guardrail_name",
        ),
        (_entry(guardrail="lakera_v9"), "guardrails[0].litellm_params.guardrail"),
        (_entry(mode="pre_mcp_call"), "guardrails[0].litellm_params.mode"),
        (_entry(mode=None), "guardrails[0].litellm_params.mode"),
        (_entry(on_error="maybe"), "guardrails[0].litellm_params.on_error"),
        (_entry(streaming="chunky"), "guardrails[0].litellm_params.streaming"),
        (_entry(window=0), "guardrails[0].litellm_params.window"),
        (_entry(default_on="yes"), "guardrails[0].litellm_params.default_on"),
    ],
)
def test_a_bad_guardrail_entry_stops_the_start_naming_its_path(entry: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(_config(entry), {})
    assert caught.value.path == path


def test_two_guardrails_may_not_share_a_name() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(_config(_entry("pii"), _entry("pii")), {})
    assert caught.value.path == "guardrails[1].guardrail_name"


async def test_a_setting_a_guardrail_refuses_stops_the_start_naming_its_path() -> None:
    bad = {
        "guardrail_name": "clean",
        "litellm_params": {
            "guardrail": "litellm_content_filter",
            "mode": "pre_call",
            "patterns": [{"pattern_type": "regex", "pattern": "(unclosed", "action": "MASK"}],
        },
    }
    container = build_container(load_config(_config(_entry("secrets"), bad), {}))
    with pytest.raises(ConfigurationError) as caught:
        await resolve(container.guardrails)
    assert caught.value.path.startswith("guardrails[1].litellm_params.patterns[0]")


async def test_without_guardrails_nothing_is_built() -> None:
    container = build_container(load_config({"model_list": MODELS}, {}))
    assert await resolve(container.guardrails) is None
