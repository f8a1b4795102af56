"""The Anthropic adapter against a local server speaking the Messages API, via the real SDK."""

from __future__ import annotations

import pytest
from fakeserver import COUNT_TOKENS, Call, Error, Raw, Turn, tokens_reply

from codemem.agent.messages import Message, Response, ToolCall, ToolSpec, Usage
from codemem.agent.providers.anthropic import AnthropicProvider
from codemem.agent.providers.errors import (
    AuthenticationFailed,
    ContextOverflow,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
    StreamDropped,
)
from codemem.agent.providers.models import lookup_model
from codemem.agent.providers.retry import RetryPolicy

MODEL = "anthropic/claude-sonnet-4-6"
READ_FILE = ToolSpec(
    "read_file",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def make(url: str, sleeps: list[float], **kwargs) -> AnthropicProvider:
    retry = RetryPolicy(max_attempts=3, sleep=sleeps.append, jitter=lambda: 0.0)
    return AnthropicProvider(
        MODEL,
        "claude-sonnet-4-6",
        lookup_model("claude-sonnet-4-6"),
        api_key="test-key",
        base_url=url,
        retry=retry,
        **kwargs,
    )


@pytest.fixture
def provider(server, sleeps):
    return make(server.anthropic_url, sleeps)


def ask(provider, stream=False, chunks=None, tools=(READ_FILE,)):
    on_text = (chunks.append if chunks is not None else lambda _: None) if stream else None
    return provider.complete(
        ["You are codemem.", "<memory>"], [Message.user("hi")], list(tools), on_text=on_text
    )


def test_plain_answer_sends_cached_system_blocks(server, provider):
    server.push(Turn(text="Hello there", input_tokens=12, output_tokens=3))

    response = ask(provider)

    assert response == Response(Message.assistant("Hello there"), "end_turn", Usage(12, 3))
    body = server.last.body
    assert server.last.path == "/v1/messages"
    assert body["model"] == "claude-sonnet-4-6"
    assert body["max_tokens"] == 8192
    assert "stream" not in body
    assert body["system"] == [
        {"type": "text", "text": "You are codemem."},
        {"type": "text", "text": "<memory>", "cache_control": {"type": "ephemeral"}},
    ]
    assert body["tools"] == [
        {"name": "read_file", "description": "Read a file.", "input_schema": READ_FILE.parameters}
    ]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
        }
    ]
    assert server.last.headers["authorization"] == "Bearer test-key"


def test_streamed_answer_calls_on_text_per_delta(server, provider):
    server.push(Turn(text="Hello streaming world", input_tokens=7, output_tokens=4))
    chunks: list[str] = []

    response = ask(provider, stream=True, chunks=chunks)

    assert chunks == ["Hello ", "streaming ", "world"]
    assert response == Response(Message.assistant("Hello streaming world"), "end_turn", Usage(7, 4))
    assert server.last.body["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls(server, provider, stream):
    server.push(
        Turn(
            text="Let me look.",
            tool_calls=[
                Call("read_file", {"path": "app.py"}, id="toolu_1"),
                Call("read_file", {"path": "b.py"}, id="toolu_2"),
            ],
        )
    )

    response = ask(provider, stream=stream)

    assert response.stop_reason == "tool_use"
    assert response.message.content == "Let me look."
    assert response.message.tool_calls == [
        ToolCall("toolu_1", "read_file", {"path": "app.py"}, '{"path": "app.py"}'),
        ToolCall("toolu_2", "read_file", {"path": "b.py"}, '{"path": "b.py"}'),
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_tool_arguments_become_a_parse_error(server, provider, stream):
    server.push(Turn(tool_calls=[Call("read_file", '{"path": "a.py"', id="toolu_9")]))

    response = ask(provider, stream=stream)

    (call,) = response.message.tool_calls
    assert (call.id, call.name, call.arguments, call.raw_arguments) == (
        "toolu_9",
        "read_file",
        {},
        '{"path": "a.py"',
    )
    assert call.parse_error.startswith("arguments are not valid JSON")


def test_conversation_is_rendered_with_merged_tool_results(server, provider):
    server.push(Turn(text="ok"))
    call = ToolCall("toolu_1", "read_file", {"path": "a.py"}, '{"path": "a.py"}')
    messages = [
        Message.user("fix it"),
        Message.assistant("Reading.", [call]),
        Message.tool_result("toolu_1", "print(1)"),
        Message.tool_result("toolu_2", "no such file", is_error=True),
        Message.assistant(""),  # empty turns are dropped
        Message.user("and hurry"),
    ]

    provider.complete("sys", messages, [])

    assert server.last.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "fix it"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read_file",
                    "input": {"path": "a.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "print(1)"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "no such file",
                    "is_error": True,
                },
                {"type": "text", "text": "and hurry", "cache_control": {"type": "ephemeral"}},
            ],
        },
    ]
    assert "tools" not in server.last.body


def test_cache_usage_is_counted_and_priced(server, provider):
    server.push(
        Turn(
            text="ok",
            input_tokens=100,
            output_tokens=10,
            cache_read_tokens=1000,
            cache_write_tokens=2000,
        )
    )

    response = ask(provider)

    assert response.usage == Usage(100, 10, 1000, 2000)
    assert response.usage.context_tokens == 3100
    # $3 in, $15 out, $0.30 cache read, $3.75 cache write per Mtok
    expected = (100 * 3 + 10 * 15 + 1000 * 0.3 + 2000 * 3.75) / 1_000_000
    assert provider.meter.cost == pytest.approx(expected)
    assert provider.meter.calls == 1


