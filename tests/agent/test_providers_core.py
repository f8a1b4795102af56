"""The provider-neutral parts: messages, retry policy, model table, meter, estimates, script."""

from __future__ import annotations

import logging

import pytest

from codemem.agent.messages import (
    Message,
    Response,
    ToolCall,
    ToolSpec,
    Usage,
    parse_tool_arguments,
)
from codemem.agent.providers import Provider
from codemem.agent.providers.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ProviderFailure,
    RateLimited,
)
from codemem.agent.providers.models import CostMeter, ModelInfo, lookup_model
from codemem.agent.providers.retry import RetryPolicy, parse_retry_after
from codemem.agent.providers.scripted import ScriptedProvider, tool_call, tool_call_response
from codemem.agent.providers.tokens import TokenEstimator
from codemem.config import AgentConfig, load_config
from codemem.errors import ConfigError, ProviderError

# -- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('{"path": "a.py"}', ({"path": "a.py"}, None)),
        ("", ({}, None)),
        ("  ", ({}, None)),
        (None, ({}, None)),
    ],
)
def test_parse_tool_arguments(raw, expected):
    assert parse_tool_arguments(raw) == expected


def test_parse_tool_arguments_never_raises():
    assert parse_tool_arguments('{"a": ') == (
        {},
        'arguments are not valid JSON (Expecting value at char 6): {"a": ',
    )
    assert parse_tool_arguments("42") == ({}, "arguments must be a JSON object, got int: 42")


def test_message_round_trips_through_a_dict():
    message = Message.assistant("hm", [ToolCall("c1", "grep", {"q": "x"}, '{"q": "x"}')])
    result = Message.tool_result("c1", "boom", is_error=True)

    assert Message.from_dict(message.to_dict()) == message
    assert Message.from_dict(result.to_dict()) == result


def test_usage_adds_and_knows_its_context_size():
    total = Usage(10, 2, 100, 5) + Usage(1, 1, 0, 0)

    assert total == Usage(11, 3, 100, 5)
    assert total.context_tokens == 116


# -- retry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers, expected):
    now = 1445412480.0  # 07:28:00 that day
    assert parse_retry_after(headers, now=now) == expected


def test_backoff_doubles_with_jitter_and_a_cap():
    low = RetryPolicy(base_delay=1, max_delay=5, jitter=lambda: 0.0)
    high = RetryPolicy(base_delay=1, max_delay=5, jitter=lambda: 0.999999)

    assert [low.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 2.5]
    assert [round(high.delay(n), 3) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert low.delay(1, retry_after=9) == 9
    assert low.delay(1, retry_after=500) is None


def test_run_retries_only_retryable_errors():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=4, sleep=sleeps.append, jitter=lambda: 0.0)
    outcomes = iter([RateLimited("r", retry_after=2), RateLimited("r"), "ok"])

    def attempt():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.run(attempt) == "ok"
    assert sleeps == [2, 1.0]

    def refused():
        raise AuthenticationFailed("no")

    with pytest.raises(AuthenticationFailed, match="^no$"):
        policy.run(refused)
    assert sleeps == [2, 1.0]


def test_connection_failures_get_one_retry():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=5, sleep=sleeps.append)

    def attempt():
        raise ConnectionFailed("cannot reach")

    with pytest.raises(ConnectionFailed, match=r"^cannot reach \(gave up after 2 attempts\)$"):
        policy.run(attempt)
    assert len(sleeps) == 1


def test_provider_failures_are_provider_errors():
    assert issubclass(ProviderFailure, ProviderError)


# -- model table and meter ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, window",
    [
        ("claude-sonnet-4-5-20250929", 200_000),
        ("claude-haiku-4-5", 200_000),
        ("anthropic/claude-sonnet-4.5", 200_000),
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("o4-mini", 200_000),
    ],
)
def test_lookup_finds_dated_and_aliased_names(name, window):
    info = lookup_model(name)
    assert (info.context_window, info.known, info.name) == (window, True, name)


def test_unknown_model_gets_a_conservative_default_and_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="codemem"):
        first = lookup_model("mystery-7b-test")
        lookup_model("mystery-7b-test")

    assert first == ModelInfo("mystery-7b-test", 32_768, 8_192, known=False)
    assert caplog.text.count("unknown model mystery-7b-test") == 1


