"""Snowflake Cortex: its Chat Completions API and its embed endpoint."""

from adapters.llm.snowflake.client import SnowflakeProvider

__all__ = ["SnowflakeProvider"]
