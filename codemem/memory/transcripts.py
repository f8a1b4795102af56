"""Sessions as documents: JSON (stable keys) and Markdown (for people and pull requests)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemem.memory.recall import Transcript
    from codemem.memory.recall_rows import Message, Session


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def session_dict(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "started": _iso(session.started),
        "model": session.model,
        "title": session.title,
        "message_count": session.message_count,
        "last_message": _iso(session.last_message),
    }


def message_dict(message: Message) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "role": message.role,
        "content": message.content,
        "tool_calls": message.tool_calls,
        "tool_results": message.tool_results,
        "tokens": message.tokens,
        "created": _iso(message.created),
    }


def transcript_json(transcript: Transcript) -> str:
    data = session_dict(transcript.session)
    data["messages"] = [message_dict(message) for message in transcript.messages]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _fenced(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}json\n{text}\n{fence}"


def _when(moment: Any) -> str:
    """A time for people; a row whose time is unreadable (see `recall_rows`) says so."""
    return str(_iso(moment) or "unknown time")


def transcript_markdown(transcript: Transcript) -> str:
    session = transcript.session
    title = f"Session {session.id}" + (f": {session.title}" if session.title else "")
    lines = [f"# {title}", "", f"- Started: {_when(session.started)}"]
    if session.model:
        lines.append(f"- Model: {session.model}")
    lines += [f"- Messages: {len(transcript.messages)}", ""]
    for message in transcript.messages:
        tokens = f", {message.tokens} tokens" if message.tokens is not None else ""
        lines += [f"## {message.seq}. {message.role} ({_when(message.created)}{tokens})", ""]
        if message.content:
            lines += [message.content, ""]
        if message.tool_calls is not None:
            lines += ["Tool calls:", "", _fenced(message.tool_calls), ""]
        if message.tool_results is not None:
            lines += ["Tool results:", "", _fenced(message.tool_results), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
