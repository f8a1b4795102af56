"""OpenAI Chat Completions adapter, also used for OpenAI-compatible servers by `base_url`.

Ollama, vLLM, LM Studio, llama.cpp and OpenRouter speak the same wire format with small
differences handled here: they get `max_tokens` instead of `max_completion_tokens`, may omit
tool-call ids or usage, and may stop with "stop" while calling tools.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import openai

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
    is_context_overflow,
    one_line,
    raise_own_error,
    root_cause,
    transport_errors,
)
from codemem.agent.providers.errors import (
    ProviderFailure,
    ProviderTimeout,
    ProviderUnavailable,
    StreamDropped,
)
from codemem.agent.providers.models import ModelInfo
from codemem.agent.providers.retry import RetryPolicy
from codemem.agent.providers.tokens import system_parts

TRANSPORT_ERRORS = transport_errors()
# What ends a stream early: the connection, or the silence `SDKProvider.watched` times out.
BROKEN_STREAM: tuple[type[BaseException], ...] = (ProviderTimeout, *TRANSPORT_ERRORS)
STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


def render_messages(system: System, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the Chat Completions shape; system parts join into one system message."""
    out: list[dict[str, Any]] = []
    parts = system_parts(system)
    if parts:
        out.append({"role": "system", "content": "\n\n".join(parts)})
    for message in messages:
        if message.role == "tool":
            out.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
            )
        elif message.role == "assistant":
            if not (message.content or message.tool_calls):
                continue  # an empty turn is refused by the API and says nothing: drop it
            turn: dict[str, Any] = {"role": "assistant", "content": message.content or None}
            if message.tool_calls:
                turn["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in message.tool_calls
                ]
            out.append(turn)
        else:
            out.append({"role": "user", "content": message.content})
    return out


