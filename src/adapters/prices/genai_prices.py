"""Published model prices from genai-prices (Pydantic's maintained price data), read in a child process.

Loading genai-prices' data costs about 14 MB resident and 160 ms, and the gateway must stay small: prices
are wanted once at start (and again for a model added later), so a short-lived child process
(`adapters.prices.lookup`) pays that and exits, and the gateway never imports genai-prices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adapters.prices.wire import from_wire
from domain.pricing import ModelPrices
from ports.price_catalog import CatalogUnavailable, ModelRef, PriceCatalog

LOOKUP_MODULE = "adapters.prices.lookup"
SNAPSHOT_ENV = "SWITCHYARD_PRICES_FILE"
DEFAULT_SNAPSHOT = Path("~/.cache/switchyard/prices.json")
# The directory that holds the `adapters` package, so that the child finds it however the gateway runs.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])

PROVIDERS: Mapping[str, str | None] = {
    "openai": "openai",
    "azure": "azure",  # genai-prices falls back to OpenAI's, Anthropic's, DeepSeek's and xAI's models
    "azure_ai": "azure",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex_ai": "google",  # which falls back to Anthropic's models (`claude-...@date`)
    "bedrock": "aws",  # matches `anthropic.claude-...-v1:0` and cross-region `us.`/`eu.`/`global.` ids
    "cohere": "cohere",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "openrouter": "openrouter",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "cloudflare": "cloudflare",  # the catalog's `@cf/...` ids, as deployments name them
    "voyage": "voyageai",
    "huggingface": "huggingface",  # and `huggingface_<provider>` for a named provider (catalog_provider)
    # genai-prices has no table for these hosts; another host's price for the same open model would be
    # a guess, so they stay unpriced unless the config prices them.
    "deepinfra": None,
    "nvidia_nim": None,
    "sambanova": None,
    "jina_ai": None,
    "snowflake": None,  # billed in Snowflake credits, not per token in USD
    # Self-hosted: nothing published to pay.
    "ollama": None,
    "ollama_chat": None,
    "hosted_vllm": None,
    "lm_studio": None,
    "llamafile": None,
    "mock": None,
}
"""Our provider prefix -> genai-prices' provider id; None where no price is published."""


def snapshot_path(environ: Mapping[str, str]) -> Path:
    """Where `switchyard prices update` saves newer data and the catalog looks for it first."""
    return Path(environ.get(SNAPSHOT_ENV) or DEFAULT_SNAPSHOT).expanduser()


def catalog_provider(provider: str, model: str) -> str | None:
    """genai-prices' provider id for a deployment's model: Hugging Face's router bills each inference
    provider at its own prices (`huggingface_together`), named first in `<provider>/<org>/<model>`."""
    if provider == "huggingface" and model.count("/") > 1:
        return f"huggingface_{model.split('/', 1)[0]}"
    return PROVIDERS.get(provider)


def model_ids(provider: str, model: str) -> list[str]:
    """The ids to try, in order, for a deployment's upstream model, as genai-prices spells them."""
    model = model.strip()
    if provider in ("gemini", "vertex_ai"):
        model = model.removeprefix("models/")
    if provider == "bedrock":
        model = model.removeprefix("invoke/")  # the route (InvokeModel), kept for the adapter, not the model
    if provider == "huggingface" and model.count("/") > 1:
        model = model.split("/", 1)[1]  # `<provider>/<org>/<model>`: the provider is catalog_provider's
    if provider == "fireworks_ai" and not model.startswith("accounts/"):
        return [model, f"accounts/fireworks/models/{model}"]  # LiteLLM takes the short id too
    return [model]


class GenaiPricesCatalog(PriceCatalog):
    """genai-prices' bundled data, or the newer copy `switchyard prices update` saved at `snapshot_file`
    (by default `snapshot_path` of the environment) when that file is there and reads well; never the
    network."""

    def __init__(
        self, *, snapshot_file: Path | None = None, timeout: float = 30.0, python: str = sys.executable
    ) -> None:
        self._snapshot_file = snapshot_file or snapshot_path(os.environ)
        self._timeout = timeout
        self._python = python
        self._source: str | None = None

    def describe(self) -> str:
        if self._source is None:
            return f"genai-prices' bundled data, or the newer copy at {self._snapshot_file} (not read yet)"
        return self._source

    async def prices(self, models: Sequence[ModelRef]) -> Mapping[ModelRef, ModelPrices]:
        wanted = [ref for ref in dict.fromkeys(models) if PROVIDERS.get(ref[0])]
        if not wanted:
            return {}
        request = {
            "snapshot": str(self._snapshot_file),
            "models": [[catalog_provider(*ref), model_ids(*ref)] for ref in wanted],
        }
        self._source, found = await self._ask(request)
        return {ref: prices for ref, prices in zip(wanted, found, strict=True) if prices is not None}

    async def _ask(self, request: dict[str, Any]) -> tuple[str, list[ModelPrices | None]]:
        """Runs the lookup once: where its prices came from, and one answer per model asked for. Every
        way it can fail becomes CatalogUnavailable here."""
        path = os.pathsep.join(filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")]))
        try:
            process = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                LOOKUP_MODULE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:
            raise CatalogUnavailable(f"cannot start the price lookup ({self._python}): {exc}") from exc
        try:
            sent = json.dumps(request).encode()
            out, err = await asyncio.wait_for(process.communicate(sent), self._timeout)
        except TimeoutError:
            raise CatalogUnavailable(f"the price lookup took longer than {self._timeout:g} s") from None
        finally:
            if process.returncode is None:  # timed out or cancelled: leave no child behind
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process.returncode != 0:
            last = (err.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            raise CatalogUnavailable(f"the price lookup failed (exit {process.returncode}): {last}")
        try:
            answer = json.loads(out)
            found = answer["prices"]
            if not isinstance(found, list) or len(found) != len(request["models"]):
                raise ValueError("not one answer per model")
            return str(answer["source"]), [None if one is None else from_wire(one) for one in found]
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogUnavailable(f"the price lookup answered nonsense: {exc}") from exc
