"""LLM provider adapters, one package per provider family; what they all share sits beside them
(`http_calls`, `json_io`, `upstream_errors`, `sse`)."""
