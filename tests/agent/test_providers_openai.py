"""The OpenAI Chat Completions adapter against a local server, via the real `openai` SDK."""

from __future__ import annotations

import json

import pytest
from fakeserver import Call, Error, Raw, Turn

from codemem.agent.messages import Message, Response, ToolCall, ToolSpec, Usage
from codemem.agent.providers.errors import (
    AuthenticationFailed,
    ContextOverflow,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
    StreamDropped,
)
from codemem.agent.providers.models import lookup_model
from codemem.agent.providers.openai import OpenAIProvider
from codemem.agent.providers.retry import RetryPolicy

MODEL = "openai/gpt-5"
READ_FILE = ToolSpec(
    "read_file",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def make(url: str, sleeps: list[float], model: str = MODEL, **kwargs) -> OpenAIProvider:
    retry = RetryPolicy(max_attempts=3, sleep=sleeps.append, jitter=lambda: 0.0)
    name = model.split("/", 1)[1]
    kwargs.setdefault("api_key", "test-key")
    return OpenAIProvider(model, name, lookup_model(name), base_url=url, retry=retry, **kwargs)


@pytest.fixture
def provider(server, sleeps):
    return make(server.openai_url, sleeps)


def ask(provider, stream=False, chunks=None, tools=(READ_FILE,)):
    on_text = (chunks.append if chunks is not None else lambda _: None) if stream else None
    return provider.complete(
        ["You are codemem.", "<memory>"], [Message.user("hi")], list(tools), on_text=on_text
    )


def completion(message: dict, finish_reason: str = "stop", usage: dict | None = None) -> Raw:
    body = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return Raw(body=body)


def test_plain_answer(server, provider):
    server.push(Turn(text="Hello there", input_tokens=12, output_tokens=3, cache_read_tokens=8))

    response = ask(provider)

    assert response == Response(Message.assistant("Hello there"), "end_turn", Usage(12, 3, 8, 0))
    body = server.last.body
    assert server.last.path == "/v1/chat/completions"
    assert body["model"] == "gpt-5"
    assert body["max_completion_tokens"] == 8192
    assert "max_tokens" not in body
    assert body["messages"] == [
        {"role": "system", "content": "You are codemem.\n\n<memory>"},
        {"role": "user", "content": "hi"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file.",
                "parameters": READ_FILE.parameters,
            },
        }
    ]
    assert server.last.headers["authorization"] == "Bearer test-key"


def test_streamed_answer(server, provider):
    server.push(Turn(text="Hello streaming world", input_tokens=7, output_tokens=4))
    chunks: list[str] = []

    response = ask(provider, stream=True, chunks=chunks)

    assert chunks == ["Hello ", "streaming ", "world"]
    assert response == Response(Message.assistant("Hello streaming world"), "end_turn", Usage(7, 4))
    assert server.last.body["stream"] is True
    assert server.last.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls(server, provider, stream):
    server.push(
        Turn(
            tool_calls=[
                Call("read_file", {"path": "app.py"}, id="call_1"),
                Call("read_file", {"path": "b.py"}, id="call_2"),
            ]
        )
    )

    response = ask(provider, stream=stream)

    assert response.stop_reason == "tool_use"
    assert response.message.tool_calls == [
        ToolCall("call_1", "read_file", {"path": "app.py"}, '{"path": "app.py"}'),
        ToolCall("call_2", "read_file", {"path": "b.py"}, '{"path": "b.py"}'),
    ]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "raw, problem",
    [
        ('{"path": "a.py"', "arguments are not valid JSON"),
        ('["a.py"]', "arguments must be a JSON object"),
    ],
)
def test_malformed_tool_arguments_become_a_parse_error(server, provider, stream, raw, problem):
    server.push(Turn(tool_calls=[Call("read_file", raw, id="call_9")]))

    (call,) = ask(provider, stream=stream).message.tool_calls

    assert (call.id, call.arguments, call.raw_arguments) == ("call_9", {}, raw)
    assert call.parse_error.startswith(problem)


def test_conversation_is_rendered_in_chat_format(server, provider):
    server.push(Turn(text="ok"))
    bad = ToolCall("call_2", "read_file", {}, '{"pa', "arguments are not valid JSON")
    messages = [
        Message.user("fix it"),
        Message.assistant("", [ToolCall("call_1", "read_file", {"path": "a.py"}), bad]),
        Message.tool_result("call_1", "print(1)"),
        Message.tool_result("call_2", "error: arguments are not valid JSON", is_error=True),
        Message.assistant(""),  # empty turns are dropped
    ]

    provider.complete("sys", messages, [])

    assert server.last.body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "print(1)"},
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": "error: arguments are not valid JSON",
        },
    ]
    assert "tools" not in server.last.body


