"""Anthropic Messages API adapter: tool use, streaming, prompt caching, exact token counts.

Caching: the system prompt is sent as one text block per part with `cache_control` on the
last one, so tools + system (the stable prefix: instructions and memory blocks) are cached;
the last block of the conversation is marked too, so each step reads the previous steps
from the cache. Put text that changes every step in messages, not in the system parts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import anthropic

from codemem.agent.messages import (
    Message,
    Response,
    ToolCall,
    ToolSpec,
    Usage,
    parse_tool_arguments,
)
from codemem.agent.providers.base import (
    CONNECT_TIMEOUT,
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    SDKProvider,
    System,
    TextCallback,
    error_detail,
    one_line,
    raise_own_error,
    root_cause,
    transport_errors,
)
from codemem.agent.providers.errors import ProviderFailure, ProviderTimeout, StreamDropped
from codemem.agent.providers.models import ModelInfo
from codemem.agent.providers.retry import RetryPolicy
from codemem.agent.providers.tokens import system_parts

log = logging.getLogger("codemem")

TRANSPORT_ERRORS = transport_errors()
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    anthropic.APIConnectionError,
    *TRANSPORT_ERRORS,
)
API_ERRORS: tuple[type[BaseException], ...] = (anthropic.APIError, *TRANSPORT_ERRORS)
# What ends a stream early: the connection, or the silence `SDKProvider.watched` times out.
BROKEN_STREAM: tuple[type[BaseException], ...] = (ProviderTimeout, *CONNECTION_ERRORS)
CACHE = {"type": "ephemeral"}
# An error event inside a stream has no HTTP status of its own; map its type to one.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def render_messages(messages: Sequence[Message], cache: bool = True) -> list[dict[str, Any]]:
    """Messages in the Messages API shape; tool results and user text merge into user turns."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            for call in message.tool_calls:
                blocks.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                )
            if blocks:  # an empty turn is refused by the API and says nothing: drop it
                out.append({"role": "assistant", "content": blocks})
            continue
        if message.role == "user" and not message.content:
            continue
        if message.role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content or "(no output)",
            }
            if message.is_error:
                block["is_error"] = True
        else:
            block = {"type": "text", "text": message.content}
        if out and out[-1]["role"] == "user":
            out[-1]["content"].append(block)
        else:
            out.append({"role": "user", "content": [block]})
    for turn in out:  # tool results must open a user turn
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    if cache and out:
        out[-1]["content"][-1] = {**out[-1]["content"][-1], "cache_control": CACHE}
    return out