def test_429_waits_for_retry_after_then_succeeds(server, provider, sleeps):
    server.push(Error(429, "slow down", headers={"retry-after": "7"}), Turn(text="ok"))

    assert ask(provider).message.content == "ok"
    assert sleeps == [7.0]
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_back_off_then_succeed(server, provider, sleeps, status):
    server.push(Error(status, "boom"), Error(status, "boom"), Turn(text="ok"))

    assert ask(provider, stream=True).message.content == "ok"
    assert sleeps == [0.5, 1.0]  # base 1s doubling, jitter factor 0.5


def test_overloaded_error_inside_the_stream_is_retried(server, provider, sleeps):
    server.push(Error(529, "Overloaded", in_stream=True), Turn(text="ok"))

    assert ask(provider, stream=True).message.content == "ok"
    assert sleeps == [0.5]


def test_gives_up_after_max_attempts(server, provider, sleeps):
    server.push(*[Error(529, "Overloaded")] * 3)

    with pytest.raises(ProviderUnavailable) as caught:
        ask(provider)

    assert str(caught.value) == (
        f"{MODEL}: overloaded (529): Overloaded (gave up after 3 attempts)"
    )
    assert len(sleeps) == 2


def test_retry_after_beyond_max_wait_is_not_waited_for(server, provider, sleeps):
    server.push(Error(429, "daily limit", headers={"retry-after": "86400"}))

    with pytest.raises(RateLimited) as caught:
        ask(provider)
    assert str(caught.value) == (
        f"{MODEL}: rate limited (429): daily limit (the server asks to wait 86,400 s before "
        "trying again; codemem waits at most 120 s)"
    )
    assert sleeps == []


def test_401_is_a_one_line_authentication_error(server, provider, sleeps):
    server.push(Error(401, "invalid x-api-key"))

    with pytest.raises(AuthenticationFailed) as caught:
        ask(provider)

    assert str(caught.value) == (
        f"{MODEL}: authentication failed (401): invalid x-api-key; check ANTHROPIC_API_KEY"
    )
    assert sleeps == []


def test_unknown_model_404(server, provider):
    server.push(Error(404, "model: claude-sonnet-4-6"))

    with pytest.raises(ModelNotFound) as caught:
        ask(provider)

    assert str(caught.value) == (
        f"{MODEL}: model not found at {server.url} (404): model: claude-sonnet-4-6; "
        "check --model and the provider's base_url"
    )


@pytest.mark.parametrize(
    "message",
    [
        "prompt is too long: 212000 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 190000 + 21333 > 200000",
    ],
)
def test_context_overflow_is_detected_and_not_retried(server, provider, sleeps, message):
    server.push(Error(400, message))

    with pytest.raises(ContextOverflow, match="does not fit the context window"):
        ask(provider)
    assert sleeps == []


def test_stream_dropped_after_text_is_not_retried(server, provider, sleeps):
    server.push(Turn(text="one two three four", drop_after=5), Turn(text="never sent"))
    chunks: list[str] = []

    with pytest.raises(StreamDropped) as caught:
        ask(provider, stream=True, chunks=chunks)

    assert chunks == ["one ", "two "]
    assert str(caught.value).startswith(f"{MODEL}: stream dropped: ")
    assert "\n" not in str(caught.value)
    assert sleeps == []


def test_stream_dropped_before_any_text_is_retried(server, provider, sleeps):
    server.push(Turn(text="lost", drop_after=2), Turn(text="ok"))

    assert ask(provider, stream=True).message.content == "ok"
    assert len(sleeps) == 1


def test_count_tokens_is_exact_when_the_endpoint_answers(server, provider):
    server.push(tokens_reply(1234))

    assert provider.count_tokens("sys", [Message.user("hi")], [READ_FILE]) == 1234
    body = server.requests_to(COUNT_TOKENS)[0].body
    assert body["model"] == "claude-sonnet-4-6"
    assert body["tools"][0]["name"] == "read_file"
    assert "max_tokens" not in body


def test_count_tokens_falls_back_to_an_estimate(server, provider):
    server.push(Error(404, "not found", path=COUNT_TOKENS))
    messages = [Message.user("x" * 350)]
    estimate = provider.estimator.estimate("sys", messages, [])

    assert provider.count_tokens("sys", messages, []) == estimate
    assert provider.count_tokens("sys", messages, []) == estimate
    assert len(server.requests_to(COUNT_TOKENS)) == 1  # a 404 means: stop asking


def test_count_tokens_survives_a_server_error(server, provider):
    server.push(
        Raw(
            500,
            {"type": "error", "error": {"type": "api_error", "message": "x"}},
            path=COUNT_TOKENS,
        ),
        tokens_reply(99),
    )

    assert provider.count_tokens("s", [Message.user("hi")], []) == provider.estimator.estimate(
        "s", [Message.user("hi")], []
    )
    assert provider.count_tokens("s", [Message.user("hi")], []) == 99


def test_caching_can_be_switched_off(server, sleeps):
    provider = make(server.anthropic_url, sleeps, cache=False)
    server.push(Turn(text="ok"))

    ask(provider)

    assert "cache_control" not in str(server.last.body)
