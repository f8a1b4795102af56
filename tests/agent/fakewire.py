"""Canned replies for `fakeserver` and how each provider's wire format renders them.

`Turn` (an answer), `Error` and `Raw` are what tests queue; the functions below turn a
`Turn` into an Anthropic Messages body or event stream, or an OpenAI Chat Completions body
or chunk stream, exactly as the real APIs shape them. Import these from `fakeserver`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

COUNT_TOKENS = "/v1/messages/count_tokens"

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
OPENAI_ERROR_CODES = {
    401: "invalid_api_key",
    404: "model_not_found",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}
FINISH_REASONS = {
    "end_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}
_ids = itertools.count(1)


@dataclass
class Call:
    """A tool call in a canned answer; `arguments` given as a str is sent verbatim."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass
class Turn:
    """A canned model answer: text and/or tool calls, with usage.

    `drop_after=n` (streaming only) sends the first n events, then cuts the connection in
    the middle of the chunked body; `stall_after=n` sends them, then nothing more while the
    connection stays open (a server that hangs mid-answer; 0: after the headers), or with
    `keepalive` only keep-alives (Anthropic's `ping` events, SSE comments for OpenAI);
    `every=s` waits s seconds before each event after the first (a server that trickles).
    """

    text: str = ""
    tool_calls: list[Call] = field(default_factory=list)
    stop_reason: str | None = None  # Anthropic spelling; default from the tool calls
    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    drop_after: int | None = None
    stall_after: int | None = None
    keepalive: bool = False
    every: float | None = None
    path: str | None = None

    @property
    def stop(self) -> str:
        return self.stop_reason or ("tool_use" if self.tool_calls else "end_turn")


@dataclass
class Error:
    """An error in the requesting provider's format (status, error type/code, headers).

    `in_stream=True` answers 200 and sends the error inside the event stream instead.
    """

    status: int
    message: str = "fake error"
    kind: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    in_stream: bool = False
    path: str | None = None


@dataclass
class Raw:
    """Any status, body (dict → JSON) and headers, sent as given; with `every=s`, the body
    a byte every s seconds (a server that trickles its answer)."""

    status: int = 200
    body: dict[str, Any] | str | bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    every: float | None = None

    def data(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return self.body.encode() if isinstance(self.body, str) else json.dumps(self.body).encode()


def tokens_reply(count: int) -> Raw:
    """A count_tokens answer."""
    return Raw(body={"input_tokens": count}, path=COUNT_TOKENS)


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):04d}"


def _tool_id(call: Call, prefix: str) -> str:
    if call.id is None:
        call.id = new_id(prefix)
    return call.id


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def error_body(flavor: str, error: Error) -> dict[str, Any]:
    """The JSON error body each provider sends."""
    if flavor == "anthropic":
        kind = error.kind or ANTHROPIC_ERROR_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}
    code = error.kind or OPENAI_ERROR_CODES.get(error.status)
    kind = "server_error" if error.status >= 500 else "invalid_request_error"
    return {"error": {"message": error.message, "type": kind, "param": None, "code": code}}


def error_events(flavor: str, error: Error) -> list[bytes]:
    """An error inside an event stream (after message_start, for Anthropic)."""
    body = error_body(flavor, error)
    if flavor == "anthropic":
        return [anthropic_events(Turn(), "fake-model")[0], sse(body, "error")]
    return [sse(body)]


# -- Anthropic ---------------------------------------------------------------------------------


def _anthropic_usage(turn: Turn) -> dict[str, int]:
    return {
        "input_tokens": turn.input_tokens,
        "output_tokens": turn.output_tokens,
        "cache_read_input_tokens": turn.cache_read_tokens,
        "cache_creation_input_tokens": turn.cache_write_tokens,
    }


def anthropic_message(turn: Turn, model: str) -> dict[str, Any]:
    """A Messages API response body."""
    content: list[dict[str, Any]] = []
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        arguments = call.arguments
        if isinstance(arguments, str):  # unparseable stays a string: adapters must cope
            with contextlib.suppress(ValueError):
                arguments = json.loads(arguments)
        block = {"type": "tool_use", "id": _tool_id(call, "toolu_"), "name": call.name}
        content.append({**block, "input": arguments})
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": turn.stop,
        "stop_sequence": None,
        "usage": _anthropic_usage(turn),
    }


