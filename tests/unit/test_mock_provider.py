"""The built-in offline provider: deterministic replies, tool calls, errors on demand and vectors."""

from __future__ import annotations

import json
import math

import pytest

from adapters.llm.mock import MockProvider
from domain import errors
from domain.completions import CompletionRequest, FinishReason, SamplingParams, Usage, assemble
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.messages import FunctionTool, Message, NamedToolChoice, Role, ToolChoiceMode
from tests.fakes import FakeTokenCounter

DEMO = Deployment(id="demo-1", model_name="demo", provider="mock", upstream_model="demo")
LOOKUP = FunctionTool(
    name="lookup",
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer"},
            "exact": {"type": "boolean"},
            "sort": {"type": "string", "enum": ["asc", "desc"]},
            "page": {"type": "integer", "default": 1},
            "filters": {
                "type": "object",
                "properties": {"tags": {"type": "array"}, "since": {"type": ["null", "number"]}},
                "required": ["tags", "since"],
            },
            "optional": {"type": "string"},
        },
        "required": ["query", "limit", "exact", "sort", "page", "filters"],
    },
)
PING = FunctionTool(name="ping")


def _request(text: str = "What is the capital of France?", **changes: object) -> CompletionRequest:
    messages = (Message(Role.SYSTEM, "Be kind."), Message(Role.USER, text))
    return CompletionRequest(**({"model": "demo", "messages": messages} | changes))


@pytest.fixture
def mock() -> MockProvider:
    return MockProvider(FakeTokenCounter())


async def test_the_demo_model_echoes_the_last_user_message_in_a_fixed_sentence(mock: MockProvider) -> None:
    response = await mock.complete(_request("Hello there"), DEMO)

    assert (
        response.choices[0].message.text
        == 'Hi there! You said: "Hello there". (Switchyard demo model, offline.)'
    )
    assert response.choices[0].finish_reason is FinishReason.STOP
    assert response.model == "demo"


async def test_the_same_request_gets_the_same_reply(mock: MockProvider) -> None:
    first = await mock.complete(_request(), DEMO)
    second = await mock.complete(_request(), DEMO)

    assert first.choices == second.choices


async def test_mock_response_is_the_reply_and_usage_is_counted_by_the_token_counter(
    mock: MockProvider,
) -> None:
    response = await mock.complete(_request(mock_response="Paris is the capital."), DEMO)

    assert response.choices[0].message.text == "Paris is the capital."
    # System (2 words + 3) + user (6 words + 3) + 3 for the reply's framing; four words back.
    assert response.usage == Usage(prompt_tokens=17, completion_tokens=4)


async def test_n_asks_for_that_many_choices(mock: MockProvider) -> None:
    response = await mock.complete(_request(params=SamplingParams(n=3)), DEMO)

    assert [choice.index for choice in response.choices] == [0, 1, 2]


async def test_a_stream_sends_a_word_per_chunk_role_first_and_usage_last(mock: MockProvider) -> None:
    stream = await mock.stream(_request(mock_response="Paris is lovely in spring.", stream=True), DEMO)

    chunks = [chunk async for chunk in stream]

    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert contents == ["Paris", " is", " lovely", " in", " spring."]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason is FinishReason.STOP
    # Usage always comes last, asked for or not: the gateway meters every stream.
    assert chunks[-1].choices == () and chunks[-1].usage == Usage(17, 5)


async def test_a_required_tool_choice_calls_the_first_tool_with_its_required_arguments(
    mock: MockProvider,
) -> None:
    response = await mock.complete(_request(tools=(LOOKUP, PING), tool_choice=ToolChoiceMode.REQUIRED), DEMO)

    (choice,) = response.choices
    (call,) = choice.message.tool_calls
    assert call.name == "lookup" and call.id.startswith("call_")
    assert json.loads(call.arguments) == {
        "query": "",
        "limit": 0,
        "exact": False,
        "sort": "asc",
        "page": 1,
        "filters": {"tags": [], "since": 0},
    }
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert choice.message.content is None