def test_compatible_servers_quirks(server, sleeps):
    """max_tokens, "stop" with tool calls, no tool-call id and no usage."""
    provider = make(
        server.openai_url, sleeps, "ollama/qwen2.5-coder", compatible=True, api_key=None
    )
    server.push(
        completion(
            {
                "content": None,
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "read_file", "arguments": '{"path": "a"}'},
                    }
                ],
            },
            finish_reason="stop",
        )
    )

    response = ask(provider, tools=[READ_FILE])

    (call,) = response.message.tool_calls
    assert call.id.startswith("call_") and call.arguments == {"path": "a"}
    assert response.stop_reason == "tool_use"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0  # estimated
    assert server.last.body["max_tokens"] == 8192
    assert "max_completion_tokens" not in server.last.body
    assert server.last.headers["authorization"] == "Bearer none"


def test_compatible_server_never_receives_the_openai_key(server, sleeps, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    provider = make(server.openai_url, sleeps, "ollama/qwen", compatible=True, api_key=None)
    server.push(Turn(text="ok"))

    ask(provider)

    assert "sk-secret" not in json.dumps(server.last.headers)


def test_length_finish_reason_is_max_tokens(server, provider):
    server.push(Turn(text="cut", stop_reason="max_tokens"))

    assert ask(provider, stream=True).stop_reason == "max_tokens"


def test_429_waits_for_retry_after_then_succeeds(server, provider, sleeps):
    server.push(Error(429, "Rate limit reached", headers={"retry-after": "3"}), Turn(text="ok"))

    assert ask(provider, stream=True).message.content == "ok"
    assert sleeps == [3.0]


def test_retry_after_ms_is_preferred(server, provider, sleeps):
    server.push(
        Error(429, "slow", headers={"retry-after-ms": "250", "retry-after": "1"}), Turn(text="ok")
    )

    ask(provider)

    assert sleeps == [0.25]


def test_quota_exhausted_is_not_retried(server, provider, sleeps):
    server.push(Error(429, "You exceeded your current quota", kind="insufficient_quota"))

    with pytest.raises(RateLimited) as caught:
        ask(provider)

    assert str(caught.value) == f"{MODEL}: quota exhausted (429): You exceeded your current quota"
    assert sleeps == []


def test_500_then_success(server, provider, sleeps):
    server.push(Error(500, "The server had an error"), Turn(text="ok"))

    assert ask(provider).message.content == "ok"
    assert sleeps == [0.5]


def test_error_inside_the_stream_is_retried(server, provider, sleeps):
    server.push(Error(500, "upstream failed", in_stream=True), Turn(text="ok"))

    assert ask(provider, stream=True).message.content == "ok"
    assert sleeps == [0.5]


def test_persistent_server_error(server, provider, sleeps):
    server.push(*[Error(502, "bad gateway")] * 3)

    with pytest.raises(ProviderUnavailable, match=r"server error \(502\).*gave up after 3"):
        ask(provider)


def test_401_is_a_one_line_authentication_error(server, provider, sleeps):
    server.push(Error(401, "Incorrect API key provided: sk-...abcd."))

    with pytest.raises(AuthenticationFailed) as caught:
        ask(provider)

    assert str(caught.value) == (
        f"{MODEL}: authentication failed (401): Incorrect API key provided: sk-...abcd.; "
        "check OPENAI_API_KEY"
    )
    assert sleeps == []


def test_unknown_model_404(server, provider):
    server.push(Error(404, "The model `gpt-5` does not exist or you do not have access to it."))

    with pytest.raises(ModelNotFound) as caught:
        ask(provider)

    assert str(caught.value) == (
        f"{MODEL}: model not found at {server.openai_url} (404): The model `gpt-5` does not "
        "exist or you do not have access to it.; check --model and the provider's base_url"
    )


@pytest.mark.parametrize(
    "message, kind",
    [
        ("This model's maximum context length is 128000 tokens.", "context_length_exceeded"),
        ("This model's maximum context length is 4096 tokens. However, you requested 5000", None),
        ("the request exceeds the available context size, try increasing it", None),
    ],
)
def test_context_overflow(server, provider, sleeps, message, kind):
    server.push(Error(400, message, kind=kind))

    with pytest.raises(ContextOverflow):
        ask(provider)
    assert sleeps == []


def test_dropped_stream_after_text(server, provider, sleeps):
    server.push(Turn(text="one two three four", drop_after=3), Turn(text="never sent"))
    chunks: list[str] = []

    with pytest.raises(StreamDropped) as caught:
        ask(provider, stream=True, chunks=chunks)

    assert chunks == ["one ", "two "]
    assert str(caught.value).startswith(f"{MODEL}: stream dropped: ")
    assert sleeps == []


def test_stream_without_finish_reason_is_dropped(server, provider):
    events = (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"half"},"finish_reason":null}]}\n\n'
    )
    server.push(Raw(body=events, headers={"content-type": "text/event-stream"}))

    with pytest.raises(StreamDropped, match="before a finish_reason"):
        ask(provider, stream=True)


def test_count_tokens_is_a_calibrated_estimate(server, provider):
    messages = [Message.user("word " * 400)]
    before = provider.count_tokens("sys", messages, [])
    server.push(Turn(text="ok", input_tokens=1000))

    provider.complete("sys", messages, [])

    assert before == round(2003 / 3.5) + 8
    assert provider.count_tokens("sys", messages, []) > before  # learned: ~2 chars per token
    assert server.requests_to("count_tokens") == []