def _block(kind: str, index: int, **fields: Any) -> bytes:
    return sse({"type": kind, "index": index, **fields}, kind)


def anthropic_events(turn: Turn, model: str) -> list[bytes]:
    """The Messages API event stream for a turn."""
    start = {**anthropic_message(turn, model), "content": [], "stop_reason": None}
    start["usage"] = {**_anthropic_usage(turn), "output_tokens": 1}
    events = [
        sse({"type": "message_start", "message": start}, "message_start"),
        sse({"type": "ping"}, "ping"),
    ]
    index = 0
    if turn.text:
        events.append(
            _block("content_block_start", index, content_block={"type": "text", "text": ""})
        )
        for piece in pieces(turn.text):
            delta = {"type": "text_delta", "text": piece}
            events.append(_block("content_block_delta", index, delta=delta))
        events.append(_block("content_block_stop", index))
        index += 1
    for call in turn.tool_calls:
        block = {"type": "tool_use", "id": _tool_id(call, "toolu_"), "name": call.name, "input": {}}
        events.append(_block("content_block_start", index, content_block=block))
        for part in json_parts(call.arguments):
            delta = {"type": "input_json_delta", "partial_json": part}
            events.append(_block("content_block_delta", index, delta=delta))
        events.append(_block("content_block_stop", index))
        index += 1
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": turn.stop, "stop_sequence": None},
        "usage": {"output_tokens": turn.output_tokens},
    }
    events.append(sse(delta, "message_delta"))
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return events


# -- OpenAI ------------------------------------------------------------------------------------


def _openai_usage(turn: Turn) -> dict[str, Any]:
    prompt = turn.input_tokens + turn.cache_read_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": turn.output_tokens,
        "total_tokens": prompt + turn.output_tokens,
        "prompt_tokens_details": {"cached_tokens": turn.cache_read_tokens},
    }


def openai_completion(turn: Turn, model: str) -> dict[str, Any]:
    """A Chat Completions response body."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": _tool_id(call, "call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": json_text(call.arguments)},
            }
            for call in turn.tool_calls
        ]
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": FINISH_REASONS.get(turn.stop, turn.stop),
    }
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{**choice, "logprobs": None}],
        "usage": _openai_usage(turn),
    }


def openai_events(turn: Turn, model: str, include_usage: bool) -> list[bytes]:
    """The Chat Completions chunk stream for a turn, ending with `[DONE]`."""
    head = {"id": new_id("chatcmpl-"), "object": "chat.completion.chunk", "created": 1_700_000_000}
    head["model"] = model

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return sse({**head, "choices": [choice]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces(turn.text)]
    for index, call in enumerate(turn.tool_calls):
        function = {"name": call.name, "arguments": ""}
        first = {
            "index": index,
            "id": _tool_id(call, "call_"),
            "type": "function",
            "function": function,
        }
        events.append(chunk({"tool_calls": [first]}))
        for part in json_parts(call.arguments):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            )
    events.append(chunk({}, FINISH_REASONS.get(turn.stop, turn.stop)))
    if include_usage:
        events.append(sse({**head, "choices": [], "usage": _openai_usage(turn)}))
    events.append(b"data: [DONE]\n\n")
    return events


# -- text helpers ------------------------------------------------------------------------------


def pieces(text: str) -> list[str]:
    """Text split the way models stream it: a word (and its trailing space) at a time."""
    return re.findall(r"\s*\S+\s*|\s+", text)


def json_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def json_parts(arguments: dict[str, Any] | str) -> list[str]:
    """Tool arguments as JSON cut into about three fragments, like streamed deltas."""
    text = json_text(arguments)
    if not text:
        return []
    third = max(1, len(text) // 3)
    return [text[i : i + third] for i in range(0, len(text), third)]
