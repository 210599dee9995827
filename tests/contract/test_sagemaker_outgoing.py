"""What the SageMaker adapters put on the wire: the runtime's URLs, SigV4 for the `sagemaker` service,
TGI's generate body and OpenAI's chat body, exactly."""

from __future__ import annotations

import pytest

from domain.completions import SamplingParams
from domain.deployments import Credentials
from domain.messages import Message, Role
from tests.contract.harnesses.base import WEATHER_TOOL, chat_request
from tests.contract.harnesses.bedrock import ACCESS_KEY, SECRET_KEY
from tests.contract.harnesses.sagemaker import SageMakerChatHarness, SageMakerHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_chat, sent_json

harness = harness_fixture(SageMakerHarness)
RUNTIME = "https://runtime.sagemaker.us-east-1.amazonaws.com"
KEYS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY, "aws_region_name": "us-east-1"}
LLAMA_3 = {
    "bos_token": "<|begin_of_text|>",
    "roles": {
        "system": {
            "pre_message": "<|start_header_id|>system<|end_header_id|>\n\n",
            "post_message": "<|eot_id|>",
        },
        "user": {"pre_message": "<|start_header_id|>user<|end_header_id|>\n\n", "post_message": "<|eot_id|>"},
        "assistant": {
            "pre_message": "<|start_header_id|>assistant<|end_header_id|>\n\n",
            "post_message": "<|eot_id|>",
        },
    },
    "final_prompt_value": "<|start_header_id|>assistant<|end_header_id|>\n\n",
}


async def test_a_chat_invokes_the_endpoint_signed_for_sagemaker_in_its_region(
    harness: SageMakerHarness,
) -> None:
    (sent,) = await sent_chat(harness)

    assert sent.method == "POST"
    assert str(sent.url) == f"{RUNTIME}/endpoints/tgi-llama-3-8b/invocations"
    authorization = sent.headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/us-east-1/sagemaker/aws4_request, SignedHeaders=content-type;host;x-amz-date," in authorization
    assert sent.headers["content-type"] == "application/json"


async def test_the_tgi_body_is_the_prompt_and_generate_parameters_with_the_counts_asked(
    harness: SageMakerHarness,
) -> None:
    params = SamplingParams(temperature=0.3, top_p=0.75, max_tokens=64, stop=("END",), seed=7, top_k=40)

    body = await sent_body(harness, params=params, extra_body={"repetition_penalty": 1.1})

    assert body == {
        "inputs": "You are a helpful assistant.\nHello!\n",
        "parameters": {
            "repetition_penalty": 1.1, "temperature": 0.3, "top_p": 0.75, "top_k": 40, "seed": 7,
            "max_new_tokens": 64, "stop": ["END"], "details": True, "decoder_input_details": True,
        },
    }  # fmt: skip


async def test_a_temperature_of_zero_is_tgis_default_greedy_decoding(harness: SageMakerHarness) -> None:
    body = await sent_body(harness, params=SamplingParams(temperature=0.0))

    assert "temperature" not in body["parameters"]


async def test_a_configured_prompt_template_renders_the_chat() -> None:
    messages = (Message(Role.SYSTEM, "Be brief."), Message(Role.USER, "Hi"))
    harness = SageMakerHarness(credentials=Credentials(extra=KEYS | LLAMA_3))

    (sent,) = await sent_chat(harness, chat_request(messages=messages))

    assert sent_json(sent)["inputs"] == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


async def test_a_stream_invokes_the_response_stream_asking_tgi_to_stream(harness: SageMakerHarness) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True, include_usage=True), harness.deployment)
    await stream.aclose()

    sent = harness.upstream.sent[-1]
    assert str(sent.url) == f"{RUNTIME}/endpoints/tgi-llama-3-8b/invocations-response-stream"
    body = sent_json(sent)
    assert body["stream"] is True
    assert body["parameters"] == {"details": True}


async def test_an_inference_component_and_an_api_base_are_used() -> None:
    credentials = Credentials(extra=KEYS | {"model_id": "llama-component-1"})
    harness = SageMakerHarness(credentials=credentials, api_base="https://sagemaker-proxy.example")

    (sent,) = await sent_chat(harness)

    assert str(sent.url) == "https://sagemaker-proxy.example/endpoints/tgi-llama-3-8b/invocations"
    assert sent.headers["x-amzn-sagemaker-inference-component"] == "llama-component-1"


async def test_litellms_sagemaker_base_url_is_the_whole_url() -> None:
    whole = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/other/invocations"
    harness = SageMakerHarness(credentials=Credentials(extra=KEYS | {"sagemaker_base_url": whole}))

    (sent,) = await sent_chat(harness)

    assert str(sent.url) == whole


def test_tgi_refuses_what_a_prompt_in_text_out_endpoint_cannot_do(harness: SageMakerHarness) -> None:
    request = chat_request(tools=(WEATHER_TOOL,), params=SamplingParams(n=2, presence_penalty=0.5))

    assert sorted(harness.provider.unsupported_params(request, harness.deployment)) == [
        "n", "presence_penalty", "tools",
    ]  # fmt: skip
    assert not harness.provider.capabilities().tools


async def test_the_chat_format_sends_openais_body_without_stream_fields_when_whole() -> None:
    (sent,) = await sent_chat(SageMakerChatHarness())

    assert str(sent.url) == f"{RUNTIME}/endpoints/vllm-llama-3-8b/invocations"
    assert sent_json(sent) == {
        "model": "vllm-llama-3-8b",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
    }


@pytest.mark.parametrize("asked_usage", [False, True])
async def test_the_chat_format_streams_asking_for_usage(asked_usage: bool) -> None:
    harness = SageMakerChatHarness()
    harness.text_reply(stream=True)

    request = chat_request(stream=True, include_usage=asked_usage)
    stream = await harness.provider.stream(request, harness.deployment)
    await stream.aclose()

    body = sent_json(harness.upstream.sent[-1])
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})
    await harness.close()
