"""What a library gateway is built from: loaded by `switchyard.library` when the first one is built."""

from adapters.call_ids import new_call_id
from adapters.config.loader import GatewayConfig
from adapters.openai_format import parse_chat_request, parse_embedding_request
from bootstrap import build_container, resolve
from bootstrap.money import final_drain, load_prices, run_spend_writer
from bootstrap.secrets import load_gateway_config

__all__ = [
    "GatewayConfig",
    "build_container",
    "final_drain",
    "load_gateway_config",
    "load_prices",
    "new_call_id",
    "parse_chat_request",
    "parse_embedding_request",
    "resolve",
    "run_spend_writer",
]
