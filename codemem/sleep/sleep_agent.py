"""The sleep-time agent: a `codemem.agent` loop with only the memory tools.

It runs inside a digest pass (see `llm.learn`) on the session transcripts recorded
since the last pass: the user's preferences go to their `users/<slug>` block, project facts to
`project` or archival notes; and it consolidates memory (blocks under their limits by moving
detail to archival notes, duplicates merged, absolute dates). It cannot read or change code or
run commands (`build_tools(..., names=SLEEP_TOOLS)`: any other tool is refused as "not one of
this agent's tools"), and its block edits may not change codemem's marked regions
(`GuardedStore`). It reads memory as the pass left it and its edits are held with the pass's
own (`HeldStore`, `HeldArchive`), written with them as one set once HEAD is checked: a
checkout while the model thinks writes none of them. Its own conversation is not recorded in
recall memory, so a pass never gives the next one a session to learn from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.agent.context import Context
from codemem.agent.loop import Agent, AgentObserver, Limits, LimitsExceeded, Observer
from codemem.agent.tools.toolbox import ToolContext, build_tools
from codemem.agent.transcript import TranscriptWriter
from codemem.config import Config
from codemem.errors import MemoryEditError
from codemem.memory import (
    Archive,
    Block,
    BlockFormatError,
    FolderReads,
    MemoryStore,
    Note,
    parse_block,
)
from codemem.sleep.held import HeldWrites
from codemem.sleep.writer import Change
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.agent.messages import ToolCall
    from codemem.agent.providers import Provider
    from codemem.agent.tools.registry import ToolResult
    from codemem.sleep.llm import SleepModel
    from codemem.sleep.sessions import SessionText
    from codemem.sleep.writer import MemoryWriter

SLEEP_TOOLS = [
    "memory_append",
    "memory_replace",
    "memory_insert",
    "memory_rethink",
    "memory_create",
    "archival_insert",
    "archival_search",
    "conversation_search",
]
FULL_RATIO = 0.9  # a block this full is consolidated...
OWN_TEXT_RATIO = 0.5  # ...when this much of its limit is text outside codemem's regions
MARKER = "<!-- codemem:"
_REGION = re.compile(r"<!-- codemem:([\w-]+):start -->.*?<!-- codemem:\1:end -->", re.S)

SLEEP_PROMPT = """\
You are the sleep-time agent of codemem, working on the memory of the git repository
`{repo}`. Nobody is waiting for you: you run between coding sessions to keep the project's
memory true, small and useful. Today is {today}.

# Memory
Memory is plain Markdown in the repository's `.codemem/` folder, shared with the team by git.
- Core memory: the blocks in <memory_blocks> below, each with characters used / limit.
  `project` is what the project is, its architecture, how to build, test and run it;
  `conventions` is how the code is written; `{user_label}` holds the preferences and working
  style of the person who uses this machine.
- Archival memory: notes, found with archival_search and saved with archival_insert.
- Recall memory: past conversations, found with conversation_search.
You have only these memory tools: you cannot read or change code, or run commands.

# This pass
1. Learn from the new conversations you are given, and only from what they say:
   - the user's preferences (style, tools, how they like answers, what they dislike) go to
     `{user_label}` with memory_append (memory_create it first if it does not exist);
   - durable facts about the project (architecture, commands, decisions and why) go to
     `project`, or, when they are detailed, to an archival note with a few tags;
   - never invent or guess; skip small talk and one-off details of a task; search memory
     first (archival_search) and do not save what is already there.
2. Consolidate:
   - keep every block well under its limit: move detailed sections of a nearly full block to
     archival notes (archival_insert with the whole text) and leave a one-line pointer in the
     block; never drop information;
   - merge duplicate or overlapping lines so each thing is said once;
   - write absolute dates (2025-03-10), never "yesterday" or "last week": each message
     shows its date;
   - correct lines the conversations show to be wrong or out of date.
3. Never change text between `<!-- codemem:NAME:start -->` and `<!-- codemem:NAME:end -->`,
   nor the markers: codemem rewrites those regions itself, and an edit that changes one is
   refused. Edit the text around them.

Make small, exact edits (memory_replace, memory_append, memory_insert); use memory_rethink
only to reorganize a whole block. When you are done, answer without calling tools, in one or
two sentences saying what you changed, or "Nothing to change."
"""


def sleep_prompt(repo: str, user_label: str, today: str) -> str:
    """The sleep-time agent's system prompt."""
    return SLEEP_PROMPT.format(repo=repo, user_label=user_label, today=today)


