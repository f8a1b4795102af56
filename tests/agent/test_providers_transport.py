"""Both SDK adapters when the server is unreachable, silent, stalls mid-stream or trickles.

Whether the answer is streamed (as `chat`, `ask` and `run` ask for it) or not, a server that
cannot be reached or sends nothing in time is tried once more and reported in one line; a
stream that stalls after its first text is cut off and never retried. Whatever the server
does, one call ends at its deadline, every try included.
"""

from __future__ import annotations

import socket
import time

import pytest
from fakeserver import Call, Error, Raw, Turn
from fakewire import anthropic_message, openai_completion

from codemem.agent.messages import Message
from codemem.agent.providers.anthropic import AnthropicProvider
from codemem.agent.providers.errors import (
    ConnectionFailed,
    ProviderFailure,
    ProviderTimeout,
    StreamDropped,
)
from codemem.agent.providers.models import lookup_model
from codemem.agent.providers.openai import OpenAIProvider
from codemem.agent.providers.retry import RetryPolicy

MODELS = {"anthropic": "anthropic/claude-sonnet-4-6", "openai": "openai/gpt-5"}
STREAMED = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
KEEPALIVE = pytest.mark.parametrize("keepalive", [False, True], ids=["silent", "keep-alives"])


@pytest.fixture(params=sorted(MODELS))
def flavor(request) -> str:
    return request.param


def base_url(flavor: str, root: str) -> str:
    """The SDK's base_url for a server at `root` (the OpenAI SDK's includes /v1)."""
    return root if flavor == "anthropic" else root + "/v1"


def make(flavor: str, url: str, sleeps: list[float], **kwargs):
    retry = RetryPolicy(max_attempts=3, sleep=sleeps.append, jitter=lambda: 0.0)
    model = MODELS[flavor]
    name = model.split("/", 1)[1]
    cls = AnthropicProvider if flavor == "anthropic" else OpenAIProvider
    return cls(model, name, lookup_model(name), api_key="k", base_url=url, retry=retry, **kwargs)


def ask(provider, stream: bool, chunks: list[str] | None = None):
    on_text = (chunks if chunks is not None else []).append if stream else None
    return provider.complete("You are codemem.", [Message.user("hi")], on_text=on_text)


@STREAMED
def test_a_silent_server_is_tried_once_more_then_reported(flavor, sleeps, stream):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = base_url(flavor, f"http://127.0.0.1:{silent.getsockname()[1]}")
        provider = make(flavor, url, sleeps, timeout=0.2)

        with pytest.raises(ProviderTimeout) as caught:
            ask(provider, stream)

    assert str(caught.value) == (
        f"{MODELS[flavor]}: no answer from {url} within 0.2 s (providers.{flavor}.timeout) "
        "(gave up after 2 attempts)"
    )
    assert len(sleeps) == 1


@STREAMED
def test_a_silent_server_is_given_up_at_the_deadline_every_try_included(flavor, sleeps, stream):
    # Each try waited the whole timeout (600 s by default, tried twice: 20 minutes).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = base_url(flavor, f"http://127.0.0.1:{silent.getsockname()[1]}")
        provider = make(flavor, url, sleeps, timeout=1.0, deadline=1.9)
        # A pause of 0.1 s between tries: the first try (its 1 s and the SDK's own time) may
        # take up to 1.8 s and still leave time to try again. (With 0.5 s, 1.4 s in all and
        # a first try of 0.8 s, a try slower by a tenth of a second on a loaded machine was
        # the last one.)
        provider.retry.base_delay = 0.2

        started = time.monotonic()
        with pytest.raises(ProviderTimeout) as caught:
            ask(provider, stream)
        took = time.monotonic() - started

    assert str(caught.value) == (
        f"{MODELS[flavor]}: no answer from {url} within 1.9 s (providers.{flavor}.deadline), "
        "all tries included"
    )
    assert sleeps == [0.1]  # tried again with the 0.9 s or less left, cut off at the deadline
    assert 1.85 < took < 10


def _whole(flavor: str, text: str) -> dict:
    model = MODELS[flavor].split("/", 1)[1]
    render = anthropic_message if flavor == "anthropic" else openai_completion
    return render(Turn(text=text), model)


def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_timeout(flavor, server, sleeps):
    # httpx's read timeout restarts with every byte: an answer sent a byte every 0.05 s held
    # the call for as long as the server liked, whatever the timeout said.
    url = base_url(flavor, server.url)
    provider = make(flavor, url, sleeps, timeout=0.5, deadline=30)
    server.push(*[Raw(body=_whole(flavor, "slow"), every=0.1)] * 2)  # 30 s a body

    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        ask(provider, stream=False)
    took = time.monotonic() - started

    assert str(caught.value) == (
        f"{MODELS[flavor]}: no answer from {url} within 0.5 s (providers.{flavor}.timeout) "
        "(gave up after 2 attempts)"
    )
    assert len(sleeps) == 1
    assert took < 10


