"""The session transcripts a sleep-time pass learns from: those recorded since the last pass.

Recall memory is local (`.codemem/local/recall.sqlite`), so the cursor is too: the time of the
newest message already read, in `.codemem/local/sleep.json`. Sessions are taken oldest first
until `sleep.session_chars` of transcript text; the rest wait for the next pass. A transcript
keeps what people said and what the agent answered (tool calls by name; tool results, which
are mostly file contents, are left out), each message cut to a bounded length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from codemem.infra import parse_when
from codemem.memory import Recall
from codemem.sleep.state import read_local_state
from codemem.workspace import Workspace

MESSAGE_CHARS = {"user": 2_000, "assistant": 1_200, "summary": 2_000}


@dataclass
class SessionText:
    """One session's new messages, rendered for the sleep-time agent."""

    id: str
    title: str | None
    last_message: datetime
    messages: int
    text: str


@dataclass
class NewSessions:
    """The sessions a pass takes, and the cursor to save once they are learned from."""

    sessions: list[SessionText] = field(default_factory=list)
    until: str | None = None  # ISO time of the newest message taken
    left: int = 0  # sessions with new messages left for a later pass (over the budget)


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return (
        text
        if len(text) <= limit
        else text[:limit].rstrip() + f" […{len(text) - limit:,} more characters]"
    )


def render_message(
    role: str, content: str, tool_calls: Any, created: datetime | None
) -> str | None:
    """One transcript line, or None for messages the agent does not need (tool results)."""
    when = created.strftime("%Y-%m-%d %H:%M") if created else "unknown time"
    if role not in MESSAGE_CHARS:
        return None
    text = _cut(content, MESSAGE_CHARS[role]) if content.strip() else ""
    calls = tool_calls if isinstance(tool_calls, list) else []
    names = [str(call.get("name")) for call in calls if isinstance(call, dict) and call.get("name")]
    if names:
        text += (" " if text else "") + f"(called {', '.join(names)})"
    if not text:
        return None
    label = "summary of earlier messages" if role == "summary" else role
    return f"[{when} UTC] {label}: {text}"


def read_new_sessions(ws: Workspace, since: str | None, max_chars: int) -> NewSessions:
    """Sessions with messages after `since` (oldest first), within `max_chars` of text.

    At least one session is taken even if it alone is longer (its text is then cut), so a
    long session cannot hold the cursor back for ever.
    """
    out = NewSessions()
    if not ws.recall_db.exists():
        return out
    start = parse_when(since)
    used = 0
    with Recall(ws) as recall:
        pending = sorted(
            (
                s
                for s in recall.list_sessions()
                if s.last_message is not None and (start is None or s.last_message > start)
            ),
            key=lambda s: (s.last_message, s.id),
        )
        for n, session in enumerate(pending):
            transcript = recall.get_session(session.id)
            lines = [
                line
                for m in transcript.messages
                # a message whose time is unreadable is new only to a first pass
                if start is None or (m.created is not None and m.created > start)
                if (line := render_message(m.role, m.content, m.tool_calls, m.created)) is not None
            ]
            title = f": {session.title}" if session.title else ""
            text = "\n".join([f"## Session {session.id}{title}", *lines])
            last = session.last_message
            assert last is not None  # `pending` holds only sessions with messages
            later = not out.sessions or last > out.sessions[-1].last_message
            if out.sessions and later and used + len(text) > max_chars:
                out.left = len(pending) - n
                break
            if len(text) > max_chars:
                text = _cut(text, max_chars)
            used += len(text)
            out.sessions.append(SessionText(session.id, session.title, last, len(lines), text))
            out.until = last.isoformat()
    return out


def pending_sessions(ws: Workspace) -> int:
    """Recall sessions with messages newer than the last ones learned from (never creates the DB)."""
    if not ws.recall_db.exists():
        return 0
    since = parse_when(read_local_state(ws).sessions_until)
    with Recall(ws) as recall:
        return sum(
            1
            for s in recall.list_sessions()
            if s.last_message is not None and (since is None or s.last_message > since)
        )
