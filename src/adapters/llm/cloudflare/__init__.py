"""Cloudflare Workers AI through its OpenAI-compatible endpoints."""

from adapters.llm.cloudflare.client import CloudflareProvider

__all__ = ["CloudflareProvider"]
