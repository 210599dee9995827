"""Private pydantic models of what Gemini (and Vertex AI's Gemini) answer: lenient, camelCase as sent,
every field optional, unknown fields ignored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Reply(BaseModel):
    # Validators built on the first reply parsed, not at import: a start loads every configured
    # provider's adapter, and building them cost it ~2 ms of CPU a provider.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class FunctionCall(_Reply):
    name: str = ""
    args: dict[str, Any] | None = None
    id: str | None = None


class Blob(_Reply):
    mimeType: str | None = None
    data: str = ""
    """The bytes, base64-encoded."""


class Part(_Reply):
    text: str | None = None
    thought: bool | None = None
    thoughtSignature: str | None = None
    functionCall: FunctionCall | None = None
    inlineData: Blob | None = None
    """An image (or other media) the model made, such as the image models' pictures."""


class Content(_Reply):
    role: str | None = None
    parts: list[Part] | None = None


class LogprobsCandidate(_Reply):
    token: str | None = None
    logProbability: float | None = None


class TopCandidates(_Reply):
    candidates: list[LogprobsCandidate] | None = None


class LogprobsResult(_Reply):
    topCandidates: list[TopCandidates] | None = None
    chosenCandidates: list[LogprobsCandidate] | None = None


class Candidate(_Reply):
    index: int | None = None
    content: Content | None = None
    finishReason: str | None = None
    finishMessage: str | None = None
    logprobsResult: LogprobsResult | None = None


class PromptFeedback(_Reply):
    blockReason: str | None = None
    blockReasonMessage: str | None = None


class UsageMetadata(_Reply):
    promptTokenCount: int = 0
    candidatesTokenCount: int = 0
    toolUsePromptTokenCount: int = 0
    thoughtsTokenCount: int = 0
    cachedContentTokenCount: int = 0


class GenerateContentResponse(_Reply):
    candidates: list[Candidate] | None = None
    error: dict[str, Any] | None = None
    """Set when a stream event is Google's error body instead."""
    promptFeedback: PromptFeedback | None = None
    usageMetadata: UsageMetadata | None = None
    modelVersion: str | None = None
    responseId: str | None = None


class Values(_Reply):
    values: list[float]


class EmbedContentResponse(_Reply):
    """`:embedContent`; `usageMetadata` only from models that count."""

    embedding: Values
    usageMetadata: UsageMetadata | None = None


class BatchEmbedContentsResponse(_Reply):
    embeddings: list[Values]
    usageMetadata: UsageMetadata | None = None


class EmbeddingStatistics(_Reply):
    token_count: float = 0


class PredictedEmbedding(_Reply):
    values: list[float]
    statistics: EmbeddingStatistics | None = None


class Prediction(_Reply):
    embeddings: PredictedEmbedding


class PredictResponse(_Reply):
    """Vertex AI's `:predict` for text embedding models."""

    predictions: list[Prediction]