def test_override_of_an_unknown_model_is_silent(caplog):
    overrides = AgentConfig(models={"silent-9b": {"context_window": 65536}}).models
    with caplog.at_level(logging.WARNING, logger="codemem"):
        info = lookup_model("silent-9b", overrides)

    assert info.context_window == 65536
    assert caplog.text == ""


def test_model_overrides_reject_non_mappings(tmp_path):
    project = tmp_path / "config.yml"
    project.write_text("agent:\n  models: [gpt-5]\n")
    with pytest.raises(
        ConfigError, match="config.yml: agent.models: Input should be a valid dictionary"
    ):
        load_config(project)


def test_cost_meter_sums_calls():
    meter = CostMeter()
    info = lookup_model("gpt-5")

    meter.add(Usage(1_000_000, 100_000, 0, 0), info)
    meter.add(Usage(0, 0, 1_000_000, 0), info)

    assert meter.usage == Usage(1_000_000, 100_000, 1_000_000, 0)
    assert meter.cost == pytest.approx(1.25 + 1.0 + 0.125)
    assert meter.summary() == "2,000,000 in (1,000,000 cached) / 100,000 out · $2.3750 · 2 calls"


# -- estimates ---------------------------------------------------------------------------------


def test_estimate_counts_text_tools_and_framing():
    estimator = TokenEstimator()
    tool = ToolSpec("t", "d", {"type": "object"})
    messages = [Message.user("x" * 70), Message.assistant("", [ToolCall("1", "t", {}, "{}")])]

    chars = 7 + 70 + 1 + 2 + 1 + 1 + len('{"type": "object"}')  # system, texts, call, tool
    assert estimator.estimate("s" * 7, messages, [tool]) == round(chars / 3.5) + 4 * 3 + 8


def test_calibration_moves_toward_the_observed_ratio():
    estimator = TokenEstimator()

    estimator.calibrate(chars=2000, overhead=0, actual_tokens=1000)  # 2 chars per token
    assert estimator.chars_per_token == pytest.approx(3.5 + 0.3 * (2.0 - 3.5))

    estimator.calibrate(chars=50, overhead=0, actual_tokens=1000)  # too small to learn from
    assert estimator.chars_per_token == pytest.approx(3.05)


# -- scripted provider -------------------------------------------------------------------------


def test_scripted_provider_plays_its_script_and_records_calls():
    call = tool_call("read_file", path="a.py")
    provider = ScriptedProvider([tool_call_response(call), "All done."])
    messages = [Message.user("fix it")]
    tools = [ToolSpec("read_file", "Read.")]

    first = provider.complete(["sys", "mem"], messages, tools, max_tokens=100)
    messages.append(first.message)
    chunks: list[str] = []
    second = provider.complete("sys", messages, tools, on_text=chunks.append)

    assert isinstance(provider, Provider)
    assert first.stop_reason == "tool_use"
    assert first.message.tool_calls == [call]
    assert (second.message.content, second.stop_reason) == ("All done.", "end_turn")
    assert chunks == ["All ", "done."]
    assert [c.system for c in provider.calls] == [["sys", "mem"], ["sys"]]
    assert provider.calls[0].messages == [Message.user("fix it")]  # a copy, not the live list
    assert [(c.max_tokens, c.streamed) for c in provider.calls] == [(100, False), (None, True)]
    assert provider.meter.calls == 2
    assert provider.remaining == 0


def test_scripted_provider_raises_scripted_errors_and_runs_functions():
    provider = ScriptedProvider(
        [
            RateLimited("scripted: rate limited"),
            lambda system, messages, tools: f"{len(messages)} messages",
            Response(Message.assistant("fixed"), "end_turn", Usage(5, 1)),
        ]
    )

    with pytest.raises(RateLimited, match="scripted: rate limited"):
        provider.complete("s", [Message.user("a")])
    assert provider.complete("s", [Message.user("a"), Message.user("b")]).message.content == (
        "2 messages"
    )
    assert provider.complete("s", []).usage == Usage(5, 1)
    with pytest.raises(ProviderFailure, match="no response left"):
        provider.complete("s", [])


def test_tool_call_ids_are_unique():
    assert tool_call("a").id != tool_call("a").id