async def test_a_named_tool_choice_calls_that_tool_and_a_schemaless_one_gets_empty_arguments(
    mock: MockProvider,
) -> None:
    response = await mock.complete(_request(tools=(LOOKUP, PING), tool_choice=NamedToolChoice("ping")), DEMO)

    (call,) = response.choices[0].message.tool_calls
    assert (call.name, call.arguments) == ("ping", "{}")


async def test_an_automatic_tool_choice_answers_in_text(mock: MockProvider) -> None:
    response = await mock.complete(_request(tools=(LOOKUP,), tool_choice=ToolChoiceMode.AUTO), DEMO)

    assert response.choices[0].message.tool_calls == ()


async def test_a_streamed_tool_call_assembles_into_the_same_call(mock: MockProvider) -> None:
    request = _request(tools=(LOOKUP,), tool_choice=ToolChoiceMode.REQUIRED)
    whole = await mock.complete(request, DEMO)

    chunks = [chunk async for chunk in await mock.stream(request, DEMO)]

    assert assemble(chunks).choices[0].message.tool_calls == whole.choices[0].message.tool_calls
    assert len(chunks) > 4


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("litellm.RateLimitError", errors.RateLimitError),
        ("switchyard.RateLimitError", errors.RateLimitError),
        ("litellm.Timeout", errors.TimeoutError),
        ("litellm.ContextWindowExceededError", errors.ContextWindowExceededError),
        ("litellm.APIError", errors.InternalServerError),
        ("switchyard.ServiceUnavailableError", errors.ServiceUnavailableError),
    ],
)
async def test_mock_response_naming_an_error_raises_it_from_complete_and_stream(
    mock: MockProvider, name: str, kind: type[errors.SwitchyardError]
) -> None:
    with pytest.raises(kind):
        await mock.complete(_request(mock_response=name), DEMO)
    with pytest.raises(kind):
        await mock.stream(_request(mock_response=name, stream=True), DEMO)


async def test_a_mock_error_may_carry_its_message_and_a_rate_limit_asks_to_wait(mock: MockProvider) -> None:
    with pytest.raises(errors.RateLimitError) as raised:
        await mock.complete(_request(mock_response="litellm.RateLimitError: quota gone"), DEMO)

    assert raised.value.message == "quota gone"
    assert raised.value.retry_after == 1.0


async def test_a_name_that_is_no_error_is_just_a_reply(mock: MockProvider) -> None:
    response = await mock.complete(_request(mock_response="litellm.NoSuchThing"), DEMO)

    assert response.choices[0].message.text == "litellm.NoSuchThing"


async def test_embeddings_are_deterministic_unit_vectors_of_16_dimensions_by_default(
    mock: MockProvider,
) -> None:
    request = EmbeddingRequest(model="demo", inputs=("cat", "dog", "cat"))

    response = await mock.embed(request, DEMO)

    cat, dog, cat_again = (list(item.vector) for item in response.data)
    assert len(cat) == 16
    assert math.isclose(math.sqrt(sum(v * v for v in cat)), 1.0, rel_tol=1e-5)
    assert cat == cat_again and cat != dog
    assert response.usage == Usage(prompt_tokens=3)


async def test_embeddings_honour_dimensions_token_inputs_and_a_mock_vector(mock: MockProvider) -> None:
    sized = await mock.embed(EmbeddingRequest(model="demo", inputs=((1, 2, 3),), dimensions=64), DEMO)
    fixed = await mock.embed(
        EmbeddingRequest(model="demo", inputs=("a", "b"), mock_response=(0.5, 0.25)), DEMO
    )

    assert len(sized.data[0].vector) == 64 and sized.usage.prompt_tokens == 3
    assert [list(item.vector) for item in fixed.data] == [[0.5, 0.25], [0.5, 0.25]]