def render_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tool definitions in the Chat Completions shape."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _usage(raw: Any) -> Usage | None:
    if raw is None or getattr(raw, "prompt_tokens", None) is None:
        return None
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    written = getattr(details, "cache_write_tokens", None) or 0
    return Usage(
        input_tokens=max(0, raw.prompt_tokens - cached - written),
        output_tokens=raw.completion_tokens or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


class OpenAIProvider(SDKProvider):
    """GPT models, or any OpenAI-compatible server, through the official `openai` SDK."""

    def __init__(
        self,
        model: str,
        api_model: str,
        info: ModelInfo,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        key_env: str | None = "OPENAI_API_KEY",
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        compatible: bool = False,
    ) -> None:
        # A server without keys still gets a placeholder: never the user's OPENAI_API_KEY.
        self.client = openai.OpenAI(
            api_key=api_key or "none",
            base_url=base_url,  # None: the SDK reads OPENAI_BASE_URL
            max_retries=0,
            timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT),
            default_headers=headers,
            http_client=openai.DefaultHttpxClient(**self.http_client_options()),
        )
        super().__init__(
            model, api_model, info, base_url=str(self.client.base_url), key_env=key_env, retry=retry
        )
        self.timeout = timeout
        self.deadline = deadline
        self.compatible = compatible

    def _attempt(
        self,
        system: System,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
        on_text: TextCallback | None,
    ) -> Response:
        params: dict[str, Any] = {
            "model": self.api_model,
            "messages": render_messages(system, messages),
            "max_tokens" if self.compatible else "max_completion_tokens": max_tokens,
            "timeout": self.request_timeout(),
        }
        if tools:
            params["tools"] = render_tools(tools)
        try:
            if on_text is None:
                response = self._parse(
                    self.answer_of(lambda: self.client.chat.completions.create(**params))
                )
            else:
                response = self._stream(params, on_text)
        except openai.APIStatusError as exc:
            raise self.status_error(
                exc.status_code, exc.body, exc.response.headers, exc.message
            ) from exc
        except openai.APIConnectionError as exc:  # its timeout error too
            raise_own_error(exc)
            timeout = isinstance(exc, openai.APITimeoutError) or self.cut_short()
            raise self.connection_error(exc, timeout=timeout) from exc
        if response.usage.context_tokens == 0:  # the server reported no usage: estimate it
            response.usage = Usage(
                input_tokens=self.estimator.estimate(system, messages, tools),
                output_tokens=self.estimator.text_tokens(
                    response.message.content
                    + "".join(c.raw_arguments for c in response.message.tool_calls)
                ),
            )
        return response

    def _parse(self, completion: Any) -> Response:
        if not completion.choices:
            raise ProviderUnavailable(
                f"{self.model}: the server returned an empty answer (no choices)"
            )
        choice = completion.choices[0]
        calls = []
        for raw_call in choice.message.tool_calls or []:
            function = getattr(raw_call, "function", None)
            if function is None:
                continue
            arguments, problem = parse_tool_arguments(function.arguments)
            calls.append(
                ToolCall(
                    raw_call.id or _call_id(),
                    function.name,
                    arguments,
                    function.arguments or "",
                    problem,
                )
            )
        message = Message.assistant(choice.message.content or "", calls)
        return Response(
            message, self._stop(choice.finish_reason, calls), _usage(completion.usage) or Usage()
        )

    def _stop(self, finish_reason: str | None, calls: list[ToolCall]) -> str:
        if finish_reason == "length":  # even with calls: the last one's arguments are cut off
            return "max_tokens"
        if calls:
            return "tool_use"
        return STOP_REASONS.get(finish_reason or "stop", finish_reason or "end_turn")

    def _stream(self, params: dict[str, Any], on_text: TextCallback) -> Response:
        text: list[str] = []
        slots: dict[int, dict[str, Any]] = {}
        usage: Usage | None = None
        finish_reason = None
        emitted = False
        stream = self.client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
        try:
            with stream:
                for chunk in self.watched(stream):
                    usage = _usage(getattr(chunk, "usage", None)) or usage
                    for choice in chunk.choices or []:
                        delta = choice.delta
                        if delta.content:
                            text.append(delta.content)
                            emitted = True
                            on_text(delta.content)
                        for part in delta.tool_calls or []:
                            # compatible servers may leave out index or id: be lenient
                            index = getattr(part, "index", None)
                            index = len(slots) if index is None else index
                            slot = slots.setdefault(index, {"id": "", "name": "", "args": []})
                            slot["id"] = getattr(part, "id", None) or slot["id"]
                            function = getattr(part, "function", None)
                            if function is not None:
                                slot["name"] = slot["name"] or function.name or ""
                                slot["args"].append(function.arguments or "")
                        finish_reason = choice.finish_reason or finish_reason
        except openai.APIStatusError:
            raise
        except openai.APIError as exc:  # an error object inside the stream, or a cut connection
            raise self._dropped(exc, emitted) from exc
        except BROKEN_STREAM as exc:
            raise self._dropped(exc, emitted) from exc
        except ValueError as exc:  # the SDK could not read a chunk: not UTF-8, not JSON
            raise self._dropped(self.unreadable(exc), emitted) from exc
        if finish_reason is None:
            raise self._dropped(
                self.ended_early("the stream ended before a finish_reason"), emitted
            )
        calls = []
        for index in sorted(slots):
            slot = slots[index]
            raw = "".join(slot["args"])
            arguments, problem = parse_tool_arguments(raw)
            calls.append(ToolCall(slot["id"] or _call_id(), slot["name"], arguments, raw, problem))
        message = Message.assistant("".join(text), calls)
        return Response(message, self._stop(finish_reason, calls), usage or Usage())

    def _dropped(self, cause: object, emitted: bool) -> ProviderFailure:
        """A failure mid-stream: an error object becomes a typed error if nothing was shown."""
        stalled = self.stalled(cause, emitted) if isinstance(cause, BaseException) else None
        if stalled is not None:
            return stalled
        if isinstance(cause, openai.APIError) and not isinstance(cause, openai.APIConnectionError):
            status = 400 if is_context_overflow(cause.message, str(cause.code or "")) else 500
            error = self.status_error(status, cause.body, None, cause.message)
            if not emitted:
                return error
            cause = error
        if isinstance(cause, ProviderFailure) and not emitted:
            return cause
        if isinstance(cause, ProviderFailure):
            detail = str(cause).removeprefix(f"{self.model}: ")
        else:
            detail = one_line(root_cause(cause), 160)
        return StreamDropped(f"{self.model}: stream dropped: {detail}", retryable=not emitted)
