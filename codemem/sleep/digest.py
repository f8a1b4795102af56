"""One sleep-time pass: `run_digest`.

1. Re-index what changed.
2. Read the commits since state.json's last digested commit (first pass: the newest
   `sleep.initial_commits`), each with its files and the definitions it added, changed and
   removed (and, with a summarizer, its bounded diff and a model's summary).
3. Mine conventions into the marked region of `blocks/conventions.md`; rebuild the project
   overview and Recent changes of `blocks/project.md`.
4. Write the digest file, then the blocks, then consolidate, then state.json last, so an
   interrupted pass is simply redone (it writes the same digest again).

Without a summarizer every step is extractive and deterministic: the same repository gives
the same files, and a pass with nothing new writes nothing. With a model configured (and
`options.llm`), the model path of `codemem.sleep.llm` adds commit summaries, keeps the
model-written project summary current, and runs the sleep-time agent on new sessions; a dry
run never calls the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from codemem.code import CodeIndex
from codemem.config import Config
from codemem.errors import UsageError
from codemem.memory.ranking import parse_when, utc_now
from codemem.sleep import conventions as conv
from codemem.sleep import llm, project
from codemem.sleep.changes import BlobReader, SymbolChanges, commit_symbol_changes
from codemem.sleep.commits import (
    Commit,
    CommitRange,
    commits_since,
    load_diff,
    load_files,
    resolve_commit,
)
from codemem.sleep.config import SleepConfig, sleep_config
from codemem.sleep.consolidate import ConsolidationReport, consolidate
from codemem.sleep.digest_file import CommitDigest, digest_name, render_digest
from codemem.sleep.llm import ModelReport
from codemem.sleep.repo_files import RepoFiles
from codemem.sleep.state import SleepState, read_local_state, read_state, write_state
from codemem.sleep.writer import Change, MemoryWriter
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

# A model's summary of one commit (`llm.CommitSummarizer`); returning None keeps the extractive one.
Summarizer = Callable[[Commit, SymbolChanges], str | None]


@dataclass
class DigestOptions:
    """How to run one pass."""

    since: str | None = None  # digest the commits after this revision instead of state's
    dry_run: bool = False
    reindex: bool = True
    llm: bool = True  # use the configured model, if any (False: --no-llm)
    model_required: bool = False  # a missing API key is an error, not an extractive pass


@dataclass
class DigestResult:
    """What a pass did (or, in a dry run, would do)."""

    dry_run: bool = False
    index: dict | None = None
    base: str | None = None
    head: str | None = None
    commits: list[CommitDigest] = field(default_factory=list)
    omitted: int = 0
    digest_path: str | None = None
    digest_text: str | None = None
    rules: int = 0
    rolled_off: list[str] = field(default_factory=list)
    sessions_pending: int = 0
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
            "rolled_off": self.rolled_off,
            "sessions_pending": self.sessions_pending,
            "consolidation": self.consolidation.to_json(),
            "changes": [change.to_json() for change in self.changes],
            "warnings": self.warnings,
            "model": self.model.to_json() if self.model else None,
        }


def _parse_options(config: Config) -> dict:
    return {"chunk_lines": config.index.chunk_lines, "max_line_chars": config.index.max_line_chars}


def read_commit_digests(
    ws: Workspace, config: Config, settings: SleepConfig, commit_range: CommitRange,
    summarize: Summarizer | None = None,
) -> list[CommitDigest]:
    """Files, definitions (and with `summarize`, diff and summary) of each commit."""
    items = []
    with BlobReader(ws.root) as reader:
        for commit in commit_range.commits:
            load_files(ws.root, commit)
            symbols = commit_symbol_changes(
                reader, commit, max_files=settings.max_symbol_files,
                max_bytes=config.index.max_file_bytes, parse_options=_parse_options(config),
            )
            summary = None
            if summarize is not None:
                load_diff(ws.root, commit, settings.max_diff_bytes)
                summary = summarize(commit, symbols)
            items.append(CommitDigest(commit, symbols, summary))
    return items


def pending_sessions(ws: Workspace) -> int:
    """Recall sessions with messages newer than the last ones learned from (never creates the DB)."""
    if not ws.recall_db.exists():
        return 0
    from codemem.memory import Recall

    since = parse_when(read_local_state(ws).sessions_until)
    with Recall(ws) as recall:
        return sum(
            1 for s in recall.list_sessions()
            if s.last_message is not None and (since is None or s.last_message > since)
        )


def _update_project(
    writer: MemoryWriter, overview: project.Overview, commits: list[Commit] | None, count: int
) -> tuple[project.OverviewRegion, list[str]]:
    """Rewrite project.md's regions; returns the rendered region and the entries rolled off."""
    region = project.OverviewRegion(overview)
    rolled: list[str] = []

    def change(block) -> str:
        recent = (commits, count) if commits is not None else None
        value, recent_changes = project.project_value(block.value, block.limit, region, recent)
        rolled[:] = recent_changes.rolled_off if recent_changes else []
        return value

    detail = "project overview" + (", recent changes" if commits is not None else "")
    writer.edit_block(project.LABEL, change, detail)
    return region, rolled