def test_a_stream_trickled_an_event_at_a_time_is_cut_off_at_the_deadline(flavor, server, sleeps):
    # Every event restarted the wait: a server sending a word every 0.05 s held the answer
    # until it had nothing more to say.
    url = base_url(flavor, server.url)
    # The first event within the timeout however loaded the machine; the deadline well before
    # the stream's end.
    provider = make(flavor, url, sleeps, timeout=1.5, deadline=2.0)
    server.push(Turn(text=" ".join(["word"] * 400), every=0.05))
    chunks: list[str] = []

    started = time.monotonic()
    with pytest.raises(StreamDropped) as caught:
        ask(provider, stream=True, chunks=chunks)
    took = time.monotonic() - started

    assert str(caught.value) == (
        f"{MODELS[flavor]}: answer cut off: still streaming after 2 s (providers.{flavor}.deadline)"
    )
    assert 0 < len(chunks) < 400
    assert sleeps == []
    assert took < 10  # the whole stream takes 20 s


def test_no_retry_is_waited_for_past_the_deadline(flavor, server, sleeps):
    url = base_url(flavor, server.url)
    provider = make(flavor, url, sleeps, deadline=5)
    server.push(Error(529, "Overloaded", headers={"retry-after": "10"}))

    with pytest.raises(ProviderFailure) as caught:
        ask(provider, stream=False)

    assert str(caught.value).endswith(
        "(gave up after 1 attempt: no time left to try again within 5 s "
        f"(providers.{flavor}.deadline))"
    )
    assert sleeps == []


@STREAMED
def test_a_server_that_cannot_be_reached_is_tried_once_more(flavor, sleeps, stream):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = base_url(flavor, f"http://127.0.0.1:{closed.getsockname()[1]}")
    provider = make(flavor, url, sleeps)

    with pytest.raises(ConnectionFailed) as caught:
        ask(provider, stream)

    message = str(caught.value)
    assert message.startswith(f"{MODELS[flavor]}: cannot reach {url}: ")
    assert message.endswith("(gave up after 2 attempts)")
    assert len(sleeps) == 1


@KEEPALIVE
def test_a_stream_that_stalls_before_any_text_is_a_timeout(flavor, server, sleeps, keepalive):
    # The headers came, then nothing (or nothing but keep-alives, which restart httpx's read
    # timeout: they held the answer forever): no answer in time, tried once more, never five
    # times over as a dropped stream (with the default timeout, the best part of an hour).
    url = base_url(flavor, server.url)
    # 1 s, not less: the server's events before the stall must each arrive within it on a
    # loaded machine, or the stall is seen early
    provider = make(flavor, url, sleeps, timeout=1.0)
    server.push(
        Turn(text="never", stall_after=1, keepalive=keepalive),
        Turn(text="never", stall_after=0, keepalive=keepalive),
    )

    with pytest.raises(ProviderTimeout) as caught:
        ask(provider, stream=True)

    assert str(caught.value) == (
        f"{MODELS[flavor]}: no answer from {url} within 1 s (providers.{flavor}.timeout) "
        "(gave up after 2 attempts)"
    )
    assert len(sleeps) == 1


@KEEPALIVE
def test_a_stream_that_stalls_after_text_is_cut_off_and_not_retried(
    flavor, server, sleeps, keepalive
):
    # 1 s: the events up to the first text must each arrive within it, also under load
    provider = make(flavor, base_url(flavor, server.url), sleeps, timeout=1.0)
    # up to the text's first delta (Anthropic's comes after message_start, a ping and
    # content_block_start; OpenAI's after a chunk with the role)
    shown = 4 if flavor == "anthropic" else 2
    server.push(
        Turn(text="one two three", stall_after=shown, keepalive=keepalive),
        Turn(text="never sent"),
    )
    chunks: list[str] = []

    with pytest.raises(StreamDropped) as caught:
        ask(provider, stream=True, chunks=chunks)

    assert chunks == ["one "]
    assert str(caught.value) == (
        f"{MODELS[flavor]}: stream dropped: no data for 1 s (providers.{flavor}.timeout)"
    )
    assert sleeps == []


@STREAMED
def test_an_error_of_codemems_own_raised_while_waiting_is_not_a_connection_failure(
    flavor, sleeps, stream
):
    from codemem.review.errors import ReviewTimeout
    from codemem.review.limits import time_limit

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = base_url(flavor, f"http://127.0.0.1:{silent.getsockname()[1]}")
        provider = make(flavor, url, sleeps)

        with pytest.raises(ReviewTimeout) as caught, time_limit(0.3, "the model review"):
            ask(provider, stream)

    assert str(caught.value) == "the model review took longer than 0.3 s"
    assert sleeps == []  # not retried past the limit


def test_a_tool_call_the_output_limit_cut_short_is_named_as_such(flavor, server, make_agent):
    # A write larger than one answer may hold: its JSON ends mid-string. Told only that it is
    # not valid JSON, a model sends the same call again, cut at the same place, to the step
    # limit; told why, it writes less per call.
    from agent_helpers import Recorder

    cut = '{"path": "big.py", "content": "def f():\\n    return 1\\n\\ndef g'
    server.push(
        Turn(tool_calls=[Call("write_file", cut, id="call_1")], stop_reason="max_tokens"),
        Turn(text="I will write it in parts."),
    )
    provider = make(flavor, base_url(flavor, server.url), [])
    agent, _, _ = make_agent(None, provider=provider, observer=Recorder(stream=True))
    assert agent.run("Write big.py") == "I will write it in parts."
    result = agent.messages[2]
    assert (result.role, result.is_error) == ("tool", True)
    assert result.content == (
        "write_file: the answer reached the output limit (8,192 tokens) before this call's "
        "arguments were complete, so it was not run; send less per call (a long file: "
        "write_file a first part, then add the rest with edit_file)"
    )
    assert not (agent.context.ctx.ws.root / "big.py").exists()
