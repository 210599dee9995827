"""Amazon SageMaker endpoints: Hugging Face TGI's generate format, and OpenAI's chat format."""

from adapters.llm.sagemaker.client import SageMakerChatProvider, SageMakerProvider

__all__ = ["SageMakerChatProvider", "SageMakerProvider"]
