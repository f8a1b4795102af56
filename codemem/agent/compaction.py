"""Compaction: which of the oldest messages leave the context, and their summary.

Messages leave in whole groups: a user message, or an assistant message together with the
results of the tools it called (a call is never separated from its result). The most recent
group always stays, and so does the latest user message (the request being worked on), even
when the messages around it go. Evicted messages are already in recall memory; what stays in
the context is a summary, written by the model, or extractively if the model cannot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codemem.agent.messages import Message
from codemem.agent.prompts import summary_prompt
from codemem.agent.providers.base import Provider
from codemem.errors import ProviderError

log = logging.getLogger("codemem")

TEXT_CHARS = 2_000  # of a user or assistant message, in the text given to the summarizer
RESULT_CHARS = 600  # of a tool result
ARGUMENT_CHARS = 300  # of a tool call's arguments


@dataclass
class Compaction:
    """What one compaction did."""

    evicted: int  # messages removed from the context this time (0: the summary was not smaller)
    summary: str
    tokens_before: int
    tokens_after: int = 0
    summarized_by_model: bool = True


def last_user_index(history: Sequence[Message]) -> int | None:
    """The index of the latest user message: the request being worked on (kept in context)."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].role == "user":
            return index
    return None


def groups(history: Sequence[Message], start: int, pinned: int | None) -> list[tuple[int, int]]:
    """[begin, end) index ranges of the groups from `start`, skipping the pinned message."""
    out: list[tuple[int, int]] = []
    for index in range(start, len(history)):
        if index == pinned:
            continue
        if history[index].role == "tool" and out and out[-1][1] == index:
            out[-1] = (out[-1][0], index + 1)  # a result joins its call's group
        else:
            out.append((index, index + 1))
    return out


def eviction_boundary(
    history: Sequence[Message],
    start: int,
    excess_tokens: int,
    tokens_of: Callable[[Message], int],
    *,
    force: bool = False,
) -> int:
    """The new eviction boundary: history[start:boundary] (but the pinned message) leaves.

    Evicts the oldest groups until at least `excess_tokens` are freed, or with `force` every
    group but the last. Returns `start` when nothing can be evicted.
    """
    pinned = last_user_index(history)
    spans = groups(history, start, pinned)
    if len(spans) < 2:
        return start
    candidates = spans[:-1]  # the most recent group always stays
    if force:
        return candidates[-1][1]
    freed = 0
    boundary = start
    for begin, end in candidates:
        freed += sum(tokens_of(history[i]) for i in range(begin, end))
        boundary = end
        if freed >= excess_tokens:
            break
    return boundary


def _clip(text: str, limit: int) -> str:
    flat = text.strip()
    return (
        flat if len(flat) <= limit else flat[:limit] + f" [… {len(flat) - limit:,} more characters]"
    )


def render_transcript(messages: Sequence[Message], max_chars: int) -> str:
    """The messages as plain text for the summarizer, each clipped, the whole bounded."""
    lines: list[str] = []
    for message in messages:
        if message.role == "tool":
            status = "error" if message.is_error else "result"
            lines.append(f"[tool {status}] {_clip(message.content, RESULT_CHARS)}")
            continue
        if message.content.strip():
            lines.append(f"[{message.role}] {_clip(message.content, TEXT_CHARS)}")
        for call in message.tool_calls:
            arguments = _clip(call.raw_arguments or json.dumps(call.arguments), ARGUMENT_CHARS)
            lines.append(f"[{message.role} calls {call.name}] {arguments}")
    text = "\n".join(lines)
    if len(text) > max_chars:  # keep the newest part: it matters most for what comes next
        text = "[… older messages omitted …]\n" + text[-max_chars:]
    return text


def extractive_summary(previous: str, messages: Sequence[Message], max_chars: int) -> str:
    """A summary without a model: the user's words and the agent's, one short line each."""
    lines = [previous.strip()] if previous.strip() else []
    for message in messages:
        if message.role == "user" and message.content.strip():
            lines.append(f"- user: {_clip(' '.join(message.content.split()), 300)}")
        elif message.role == "assistant":
            if message.content.strip():
                lines.append(f"- assistant: {_clip(' '.join(message.content.split()), 300)}")
            calls = ", ".join(call.name for call in message.tool_calls)
            if calls:
                lines.append(f"- assistant used: {calls}")
    text = "\n".join(lines)
    return text if len(text) <= max_chars else "- …\n" + text[-(max_chars - 4) :]


def summarize(
    provider: Provider,
    previous: str,
    messages: Sequence[Message],
    max_chars: int,
    input_chars: int,
) -> tuple[str, bool]:
    """(summary of `previous` + `messages`, whether the model wrote it).

    Any provider failure falls back to the extractive summary: compaction must not fail.
    """
    transcript = render_transcript(messages, input_chars)
    request = (
        f"<previous_summary>\n{previous.strip() or '(none)'}\n</previous_summary>\n\n"
        f"<messages>\n{transcript}\n</messages>\n\nWrite the updated summary."
    )
    try:
        response = provider.complete(
            summary_prompt(max_chars), [Message.user(request)], [], max_tokens=max_chars // 3 + 256
        )
        text = response.message.content.strip()
    except ProviderError as exc:
        log.warning("could not summarize with the model (%s); keeping an extractive summary", exc)
        text = ""
    if not text:
        return extractive_summary(previous, messages, max_chars), False
    if len(text) > max_chars:
        text = text[:max_chars].rsplit("\n", 1)[0] + "\n- …"
    return text, True
