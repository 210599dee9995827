"""The Amazon Bedrock provider: the Converse API (whole and streamed) and InvokeModel embeddings."""

from adapters.llm.bedrock.client import BedrockProvider

__all__ = ["BedrockProvider"]
