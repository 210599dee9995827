"""IBM's own SDK, `ibm-watsonx-ai`, pointed at the fake watsonx.ai the adapter is tested against: what it
sends and reads there (IAM's token exchange, the project and model-spec look-ups it makes first, text chat
whole and streamed, embeddings, the `version` query) proves the fake speaks watsonx.ai's wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.contract.harnesses.base import REPLY
from tests.contract.harnesses.watsonx import FIXTURES
from tests.e2e.conftest import MESSAGES, WEATHER_TOOL
from tests.e2e.watsonx_upstream import (
    API_KEY,
    EMBEDDING_MODEL,
    IAM_REPLY,
    TOKEN,
    FakeWatsonx,
    project,
)

PROJECT = "e2e-project-1"
REGION_URL = "https://us-south.ml.cloud.ibm.com"
"""A region's URL: the SDK accepts only IBM's own (it derives IAM's and the project API's from it)."""


class _ToTheFake(httpx.BaseTransport):
    """Sends every request to the fake, whatever IBM host it names, so the SDK never leaves the machine."""

    def __init__(self, fake: FakeWatsonx) -> None:
        self._root = httpx.URL(fake.root)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self._root.host, port=self._root.port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def watsonx() -> Iterator[FakeWatsonx]:
    with FakeWatsonx() as server:
        yield server


def api_client(transport: httpx.BaseTransport, api_key: str = API_KEY) -> Any:
    from ibm_watsonx_ai import APIClient, Credentials

    client = httpx.Client(transport=transport)
    return APIClient(Credentials(url=REGION_URL, api_key=api_key), project_id=PROJECT, httpx_client=client)


@pytest.fixture(scope="module")
def sdk(watsonx: FakeWatsonx) -> Any:
    return api_client(_ToTheFake(watsonx))


def model(sdk: Any, model_id: str, *, validate: bool = True) -> Any:
    from ibm_watsonx_ai.foundation_models import ModelInference

    return ModelInference(model_id=model_id, api_client=sdk, validate=validate)


def streamed_text(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


def streamed_calls(chunks: list[dict]) -> tuple[str, object]:
    """The name and the decoded arguments of a streamed tool call, as the SDK's chunks carry it."""
    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls", [])]
    return calls[0]["function"]["name"], json.loads(
        "".join(c["function"].get("arguments", "") for c in calls)
    )