def regions(value: str) -> list[str]:
    """codemem's marked regions in a block's value, markers included, in order."""
    return [m.group(0) for m in _REGION.finditer(value)]


class GuardedStore(MemoryStore):
    """A `MemoryStore` whose edits may not change, add or remove codemem's marked regions."""

    def _edit(
        self, label: str, change: Callable[[Block], str], *, keep_conflicts: bool = False
    ) -> Block:
        def guarded(block: Block) -> str:
            new = change(block)
            if regions(new) != regions(block.value) or new.count(MARKER) != block.value.count(
                MARKER
            ):
                raise MemoryEditError(
                    f"{label}: that edit changes a region codemem maintains (between "
                    "<!-- codemem:NAME:start --> and <!-- codemem:NAME:end -->); keep the "
                    "markers and the text between them exactly as they are and edit around them"
                )
            return new

        return super()._edit(label, guarded, keep_conflicts=keep_conflicts)

    def create(
        self,
        label: str,
        description: str,
        value: str = "",
        limit: int | None = None,
        read_only: bool = False,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> Block:
        if MARKER in value:
            raise MemoryEditError(f"{label}: a new block cannot contain codemem's region markers")
        return super().create(label, description, value, limit, read_only, extra=extra)


class HeldStore(GuardedStore):
    """A `GuardedStore` over the pass's held set (`MemoryWriter.held`): blocks read as the pass
    left them, edits and new blocks held with the pass's own."""

    def __init__(self, ws: Workspace, held: HeldWrites) -> None:
        super().__init__(ws)
        self.held = held

    def _text(self, label: str, path: Path, reads: FolderReads | None = None) -> str | None:
        block = self.held.block(label)
        return block.to_text() if block is not None else super()._text(label, path, reads)

    def scan(self) -> tuple[list[Block], list[BlockFormatError]]:
        blocks, problems = super().scan()
        return self.held.over_blocks(blocks), problems

    def _swap(
        self, label: str, path: Path, apply: Callable[[str | None], str], checked: str | None
    ) -> None:
        text = self._text(label, path)
        source = self._source(path)
        read = None if text is None else replace(parse_block(label, text, source), path=path)
        self.held.put_block(read, replace(parse_block(label, apply(text), source), path=path))


class HeldArchive(Archive):
    """The archive over the pass's held set: notes read as the pass left them, new ones held."""

    def __init__(self, ws: Workspace, writer: MemoryWriter) -> None:
        super().__init__(ws)
        self.writer = writer

    def notes(self) -> list[Note]:
        return self.writer.notes()

    def _save_new(self, note: Note) -> None:
        assert self.writer.held is not None  # the agent runs before the pass writes its set
        self.writer.held.add_note(note)


class SleepToolContext(ToolContext):
    """The tools' context: the guarded store and the archive, both over the held set."""

    def __init__(self, ws: Workspace, config: Config, writer: MemoryWriter, **kwargs: Any) -> None:
        super().__init__(ws, config, **kwargs)
        self.writer = writer

    @cached_property
    def store(self) -> MemoryStore:
        assert self.writer.held is not None  # the agent runs before the pass writes its set
        return HeldStore(self.ws, self.writer.held)

    @cached_property
    def archive(self) -> Archive:
        return HeldArchive(self.ws, self.writer)


@dataclass
class AgentReport:
    """What the sleep-time agent did in one pass."""

    steps: int = 0
    tool_calls: list[dict] = field(default_factory=list)  # {"name", "error"}
    answer: str = ""
    stopped: str | None = None  # why it stopped before a final answer
    processed: bool = False  # it worked through its input (finished, or stopped at a limit)

    def to_json(self) -> dict:
        return {
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "answer": self.answer,
            "stopped": self.stopped,
            "processed": self.processed,
        }


class _Recorder(AgentObserver):
    def __init__(self, report: AgentReport) -> None:
        self.report = report

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None:
        self.report.tool_calls.append({"name": call.name, "error": result.is_error})


def build_sleep_agent(
    ws: Workspace,
    config: Config,
    provider: Provider,
    writer: MemoryWriter,
    *,
    today: str,
    limits: Limits,
    observer: Observer | None = None,
) -> Agent:
    """An agent with only `SLEEP_TOOLS`, the sleep-time prompt, and no recall transcript; its
    memory is `writer`'s held set."""
    settings = config.agent.model_copy(update={"map_tokens": 0})
    ctx = SleepToolContext(ws, config, writer, settings=settings)
    tools = build_tools(ctx, names=SLEEP_TOOLS)
    instructions = sleep_prompt(ws.root.name, ctx.store.user_label, today)
    context = Context(provider, tools, ctx, settings=settings, instructions=instructions)
    transcript = TranscriptWriter(None, getattr(provider, "model", None))
    return Agent(provider, tools, context, transcript=transcript, limits=limits, observer=observer)


def full_blocks(writer: MemoryWriter) -> list[Block]:
    """Blocks over `FULL_RATIO` of their limit with much text outside codemem's regions (as
    the pass left them)."""
    out = []
    for block in writer.blocks():
        if block.label == "personal" or block.read_only:
            continue
        own = len(_REGION.sub("", block.value))
        if block.chars > FULL_RATIO * block.limit and own > OWN_TEXT_RATIO * block.limit:
            out.append(block)
    return out


def agent_task(today: str, sessions: list[SessionText], full: list[Block]) -> str:
    """The user turn of one pass: the new conversations and the blocks to consolidate."""
    lines = [f"Sleep-time pass of {today}.", ""]
    if sessions:
        lines += ["New conversations since the last pass (oldest first):", "", "<conversations>"]
        lines += [s.text for s in sessions]
        lines += ["</conversations>"]
    else:
        lines.append("No new conversations since the last pass.")
    if full:
        lines += [
            "",
            "Nearly full blocks to consolidate: "
            + ", ".join(f"{b.label} ({b.chars:,} / {b.limit:,} characters)" for b in full),
        ]
    return "\n".join(lines)


# Memory as the agent found it: block values by label, (content, tags) of notes by id.
Snapshot = tuple[dict[str, str], dict[str, tuple[str, tuple[str, ...]]]]


def _snapshot(writer: MemoryWriter) -> Snapshot:
    blocks = {b.label: b.value for b in writer.blocks() if b.label != "personal"}
    notes = {n.id: (n.content, tuple(n.tags)) for n in writer.notes()}
    return blocks, notes


def _changes(before: Snapshot, after: Snapshot) -> list[Change]:
    (blocks0, notes0), (blocks1, notes1) = before, after
    out = [
        Change("block", label, "sleep-time agent")
        for label in sorted(blocks1)
        if blocks0.get(label) != blocks1[label]
    ]
    out += [
        Change("note-added", i, ", ".join(notes1[i][1])) for i in sorted(notes1) if i not in notes0
    ]
    out += [
        Change("note-updated", i) for i in sorted(notes1) if i in notes0 and notes0[i] != notes1[i]
    ]
    out += [Change("note-deleted", i) for i in sorted(notes0) if i not in notes1]
    return out


def run_sleep_agent(
    ws: Workspace,
    config: Config,
    model: SleepModel,
    writer: MemoryWriter,
    sessions: list[SessionText],
    full: list[Block],
    now: datetime,
) -> AgentReport:
    """Run the agent once on `sessions` and `full`; its edits are held in `writer` (written
    with the pass's, `MemoryWriter.write_held`) and added to `writer.changes`.

    A provider failure or a limit ends the run with a warning, never the pass.
    """
    settings = model.settings
    report = AgentReport()
    today = now.date().isoformat()
    limits = Limits(settings.agent_max_steps, model.budget_left, settings.agent_max_seconds)
    agent = build_sleep_agent(
        ws, config, model.provider, writer, today=today, limits=limits, observer=_Recorder(report)
    )
    before = _snapshot(writer)
    try:
        report.answer = agent.run(agent_task(today, sessions, full))
        report.processed = True
    except LimitsExceeded:
        report.stopped, report.processed = "limit", True
        model.warnings.append(
            f"the sleep-time agent stopped at a limit after {agent.steps} model calls (raise "
            "sleep.agent_max_steps, sleep.agent_max_seconds or sleep.max_cost); the sessions "
            "it was given count as learned from"
        )
    except Exception as exc:  # a model failure (or an adapter's bug) never fails the pass
        report.stopped = "error"
        model.failed("sleep-time agent (sessions left for the next pass)", exc)
    finally:
        report.steps = agent.steps
        if agent.context.ctx.recall_store is not None:
            agent.context.ctx.recall_store.close()
        writer.changes += _changes(before, _snapshot(writer))
    return report
