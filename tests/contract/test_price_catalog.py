"""The PriceCatalog contract (ports/price_catalog.py), held by genai-prices' data through the real lookup
subprocess and by a static table loaded with the same prices; then what is particular to genai-prices:
its provider names, its newer data saved by `switchyard prices update`, and how it fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.prices import GenaiPricesCatalog, StaticPriceCatalog
from domain.pricing import ModelPrices
from ports.price_catalog import CatalogUnavailable, PriceCatalog

MINI = ("openai", "gpt-4o-mini")
GEMINI_PRO = ("gemini", "gemini-2.5-pro")
SONNET = ("anthropic", "claude-sonnet-4-5")
UNKNOWN = ("openai", "no-such-model")
SELF_HOSTED = ("ollama", "llama3")
NOT_SAVED = Path(__file__).parent / "no-such-prices.json"
"""No `switchyard prices update` ran: genai-prices' bundled data, whatever this machine has saved."""

# Published prices, USD per million tokens, as genai-prices' bundled data has them.
PUBLISHED = {
    MINI: ModelPrices(
        input=Decimal("0.00000015"),  # $0.15
        output=Decimal("0.0000006"),  # $0.60
        cache_read=Decimal("0.000000075"),  # $0.075
    ),
    GEMINI_PRO: ModelPrices(
        input=Decimal("0.00000125"),  # $1.25, $2.50 above 200k prompt tokens
        output=Decimal("0.00001"),  # $10, $15 above
        cache_read=Decimal("0.000000125"),  # $0.125, $0.25 above
        tier_threshold=200_000,
        input_above_tier=Decimal("0.0000025"),
        output_above_tier=Decimal("0.000015"),
        cache_read_above_tier=Decimal("0.00000025"),
    ),
    SONNET: ModelPrices(
        input=Decimal("0.000003"),  # $3, $6 above 200k prompt tokens
        output=Decimal("0.000015"),  # $15, $22.50 above
        cache_read=Decimal("0.0000003"),  # $0.30 (0.1x input), $0.60 above
        cache_write=Decimal("0.00000375"),  # $3.75 (1.25x input), $7.50 above
        tier_threshold=200_000,
        input_above_tier=Decimal("0.000006"),
        output_above_tier=Decimal("0.0000225"),
        cache_read_above_tier=Decimal("0.0000006"),
        cache_write_above_tier=Decimal("0.0000075"),
    ),
}


@pytest.fixture(params=["genai-prices", "static"])
def catalog(request: pytest.FixtureRequest) -> PriceCatalog:
    if request.param == "genai-prices":
        return GenaiPricesCatalog(snapshot_file=NOT_SAVED)
    return StaticPriceCatalog(PUBLISHED)


# --- the contract ------------------------------------------------------------------------------------


async def test_a_known_model_comes_back_with_exact_decimal_prices_per_token(catalog: PriceCatalog) -> None:
    prices = (await catalog.prices([MINI]))[MINI]

    assert (prices.input, prices.output, prices.cache_read) == (
        Decimal("0.00000015"),
        Decimal("0.0000006"),
        Decimal("0.000000075"),
    )
    assert all(isinstance(p, Decimal) for p in (prices.input, prices.output, prices.cache_read))
    assert prices.input * 1_000_000 == Decimal("0.15")  # exact: no float crept in


async def test_an_unknown_model_is_absent_never_free(catalog: PriceCatalog) -> None:
    assert await catalog.prices([UNKNOWN, SELF_HOSTED]) == {}


async def test_many_models_are_answered_at_once(catalog: PriceCatalog) -> None:
    found = await catalog.prices([MINI, UNKNOWN, GEMINI_PRO, SELF_HOSTED, SONNET, MINI])

    assert set(found) == {MINI, GEMINI_PRO, SONNET}
    assert found[GEMINI_PRO].input == Decimal("0.00000125")
    assert found[SONNET].output == Decimal("0.000015")


async def test_no_models_need_no_answer(catalog: PriceCatalog) -> None:
    assert await catalog.prices([]) == {}


@pytest.mark.parametrize("model", [GEMINI_PRO, SONNET])
async def test_a_long_context_model_comes_with_its_threshold_and_the_prices_above_it(
    catalog: PriceCatalog, model: tuple[str, str]
) -> None:
    prices = (await catalog.prices([model]))[model]

    assert prices.tier_threshold == 200_000
    assert prices.input_above_tier == 2 * PUBLISHED[model].input
    assert prices.output_above_tier == PUBLISHED[model].output_above_tier
    assert prices.cache_read_above_tier == PUBLISHED[model].cache_read_above_tier


