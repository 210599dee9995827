"""The max_input_tokens and json_schema_validation guardrails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.guardrails.limits import JsonSchemaGuardrail, MaxInputTokensGuardrail
from adapters.tokens import TiktokenTokenCounter
from domain.completions import CompletionRequest
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError
from domain.guardrails import Decision, GuardrailMode, GuardrailSpec, Inspection, StreamCheck
from domain.messages import FunctionTool, Message, ResponseFormat, ResponseFormatType, Role
from ports.guardrail import GuardrailUnavailable

counter = TiktokenTokenCounter()
PRE = GuardrailMode.PRE_CALL
POST = GuardrailMode.POST_CALL


def spec(kind: str, *modes: GuardrailMode, stream: StreamCheck = StreamCheck.WHOLE, **params: Any):
    return GuardrailSpec(name=f"{kind}-test", kind=kind, modes=modes or (PRE,), stream=stream, params=params)


def chat(*texts: str, model: str = "gpt-4o", **fields: Any) -> CompletionRequest:
    return CompletionRequest(model=model, messages=tuple(Message(Role.USER, t) for t in texts), **fields)


def asking(text: str, mode: GuardrailMode = PRE, request: Any = None) -> Inspection:
    return Inspection(mode, (text,), request=request if request is not None else chat(text))


# max_input_tokens

QUESTION = "What is the capital of France, and how many people live there?"
ESSAY = "The quarterly revenue report shows steady growth across every region we operate in. " * 40


async def test_a_prompt_within_the_limit_passes():
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=100), counter=counter)

    verdict = await guardrail.check(asking(QUESTION))

    assert verdict.decision is Decision.ALLOWED


async def test_a_prompt_over_the_limit_is_blocked_with_its_count_and_the_limit():
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=200), counter=counter)
    request = chat(ESSAY)
    tokens = counter.count_messages(request.messages, request.model)

    verdict = await guardrail.check(asking(ESSAY, request=request))

    assert verdict.blocked
    assert verdict.reason == f"input is {tokens} tokens, over the limit of 200"
    assert "revenue" not in verdict.reason


async def test_the_limit_counts_the_message_framing_the_model_is_sent():
    request = chat(QUESTION)
    exact = counter.count_messages(request.messages, request.model)
    at_limit = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=exact), counter=counter)
    one_under = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=exact - 1), counter=counter)

    assert not (await at_limit.check(asking(QUESTION, request=request))).blocked
    assert (await one_under.check(asking(QUESTION, request=request))).blocked


async def test_the_tools_a_request_carries_count_towards_the_limit():
    weather = FunctionTool(
        name="get_current_weather",
        description="Get the current weather in a given city, in celsius or fahrenheit.",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    )
    bare = chat("Is it raining in Paris?")
    with_tools = chat("Is it raining in Paris?", tools=(weather,))
    limit = counter.count_messages(bare.messages, bare.model)
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=limit), counter=counter)

    assert not (await guardrail.check(asking("Is it raining in Paris?", request=bare))).blocked
    assert (await guardrail.check(asking("Is it raining in Paris?", request=with_tools))).blocked


async def test_the_request_is_counted_even_when_an_earlier_guardrail_masked_the_texts():
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=50), counter=counter)
    request = chat(ESSAY)

    verdict = await guardrail.check(Inspection(PRE, ("[REDACTED]",), request=request))

    assert verdict.blocked


async def test_an_embedding_request_is_counted_input_by_input():
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=30), counter=counter)
    short = EmbeddingRequest(model="text-embedding-3-small", inputs=("a red bicycle", "a blue kite"))
    long = EmbeddingRequest(model="text-embedding-3-small", inputs=(ESSAY[:200], ESSAY[:200]))

    assert not (await guardrail.check(Inspection(PRE, short.inputs, request=short))).blocked
    assert (await guardrail.check(Inspection(PRE, long.inputs, request=long))).blocked


async def test_token_arrays_sent_to_embeddings_count_one_token_each():
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_tokens=8), counter=counter)
    request = EmbeddingRequest(model="text-embedding-3-small", inputs=((1, 2, 3, 4), (5, 6, 7, 8, 9)))

    verdict = await guardrail.check(Inspection(PRE, (), request=request))

    assert verdict.reason == "input is 9 tokens, over the limit of 8"


async def test_it_also_runs_during_the_call_and_lets_replies_through():
    guardrail = MaxInputTokensGuardrail(
        spec("max_input_tokens", GuardrailMode.DURING_CALL, POST, max_tokens=10), counter=counter
    )
    request = chat(ESSAY)

    assert (await guardrail.check(Inspection(GuardrailMode.DURING_CALL, (ESSAY,), request=request))).blocked
    assert not (await guardrail.check(Inspection(POST, (ESSAY,), request=request))).blocked


async def test_litellms_max_input_tokens_name_is_accepted_for_the_limit():
    guardrail = MaxInputTokensGuardrail(spec("max_input_tokens", max_input_tokens=5), counter=counter)

    assert (await guardrail.check(asking(QUESTION))).blocked


@pytest.mark.parametrize(
    "params", [{}, {"max_tokens": 0}, {"max_tokens": -3}, {"max_tokens": "lots"}, {"max_tokens": True}]
)
def test_a_missing_or_bad_limit_is_refused_naming_the_param(params):
    with pytest.raises(BadRequestError) as refused:
        MaxInputTokensGuardrail(spec("max_input_tokens", **params), counter=counter)

    assert refused.value.param == "max_tokens"


def test_a_bad_max_input_tokens_is_refused_under_its_own_name():
    with pytest.raises(BadRequestError) as refused:
        MaxInputTokensGuardrail(spec("max_input_tokens", max_input_tokens=0), counter=counter)

    assert refused.value.param == "max_input_tokens"


def test_a_limit_on_replies_only_is_refused_as_a_misplaced_mode():
    with pytest.raises(BadRequestError) as refused:
        MaxInputTokensGuardrail(spec("max_input_tokens", POST, max_tokens=100), counter=counter)

    assert refused.value.param == "mode"


# json_schema_validation

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def wants_schema(schema: dict[str, Any] = PERSON) -> CompletionRequest:
    return chat(
        "Extract the person from: Ada Lovelace, born 1815, died aged 36.",
        response_format=ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="person", schema=schema),
    )


def replied(*texts: str, request: CompletionRequest | None = None, final: bool = True) -> Inspection:
    return Inspection(POST, texts, request=request if request is not None else wants_schema(), final=final)


def json_guardrail(stream: StreamCheck = StreamCheck.WHOLE, **params: Any) -> JsonSchemaGuardrail:
    return JsonSchemaGuardrail(spec("json_schema_validation", POST, stream=stream, **params))


async def test_a_reply_that_matches_the_requested_schema_passes():
    verdict = await json_guardrail().check(replied('{"name": "Ada Lovelace", "age": 36}'))

    assert verdict.decision is Decision.ALLOWED


async def test_a_reply_of_the_wrong_type_is_blocked_naming_the_path_and_keyword_but_not_the_value():
    verdict = await json_guardrail().check(replied('{"name": "Ada Lovelace", "age": "thirty-six"}'))

    assert verdict.blocked
    assert verdict.reason == (
        "reply does not match the response_format schema at $.age: expected type 'integer'"
    )


async def test_a_reply_missing_a_required_property_is_blocked_naming_it():
    verdict = await json_guardrail().check(replied('{"name": "Ada Lovelace"}'))

    assert verdict.reason == (
        "reply does not match the response_format schema at $: 'age' is a required property"
    )


async def test_an_unexpected_property_is_blocked_without_quoting_it():
    reply = '{"name": "Ada Lovelace", "age": 36, "ssn": "078-05-1120"}'

    verdict = await json_guardrail().check(replied(reply))

    assert verdict.blocked
    assert "ssn" not in verdict.reason
    assert "078-05-1120" not in verdict.reason


async def test_a_value_out_of_range_names_the_failed_keyword():
    verdict = await json_guardrail().check(replied('{"name": "Ada Lovelace", "age": -4}'))

    assert verdict.reason == "reply does not match the response_format schema at $.age: failed 'minimum'"


async def test_a_reply_that_is_not_json_is_blocked():
    verdict = await json_guardrail().check(replied("Sure! Ada Lovelace was 36 when she died."))

    assert verdict.reason == "reply is not valid JSON"


async def test_json_object_mode_needs_a_json_object():
    request = chat(
        "List three primes as JSON.", response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT)
    )
    guardrail = json_guardrail()

    assert not (await guardrail.check(replied('{"primes": [2, 3, 5]}', request=request))).blocked
    assert (
        await guardrail.check(replied("[2, 3, 5]", request=request))
    ).reason == "reply is not a JSON object"
    assert (await guardrail.check(replied("2, 3 and 5", request=request))).reason == "reply is not valid JSON"


async def test_a_request_without_a_response_format_passes_anything():
    verdict = await json_guardrail().check(replied("Just plain prose.", request=chat("Tell me a story.")))

    assert verdict.decision is Decision.ALLOWED


async def test_the_configured_schema_applies_to_every_reply_even_without_a_response_format():
    guardrail = json_guardrail(schema=PERSON)
    plain = chat("Who wrote the first program?")

    assert not (await guardrail.check(replied('{"name": "Ada", "age": 36}', request=plain))).blocked
    verdict = await guardrail.check(replied('{"name": "Ada"}', request=plain))
    assert verdict.reason == "reply does not match the configured schema at $: 'age' is a required property"


async def test_the_configured_schema_may_be_given_as_json_text():
    guardrail = json_guardrail(schema=json.dumps({"type": "object", "required": ["answer"]}))

    verdict = await guardrail.check(replied('{"reply": 42}', request=chat("What is six times seven?")))

    assert verdict.blocked


async def test_every_choice_of_a_reply_is_checked_and_the_failing_one_named():
    verdict = await json_guardrail().check(
        replied('{"name": "Ada Lovelace", "age": 36}', '{"name": "Ada Lovelace", "age": 36.5}')
    )

    assert verdict.reason == (
        "reply 2 does not match the response_format schema at $.age: expected type 'integer'"
    )


async def test_an_empty_reply_such_as_a_tool_call_turn_is_not_judged():
    verdict = await json_guardrail().check(replied(""))

    assert verdict.decision is Decision.ALLOWED


async def test_a_stream_is_only_judged_once_it_is_whole():
    partial = replied('{"name": "Ada Lov', final=False)

    assert (await json_guardrail().check(partial)).decision is Decision.ALLOWED


async def test_the_schema_draft_follows_the_schemas_own_dollar_schema():
    # Draft 4 reads a boolean exclusiveMinimum as "minimum is exclusive"; 2020-12 would reject it.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"score": {"type": "number", "minimum": 0, "exclusiveMinimum": True}},
    }

    verdict = await json_guardrail().check(replied('{"score": 0}', request=wants_schema(draft4)))

    assert verdict.reason == "reply does not match the response_format schema at $.score: failed 'minimum'"


async def test_an_invalid_schema_in_the_request_leaves_the_guardrail_unable_to_decide():
    broken = wants_schema({"type": "object", "properties": {"age": {"type": "whole number"}}})

    with pytest.raises(GuardrailUnavailable):
        await json_guardrail().check(replied('{"age": 3}', request=broken))


def test_an_invalid_configured_schema_is_refused_naming_the_param():
    with pytest.raises(BadRequestError) as refused:
        json_guardrail(schema={"type": "object", "required": "name"})

    assert refused.value.param == "schema"


def test_it_refuses_to_run_on_requests_only():
    with pytest.raises(BadRequestError) as refused:
        JsonSchemaGuardrail(spec("json_schema_validation", PRE))

    assert refused.value.param == "mode"


def test_it_refuses_to_judge_a_stream_window_by_window():
    with pytest.raises(BadRequestError) as refused:
        json_guardrail(stream=StreamCheck.WINDOW)

    assert refused.value.param == "stream"
