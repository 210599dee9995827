"""Running the OpenAI Agents SDK (PyPI `openai-agents`, imported as `agents`) against the gateway's
/v1/responses, and what it sends there.

`openai-agents` 0.24.0 installs beside openai 3.63.0 without changing it (it asks for `openai>=3,<4`);
it adds griffelib, mcp, mcp-types, jsonschema, starlette, sse-starlette, python-multipart, websockets.
python-multipart's `multipart` package and the `multipart` module Litestar uses coexist: the package
hands the name over to the module.

Captured from an Agent with one function tool, on `OpenAIResponsesModel` (the default for a model name)
with an `AsyncOpenAI(base_url=...)` client, tracing disabled (left on, the SDK posts traces to
api.openai.com: `set_tracing_disabled(True)` or OPENAI_AGENTS_DISABLE_TRACING=1 stops it):

- `Runner.run` posts `POST /v1/responses` without `stream` and reads a JSON Response; `Runner.run_streamed`
  adds `"stream": true` (its `accept` header stays `application/json`). Headers: the openai client's
  (`authorization`, `user-agent: Agents/Python 0.24.0`, `x-stainless-*` with `x-stainless-retry-count`,
  `x-stainless-raw-response: stream` when streaming); no session or originator headers.
- Body: `model`, `include: []`, `input`, `instructions` (the agent's), `tools` (`{"type": "function",
  "name", "description", "parameters", "strict": true}`, the schema with `additionalProperties: false` and
  `title`s). No `store` (so the API's default, true, applies), no `tool_choice`, `parallel_tool_calls`,
  `reasoning`, `text`, `temperature` or `prompt_cache_key` unless the agent's ModelSettings set them.
- `input` starts as `[{"content": "<prompt>", "role": "user"}]` (no `type`); after a tool call the next
  request repeats the whole conversation: the user message, the `function_call` as it came (`arguments`,
  `call_id`, `name`, `type`, `id`, `status`) and `{"call_id", "output", "type": "function_call_output"}`.
- With `Runner.run(..., auto_previous_response_id=True)` the second request instead sends
  `previous_response_id` (the first response's id) and only the new `function_call_output` in `input`:
  the gateway has to have stored the first response (input and output) to serve it.
- Streaming: the SDK takes items from `response.output_item.done` and the final response from
  `response.completed` (whose `output` alone also suffices); a stream without `response.completed` raises
  `ModelBehaviorError("Model did not produce a final response!")`, and `response.failed`, `error` and
  `response.incomplete` raise `ModelBehaviorError` naming the event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents import Agent, RunResult, RunResultStreaming
    from openai import AsyncOpenAI

AGENTS_VERSION = "0.24.0"
INSTRUCTIONS = "Answer with the tool's result."
PROMPT = "What is the weather in Paris?"
WEATHER_TEXT = "It is 15 degrees in Paris."
"""What `get_weather` returns for Paris, and what the fake upstreams' `weather` script answers last (the
same call and answer as `claude_code_session.WEATHER_TURNS`)."""


def configure(client: AsyncOpenAI) -> None:
    """Make `client` the SDK's default and keep its traces on this machine (process-wide settings)."""
    from agents import set_default_openai_client, set_tracing_disabled

    set_default_openai_client(client, use_for_tracing=False)
    set_tracing_disabled(True)


def build_agent(client: AsyncOpenAI, model: str, **settings: Any) -> Agent:
    """An Agent on the Responses API through `client`, with one function tool, `get_weather(city)`;
    `settings` go to its ModelSettings (e.g. `store=False`, `parallel_tool_calls=True`)."""
    from agents import Agent, ModelSettings, OpenAIResponsesModel, function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """Return the current weather for a city."""
        return f"It is 15 degrees in {city}."

    configure(client)
    return Agent(
        name="Weather agent",
        instructions=INSTRUCTIONS,
        tools=[get_weather],
        model=OpenAIResponsesModel(model=model, openai_client=client),
        model_settings=ModelSettings(**settings),
    )


async def run_agent(
    client: AsyncOpenAI,
    model: str,
    prompt: str = PROMPT,
    *,
    streamed: bool = False,
    auto_previous_response_id: bool = False,
) -> RunResult | RunResultStreaming:
    """Run `build_agent(client, model)` on `prompt` to its final output (`result.final_output`)."""
    from agents import Runner

    agent = build_agent(client, model)
    if not streamed:
        return await Runner.run(agent, prompt, auto_previous_response_id=auto_previous_response_id)
    result = Runner.run_streamed(agent, prompt, auto_previous_response_id=auto_previous_response_id)
    async for _ in result.stream_events():
        pass
    return result