def learn_project(ws: Workspace, config: Config, *, dry_run: bool = False) -> list[Change]:
    """Fill the overview region of `blocks/project.md` from the repository (for `codemem init`).

    Needs the index built first (for languages and key files; it works without, with less).
    Returns the writes made, or that would be made with `dry_run`.
    """
    settings = sleep_config(config)
    writer = MemoryWriter(ws, dry_run=dry_run, clock=utc_now)
    state = read_state(ws)
    overview = project.learn_overview(ws, config, settings.project_map_files)
    region, _ = _update_project(writer, overview, None, settings.recent_changes)
    if region.built:
        notes = writer.sync_overflow(state.overflow_notes, project.REGION, region.overflow, project.NOTE_TAGS)
        note = notes.get(project.REGION)

        def change(s: SleepState) -> SleepState:
            kept = {k: v for k, v in s.overflow_notes.items() if k != project.REGION}
            return SleepState(s.last_commit, s.last_digest, kept | ({project.REGION: note} if note else {}))

        if notes != state.overflow_notes and not dry_run:
            write_state(ws, change)
    return writer.changes


def run_digest(
    ws: Workspace,
    config: Config,
    options: DigestOptions | None = None,
    *,
    summarize: Summarizer | None = None,
    now: Callable[[], datetime] = utc_now,
    progress: Callable[[int, int], None] | None = None,
    provider=None,
) -> DigestResult:
    """Run one sleep-time pass over `ws` (see the module docstring).

    `now` dates what git cannot (uncommitted block lines, a pass with no commits);
    `progress(done, total)` follows the re-index; `provider` replaces the configured model.
    """
    options = options or DigestOptions()
    settings = sleep_config(config)
    if not ws.dir.is_dir():
        raise UsageError(f"no {ws.dir.name}/ in {ws.root}: run `codemem init` first")
    result = DigestResult(dry_run=options.dry_run)
    model = None
    if options.llm and not options.dry_run:
        model, warnings = llm.open_model(config, settings, provider=provider, required=options.model_required)
        result.warnings += warnings
        summarize = summarize or (llm.CommitSummarizer(model) if model else None)
    if options.reindex:
        result.index = CodeIndex(ws, config).refresh(progress=progress).to_json()
    state = read_state(ws)
    if options.since is not None and resolve_commit(ws.root, options.since) is None:
        raise UsageError(f"--since {options.since}: no such commit in this repository")
    commit_range = commits_since(
        ws.root, options.since or state.last_commit,
        first_run_limit=settings.initial_commits, max_commits=settings.max_commits,
    )
    result.base, result.head, result.omitted = commit_range.base, commit_range.head, commit_range.omitted
    result.warnings += commit_range.warnings
    result.commits = read_commit_digests(ws, config, settings, commit_range, summarize)
    commits = [item.commit for item in result.commits]
    as_of = datetime.fromisoformat(commits[-1].committed).astimezone(timezone.utc) if commits else now()
    writer = MemoryWriter(ws, dry_run=options.dry_run, clock=lambda: as_of)
    files = RepoFiles(ws.root)
    notes = dict(state.overflow_notes)
    if model is not None:
        llm.refresh_project(ws, config, model, writer, result.commits)

    if settings.project:
        overview = project.learn_overview(ws, config, settings.project_map_files, files)
        # The entries that roll off go into this pass's digest, so compute them first.
        preview = MemoryWriter(ws, dry_run=True, clock=lambda: as_of)
        _, result.rolled_off = _update_project(preview, overview, commits or None, settings.recent_changes)
    if commits:
        text = render_digest(commit_range, result.commits, result.rolled_off)
        path = ws.digests_dir / digest_name(commits)
        writer.write_file(path, text, "digest")
        result.digest_path = path.relative_to(ws.root).as_posix()
        result.digest_text = text
    if settings.conventions:
        facts = conv.gather_facts(ws, config, settings, files)
        rules = conv.mine_conventions(facts, settings.min_samples)
        region = conv.ConventionsRegion(rules)
        writer.update_region(conv.LABEL, conv.REGION, region)
        if region.built:  # an unreadable block keeps its overflow note as it is
            notes = writer.sync_overflow(notes, conv.REGION, region.overflow, conv.NOTE_TAGS)
        result.rules = len(rules)
    if settings.project:
        built, _ = _update_project(writer, overview, commits or None, settings.recent_changes)
        if built.built:
            notes = writer.sync_overflow(notes, project.REGION, built.overflow, project.NOTE_TAGS)
    if settings.consolidate:
        result.consolidation = consolidate(writer, now())
    if settings.sessions:
        result.sessions_pending = pending_sessions(ws)
    if model is not None:
        llm.learn(ws, config, model, writer, result, now)
        result.model = model.finish()
        result.warnings += model.warnings

    new_state = SleepState(
        last_commit=commit_range.head if commits else state.last_commit,
        last_digest=(path.relative_to(ws.dir).as_posix() if commits else state.last_digest),
        overflow_notes=notes,
    )
    if new_state != state:
        if not options.dry_run:
            write_state(ws, lambda _old: new_state)
        writer.changes.append(Change("state", ws.state_file.relative_to(ws.root).as_posix()))
    result.changes, result.warnings = writer.changes, result.warnings + writer.warnings
    return result
