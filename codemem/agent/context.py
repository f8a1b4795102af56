"""The agent's main context: what each request to the model carries, within the window.

System parts, most stable first (providers cache a request's unchanged prefix):

1. the system prompt (instructions; changes never within a session),
2. the core memory blocks with characters used / limit, re-read from disk at every step, so
   edits by other processes show up and nothing is lost by a compaction,
3. memory statistics (archival notes, recall messages, what was evicted) and, from
   `pressure_at` (0.75) of the window, the memory-pressure note,
4. the token-budgeted repo map (re-rendered only when the index changed),
5. the summary of evicted messages;

then the recent messages. Over `compact_at` (0.9) of the usable window (the context window
less the room kept for the answer), the oldest messages are summarized and evicted down to
`compact_to` (0.7); see `compaction`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from codemem.agent.compaction import Compaction, eviction_boundary, last_user_index, summarize
from codemem.agent.messages import Message, ToolSpec
from codemem.agent.prompts import RESUMED_NOTE, pressure_note, system_prompt
from codemem.agent.providers.base import DEFAULT_MAX_TOKENS, Provider
from codemem.agent.providers.tokens import TokenEstimator
from codemem.agent.tools.registry import ToolRegistry
from codemem.agent.tools.toolbox import ToolContext
from codemem.config import AgentConfig
from codemem.errors import CodememError

log = logging.getLogger("codemem")

EXACT_COUNT_FROM = 0.85  # of the compaction threshold: ask the provider for an exact count


@dataclass
class Prompt:
    """One request: system parts, messages, tools, and its size in tokens."""

    system: list[str]
    messages: list[Message]
    tools: list[ToolSpec]
    tokens: int
    window: int  # usable tokens (context window less the room kept for the answer)

    @property
    def ratio(self) -> float:
        return self.tokens / self.window if self.window else 0.0


@dataclass
class Conversation:
    """Every message of the session, and how many of the oldest left the context."""

    history: list[Message] = field(default_factory=list)
    evicted: int = 0
    summary: str = ""

    def visible(self) -> list[Message]:
        """The messages in context: the pinned request (if evicted around) and the recent ones."""
        pinned = last_user_index(self.history)
        head = [self.history[pinned]] if pinned is not None and pinned < self.evicted else []
        return head + self.history[self.evicted :]


class Context:
    """Assembles each step's request and keeps it within the model's window."""

    def __init__(
        self,
        provider: Provider,
        tools: ToolRegistry,
        tool_context: ToolContext,
        *,
        read_only: bool = False,
        settings: AgentConfig | None = None,
        conversation: Conversation | None = None,
        instructions: str | None = None,
    ) -> None:
        self.provider = provider
        self.tools = tools
        self.ctx = tool_context
        self.settings = settings or tool_context.settings
        self.conversation = conversation or Conversation()
        self.estimator: TokenEstimator = getattr(provider, "estimator", None) or TokenEstimator()
        self.instructions = instructions or system_prompt(
            tool_context.ws.root.name, tool_context.store.user_label, read_only
        )
        self.read_only = read_only
        self._notes: tuple[object, int] | None = None  # (stamp, count)
        self._recall_stats: str | None = None

    def new_conversation(self) -> None:
        """Forget the conversation (not the memory): `/clear`."""
        self.conversation = Conversation()
        self._recall_stats = None

    # -- sizes ----------------------------------------------------------------------------

    @property
    def output_limit(self) -> int:
        """Tokens one answer may take (`agent.max_output_tokens`, else the provider's default)."""
        info = self.provider.info
        return self.settings.max_output_tokens or min(info.max_output, DEFAULT_MAX_TOKENS)

    @property
    def window(self) -> int:
        """Usable prompt tokens: the context window less the room kept for the answer."""
        return max(1_000, self.provider.info.context_window - self.output_limit)

    def count(
        self, system: Sequence[str], messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int:
        """Prompt tokens: a calibrated estimate, exact from the provider near the threshold."""
        rough = self.estimator.estimate(system, messages, tools)
        if rough >= EXACT_COUNT_FROM * self.settings.compact_at * self.window:
            try:
                return self.provider.count_tokens(system, messages, tools)
            except CodememError as exc:
                log.debug("exact token count failed: %s", exc)
        return rough

    # -- parts ----------------------------------------------------------------------------

    def blocks_part(self) -> str:
        how = "read-only in this session" if self.read_only else "edit with the memory_* tools"
        return f"Core memory (always visible; {how}):\n" + self.ctx.store.render_blocks(
            max_chars=self.memory_chars
        )

    @property
    def memory_chars(self) -> int:
        """The most characters of core memory blocks in the context: `agent.memory_chars`, and
        half the window at most, so the blocks leave room for the conversation."""
        half = int(self.window * self.estimator.chars_per_token / 2)
        return max(2_000, min(self.settings.memory_chars, half))

    def _note_count(self) -> int:
        folder = self.ctx.archive.dir
        try:
            stamp: object = (folder.stat().st_mtime_ns, self.ctx.memory_version)
        except OSError:
            return 0
        if self._notes is None or self._notes[0] != stamp:
            self._notes = (stamp, len(self.ctx.archive.notes()))
        return self._notes[1]

    def _recall_line(self) -> str:
        """Counted once per session: earlier conversations do not change while we talk."""
        if self._recall_stats is None:
            recall = self.ctx.recall
            sessions = [
                s for s in (recall.list_sessions() if recall else []) if s.id != self.ctx.session_id
            ]
            messages = sum(s.message_count for s in sessions)
            self._recall_stats = (
                f"Recall memory: {messages:,} messages in {len(sessions):,} earlier "
                "conversations (conversation_search)."
            )
        return self._recall_stats

    def stats_part(self, pressure: bool) -> str:
        lines = [
            "<memory_stats>",
            f"Archival memory: {self._note_count():,} notes (archival_search).",
            self._recall_line(),
        ]
        pinned = last_user_index(self.conversation.history)
        evicted = self.conversation.evicted
        evicted -= 1 if pinned is not None and pinned < evicted else 0
        if evicted:
            lines.append(
                f"This conversation: {evicted:,} earlier messages were summarized away; they "
                "are still searchable with conversation_search."
            )
        if pressure:
            lines.append(pressure_note(self.settings.pressure_at))
        lines.append("</memory_stats>")
        return "\n".join(lines)

    def map_part(self) -> str | None:
        tokens = self.ctx.map_tokens
        if tokens <= 0:
            return None
        try:
            rendered = self.ctx.code.repo_map(tokens)
        except CodememError as exc:
            log.warning("no repo map in the context: %s", exc)
            return None
        if rendered is None or not rendered.text:
            return None
        return (
            f'<repo_map tokens="{tokens}">\nThe most important files and definitions '
            f"(line numbers), ranked by how much the code uses them:\n{rendered.text}</repo_map>"
        )

    def summary_part(self) -> str | None:
        summary = self.conversation.summary.strip()
        return f"<conversation_summary>\n{summary}\n</conversation_summary>" if summary else None

    # -- assembly -------------------------------------------------------------------------

    def build(self) -> Prompt:
        """This step's request (blocks re-read from disk)."""
        tools = self.tools.specs()
        messages = self.conversation.visible()
        if messages and messages[0].role != "user":
            messages = [Message.user(RESUMED_NOTE), *messages]  # APIs want a user turn first
        head = [self.instructions, self.blocks_part()]
        tail = [part for part in (self.map_part(), self.summary_part()) if part]
        system = [*head, self.stats_part(False), *tail]
        tokens = self.count(system, messages, tools)
        if tokens >= self.settings.pressure_at * self.window:
            system = [*head, self.stats_part(True), *tail]
            tokens += self.estimator.text_tokens(pressure_note(self.settings.pressure_at))
        return Prompt(system, messages, tools, tokens, self.window)

    def prefix_tokens(self) -> int:
        """Tokens of the stable prefix (instructions + memory blocks), for the benchmark."""
        return self.estimator.estimate([self.instructions, self.blocks_part()], [], [])

    # -- compaction -----------------------------------------------------------------------

    def needs_compaction(self, prompt: Prompt) -> bool:
        return prompt.tokens > self.settings.compact_at * prompt.window

    def compact(self, prompt: Prompt | None = None, *, force: bool = False) -> Compaction | None:
        """Summarize and evict the oldest messages down to `compact_to` (all but the latest
        exchange with `force`); None when there is nothing that can be evicted.

        When the summary would not make the context smaller (a short exchange, a long
        summary), the messages stay and the returned compaction has `evicted == 0`.
        """
        prompt = prompt or self.build()
        conversation = self.conversation
        target = self.settings.compact_to * prompt.window
        summary_room = self.settings.summary_chars / self.estimator.chars_per_token
        excess = int(prompt.tokens - target + summary_room)
        boundary = eviction_boundary(
            conversation.history,
            conversation.evicted,
            excess,
            lambda m: self.estimator.estimate(None, [m]),
            force=force,
        )
        if boundary <= conversation.evicted:
            return None
        pinned = last_user_index(conversation.history)
        leaving = [
            message
            for index, message in enumerate(
                conversation.history[conversation.evicted : boundary], conversation.evicted
            )
            if index != pinned
        ]
        input_chars = int(0.5 * prompt.window * self.estimator.chars_per_token)
        summary, by_model = summarize(
            self.provider, conversation.summary, leaving, self.settings.summary_chars, input_chars
        )
        kept = (conversation.summary, conversation.evicted)
        conversation.summary, conversation.evicted = summary, boundary
        after = self.build().tokens
        if after >= prompt.tokens:  # compaction must never grow the context
            conversation.summary, conversation.evicted = kept
            log.info(
                "kept %d messages: their summary would not shrink the context (%d -> %d tokens)",
                len(leaving),
                prompt.tokens,
                after,
            )
            return Compaction(0, summary, prompt.tokens, prompt.tokens, by_model)
        log.info("compacted %d messages: %d -> %d tokens", len(leaving), prompt.tokens, after)
        return Compaction(len(leaving), summary, prompt.tokens, after, by_model)
