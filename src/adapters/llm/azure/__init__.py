"""Azure: Azure OpenAI (deployments and the v1 API) and Azure AI Foundry models, over the OpenAI adapter."""

from adapters.llm.azure.client import AzureAIProvider, AzureOpenAIProvider

__all__ = ["AzureAIProvider", "AzureOpenAIProvider"]
