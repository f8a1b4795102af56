"""Keeping tool results within a budget, with a note saying how to get the rest.

A result that is cut always says so, and says what call shows more, so the model never
mistakes a truncated listing for the whole thing.
"""

from __future__ import annotations

DEFAULT_MAX_CHARS = 20_000  # about 5k tokens per tool result
MAX_LINE_CHARS = 2_000


def truncate(text: str, max_chars: int, hint: str) -> str:
    """`text` cut to about `max_chars` at a line break, with a note ending in `hint`."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    if cut < max_chars // 2:
        cut = max_chars
    shown = text[:cut]
    return f"{shown.rstrip()}\n[output truncated: {len(text) - cut:,} more characters; {hint}]"


def head_tail(text: str, max_chars: int, hint: str) -> str:
    """The first and last parts of `text` (command output: the end usually matters)."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    head = text[:half]
    tail = text[-half:]
    head = head[: head.rfind("\n") + 1] or head
    newline = tail.find("\n")
    tail = tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail
    dropped = len(text) - len(head) - len(tail)
    return f"{head}[... {dropped:,} characters omitted; {hint} ...]\n{tail}"


def cut_line(line: str, limit: int = MAX_LINE_CHARS) -> str:
    """One line shortened to `limit` characters (minified code stays readable)."""
    return (
        line if len(line) <= limit else line[:limit] + f"… [{len(line) - limit:,} more characters]"
    )


def number_lines(lines: list[str], first: int) -> str:
    """Lines prefixed with their 1-based numbers, `  12\\ttext`, for citing `path:line`."""
    width = max(4, len(str(first + len(lines) - 1)))
    return "\n".join(f"{n:>{width}}\t{cut_line(line)}" for n, line in enumerate(lines, first))