async def test_the_catalog_says_where_its_prices_come_from(catalog: PriceCatalog) -> None:
    await catalog.prices([MINI])

    assert catalog.describe()


# --- genai-prices: provider names and model ids ------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "input_price"),
    [
        (("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"), Decimal("0.000003")),
        (("bedrock", "us.anthropic.claude-3-5-sonnet-20240620-v1:0"), Decimal("0.000003")),
        (("bedrock", "amazon.titan-embed-text-v2:0"), Decimal("0.00000002")),
        (("vertex_ai", "gemini-2.5-pro"), Decimal("0.00000125")),
        (("vertex_ai", "claude-sonnet-4-5@20250929"), Decimal("0.000003")),
        (("azure", "gpt-4o"), Decimal("0.0000025")),
        (("xai", "grok-3"), Decimal("0.000003")),
        (("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo"), Decimal("0.00000088")),
        (("fireworks_ai", "accounts/fireworks/models/llama-v3p1-8b-instruct"), Decimal("0.0000002")),
        (("fireworks_ai", "llama-v3p1-8b-instruct"), Decimal("0.0000002")),
        (("openrouter", "openai/gpt-4o-mini"), Decimal("0.00000015")),
        (("openai", "text-embedding-3-small"), Decimal("0.00000002")),
        (("cloudflare", "@cf/meta/llama-3.1-8b-instruct"), Decimal("0.000000282")),
        (("voyage", "voyage-3.5"), Decimal("0.00000006")),
        (("huggingface", "together/deepseek-ai/DeepSeek-R1"), Decimal("0.000003")),  # huggingface_together
    ],
)
async def test_our_provider_names_and_model_ids_find_genai_prices_models(
    ref: tuple[str, str], input_price: Decimal
) -> None:
    assert (await GenaiPricesCatalog(snapshot_file=NOT_SAVED).prices([ref]))[ref].input == input_price


async def test_self_hosted_providers_are_never_priced_and_need_no_lookup() -> None:
    catalog = GenaiPricesCatalog(python="/nonexistent/python")  # would fail if a lookup ran

    assert await catalog.prices([("ollama", "gpt-4o"), ("hosted_vllm", "gpt-4o"), ("mock", "gpt-4o")]) == {}


async def test_a_per_call_price_comes_per_call() -> None:
    ref = ("perplexity", "sonar")

    prices = (await GenaiPricesCatalog(snapshot_file=NOT_SAVED).prices([ref]))[ref]

    assert prices.per_request == Decimal("0.012")  # $12 per thousand calls


# --- genai-prices: newer data saved by `switchyard prices update` -------------------------------------


def _provider(*models: dict[str, object]) -> dict[str, object]:
    return {
        "id": "openai",
        "name": "OpenAI",
        "api_pattern": r"https://api\.openai\.com",
        "models": list(models),
    }


def _model(model_id: str, prices: object) -> dict[str, object]:
    return {"id": model_id, "match": {"equals": model_id}, "prices": prices}


NEWER = [
    _provider(
        _model("gpt-4o-mini", {"input_mtok": 0.1, "output_mtok": 0.4}),
        _model("thinker", {"input_mtok": 2, "output_mtok": 8, "output_reasoning_mtok": 10}),
        _model(
            "tiered",
            {
                "input_mtok": {
                    "base": 1.25,
                    "tiers": [{"start": 128000, "price": 2.5}, {"start": 500000, "price": 5}],
                },
                "output_mtok": {"base": 10, "tiers": [{"start": 128000, "price": 15}]},
                "cache_write_5m_mtok": 1.5625,
            },
        ),
        _model(
            "repriced",
            [
                {"prices": {"input_mtok": 1}},
                {"constraint": {"start_date": "2020-01-01"}, "prices": {"input_mtok": 2}},
                {"constraint": {"start_date": "2999-01-01"}, "prices": {"input_mtok": 3}},
            ],
        ),
        _model(
            "off-peak",  # the dearer price from 00:30 to 16:30 UTC, a discount the other eight hours
            [
                {"prices": {"input_mtok": 0.5}},
                {
                    "constraint": {"start_time": "00:30:00Z", "end_time": "16:30:00Z"},
                    "prices": {"input_mtok": 1},
                },
            ],
        ),
    )
]


@pytest.fixture
def newer(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(NEWER))
    return path


async def test_newer_data_saved_to_the_snapshot_file_is_used(newer: Path) -> None:
    catalog = GenaiPricesCatalog(snapshot_file=newer)

    found = await catalog.prices([MINI, GEMINI_PRO])

    assert found == {MINI: ModelPrices(input=Decimal("0.0000001"), output=Decimal("0.0000004"))}
    assert str(newer) in catalog.describe()


