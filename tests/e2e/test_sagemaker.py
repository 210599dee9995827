"""The real server in front of a fake SageMaker Runtime, driven by the official `openai` client; boto3's
sagemaker-runtime client, pointed at the same fake, proves its wire format (and its signature check)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.bedrock_upstream import ACCESS_KEY, SECRET_KEY
from tests.e2e.conftest import MESSAGES, WEATHER_TOOL, gateway_serving
from tests.e2e.sagemaker_upstream import PROMPT_TOKENS, WORDS, FakeSageMaker

pytestmark = pytest.mark.e2e
KEYS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY, "aws_region_name": "us-east-1"}


@pytest.fixture(scope="module")
def sagemaker() -> Iterator[FakeSageMaker]:
    with FakeSageMaker() as server:
        yield server


@pytest.fixture(scope="module")
def client(sagemaker: FakeSageMaker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    base = {"api_base": sagemaker.root, **KEYS}
    model_list = [
        {"model_name": "tgi", "litellm_params": {"model": "sagemaker/tgi-ok", **base}},
        {"model_name": "tgi-too-long", "litellm_params": {"model": "sagemaker/tgi-too-long", **base}},
        {"model_name": "tgi-broken", "litellm_params": {"model": "sagemaker/tgi-broken", **base}},
        {"model_name": "tgi-missing", "litellm_params": {"model": "sagemaker/missing", **base}},
        {"model_name": "chat", "litellm_params": {"model": "sagemaker_chat/chat-ok", **base}},
        {"model_name": "chat-tools", "litellm_params": {"model": "sagemaker_chat/chat-tools", **base}},
    ]
    directory = Path(tmp_path_factory.mktemp("e2e-sagemaker"))
    with gateway_serving(model_list, directory, router_settings={"num_retries": 0}) as client:
        yield client


@pytest.fixture(scope="module")
def boto3_client(sagemaker: FakeSageMaker) -> Any:
    boto3 = pytest.importorskip("boto3")
    return boto3.client(
        "sagemaker-runtime", endpoint_url=sagemaker.root, region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )  # fmt: skip


def test_boto3_invokes_the_fake_and_reads_its_generation(boto3_client: Any) -> None:
    answer = boto3_client.invoke_endpoint(
        EndpointName="tgi-ok", ContentType="application/json", Body=json.dumps({"inputs": "Hi"})
    )

    assert json.loads(answer["Body"].read()) == [{"generated_text": "".join(WORDS)}]


def test_boto3_reads_the_fakes_response_stream_as_payload_parts(boto3_client: Any) -> None:
    answer = boto3_client.invoke_endpoint_with_response_stream(
        EndpointName="tgi-ok",
        ContentType="application/json",
        Body=json.dumps({"inputs": "Hi", "stream": True}),
    )

    sse = b"".join(event["PayloadPart"]["Bytes"] for event in answer["Body"])
    tokens = [json.loads(line[5:])["token"] for line in sse.split(b"\n\n") if line]
    assert "".join(token["text"] for token in tokens if not token["special"]) == "".join(WORDS)


def test_boto3_sees_a_missing_endpoint_as_a_validation_error(boto3_client: Any) -> None:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        boto3_client.invoke_endpoint(EndpointName="missing", ContentType="application/json", Body=b"{}")

    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_a_tgi_chat_is_one_signed_prompt_and_comes_back_with_its_counts(
    client: openai.OpenAI, sagemaker: FakeSageMaker
) -> None:
    reply = client.chat.completions.create(model="tgi", messages=MESSAGES, max_tokens=50)

    assert reply.choices[0].message.content == "Hello from SageMaker!"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (PROMPT_TOKENS, len(WORDS) + 1)
    sent = sagemaker.requests[-1]
    assert (sent["endpoint"], sent["operation"]) == ("tgi-ok", "invocations")
    assert sent["body"]["inputs"] == "Be brief.\nHello\n"
    assert sent["body"]["parameters"]["max_new_tokens"] == 50


def test_a_tgi_stream_arrives_token_by_token_from_the_payload_parts(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="tgi", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage.completion_tokens == len(WORDS) + 1


def test_a_prompt_over_the_models_limit_is_a_context_length_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="tgi-too-long", messages=MESSAGES)

    assert raised.value.code == "context_length_exceeded"
    assert "must be <= 4096" in raised.value.message


def test_a_missing_endpoint_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="tgi-missing", messages=MESSAGES)


def test_a_broken_stream_ends_with_an_error_after_the_text_before_it(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="tgi-broken", messages=MESSAGES, stream=True):
            received += [chunk.choices[0].delta.content or ""] if chunk.choices else []

    assert "".join(received) == "".join(WORDS[:2])


def test_the_chat_format_comes_back_whole_and_streamed(
    client: openai.OpenAI, sagemaker: FakeSageMaker
) -> None:
    whole = client.chat.completions.create(model="chat", messages=MESSAGES)
    streamed = list(client.chat.completions.create(model="chat", messages=MESSAGES, stream=True))

    assert whole.choices[0].message.content == "".join(WORDS)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "".join(WORDS)
    assert sagemaker.requests[-1]["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sagemaker.requests[-1]["operation"] == "invocations-response-stream"


def test_tool_calls_come_back_through_the_chat_format(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="chat-tools", messages=MESSAGES, tools=[WEATHER_TOOL])
    streamed = list(
        client.chat.completions.create(
            model="chat-tools", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
        )
    )

    assert json.loads(whole.choices[0].message.tool_calls[0].function.arguments) == {"city": "Paris"}
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
