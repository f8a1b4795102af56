"""Helpers for the model-path tests of the sleep-time pass (imported by name)."""

from __future__ import annotations

from datetime import datetime

from sleep_helpers import NOW, config

from codemem.memory import Archive, Recall
from codemem.sleep import DigestOptions, run_digest
from codemem.workspace import Workspace


def model_digest(ws: Workspace, provider, cfg=None, **options):
    """One pass with `provider` standing in for the configured model."""
    return run_digest(
        ws, cfg or config(), DigestOptions(**options), now=lambda: NOW, provider=provider
    )


def add_session(ws: Workspace, title: str, messages: list[tuple[str, str]], when: datetime) -> str:
    """A recorded chat session whose messages are all stamped `when`; returns its id."""
    with Recall(ws, clock=lambda: when) as recall:
        session = recall.start_session("anthropic/claude-sonnet-4-5", title)
        for role, content in messages:
            recall.add_message(session, role, content)
    return session


def block_file(ws: Workspace, label: str) -> str:
    return (ws.blocks_dir / f"{label}.md").read_text(encoding="utf-8")


def notes(ws: Workspace) -> list[tuple[str, list[str], str | None]]:
    """(content, tags, source) of every archival note, oldest first."""
    return [(n.content, n.tags, n.source) for n in Archive(ws).notes()]


def note_ids(ws: Workspace) -> list[str]:
    return [n.id for n in Archive(ws).notes()]


def tool_results(call) -> list[tuple[str, bool]]:
    """(content, is_error) of the tool results at the end of a recorded model call."""
    out = []
    for message in reversed(call.messages):
        if message.role != "tool":
            break
        out.append((message.content, message.is_error))
    return out[::-1]
