"""Putting an agent together for a workspace, and resuming sessions.

`create_agent` wires a provider to the tools, the context and recall memory. The chat lock
(`ChatLock`, `chat_running`) lives in `codemem.agent.chatlock` and is re-exported here.
"""

from __future__ import annotations

from codemem.agent.chatlock import ChatLock, chat_running
from codemem.agent.context import Context
from codemem.agent.loop import Agent, Limits, Observer
from codemem.agent.providers.base import Provider
from codemem.agent.tools.permissions import PermissionPolicy
from codemem.agent.tools.toolbox import ToolContext, build_tools
from codemem.agent.transcript import TranscriptWriter, load_conversation
from codemem.config import Config
from codemem.errors import UsageError
from codemem.workspace import Workspace

__all__ = ["ChatLock", "chat_running", "create_agent", "latest_session"]


def create_agent(
    ws: Workspace,
    config: Config,
    provider: Provider,
    *,
    read_only: bool = False,
    permissions: PermissionPolicy | None = None,
    observer: Observer | None = None,
    limits: Limits | None = None,
    resume: str | None = None,
    record: bool = True,
) -> Agent:
    """An agent on `ws` with `provider`; `resume` continues a recorded session (id or prefix).

    `record=False` keeps the conversation out of recall memory (and cannot resume).
    """
    from codemem.memory import Recall

    settings = config.agent
    permissions = permissions or PermissionPolicy(config.permissions)
    recall = Recall(ws) if record else None
    ctx = ToolContext(ws, config, permissions, settings, recall_store=recall)
    tools = build_tools(ctx, read_only=read_only)
    model = getattr(provider, "model", None)
    transcript = TranscriptWriter(recall, model)
    context = Context(provider, tools, ctx, read_only=read_only, settings=settings)
    if resume is not None:
        if recall is None:
            raise UsageError("cannot resume a session without recall memory")
        session_id, conversation, saved = load_conversation(recall, resume)
        context.conversation = conversation
        transcript = TranscriptWriter(recall, model, session_id, saved)
        ctx.session_id = session_id
    return Agent(
        provider,
        tools,
        context,
        transcript=transcript,
        limits=limits or Limits.from_settings(settings),
        observer=observer,
    )


def latest_session(ws: Workspace) -> str:
    """The id of the most recent recorded session (`--continue`)."""
    from codemem.memory import Recall

    if not ws.recall_db.exists():
        raise UsageError("no earlier session to continue: start one with `codemem chat`")
    with Recall(ws) as recall:
        sessions = recall.list_sessions()
    if not sessions:
        raise UsageError("no earlier session to continue: start one with `codemem chat`")
    return sessions[0].id