def render_request(
    model: str,
    system: System,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    cache: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for `client.messages.create` / `count_tokens` (without max_tokens)."""
    params: dict[str, Any] = {"model": model, "messages": render_messages(messages, cache)}
    parts = system_parts(system)
    if parts:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": part} for part in parts]
        if cache:
            blocks[-1]["cache_control"] = CACHE
        params["system"] = blocks
    if tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in tools
        ]
    return params


def _retirement(api_model: str) -> str | None:
    """The SDK's end-of-life date for a deprecated model (the SDK only warns per call)."""
    try:
        from anthropic.resources.messages.messages import DEPRECATED_MODELS
    except ImportError:  # pragma: no cover - moved in another SDK release
        return None
    return DEPRECATED_MODELS.get(api_model)


def _usage(raw: Any, into: Usage | None = None) -> Usage:
    usage = into or Usage()
    if raw is None:
        return usage
    if getattr(raw, "input_tokens", None) is not None:
        usage.input_tokens = raw.input_tokens
    if getattr(raw, "output_tokens", None) is not None:
        usage.output_tokens = raw.output_tokens
    if getattr(raw, "cache_read_input_tokens", None) is not None:
        usage.cache_read_tokens = raw.cache_read_input_tokens
    if getattr(raw, "cache_creation_input_tokens", None) is not None:
        usage.cache_write_tokens = raw.cache_creation_input_tokens
    return usage


class AnthropicProvider(SDKProvider):
    """Claude through the official `anthropic` SDK (SDK retries off; ours apply)."""

    def __init__(
        self,
        model: str,
        api_model: str,
        info: ModelInfo,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        base_url: str | None = None,
        key_env: str | None = "ANTHROPIC_API_KEY",
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        cache: bool = True,
    ) -> None:
        self.client = anthropic.Anthropic(
            # None: the SDK reads its own environment variable; "" with no token: no key at all
            api_key=None if auth_token else api_key or "",
            auth_token=auth_token or None,
            base_url=base_url,  # None: the SDK reads ANTHROPIC_BASE_URL
            max_retries=0,
            timeout=anthropic.Timeout(timeout, connect=CONNECT_TIMEOUT),
            default_headers=headers,
            http_client=anthropic.DefaultHttpxClient(**self.http_client_options()),
        )
        super().__init__(
            model, api_model, info, base_url=str(self.client.base_url), key_env=key_env, retry=retry
        )
        self.timeout = timeout
        self.deadline = deadline
        self.cache = cache
        self._exact_counts = True
        retiring = _retirement(api_model)
        if retiring:
            log.warning(
                "%s is deprecated (end of life %s): consider a newer model", model, retiring
            )

    def _attempt(
        self,
        system: System,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
        on_text: TextCallback | None,
    ) -> Response:
        params = render_request(self.api_model, system, messages, tools, self.cache)
        params["max_tokens"] = max_tokens
        params["timeout"] = self.request_timeout()
        try:
            if on_text is None:
                return self._parse(self.answer_of(lambda: self.client.messages.create(**params)))
            return self._stream(params, on_text)
        except anthropic.APIStatusError as exc:
            raise self.status_error(
                exc.status_code, exc.body, exc.response.headers, exc.message
            ) from exc
        except anthropic.APIConnectionError as exc:  # its timeout error too
            raise_own_error(exc)
            timeout = isinstance(exc, anthropic.APITimeoutError) or self.cut_short()
            raise self.connection_error(exc, timeout=timeout) from exc

    def _parse(self, message: Any) -> Response:
        if not isinstance(getattr(message, "content", None), list):
            raise self.not_an_answer("no content")
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                raw = block.input if isinstance(block.input, str) else json.dumps(block.input)
                arguments, problem = parse_tool_arguments(raw)
                calls.append(ToolCall(block.id, block.name, arguments, raw, problem))
        return Response(
            Message.assistant("".join(text), calls),
            message.stop_reason or "end_turn",
            _usage(message.usage),
        )

    def _stream(self, params: dict[str, Any], on_text: TextCallback) -> Response:
        text: list[str] = []
        tools: dict[int, tuple[str, str, list[str]]] = {}
        usage = Usage()
        stop_reason = None
        finished = emitted = False
        # Refused, or no answer in time, before the stream starts: `_attempt` says which.
        stream = self.client.messages.create(**params, stream=True)
        try:
            with stream:
                for event in self.watched(stream):
                    kind = event.type
                    if kind == "message_start":
                        _usage(event.message.usage, usage)
                    elif kind == "content_block_start" and event.content_block.type == "tool_use":
                        block = event.content_block
                        tools[event.index] = (block.id, block.name, [])
                    elif kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            text.append(delta.text)
                            emitted = True
                            on_text(delta.text)
                        elif delta.type == "input_json_delta" and event.index in tools:
                            tools[event.index][2].append(delta.partial_json)
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        _usage(event.usage, usage)
                    elif kind == "message_stop":
                        finished = True
        except anthropic.APIStatusError as exc:
            if exc.status_code < 400:  # an `event: error` inside the stream
                _, error_type = error_detail(exc.body, exc.message)
                status = _ERROR_STATUS.get(error_type, 500)
                error = self.status_error(status, exc.body, None, exc.message)
                raise self._dropped(error, emitted) from exc
            raise
        except BROKEN_STREAM as exc:
            raise self._dropped(exc, emitted) from exc
        except ValueError as exc:  # the SDK could not read an event: not UTF-8, not JSON
            raise self._dropped(self.unreadable(exc), emitted) from exc
        if not finished:
            raise self._dropped(self.ended_early("the stream ended before message_stop"), emitted)
        calls = []
        for block_id, name, parts in (tools[i] for i in sorted(tools)):
            raw = "".join(parts)
            arguments, problem = parse_tool_arguments(raw)
            calls.append(ToolCall(block_id, name, arguments, raw, problem))
        return Response(Message.assistant("".join(text), calls), stop_reason or "end_turn", usage)

    def _dropped(self, cause: object, emitted: bool) -> ProviderFailure:
        """A failure mid-stream: retried as itself if nothing was shown yet, else dropped."""
        stalled = self.stalled(cause, emitted) if isinstance(cause, BaseException) else None
        if stalled is not None:
            return stalled
        if isinstance(cause, ProviderFailure) and not emitted:
            return cause
        if isinstance(cause, ProviderFailure):
            detail = str(cause).removeprefix(f"{self.model}: ")
        else:
            detail = one_line(root_cause(cause), 160)
        return StreamDropped(f"{self.model}: stream dropped: {detail}", retryable=not emitted)

    def count_tokens(
        self, system: System, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()
    ) -> int:
        """Exact count from the count_tokens endpoint; an estimate if it is unavailable."""
        if self._exact_counts and messages:
            params = render_request(self.api_model, system, messages, tools, self.cache)
            try:
                return self.client.messages.count_tokens(**params, timeout=15.0).input_tokens
            except anthropic.NotFoundError:
                self._exact_counts = False  # a proxy without the endpoint: stop asking
            except API_ERRORS as exc:
                raise_own_error(exc)
                log.debug("count_tokens failed, estimating: %s", one_line(exc))
        return self.estimator.estimate(system, messages, tools)