def test_the_sdk_starts_with_an_iam_exchange_a_project_look_up_and_the_model_specs(
    watsonx: FakeWatsonx, sdk: Any
) -> None:
    model(sdk, "ibm/granite-ok")

    exchange, look_up = watsonx.requests[:2]
    assert exchange["path"] == "/identity/token"
    assert exchange["body"] == {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": API_KEY}
    assert look_up["path"] == f"/v2/projects/{PROJECT}"
    assert look_up["headers"]["authorization"] == f"Bearer {TOKEN}"
    specs = watsonx.requests[-1]
    assert specs["path"] == "/ml/v1/foundation_model_specs" and "version" in specs["query"]


def test_a_wrong_api_key_is_refused_by_the_fake_iam_as_the_sdk_expects(watsonx: FakeWatsonx) -> None:
    from ibm_watsonx_ai.wml_client_error import InvalidCredentialsError

    with pytest.raises(InvalidCredentialsError, match="BXNIM0415E"):
        api_client(_ToTheFake(watsonx), api_key="not-the-key")


def test_a_model_the_specs_do_not_list_is_refused_by_the_sdk_before_any_call(sdk: Any) -> None:
    from ibm_watsonx_ai.wml_client_error import WMLClientError

    with pytest.raises(WMLClientError, match="ibm/missing"):
        model(sdk, "ibm/missing")


def test_chat_answers_the_sdk_with_text_and_usage(watsonx: FakeWatsonx, sdk: Any) -> None:
    reply = model(sdk, "ibm/granite-ok").chat(messages=MESSAGES, params={"max_tokens": 50})

    assert reply["choices"][0]["message"]["content"] == "Hello from watsonx!"
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["usage"]["total_tokens"] == 15
    sent = watsonx.requests[-1]
    assert sent["path"] == "/ml/v1/text/chat" and "version" in sent["query"]
    assert sent["body"] == {
        "model_id": "ibm/granite-ok",
        "messages": MESSAGES,
        "max_tokens": 50,
        "project_id": PROJECT,
    }


def test_chat_answers_the_sdks_tool_choice_option_with_a_tool_call(watsonx: FakeWatsonx, sdk: Any) -> None:
    reply = model(sdk, "ibm/granite-tools").chat(
        messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice_option="required"
    )

    call = reply["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert watsonx.requests[-1]["body"]["tool_choice_option"] == "required"


def test_chat_stream_is_read_by_the_sdk_chunk_by_chunk_with_usage_last(
    watsonx: FakeWatsonx, sdk: Any
) -> None:
    chunks = list(model(sdk, "ibm/granite-ok").chat_stream(messages=MESSAGES))

    assert streamed_text(chunks) == "Hello from watsonx!"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 15
    assert watsonx.requests[-1]["path"] == "/ml/v1/text/chat_stream"


def test_a_streamed_tool_call_arrives_in_pieces_the_sdk_reads(sdk: Any) -> None:
    chunks = list(model(sdk, "ibm/granite-tools").chat_stream(messages=MESSAGES, tools=[WEATHER_TOOL]))

    assert streamed_calls(chunks) == ("get_weather", {"city": "Paris"})


def test_embeddings_answer_the_sdk_one_vector_per_input(watsonx: FakeWatsonx, sdk: Any) -> None:
    from ibm_watsonx_ai.foundation_models import Embeddings

    vectors = Embeddings(model_id=EMBEDDING_MODEL, api_client=sdk).embed_documents(["a", "b"])

    assert vectors == [[0.25, -0.5, 1.0]] * 2
    sent = watsonx.requests[-1]
    assert sent["path"] == "/ml/v1/text/embeddings" and "version" in sent["query"]
    assert sent["body"] == {"model_id": EMBEDDING_MODEL, "inputs": ["a", "b"], "project_id": PROJECT}


def fixture_sdk(stream: str) -> Any:
    """The SDK reading a contract fixture's stream from `/ml/v1/text/chat_stream` (IAM and the project
    answered as the fake answers them), the model left unchecked: the fixture names its own."""

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/identity/token":
            return httpx.Response(200, json=IAM_REPLY)
        if request.url.path.startswith("/v2/projects/"):
            return httpx.Response(200, json=project(PROJECT))
        assert request.url.path == "/ml/v1/text/chat_stream"
        sse = {"content-type": "text/event-stream"}
        return httpx.Response(200, content=(FIXTURES / stream).read_bytes(), headers=sse)

    return model(api_client(httpx.MockTransport(route)), "ibm/granite-3-8b-instruct", validate=False)


def test_the_contract_fixtures_streams_are_read_by_the_sdk_to_the_end() -> None:
    text = list(fixture_sdk("chat_stream.sse").chat_stream(messages=MESSAGES))
    tool = list(fixture_sdk("chat_stream_tool_call.sse").chat_stream(messages=MESSAGES))

    assert streamed_text(text) == REPLY
    assert text[-1]["usage"] == {"completion_tokens": 10, "prompt_tokens": 19, "total_tokens": 29}
    assert streamed_calls(tool) == ("get_current_weather", {"location": "Boston, MA"})


def test_the_contract_fixtures_error_event_is_the_sdks_stream_error() -> None:
    from ibm_watsonx_ai.wml_client_error import WMLClientError

    with pytest.raises(WMLClientError, match="inference server closed the generation"):
        list(fixture_sdk("chat_stream_error.sse").chat_stream(messages=MESSAGES))
