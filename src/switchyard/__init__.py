"""Switchyard: one OpenAI-compatible API in front of every LLM provider."""
