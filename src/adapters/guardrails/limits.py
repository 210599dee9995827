"""Guardrails that check a call's shape: the prompt's size in tokens, and a reply's JSON against a schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from domain.completions import CompletionRequest
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError
from domain.guardrails import ALLOW, GuardrailMode, GuardrailSpec, Inspection, StreamCheck, Verdict, block
from domain.messages import ResponseFormatType
from ports.guardrail import Guardrail, GuardrailUnavailable
from ports.token_counter import TokenCounter

INPUT_MODES = (GuardrailMode.PRE_CALL, GuardrailMode.DURING_CALL)


class MaxInputTokensGuardrail(Guardrail):
    """Blocks a request whose prompt is over `max_tokens` tokens (LiteLLM-style `max_input_tokens` is
    accepted too), counted the way the requested model's tokenizer counts it."""

    kind = "max_input_tokens"

    def __init__(self, spec: GuardrailSpec, counter: TokenCounter) -> None:
        if not any(spec.runs_in(mode) for mode in INPUT_MODES):
            raise BadRequestError(
                f"guardrail {spec.name}: {self.kind} checks requests, so it runs in pre_call or during_call",
                param="mode",
            )
        self._limit = _token_limit(spec.params)
        self._counter = counter

    async def check(self, inspection: Inspection) -> Verdict:
        if inspection.mode not in INPUT_MODES:
            return ALLOW
        tokens = self._count(inspection)
        if tokens > self._limit:
            return block(f"input is {tokens} tokens, over the limit of {self._limit}")
        return ALLOW

    def _count(self, inspection: Inspection) -> int:
        # The request's own messages, not the inspection's texts: those may have been masked by an
        # earlier guardrail, and lack the per-message framing and tools the model is sent.
        request = inspection.request
        if isinstance(request, CompletionRequest):
            return self._counter.count_messages(request.messages, request.model, request.tools)
        if isinstance(request, EmbeddingRequest):
            return sum(
                self._counter.count_text(item, request.model) if isinstance(item, str) else len(item)
                for item in request.inputs
            )
        return sum(self._counter.count_text(text, "") for text in inspection.texts)


def _token_limit(params: Mapping[str, Any]) -> int:
    name = "max_input_tokens" if "max_input_tokens" in params and "max_tokens" not in params else "max_tokens"
    value = params.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequestError(f"{name} must be a whole number of tokens, at least 1", param=name)
    return value


class JsonSchemaGuardrail(Guardrail):
    """Blocks a reply that is not the JSON its request asked for: with `response_format` json_schema,
    each reply must parse and validate against the schema; with json_object, it must be a JSON object.
    A `schema` param is enforced on every reply, asked for or not. Post_call only, on whole replies."""

    kind = "json_schema_validation"
    """LiteLLM has no guardrail for this; it validates replies with `enable_json_schema_validation`."""

    _MAX_CACHED = 256

    def __init__(self, spec: GuardrailSpec) -> None:
        if not spec.runs_in(GuardrailMode.POST_CALL):
            raise BadRequestError(
                f"guardrail {spec.name}: {self.kind} checks replies, so it runs in post_call",
                param="mode",
            )
        if spec.stream is StreamCheck.WINDOW:
            raise BadRequestError(
                f"guardrail {spec.name}: a reply's JSON can only be checked whole, not window by window",
                param="stream",
            )
        import jsonschema  # lazily: only configs that use this guardrail pay for the import

        self._jsonschema = jsonschema
        self._validators: dict[str, Any] = {}
        self._configured = None
        schema = spec.params.get("schema")
        if schema is not None:
            self._configured = self._validator(_schema_param(schema), param="schema")

    async def check(self, inspection: Inspection) -> Verdict:
        if not inspection.is_reply or not inspection.final:
            return ALLOW
        checks: list[tuple[str, Any]] = []
        wants_object = False
        request = inspection.request
        response_format = request.response_format if isinstance(request, CompletionRequest) else None
        if response_format is not None and response_format.type is ResponseFormatType.JSON_SCHEMA:
            try:
                requested = self._validator(response_format.schema or {}, param="response_format")
            except BadRequestError as exc:
                raise GuardrailUnavailable(f"{self.kind}: {exc.message}") from exc
            checks.append(("the response_format schema", requested))
        elif response_format is not None and response_format.type is ResponseFormatType.JSON_OBJECT:
            wants_object = True
        if self._configured is not None:
            checks.append(("the configured schema", self._configured))
        if not checks and not wants_object:
            return ALLOW
        texts = [(i, text) for i, text in enumerate(inspection.texts) if text.strip()]
        for index, text in texts:
            # Which reply, only when there are several (n > 1); never what it says.
            which = f"reply {index + 1}" if len(inspection.texts) > 1 else "reply"
            try:
                document = json.loads(text)
            except ValueError:
                return block(f"{which} is not valid JSON")
            if wants_object and not isinstance(document, dict):
                return block(f"{which} is not a JSON object")
            for name, validator in checks:
                error = self._jsonschema.exceptions.best_match(validator.iter_errors(document))
                if error is not None:
                    return block(f"{which} does not match {name} at {error.json_path}: {_failure(error)}")
        return ALLOW

    def _validator(self, schema: Mapping[str, Any], *, param: str) -> Any:
        key = json.dumps(schema, sort_keys=True, default=str)
        validator = self._validators.get(key)
        if validator is None:
            validators = self._jsonschema.validators
            cls = validators.validator_for(schema, default=validators.Draft202012Validator)
            try:
                cls.check_schema(schema)
            except self._jsonschema.exceptions.SchemaError as exc:
                raise BadRequestError(
                    f"{param} is not a valid JSON Schema at {exc.json_path}: {exc.message}", param=param
                ) from exc
            validator = cls(schema)
            if len(self._validators) >= self._MAX_CACHED:
                self._validators.pop(next(iter(self._validators)))
            self._validators[key] = validator
        return validator


def _schema_param(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise BadRequestError("schema must be a JSON Schema object", param="schema") from exc
    if not isinstance(value, Mapping):
        raise BadRequestError("schema must be a JSON Schema object", param="schema")
    return value


def _failure(error: Any) -> str:
    """What a failed keyword expected, from the schema's side only: the reply's values are never quoted
    (an instance's unexpected keys and values may be what the caller must not see)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"expected type {' or '.join(repr(n) for n in names)}"
    if keyword == "required":
        return error.message  # names the missing property, as the schema spells it
    if keyword == "additionalProperties":
        return "a property the schema does not allow"
    return f"failed '{keyword}'"
