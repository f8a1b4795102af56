"""The model path of the sleep-time pass: which model, its commit summaries, and the steps
that run after the extractive ones.

It is taken when a model is configured (`sleep.model`, else `model` / `CODEMEM_MODEL`),
`sleep.llm` is true and `--no-llm` is not given; the provider is resolved once per pass
(`open_model`). Then:

1. each commit gets a short factual summary (`commit_summarizer`); a provider error keeps the
   extractive summary for that commit and adds a warning, it never fails the pass;
2. the model-written project summary, if `codemem init --llm` wrote one, is kept true for
   the new commits (`project_init.refresh_project`);
3. after the extractive steps (`learn`): the sleep-time agent, which has only the memory
   tools, learns from the session transcripts recorded since the last pass and consolidates
   memory (`sleep_agent`), its edits held with the pass's and written with them. The session
   cursor in `.codemem/local/sleep.json` moves only once they are, and only past what the
   agent processed.

A pass with nothing new makes no model call. `sleep.max_cost` bounds the dollars of a pass;
once spent, the rest of the pass is extractive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from codemem.agent.messages import Message
from codemem.agent.providers import resolve_provider
from codemem.agent.providers.errors import AuthenticationFailed, MissingAPIKey, ModelNotFound
from codemem.config import Config, SleepConfig
from codemem.errors import CodememError
from codemem.infra import clean_text, redact_text
from codemem.sleep import sleep_agent
from codemem.sleep.changes import SymbolChanges, SymbolRef
from codemem.sleep.commits import Commit
from codemem.sleep.sessions import read_new_sessions
from codemem.sleep.state import read_local_state
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.agent.providers.base import Provider
    from codemem.sleep.digest_run import DigestResult
    from codemem.sleep.sleep_agent import AgentReport
    from codemem.sleep.writer import MemoryWriter

log = logging.getLogger("codemem")
SUMMARY_CHARS = 600  # the longest summary kept in a digest
PROMPT_FILES = 40
PROMPT_SYMBOLS = 40
SUMMARY_SYSTEM = """\
You write the summary of one git commit for a software project's long-term memory (the
digest files of codemem, read later by people and by coding agents). You get the commit's
subject, message, files, the definitions it added, changed and removed (from a parser), and
its diff, possibly cut short.

Write one to three plain sentences, at most {max_chars} characters, saying what the commit
changed and, if the commit says so, why. Name the main files or definitions in backticks.
State only what the commit shows: no guesses about intent, no praise, no preamble, no lists
or headings. Answer with the summary text only."""


@dataclass
class ModelReport:
    """What the model path did in one pass."""

    model: str
    summaries: int = 0  # commits summarized by the model
    fallbacks: int = 0  # commits that kept the extractive summary after a model failure
    project_summary: str | None = None  # "updated" or "unchanged" when it was refreshed
    sessions_learned: int = 0
    agent: AgentReport | None = None
    calls: int = 0  # model calls that answered
    cost: float = 0.0

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "summaries": self.summaries,
            "fallbacks": self.fallbacks,
            "project_summary": self.project_summary,
            "sessions_learned": self.sessions_learned,
            "agent": self.agent.to_json() if self.agent else None,
            "calls": self.calls,
            "cost": round(self.cost, 6),
        }


@dataclass
class SleepModel:
    """The provider of one pass, its budget, and what the model steps report."""

    provider: Provider
    settings: SleepConfig
    warnings: list[str] = field(default_factory=list)
    disabled: str | None = None  # why no more calls are made in this pass
    report: ModelReport = field(init=False)

    def __post_init__(self) -> None:
        meter = self.provider.meter
        self._start_cost, self._start_calls = meter.cost, meter.calls
        self.report = ModelReport(self.provider.model)

    @property
    def spent(self) -> float:
        """Dollars this pass has cost so far."""
        return self.provider.meter.cost - self._start_cost

    @property
    def budget_left(self) -> float | None:
        limit = self.settings.max_cost
        return None if limit is None else max(0.0, limit - self.spent)

    def can_call(self) -> bool:
        """Whether another model call may be made (not disabled, cost limit not reached)."""
        if self.disabled is None and self.budget_left == 0.0:
            self.disable(
                f"the cost limit sleep.max_cost (${self.settings.max_cost:g}) was "
                "reached; the rest of this pass is extractive"
            )
        return self.disabled is None

    def disable(self, why: str) -> None:
        if self.disabled is None:
            self.disabled = why
            self.warnings.append(why)

    def failed(self, what: str, exc: Exception) -> None:
        """Record a model failure; errors no later call can fix stop the model for the pass."""
        reason = str(exc)
        if not isinstance(exc, CodememError):  # an adapter's bug must not end the pass either
            log.debug("sleep-time model call failed", exc_info=exc)
            reason = f"{type(exc).__name__}: {exc}"
        self.warnings.append(f"{what}: the model failed ({reason})")
        if isinstance(exc, (AuthenticationFailed, ModelNotFound)):
            self.disable("no more model calls in this pass after that error")

    def finish(self) -> ModelReport:
        meter = self.provider.meter
        self.report.calls = meter.calls - self._start_calls
        self.report.cost = self.spent
        return self.report


def open_model(
    config: Config,
    settings: SleepConfig,
    *,
    provider: Provider | None = None,
    required: bool = False,
    hint: str = "pass --no-llm for an extractive digest",
    fallback: str = "this pass is extractive (no model)",
) -> tuple[SleepModel | None, list[str]]:
    """The pass's model, or None when none is configured (or its key is missing).

    A missing API key raises `MissingAPIKey` when `required` (an interactive `codemem
    digest`); otherwise (CI, the watch daemon) the pass is extractive and says why in the
    returned warnings. A bad model string is a configuration error either way.
    """
    if not settings.llm:
        return None, []
    if provider is None:
        model = settings.model or config.model
        if not model:
            return None, []
        try:
            provider = resolve_provider(model, config)
        except MissingAPIKey as exc:
            if required:
                raise MissingAPIKey(f"{exc}, or {hint}") from None
            return None, [f"{exc}; {fallback}"]
    return SleepModel(provider, settings), []


# -- commit summaries -----------------------------------------------------------------------


def _refs(refs: list[SymbolRef]) -> str:
    shown = ", ".join(f"{r.kind} {r.qualname} ({r.path})" for r in refs[:PROMPT_SYMBOLS])
    return shown + (
        f", and {len(refs) - PROMPT_SYMBOLS} more" if len(refs) > PROMPT_SYMBOLS else ""
    )


def summary_prompt(commit: Commit, symbols: SymbolChanges) -> str:
    """The user message asking for one commit's summary (secrets redacted: it leaves the machine)."""
    lines = [
        f"Commit {commit.short} by {commit.author}, {commit.date}",
        f"Subject: {commit.subject}",
    ]
    if commit.body:
        lines += ["Message:", commit.body]
    files = []
    for f in commit.files[:PROMPT_FILES]:
        counts = f" +{f.added} -{f.deleted}" if f.added is not None else ""
        moved = f" (from {f.old_path})" if f.old_path else ""
        skipped = f" [not shown: {f.skipped}]" if f.skipped else ""
        files.append(f"- {f.status} {f.path}{moved}{counts}{skipped}")
    if len(commit.files) > PROMPT_FILES:
        files.append(f"- and {len(commit.files) - PROMPT_FILES} more files")
    lines += ["Files:", *files]
    for word, refs in (
        ("Added", symbols.added),
        ("Changed", symbols.changed),
        ("Removed", symbols.removed),
    ):
        if refs:
            lines.append(f"{word} definitions: {_refs(refs)}")
    if commit.diff:
        cut = (
            f"\n[... {commit.diff_omitted:,} more bytes of the diff left out]"
            if commit.diff_omitted
            else ""
        )
        lines += ["Diff:", commit.diff.rstrip("\n") + cut]
    return redact_text("\n".join(lines))


