"""What each route handler takes and answers, for the OpenAPI document (adapters.http.openapi).

Keyed by the handler's qualified name, so a path's aliases share one entry. A body or reply is a pydantic
model (the one that validates it, when there is one) or a hand-written JSON schema; `None` is "no body".
A route missing from OPERATIONS is still listed, generically, and the test of the document fails until it
is described here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from adapters.http.controllers.management import schemas as m
from adapters.openai_format.audio import SpeechBody
from adapters.openai_format.images import ImageBody
from adapters.openai_format.moderations import ModerationBody
from adapters.openai_format.rerank import RerankBody
from adapters.openai_format.text_completions import TextCompletionRequest
from adapters.openai_format.wire import ChatRequest, Chunk, Completion, EmbeddingRequest, Embeddings

Schema = type[BaseModel] | dict[str, Any]

OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
LIST: dict[str, Any] = {"type": "object", "properties": {"data": {"type": "array", "items": OBJECT}}}


def _object(required: tuple[str, ...] = (), /, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "properties": properties,
        "additionalProperties": True,
    }


_TEXT: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer"}
_ARRAY: dict[str, Any] = {"type": "array", "items": OBJECT}
_CONTENT: dict[str, Any] = {"oneOf": [_TEXT, _ARRAY]}

MESSAGES_REQUEST = _object(
    ("model", "messages", "max_tokens"),
    model=_TEXT,
    messages={"type": "array", "items": _object(("role", "content"), role=_TEXT, content=_CONTENT)},
    max_tokens=_INT,
    system=_CONTENT,
    tools=_ARRAY,
    tool_choice=OBJECT,
    temperature={"type": "number"},
    top_p={"type": "number"},
    top_k=_INT,
    stop_sequences={"type": "array", "items": _TEXT},
    thinking=OBJECT,
    metadata=OBJECT,
    stream={"type": "boolean"},
)
MESSAGE = _object(
    ("id", "type", "role", "content", "model", "stop_reason", "usage"),
    id=_TEXT,
    type={"const": "message"},
    role={"const": "assistant"},
    content=_ARRAY,
    model=_TEXT,
    stop_reason={"type": ["string", "null"]},
    stop_sequence={"type": ["string", "null"]},
    usage=_object(("input_tokens", "output_tokens"), input_tokens=_INT, output_tokens=_INT),
)
COUNT_TOKENS_REQUEST = {**MESSAGES_REQUEST, "required": ["model", "messages"]}
INPUT_TOKENS = _object(("input_tokens",), input_tokens=_INT)
RESPONSES_REQUEST = _object(
    ("model",),
    model=_TEXT,
    input=_CONTENT,
    instructions=_TEXT,
    tools=_ARRAY,
    tool_choice={"oneOf": [_TEXT, OBJECT]},
    text=OBJECT,
    reasoning=OBJECT,
    previous_response_id=_TEXT,
    store={"type": "boolean"},
    background={"type": "boolean"},
    stream={"type": "boolean"},
    metadata=OBJECT,
    max_output_tokens=_INT,
    temperature={"type": "number"},
    top_p={"type": "number"},
)
RESPONSE = _object(
    ("id", "object", "status", "model", "output"),
    id=_TEXT,
    object={"const": "response"},
    created_at=_INT,
    status=_TEXT,
    model=_TEXT,
    output=_ARRAY,
    usage=OBJECT,
)
MODEL = _object(("id", "object"), id=_TEXT, object={"const": "model"}, created=_INT, owned_by=_TEXT)
MODELS = _object(("object", "data"), object={"const": "list"}, data={"type": "array", "items": MODEL})
MODEL_ENTRY = _object(
    ("model_name", "litellm_params"), model_name=_TEXT, litellm_params=OBJECT, model_info=OBJECT
)
MODEL_ID = _object(("id",), id=_TEXT)
GUARDRAIL_TEXT = _object(("guardrail_name", "text"), guardrail_name=_TEXT, text=_TEXT)
GUARDRAILS = _object(guardrails={"type": "array", "items": OBJECT})
DOCS_HTML: dict[str, Any] = {"type": "string", "contentMediaType": "text/html"}
TEXT_COMPLETION = _object(
    ("id", "object", "model", "choices"),
    id=_TEXT,
    object={"const": "text_completion"},
    created=_INT,
    model=_TEXT,
    choices={
        "type": "array",
        "items": _object(("index", "text"), index=_INT, text=_TEXT, finish_reason=_TEXT),
    },
    usage=OBJECT,
)
EVENT = _object(("type",), type=_TEXT)
MODERATION = _object(
    ("id", "model", "results"),
    id=_TEXT,
    model=_TEXT,
    results={"type": "array", "items": _object(("flagged",), flagged={"type": "boolean"}, categories=OBJECT)},
)

IMAGES = _object(
    ("created", "data"),
    created={"type": "integer"},
    data={
        "type": "array",
        "items": _object((), b64_json=_TEXT, url=_TEXT, revised_prompt=_TEXT),
    },
    usage=OBJECT,
)
TRANSCRIPTION_FORM = _object(
    ("file", "model"),
    file={"type": "string", "contentMediaType": "application/octet-stream"},
    model=_TEXT,
    language=_TEXT,
    prompt=_TEXT,
    response_format={"enum": ["json", "text", "srt", "verbose_json", "vtt"]},
    temperature={"type": "number"},
    **{"timestamp_granularities[]": {"type": "array", "items": {"enum": ["word", "segment"]}}},
)
TRANSCRIPTION = _object(
    ("text",),
    text=_TEXT,
    task=_TEXT,
    language=_TEXT,
    duration={"type": "number"},
    segments=_ARRAY,
    words=_ARRAY,
)
AUDIO: dict[str, Any] = {"type": "string", "contentMediaType": "application/octet-stream"}


def _transcription(summary: str) -> Operation:
    return Operation(
        summary, "inference", TRANSCRIPTION_FORM, TRANSCRIPTION, body_media_type="multipart/form-data"
    )


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str
    body: Schema | None = None
    reply: Schema | None = field(default_factory=lambda: OBJECT)
    stream: Schema | None = None
    """Each server-sent event's data when the body asks for `stream: true`."""
    body_required: bool = True
    public: bool = False
    """Served without a key."""
    media_type: str = "application/json"
    body_media_type: str = "application/json"
    query: tuple[Query, ...] = ()
    """The query parameters it reads."""


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    schema: dict[str, Any]
    required: bool = False


