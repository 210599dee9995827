"""LLM provider adapters, one package per provider family."""
