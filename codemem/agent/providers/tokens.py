"""Token estimates for providers that cannot count exactly, calibrated by real usage.

The estimate starts at ~3.5 characters per token (code and English prose through BPE
tokenizers) and then follows what the provider actually billed: every completed call
reports its prompt tokens, and the characters-per-token ratio moves toward the observed one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from codemem.agent.messages import Message, ToolSpec

MESSAGE_OVERHEAD = 4  # role markers and separators per message, in tokens
TOOL_OVERHEAD = 8  # per tool definition


def system_parts(system: str | Sequence[str] | None) -> list[str]:
    """The system prompt as a list of non-empty parts (stable prefix first)."""
    if system is None:
        return []
    if isinstance(system, str):
        return [system] if system else []
    return [part for part in system if part]


def prompt_chars(
    system: str | Sequence[str] | None, messages: Sequence[Message], tools: Sequence[ToolSpec]
) -> int:
    """Characters of text a request carries (content, tool arguments and schemas)."""
    total = sum(len(part) for part in system_parts(system))
    for message in messages:
        total += len(message.content)
        for call in message.tool_calls:
            total += len(call.name) + len(call.raw_arguments or json.dumps(call.arguments))
    for tool in tools:
        total += len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters))
    return total


@dataclass
class TokenEstimator:
    """Characters-per-token estimate that learns from the provider's usage reports."""

    chars_per_token: float = 3.5
    smoothing: float = 0.3
    minimum: float = 1.5
    maximum: float = 6.0

    def overhead(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        """Fixed tokens for message and tool framing."""
        return MESSAGE_OVERHEAD * (len(messages) + 1) + TOOL_OVERHEAD * len(tools)

    def estimate(
        self,
        system: str | Sequence[str] | None,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
    ) -> int:
        """Estimated prompt tokens of a request."""
        chars = prompt_chars(system, messages, tools)
        return round(chars / self.chars_per_token) + self.overhead(messages, tools)

    def text_tokens(self, text: str) -> int:
        """Estimated tokens of a plain string."""
        return round(len(text) / self.chars_per_token)

    def calibrate(self, chars: int, overhead: int, actual_tokens: int) -> None:
        """Move the ratio toward one observed (characters, billed prompt tokens) pair."""
        content_tokens = actual_tokens - overhead
        if chars < 200 or content_tokens <= 0:
            return  # too small to say anything about the tokenizer
        observed = min(self.maximum, max(self.minimum, chars / content_tokens))
        self.chars_per_token += self.smoothing * (observed - self.chars_per_token)