_QUERY_TYPES: dict[str, dict[str, Any]] = {
    "str": _TEXT,
    "int": {"type": "integer", "minimum": 1},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "list": {"type": "array", "items": _TEXT},
}


def _query(*specs: str) -> tuple[Query, ...]:
    """Query parameters written `name`, `name:type` (str, int, bool, date, list), `name!` if required."""
    found = []
    for spec in specs:
        name, _, kind = spec.partition(":")
        required = name.endswith("!")
        found.append(Query(name.rstrip("!"), _QUERY_TYPES[kind or "str"], required))
    return tuple(found)


_LOG_FILTERS = ("api_key", "user_id", "team_id", "request_id", "start_date:date", "end_date:date")
_ACTIVITY = ("start_date:date", "end_date:date", "api_key", "model", "page:int", "page_size:int")


def _inference(summary: str, body: Schema, reply: Schema, stream: Schema | None = None) -> Operation:
    return Operation(summary, "inference", body, reply, stream)


def _manage(
    tag: str, summary: str, body: Schema | None = None, reply: Schema = OBJECT, *, query: tuple[str, ...] = ()
) -> Operation:
    return Operation(summary, tag, body, reply, query=_query(*query))


OPERATIONS: dict[str, Operation] = {
    "ChatController.create": _inference("Chat completion (OpenAI)", ChatRequest, Completion, Chunk),
    "TextCompletionsController.create": _inference(
        "Text completion (OpenAI, legacy)", TextCompletionRequest, TEXT_COMPLETION, TEXT_COMPLETION
    ),
    "ModerationsController.create": _inference("Moderation (OpenAI)", ModerationBody, MODERATION),
    "RerankController.create": _inference("Rerank (Cohere's shape)", RerankBody, OBJECT),
    "ImagesController.generate": _inference("Image generation (OpenAI)", ImageBody, IMAGES),
    "AudioController.transcribe": _transcription("Audio transcription (OpenAI; multipart upload)"),
    "AudioController.translate": _transcription("Audio translation into English (OpenAI; multipart upload)"),
    "AudioController.speak": Operation(
        "Text to speech (OpenAI; the audio streamed)", "inference", SpeechBody, AUDIO, media_type="audio/mpeg"
    ),
    "EmbeddingsController.create": _inference("Embeddings (OpenAI)", EmbeddingRequest, Embeddings),
    "MessagesController.create": _inference("Messages (Anthropic)", MESSAGES_REQUEST, MESSAGE, EVENT),
    "MessagesController.count_tokens": _inference(
        "Count tokens (Anthropic)", COUNT_TOKENS_REQUEST, INPUT_TOKENS
    ),
    "ResponsesController.create": _inference(
        "Create a response (OpenAI Responses)", RESPONSES_REQUEST, RESPONSE, EVENT
    ),
    "ResponsesController.input_tokens": _inference(
        "Count a response's input tokens", RESPONSES_REQUEST, INPUT_TOKENS
    ),
    "StoredResponsesController.retrieve": Operation(
        "A stored response", "inference", reply=RESPONSE, query=_query("include:list")
    ),
    "StoredResponsesController.remove": Operation("Delete a stored response", "inference"),
    "StoredResponsesController.input_items": Operation(
        "A stored response's input items",
        "inference",
        reply=LIST,
        query=(*_query("limit:int", "after"), Query("order", {"enum": ["asc", "desc"]})),
    ),
    "StoredResponsesController.cancel": Operation(
        "Cancel a background response", "inference", reply=RESPONSE, query=_query("include:list")
    ),
    "ModelsController.list_models": Operation("The models this key may use", "models", reply=MODELS),
    "ModelsController.get_model": Operation("One model", "models", reply=MODEL),
    "ModelsController.model_info": Operation("Every deployment, without credentials", "models", reply=LIST),
    "GuardrailsController.list_guardrails": Operation(
        "The guardrails this key may use", "guardrails", reply=GUARDRAILS
    ),
    "GuardrailsController.apply_guardrail": Operation(
        "Run one guardrail on a text, calling no model",
        "guardrails",
        GUARDRAIL_TEXT,
        _object(("response_text",), response_text=_TEXT),
    ),
    "ModelAdminController.new": _manage("models", "Add a deployment", MODEL_ENTRY),
    "ModelAdminController.update": _manage("models", "Update a deployment", MODEL_ENTRY),
    "ModelAdminController.delete": _manage("models", "Delete a deployment", MODEL_ID),
    "KeyController.generate": _manage("keys", "Generate a virtual key", m.GenerateKey),
    "KeyController.update": _manage("keys", "Update a key", m.UpdateKey),
    "KeyController.regenerate": _manage("keys", "Regenerate a key", m.RegenerateKey),
    "KeyController.regenerate_path": _manage("keys", "Regenerate the key in the path", m.RegenerateKey),
    "KeyController.info": _manage("keys", "A key's record (the caller's own without `key`)", query=("key",)),
    "KeyController.list_keys": _manage(
        "keys",
        "List keys",
        query=(
            "user_id",
            "team_id",
            "organization_id",
            "key_alias",
            "page:int",
            "size:int",
            "return_full_object:bool",
        ),
    ),
    "KeyController.delete": _manage("keys", "Delete keys", m.DeleteKeys),
    "KeyController.block": _manage("keys", "Block a key", m.KeyRef),
    "KeyController.unblock": _manage("keys", "Unblock a key", m.KeyRef),
    "TeamController.new": _manage("teams", "Create a team", m.NewTeam),
    "TeamController.update": _manage("teams", "Update a team", m.UpdateTeam),
    "TeamController.delete": _manage("teams", "Delete teams", m.TeamIds),
    "TeamController.info": _manage("teams", "A team", query=("team_id!",)),
    "TeamController.list_teams": _manage("teams", "List teams", query=("user_id", "organization_id")),
    "TeamController.member_add": _manage("teams", "Add team members", m.TeamMemberAdd),
    "TeamController.member_delete": _manage("teams", "Remove a team member", m.TeamMemberDelete),
    "TeamController.block": _manage("teams", "Block a team", m.TeamRef),
    "TeamController.unblock": _manage("teams", "Unblock a team", m.TeamRef),
    "UserController.new": _manage("users", "Create a user", m.NewUser),
    "UserController.update": _manage("users", "Update a user", m.UpdateUser),
    "UserController.delete": _manage("users", "Delete users", m.UserIds),
    "UserController.info": _manage("users", "A user (the caller without `user_id`)", query=("user_id",)),
    "UserController.list_users": _manage(
        "users", "List users", query=("page:int", "page_size:int", "role", "organization_id", "user_ids:list")
    ),
    "OrganizationController.new": _manage("organizations", "Create an organization", m.NewOrganization),
    "OrganizationController.update": _manage("organizations", "Update an organization", m.UpdateOrganization),
    "OrganizationController.delete": _manage("organizations", "Delete organizations", m.OrganizationIds),
    "OrganizationController.info": _manage("organizations", "An organization", query=("organization_id!",)),
    "OrganizationController.info_by_body": _manage("organizations", "An organization", m.OrganizationRef),
    "OrganizationController.list_organizations": _manage("organizations", "List organizations"),
    "OrganizationController.member_add": _manage("organizations", "Add members", m.OrganizationMemberAdd),
    "CustomerController.new": _manage("customers", "Create a customer (end user)", m.Customer),
    "CustomerController.update": _manage("customers", "Update a customer", m.Customer),
    "CustomerController.delete": _manage("customers", "Delete customers", m.CustomerIds),
    "CustomerController.info": _manage("customers", "A customer", query=("end_user_id!",)),
    "CustomerController.list_customers": _manage("customers", "List customers"),
    "CustomerController.block": _manage("customers", "Block customers", m.CustomerIds),
    "CustomerController.unblock": _manage("customers", "Unblock customers", m.CustomerIds),
    "BudgetController.new": _manage("budgets", "Create a budget", m.BudgetFields),
    "BudgetController.update": _manage("budgets", "Update a budget", m.UpdateBudget),
    "BudgetController.delete": _manage("budgets", "Delete a budget", m.BudgetRef),
    "BudgetController.info": _manage("budgets", "Budgets by id", m.BudgetIds),
    "BudgetController.list_budgets": _manage("budgets", "List budgets"),
    "InvitationController.new": _manage(
        "invitations", "A one-use link (7 days) for a user to set a console password", m.NewInvitation
    ),
    "InvitationController.info": _manage("invitations", "An invitation link", query=("invitation_id!",)),
    "InvitationController.delete": _manage("invitations", "Revoke an invitation link", m.InvitationRef),
    "SpendController.calculate": _manage("spend", "The cost of a request or a reply", OBJECT),
    "SpendController.logs": _manage("spend", "Spend logs", query=_LOG_FILTERS),
    "SpendController.logs_page": _manage(
        "spend", "Spend logs, paged", query=(*_LOG_FILTERS, "page:int", "page_size:int")
    ),
    "SpendController.report": _manage(
        "spend",
        "Spend report",
        query=(
            "api_key",
            "internal_user_id",
            "start_date:date",
            "end_date:date",
            "team_id",
            "customer_id",
            "group_by",
        ),
    ),
    "SpendController.reset": _manage("spend", "Reset spend"),
    "SpendController.user_activity": _manage(
        "spend", "A user's daily activity", query=("user_id", *_ACTIVITY)
    ),
    "SpendController.team_activity": _manage(
        "spend", "Teams' daily activity", query=("team_ids:list", *_ACTIVITY)
    ),
    "TokenCounterController.count": _manage("spend", "Count a request's tokens", OBJECT),
    "PassThroughController.relay": Operation(
        "Pass-through: the provider's own API, `{path}` from its host root, with the gateway's credential",
        "pass-through",
        body={},
        reply={},
        body_required=False,
    ),
    "custom_relay": Operation(
        "Pass-through: an operator's route (general_settings.pass_through_endpoints), relayed to its target",
        "pass-through",
        body={},
        reply={},
        body_required=False,
    ),
    "open_custom_relay": Operation(
        "Pass-through: an operator's route that needs no key (auth: false), relayed to its target",
        "pass-through",
        body={},
        reply={},
        body_required=False,
        public=True,
    ),
    "DeploymentHealthController.health": Operation("Call every deployment", "health"),
    "HealthController.liveliness": Operation("Liveness probe", "health", reply=_TEXT, public=True),
    "HealthController.readiness": Operation("Readiness probe", "health", public=True),
    "MetricsController.metrics": Operation(
        "Prometheus metrics", "health", reply=_TEXT, media_type="text/plain; version=0.0.4"
    ),
    "DocsController.openapi": Operation("This document", "docs", public=True),
    "DocsController.page": Operation("The interactive reference", "docs", reply=DOCS_HTML, public=True),
    "DocsController.asset": Operation(
        "The reference's vendored scripts and styles",
        "docs",
        reply=_TEXT,
        public=True,
        media_type="text/plain",
    ),
}
