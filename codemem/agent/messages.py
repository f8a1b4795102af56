"""Provider-neutral conversation values: what the loop builds and what providers return.

Every provider adapter translates these to and from its own wire format, so the loop, the
context manager and the transcript never see an SDK type.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "tool"]
# Ends an answer cut off mid-stream, so the model resuming the session and anyone reading
# or searching recall sees that it stopped there.
CUT_OFF = "[interrupted: the answer was cut off here]"


@dataclass
class ToolCall:
    """One tool call requested by the model.

    `parse_error` is set (and `arguments` is empty) when the model sent arguments that are
    not a JSON object; the loop hands that error back to the model instead of running the tool.
    """

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str = ""
    parse_error: str | None = None


@dataclass
class Message:
    """One turn of the conversation.

    `role="tool"` carries a tool result: `tool_call_id` names the call it answers and
    `is_error` says the tool failed. `interrupted` marks an assistant turn cut off while it
    streamed (Ctrl-C, SIGTERM, a broken stream): its content is the text that arrived, then
    `CUT_OFF`. The
    system prompt is not a message; it is passed to `Provider.complete` separately.
    """

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    is_error: bool = False
    interrupted: bool = False

    @classmethod
    def user(cls, text: str) -> Message:
        """A user turn."""
        return cls("user", text)

    @classmethod
    def assistant(cls, text: str = "", tool_calls: list[ToolCall] | None = None) -> Message:
        """An assistant turn, optionally with tool calls."""
        return cls("assistant", text, list(tool_calls or []))

    @classmethod
    def cut_off(cls, partial: str) -> Message:
        """The assistant turn a Ctrl-C, a signal or a broken stream stopped mid-stream: the
        text so far, marked."""
        return cls("assistant", f"{partial.rstrip()}\n\n{CUT_OFF}", interrupted=True)

    @classmethod
    def tool_result(cls, tool_call_id: str, content: str, *, is_error: bool = False) -> Message:
        """The result of running one tool call."""
        return cls("tool", content, tool_call_id=tool_call_id, is_error=is_error)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for transcripts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Rebuild a message saved with `to_dict`."""
        calls = [ToolCall(**call) for call in data.get("tool_calls") or []]
        return cls(
            role=data["role"],
            content=data.get("content") or "",
            tool_calls=calls,
            tool_call_id=data.get("tool_call_id"),
            is_error=bool(data.get("is_error", False)),
            interrupted=bool(data.get("interrupted", False)),
        )


@dataclass
class ToolSpec:
    """A tool offered to the model: name, description and a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass
class Usage:
    """Tokens one call used (or a running total).

    `input_tokens` counts only uncached input; the tokens the prompt occupied in the context
    window are `context_tokens` (uncached + cache reads + cache writes).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def context_tokens(self) -> int:
        """All prompt tokens, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass
class Response:
    """What one model call returned.

    `stop_reason` is normalized across providers: "end_turn", "tool_use", "max_tokens",
    "refusal", or the provider's own value for anything else.
    """

    message: Message
    stop_reason: str
    usage: Usage = field(default_factory=Usage)


def parse_tool_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse a tool call's JSON arguments: (arguments, None) or ({}, error message).

    Never raises: malformed JSON from the model is reported back to it, not to the user.
    """
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        snippet = raw if len(raw) <= 200 else raw[:200] + "..."
        return {}, f"arguments are not valid JSON ({exc.msg} at char {exc.pos}): {snippet}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}: {raw[:200]}"
    return value, None