async def test_the_snapshot_file_is_where_switchyard_prices_file_says_by_default(
    newer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHYARD_PRICES_FILE", str(newer))

    found = await GenaiPricesCatalog().prices([MINI])

    assert found[MINI].input == Decimal("0.0000001")


async def test_genai_prices_terms_become_ours(newer: Path) -> None:
    refs = [("openai", m) for m in ("thinker", "tiered", "repriced", "off-peak")]

    found = await GenaiPricesCatalog(snapshot_file=newer).prices(refs)

    assert found[refs[0]].reasoning == Decimal("0.00001")
    assert found[refs[1]] == ModelPrices(
        input=Decimal("0.00000125"),
        output=Decimal("0.00001"),
        cache_write=Decimal("0.0000015625"),  # Anthropic's five-minute cache writes are the default
        tier_threshold=128_000,  # the first tier only
        input_above_tier=Decimal("0.0000025"),
        output_above_tier=Decimal("0.000015"),
    )
    assert found[refs[2]].input == Decimal("0.000002")  # the latest price whose date has come
    assert found[refs[3]].input == Decimal("0.000001")  # the price of sixteen hours a day


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"providers": []}',
        '[{"id": "openai"}]',
        '[{"id": "openai", "name": "OpenAI", "api_pattern": "", "models": [{"id": "m", "match": "m"}]}]',
    ],
)
async def test_a_corrupt_snapshot_file_falls_back_to_the_bundled_data(tmp_path: Path, content: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    catalog = GenaiPricesCatalog(snapshot_file=path)

    found = await catalog.prices([MINI])

    assert found[MINI].input == Decimal("0.00000015")
    assert "bundled" in catalog.describe() and "unreadable" in catalog.describe()


async def test_a_missing_snapshot_file_means_the_bundled_data(tmp_path: Path) -> None:
    catalog = GenaiPricesCatalog(snapshot_file=tmp_path / "absent.json")

    assert (await catalog.prices([MINI]))[MINI].input == Decimal("0.00000015")
    assert "bundled" in catalog.describe()


# --- genai-prices: cost to the gateway and failures ---------------------------------------------------


def test_the_gateway_process_never_loads_genai_prices() -> None:
    probe = (
        "import asyncio, sys\n"
        "from adapters.prices import GenaiPricesCatalog\n"
        "found = asyncio.run(GenaiPricesCatalog().prices([('openai', 'gpt-4o-mini')]))\n"
        "assert found, 'no prices'\n"
        "print(sorted(name for name in sys.modules if name.startswith('genai_prices')))\n"
    )
    env = {**os.environ, "SWITCHYARD_PRICES_FILE": str(NOT_SAVED)}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


async def test_a_lookup_that_cannot_start_is_catalog_unavailable() -> None:
    with pytest.raises(CatalogUnavailable, match="cannot start"):
        await GenaiPricesCatalog(python="/nonexistent/python").prices([MINI])


async def test_a_lookup_that_overruns_its_time_is_catalog_unavailable_and_leaves_no_child() -> None:
    started = time.monotonic()

    with pytest.raises(CatalogUnavailable, match="longer than"):
        await GenaiPricesCatalog(timeout=0.01).prices([MINI])

    assert time.monotonic() - started < 5
    assert _lookups_running() == []


def _lookups_running() -> list[str]:
    """This process's children that are price lookups (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == os.getpid() and "adapters.prices.lookup" in command:
            found.append(command)
    return found


async def test_a_lookup_that_crashes_is_catalog_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ImportError: no genai_prices' >&2\nexit 3\n")
    broken.chmod(0o755)

    with pytest.raises(CatalogUnavailable, match=r"exit 3.*no genai_prices"):
        await GenaiPricesCatalog(python=str(broken)).prices([MINI])


@pytest.mark.parametrize(
    "answer",
    ["not json", '{"source": "x", "prices": []}', '{"source": "x", "prices": [{"input": "-1"}]}'],
)
async def test_a_lookup_that_answers_nonsense_is_catalog_unavailable(tmp_path: Path, answer: str) -> None:
    liar = tmp_path / "python"
    liar.write_text(f"#!/bin/sh\ncat > /dev/null\necho '{answer}'\n")
    liar.chmod(0o755)

    with pytest.raises(CatalogUnavailable, match="nonsense"):
        await GenaiPricesCatalog(python=str(liar)).prices([MINI])
