"""The LiteLLM-compatible config: YAML in, validated deployments and settings out."""

from adapters.config.gateway_config import GatewayConfig
from adapters.config.loader import default_config, load_config

__all__ = ["GatewayConfig", "default_config", "load_config"]