def clean_summary(text: str, max_chars: int = SUMMARY_CHARS) -> str:
    """One paragraph, without a "Summary:" lead, cut at a sentence end within `max_chars`
    (cleaned like text quoted from the repository: it may repeat the commit)."""
    flat = " ".join(clean_text(text).split())
    flat = re.sub(r"^\**summary\**:\**\s*", "", flat, flags=re.I)
    if len(flat) <= max_chars:
        return flat
    cut = flat[:max_chars]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > 0 else cut.rstrip() + "…"


class CommitSummarizer:
    """A `Summarizer` backed by the model; `None` keeps the extractive summary."""

    def __init__(self, model: SleepModel) -> None:
        self.model = model

    def __call__(self, commit: Commit, symbols: SymbolChanges) -> str | None:
        if commit.is_merge or commit.truncated_history or not commit.files:
            return None  # nothing a model could add to what the digest lists
        if not self.model.can_call():
            return None
        system = SUMMARY_SYSTEM.format(max_chars=SUMMARY_CHARS)
        try:
            response = self.model.provider.complete(
                system,
                [Message.user(summary_prompt(commit, symbols))],
                max_tokens=self.model.settings.summary_tokens,
            )
        except Exception as exc:  # never fails the pass; KeyboardInterrupt still stops it
            self.model.report.fallbacks += 1
            self.model.failed(f"{commit.short}: kept the extractive summary", exc)
            return None
        summary = clean_summary(response.message.content)
        if not summary:
            self.model.report.fallbacks += 1
            self.model.warnings.append(
                f"{commit.short}: the model gave an empty summary; kept the extractive one"
            )
            return None
        self.model.report.summaries += 1
        return summary


def commit_summarizer(provider: Provider, settings: SleepConfig) -> CommitSummarizer:
    """A `Summarizer` for `run_digest` that asks `provider` (its warnings: `.model.warnings`)."""
    return CommitSummarizer(SleepModel(provider, settings))


# -- the steps around the extractive ones -----------------------------------------------------


def learn(
    ws: Workspace,
    config: Config,
    model: SleepModel,
    writer: MemoryWriter,
    result: DigestResult,
    now: Callable[[], datetime],
) -> str | None:
    """After the extractive steps: the sleep-time agent learns from new sessions and
    consolidates, its edits held in `writer` with the pass's; returns the session cursor to
    save once they are written (None: leave it), past what it processed.

    The agent runs when transcripts were recorded since the last pass, or when this pass
    digested commits and a block is nearly full; otherwise no model call is made.
    """
    settings = model.settings
    local = read_local_state(ws)
    new = (
        read_new_sessions(ws, local.sessions_until, settings.session_chars)
        if settings.sessions
        else None
    )
    sessions = new.sessions if new else []
    full = sleep_agent.full_blocks(writer) if result.commits else []
    if (sessions or full) and model.can_call():
        report = sleep_agent.run_sleep_agent(ws, config, model, writer, sessions, full, now())
        model.report.agent = report
        if new is not None and sessions and report.processed:
            model.report.sessions_learned = len(sessions)
            return new.until
    return None
