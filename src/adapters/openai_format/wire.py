"""Private pydantic models of the OpenAI wire format: strict ones for what clients send, lenient ones
for what upstreams answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

# Every union a request can hold is a union of JSON kinds (a string or an array, a string or an object).
# A callable discriminator picks the one branch to validate, so a wrong value yields one error at the
# field instead of one per branch; the tags it adds to error locations are stripped when naming the param.
UNION_TAGS = frozenset({"string", "array", "object", "integer", "number"})


def _json_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _number_kind(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else None


# A number kept as the client wrote it: OpenAI types some numbers as integers (logit_bias), and -100
# must not go upstream as -100.0.
Number = Annotated[
    Annotated[int, Tag("integer")] | Annotated[float, Tag("number")],
    Discriminator(_number_kind),
]


class _Strict(BaseModel):
    # Strict: a client that sends "0.5" for temperature or 1.0 for max_tokens gets a 400, as from OpenAI.
    model_config = ConfigDict(strict=True, extra="ignore")


class ImageURL(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(_Strict):
    # One model for every part type, so that an unsupported type is reported by name (in the mapping)
    # rather than as a failed union.
    type: str
    text: str | None = None
    image_url: ImageURL | None = None


Content = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[ContentPart], Tag("array"), Field(min_length=1)],
    Discriminator(_json_kind),
]


class FunctionCall(_Strict):
    name: str
    arguments: str


class ToolCall(_Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    function_call: FunctionCall | None = None
    """Legacy: an assistant's function call, before tool_calls existed."""
    refusal: str | None = None
    reasoning_content: str | None = None


class FunctionDefinition(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(_Strict):
    name: str


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: FunctionName


ToolChoice = Annotated[
    Annotated[Literal["auto", "none", "required"], Tag("string")] | Annotated[NamedToolChoice, Tag("object")],
    Discriminator(_json_kind),
]
LegacyFunctionCall = Annotated[
    Annotated[Literal["auto", "none"], Tag("string")] | Annotated[FunctionName, Tag("object")],
    Discriminator(_json_kind),
]
Stop = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[str], Tag("array")],
    Discriminator(_json_kind),
]


class JsonSchema(_Strict):
    name: str = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchema | None = None


class StreamOptions(_Strict):
    include_usage: bool | None = None


class GatewayFields(_Strict):
    """Fields the gateway itself reads: the controls (never sent upstream) and metadata."""

    cache: dict[str, Any] | None = None
    fallbacks: list[Any] | None = None
    num_retries: int | None = Field(None, ge=0)
    tags: list[str] | None = None
    caching: bool | None = None
    ttl: float | None = Field(None, ge=0)
    drop_params: bool | None = None
    priority: int | None = None
    timeout: float | None = Field(None, gt=0)
    stream_timeout: float | None = Field(None, gt=0)
    guardrails: list[str] | None = None
    metadata: dict[str, Any] | None = None


CONTROL_FIELDS = (
    "cache", "fallbacks", "num_retries", "tags", "caching", "ttl", "drop_params", "priority", "timeout",
    "stream_timeout", "guardrails",
)  # fmt: skip


class ChatRequest(GatewayFields):
    # Unknown fields are kept: they are provider-specific and travel upstream as they are.
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: Stop | None = None
    n: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, Number] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    user: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: LegacyFunctionCall | None = None
    response_format: ResponseFormat | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    mock_response: str | None = None


class EmbeddingRequest(GatewayFields):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    input: Any
    """Checked by hand: its four shapes are told apart by their first element."""
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None
    mock_response: list[float] | None = None


# What upstreams answer. Lenient: unknown fields are ignored and every field may be null or missing,
# because OpenAI-compatible hosts differ in what they fill in.


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ReplyFunction(_Lenient):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class ReplyToolCall(_Lenient):
    index: int | None = None
    id: str | None = None
    function: ReplyFunction | None = None


class ReplyMessage(_Lenient):
    role: str | None = None
    content: str | list[dict[str, Any]] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[ReplyToolCall] | None = None
    function_call: ReplyFunction | None = None
    thinking_blocks: list[dict[str, Any]] | None = None
    """Signed reasoning, as a LiteLLM-style upstream in front of Claude returns it."""


class ReplyChoice(_Lenient):
    index: int | None = None
    message: ReplyMessage | None = None
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None
    stop_reason: str | int | None = None
    """vLLM: the stop string (or token id) that ended the reply."""


class PromptTokensDetails(_Lenient):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class CompletionTokensDetails(_Lenient):
    reasoning_tokens: int | None = None


class ReplyUsage(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class Completion(_Lenient):
    id: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[ReplyChoice]
    usage: ReplyUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


# The stream chunk's shape, as the OpenAPI document shows it; upstreams' chunks are read with the msgspec
# structs of chunk_wire.py, which mirror these.
class ChunkChoice(_Lenient):
    index: int | None = None
    delta: ReplyMessage | None = None
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None
    stop_reason: str | int | None = None


class Chunk(_Lenient):
    id: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[ChunkChoice] | None = None
    usage: ReplyUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class ReplyEmbedding(_Lenient):
    index: int | None = None
    embedding: list[float] | str


class Embeddings(_Lenient):
    data: list[ReplyEmbedding]
    model: str | None = None
    usage: ReplyUsage | None = None
