"""Databricks Model Serving: OpenAI-format serving endpoints, over the OpenAI adapter."""

from adapters.llm.databricks.client import DatabricksProvider

__all__ = ["DatabricksProvider"]
