"""The record of one sleep-time pass: how to run it (`DigestOptions`), what it did
(`DigestResult`), and the state its steps hand on (`DigestRun`); the steps are in
`sleep/digest.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from codemem.config import Config, SleepConfig
from codemem.conventions import RepoFiles
from codemem.sleep.changes import SymbolChanges
from codemem.sleep.commits import Commit, CommitRange
from codemem.sleep.consolidate import ConsolidationReport
from codemem.sleep.digest_file import CommitDigest
from codemem.sleep.llm import ModelReport, SleepModel
from codemem.sleep.state import SleepState
from codemem.sleep.writer import Change, MemoryWriter
from codemem.workspace import Workspace

# A model's summary of one commit (`llm.CommitSummarizer`); returning None keeps the extractive one.
Summarizer = Callable[[Commit, SymbolChanges], str | None]
# How far a pass is: `(phase, done, total)`, phase one of the `PHASES` below, told 0 of total
# as a phase begins and after each step of it (a command line draws a bar for each phase that
# lasts; the daemon stops a pass there when asked to).
Progress = Callable[[str, int, int], None]
INDEXING = "Indexing"
READING = "Reading commits"
DEFINITIONS = "Reading changed definitions"  # the model off: each commit's definitions only
SUMMARIZING = "Summarizing commits with the model"  # on: the definitions and a model call each
CONVENTIONS = "Learning conventions"
SESSIONS = "Learning from sessions with the model"
WRITING = "Writing memory"


@dataclass
class DigestOptions:
    """How to run one pass."""

    # digest the commits after this revision instead of the digests' heads (those no digest
    # describes: older history a first pass left out, say)
    since: str | None = None
    dry_run: bool = False
    reindex: bool = True
    llm: bool = True  # use the configured model, if any (False: --no-llm)
    model_required: bool = False  # a missing API key is an error, not an extractive pass
    # --ci: where to fetch the history a shallow clone lacks (None: digest what is here, warned)
    fetch_from: str | None = None
    by: str = "codemem digest"  # who runs the pass, for `watch --status` (`codemem watch`, CI)


@dataclass
class DigestResult:
    """What a pass did (or, in a dry run, would do)."""

    dry_run: bool = False
    index: dict | None = None
    base: str | None = None
    head: str | None = None
    branch: str | None = None  # the branch HEAD was on as the pass read it (None: detached)
    commits: list[CommitDigest] = field(default_factory=list)
    omitted: int = 0
    digest_path: str | None = None
    digest_text: str | None = None
    rules: int = 0
    skipped: list[tuple[str, str]] = field(
        default_factory=list
    )  # (sha, reason) of commits left out
    sessions_pending: int = 0
    fetched_from: str | None = None  # the remote a shallow clone's history was fetched from
    consolidation: ConsolidationReport = field(default_factory=ConsolidationReport)
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    model: ModelReport | None = None  # what the model path did, when it ran

    @property
    def wrote(self) -> bool:
        return bool(self.changes)

    def to_json(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "index": self.index,
            "range": {"base": self.base, "head": self.head, "omitted": self.omitted},
            "commits": [item.to_json() for item in self.commits],
            "digest": {"path": self.digest_path, "text": self.digest_text},
            "conventions": {"rules": self.rules},
            "skipped": [{"sha": sha, "reason": reason} for sha, reason in self.skipped],
            "sessions_pending": self.sessions_pending,
            "consolidation": self.consolidation.to_json(),
            "changes": [change.to_json() for change in self.changes],
            "warnings": self.warnings,
            "fetched_from": self.fetched_from,
            "model": self.model.to_json() if self.model else None,
        }


@dataclass
class DigestRun:
    """One pass's state, handed from step to step (the fields below `result` are filled in
    by the steps, in order)."""

    ws: Workspace
    config: Config
    options: DigestOptions
    settings: SleepConfig
    now: Callable[[], datetime]
    progress: Progress | None
    summarize: Summarizer | None
    model: SleepModel | None
    result: DigestResult
    state: SleepState = field(init=False)
    commit_range: CommitRange = field(init=False)
    as_of: datetime = field(init=False)  # when the pass's block lines are dated
    writer: MemoryWriter = field(init=False)
    files: RepoFiles = field(init=False)
    branch: str | None = field(init=False)  # the branch HEAD was on as the pass read it
    digest_file: Path | None = None
    # Digests describing commits another describes first: removed, their range read again.
    redundant: list[tuple[Path, bytes]] = field(default_factory=list)  # with the bytes read
    sessions_until: str | None = None  # the session cursor to save once the set is written

    @property
    def commits(self) -> list[Commit]:
        return [item.commit for item in self.result.commits]

    def tell(self, phase: str, done: int, total: int) -> None:
        """Say how far `phase` is (nothing when no one follows the pass)."""
        if self.progress is not None:
            self.progress(phase, done, total)
