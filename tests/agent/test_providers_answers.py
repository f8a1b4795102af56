"""Both SDK adapters when a server answers 200 with something that is no answer: an empty
body, a proxy's HTML page, a body that is not UTF-8, a stream that ends early.

Each is one typed, retried failure saying what came, never the SDK's parse error (which
reached the user as an internal error, `JSONDecodeError` or `AttributeError: 'str' object
has no attribute 'content'`).
"""

from __future__ import annotations

import json

import pytest
from fakeserver import Raw, Turn
from fakewire import anthropic_events, anthropic_message, openai_completion, openai_events

from codemem.agent.messages import Message
from codemem.agent.providers.anthropic import AnthropicProvider
from codemem.agent.providers.errors import ProviderUnavailable, StreamDropped
from codemem.agent.providers.models import lookup_model
from codemem.agent.providers.openai import OpenAIProvider
from codemem.agent.providers.retry import RetryPolicy

MODELS = {"anthropic": "anthropic/claude-sonnet-4-6", "openai": "openai/gpt-5"}
PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"
HTML = {"content-type": "text/html"}
SSE = {"content-type": "text/event-stream"}


@pytest.fixture(params=sorted(MODELS))
def flavor(request) -> str:
    return request.param


@pytest.fixture
def provider(flavor, server, sleeps):
    retry = RetryPolicy(max_attempts=2, sleep=sleeps.append, jitter=lambda: 0.0)
    model = MODELS[flavor]
    name = model.split("/", 1)[1]
    cls = AnthropicProvider if flavor == "anthropic" else OpenAIProvider
    url = server.url if flavor == "anthropic" else server.url + "/v1"
    return cls(model, name, lookup_model(name), api_key="k", base_url=url, retry=retry)


def whole(flavor: str, text: str) -> bytes:
    render = anthropic_message if flavor == "anthropic" else openai_completion
    return json.dumps(render(Turn(text=text), "m")).encode()


def streamed(flavor: str, text: str) -> bytes:
    events = (
        anthropic_events(Turn(text=text), "m")
        if flavor == "anthropic"
        else openai_events(Turn(text=text), "m", False)
    )
    return b"".join(events)


@pytest.mark.parametrize(
    ("body", "headers", "said"),
    [
        (b"", {}, "an empty body"),
        (PAGE, HTML, f"not JSON: {PAGE}"),
        (PAGE, {}, f"not JSON: {PAGE}"),  # sent as application/json
        ("not utf-8", {}, "not UTF-8 (byte 0xe9 at N)"),
    ],
    ids=["empty", "html", "html-as-json", "not-utf-8"],
)
def test_a_200_that_is_no_answer_is_said_as_such_and_retried(
    flavor, server, provider, sleeps, body, headers, said
):
    if body == "not utf-8":
        body = whole(flavor, "XX").replace(b"XX", b"caf\xe9")
        said = said.replace("N", str(body.index(b"\xe9")))
    server.push(*[Raw(body=body, headers=headers)] * 2)

    with pytest.raises(ProviderUnavailable) as caught:
        provider.complete("You are codemem.", [Message.user("hi")])

    assert str(caught.value) == (
        f"{MODELS[flavor]}: the server's answer is not one: {said} (gave up after 2 attempts)"
    )
    assert len(sleeps) == 1


def test_a_proxy_page_where_a_stream_was_asked_for_is_named(flavor, server, provider, sleeps):
    # It was "stream dropped: the stream ended before message_stop", retried as such.
    server.push(*[Raw(body=PAGE, headers=HTML)] * 2)

    with pytest.raises(ProviderUnavailable) as caught:
        provider.complete("You are codemem.", [Message.user("hi")], on_text=lambda _: None)

    assert str(caught.value) == (
        f"{MODELS[flavor]}: the server's answer is not one: text/html where an event stream "
        "was expected (gave up after 2 attempts)"
    )


def test_a_stream_not_in_utf_8_is_a_failure_of_the_server(flavor, server, provider, sleeps):
    body = streamed(flavor, "XX").replace(b"XX", b"caf\xe9")
    server.push(*[Raw(body=body, headers=SSE)] * 2)

    with pytest.raises((ProviderUnavailable, StreamDropped)) as caught:
        provider.complete("You are codemem.", [Message.user("hi")], on_text=lambda _: None)

    assert "the server's answer is not one: not UTF-8 (byte 0xe9 at " in str(caught.value)
    assert str(caught.value).endswith("(gave up after 2 attempts)")
