"""A generated gateway config of 50 deployments over 10 providers, for the `start-50` scenario.

Every deployment points at the mock upstream's port (they are only loaded, never called): what it measures
is what a config of that size costs the gateway's start and its memory.

Run: python -m bench.config50 --upstream-port 4010 > /tmp/config50.yaml
"""

from __future__ import annotations

import argparse
import sys

import yaml

_AWS_KEYS = {"aws_access_key_id": "AKIABENCHBENCHBENCH0", "aws_secret_access_key": "bench-secret"}
# provider -> (its 5 models, litellm_params beyond model / api_base / api_key)
PROVIDERS: dict[str, tuple[str, dict[str, str]]] = {
    "openai": ("gpt-4o-mini gpt-4o gpt-4.1 gpt-4.1-mini o4-mini", {}),
    "anthropic": (
        "claude-sonnet-4-5 claude-opus-4-1 claude-haiku-4-5 claude-3-5-haiku claude-3-7-sonnet",
        {},
    ),
    "gemini": ("gemini-2.5-flash gemini-2.5-pro gemini-2.0-flash gemini-1.5-pro gemini-1.5-flash", {}),
    # static keys: no AWS credential chain is looked up
    "bedrock": (
        "anthropic.claude-3-5-sonnet-20240620-v1:0 amazon.nova-pro-v1:0 amazon.nova-lite-v1:0 "
        "meta.llama3-1-70b-instruct-v1:0 mistral.mistral-large-2407-v1:0",
        {**_AWS_KEYS, "aws_region_name": "us-east-1"},
    ),
    "azure": ("gpt-4o-mini gpt-4o gpt-4.1 gpt-35-turbo o4-mini", {"api_version": "2024-10-21"}),
    "cohere": ("command-r-plus command-r command-a-03-2025 command-r7b-12-2024 command-light", {}),
    "mistral": (
        "mistral-large-latest mistral-small-latest codestral-latest open-mistral-nemo ministral-8b-latest",
        {},
    ),
    "groq": ("llama-3.3-70b-versatile llama-3.1-8b-instant gemma2-9b-it qwen-qwq-32b mixtral-8x7b-32768", {}),
    "ollama": ("llama3.2 qwen2.5 mistral phi4 gemma3", {}),
    "together_ai": (
        "meta-llama/Llama-3.3-70B-Instruct-Turbo Qwen/Qwen2.5-72B-Instruct-Turbo deepseek-ai/DeepSeek-V3 "
        "mistralai/Mixtral-8x7B-Instruct-v0.1 google/gemma-2-27b-it",
        {},
    ),
}


def config50(upstream_port: int, master_key: str = "sk-bench-master") -> dict:
    """50 deployments, 5 per provider, each its own model name (`<provider>-<n>`), all at the mock."""
    models = []
    for provider, (names, extra) in PROVIDERS.items():
        for n, name in enumerate(names.split(), 1):
            params: dict[str, str] = {
                "model": f"{provider}/{name}",
                "api_base": f"http://127.0.0.1:{upstream_port}" + ("/v1" if provider == "openai" else ""),
                **extra,
            }
            if provider not in ("bedrock", "ollama"):
                params["api_key"] = f"sk-bench-{provider}"
            models.append({"model_name": f"{provider}-{n}", "litellm_params": params})
    return {"model_list": models, "general_settings": {"master_key": master_key}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--upstream-port", type=int, default=4010)
    args = p.parse_args(argv)
    yaml.safe_dump(config50(args.upstream_port), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
