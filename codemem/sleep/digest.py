"""One sleep-time pass: `run_digest`, a list of steps over one `DigestRun`.

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
`options.llm`), the pass runs `MODEL_STEPS` instead of `STEPS`: the model path of
`codemem.sleep.llm` adds commit summaries, keeps the model-written project summary current,
and runs the sleep-time agent on new sessions; a dry run never calls the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from codemem import conventions as conv
from codemem.code import CodeIndex
from codemem.config import Config, SleepConfig
from codemem.conventions import RepoFiles
from codemem.errors import UsageError
from codemem.infra import BlobReader, resolve_commit, utc_now
from codemem.sleep import llm, project, project_init
from codemem.sleep.changes import SymbolChanges, commit_symbol_changes
from codemem.sleep.commits import (
    Commit,
    CommitRange,
    commits_since,
    load_diff,
    load_files,
)
from codemem.sleep.consolidate import ConsolidationReport, consolidate
from codemem.sleep.digest_file import CommitDigest, digest_name, render_digest
from codemem.sleep.llm import ModelReport, SleepModel
from codemem.sleep.sessions import pending_sessions
from codemem.sleep.state import SleepState, read_state, write_state
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
    settings = config.sleep
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


@dataclass
class DigestRun:
    """One pass's state, handed from step to step (the fields below `result` are filled in
    by the steps, in order)."""

    ws: Workspace
    config: Config
    options: DigestOptions
    settings: SleepConfig
    now: Callable[[], datetime]
    progress: Callable[[int, int], None] | None
    summarize: Summarizer | None
    model: SleepModel | None
    result: DigestResult
    state: SleepState = field(init=False)
    commit_range: CommitRange = field(init=False)
    as_of: datetime = field(init=False)  # when the pass's block lines are dated
    writer: MemoryWriter = field(init=False)
    files: RepoFiles = field(init=False)
    notes: dict[str, str] = field(init=False)  # state.json's overflow notes, as the pass leaves them
    overview: project.Overview | None = None
    digest_file: Path | None = None

    @property
    def commits(self) -> list[Commit]:
        return [item.commit for item in self.result.commits]


def reindex(run: DigestRun) -> None:
    """Bring the code index up to date (unless `options.reindex` is off)."""
    if run.options.reindex:
        run.result.index = CodeIndex(run.ws, run.config).refresh(progress=run.progress).to_json()


def read_commits(run: DigestRun) -> None:
    """The commits since the last pass, with their files and definitions (and summaries)."""
    ws, options, settings, result = run.ws, run.options, run.settings, run.result
    run.state = read_state(ws)
    if options.since is not None and resolve_commit(ws.root, options.since) is None:
        raise UsageError(f"--since {options.since}: no such commit in this repository")
    run.commit_range = commit_range = commits_since(
        ws.root, options.since or run.state.last_commit,
        first_run_limit=settings.initial_commits, max_commits=settings.max_commits,
    )
    result.base, result.head, result.omitted = commit_range.base, commit_range.head, commit_range.omitted
    result.warnings += commit_range.warnings
    result.commits = read_commit_digests(ws, run.config, settings, commit_range, run.summarize)
    commits = run.commits
    # Block lines are dated by the newest commit (git's date), so a pass is reproducible.
    run.as_of = datetime.fromisoformat(commits[-1].committed).astimezone(timezone.utc) if commits else run.now()
    run.writer = MemoryWriter(ws, dry_run=options.dry_run, clock=lambda: run.as_of)
    run.files = RepoFiles(ws.root)
    run.notes = dict(run.state.overflow_notes)


def refresh_project_summary(run: DigestRun) -> None:
    """The model path: keep the model-written project summary true for the new commits."""
    assert run.model is not None  # only in MODEL_STEPS
    project_init.refresh_project(run.ws, run.config, run.model, run.writer, run.result.commits)


def roll_recent_changes(run: DigestRun) -> None:
    """Learn the project overview and which Recent changes entries roll off (they go into
    this pass's digest, so this comes before it)."""
    if not run.settings.project:
        return
    settings = run.settings
    run.overview = project.learn_overview(run.ws, run.config, settings.project_map_files, run.files)
    preview = MemoryWriter(run.ws, dry_run=True, clock=lambda: run.as_of)
    _, run.result.rolled_off = _update_project(preview, run.overview, run.commits or None, settings.recent_changes)


def write_digest(run: DigestRun) -> None:
    """Write the digest file of the new commits (none: no file)."""
    commits = run.commits
    if not commits:
        return
    text = render_digest(run.commit_range, run.result.commits, run.result.rolled_off)
    path = run.ws.digests_dir / digest_name(commits)
    run.writer.write_file(path, text, "digest")
    run.digest_file = path
    run.result.digest_path = path.relative_to(run.ws.root).as_posix()
    run.result.digest_text = text


def mine_conventions(run: DigestRun) -> None:
    """Mine conventions into the marked region of `blocks/conventions.md`."""
    ws, config, settings, files, writer, result = run.ws, run.config, run.settings, run.files, run.writer, run.result
    if settings.conventions:
        facts = conv.gather_facts(ws, config, settings, files)
        rules = conv.mine_conventions(facts, settings.min_samples)
        writer.write_file(conv.records_path(ws), conv.render_records(rules), "conventions")
        region = conv.ConventionsRegion(rules)
        writer.update_region(conv.LABEL, conv.REGION, region)
        if region.built:  # an unreadable block keeps its overflow note as it is
            run.notes = writer.sync_overflow(run.notes, conv.REGION, region.overflow, conv.NOTE_TAGS)
        result.rules = len(rules)


def update_project(run: DigestRun) -> None:
    """Rewrite the overview and Recent changes regions of `blocks/project.md`."""
    if run.overview is None:  # sleep.project is off
        return
    built, _ = _update_project(run.writer, run.overview, run.commits or None, run.settings.recent_changes)
    if built.built:
        run.notes = run.writer.sync_overflow(run.notes, project.REGION, built.overflow, project.NOTE_TAGS)


def consolidate_memory(run: DigestRun) -> None:
    """Blocks within their limits, duplicate notes merged, relative dates made absolute."""
    if run.settings.consolidate:
        run.result.consolidation = consolidate(run.writer, run.now())


def count_sessions(run: DigestRun) -> None:
    """How many recorded chat sessions are newer than the last ones learned from."""
    if run.settings.sessions:
        run.result.sessions_pending = pending_sessions(run.ws)


def learn_from_sessions(run: DigestRun) -> None:
    """The model path: the sleep-time agent learns from new sessions; the model's report."""
    model = run.model
    assert model is not None  # only in MODEL_STEPS
    llm.learn(run.ws, run.config, model, run.writer, run.result, run.now)
    run.result.model = model.finish()
    run.result.warnings += model.warnings


def save_state(run: DigestRun) -> None:
    """state.json last: the last digested commit and digest, and the overflow notes."""
    ws, state, commits = run.ws, run.state, run.commits
    new_state = SleepState(
        last_commit=run.commit_range.head if commits else state.last_commit,
        last_digest=run.digest_file.relative_to(ws.dir).as_posix() if run.digest_file else state.last_digest,
        overflow_notes=run.notes,
    )
    if new_state != state:
        if not run.options.dry_run:
            write_state(ws, lambda _old: new_state)
        run.writer.changes.append(Change("state", ws.state_file.relative_to(ws.root).as_posix()))
    run.result.changes, run.result.warnings = run.writer.changes, run.result.warnings + run.writer.warnings


Step = Callable[[DigestRun], None]

# The extractive pass; each step reads and fills the one `DigestRun`.
STEPS: tuple[Step, ...] = (
    reindex,
    read_commits,
    roll_recent_changes,
    write_digest,
    mine_conventions,
    update_project,
    consolidate_memory,
    count_sessions,
    save_state,
)
# With a model: the same, plus the project summary and the sleep-time agent.
MODEL_STEPS: tuple[Step, ...] = (
    reindex,
    read_commits,
    refresh_project_summary,
    roll_recent_changes,
    write_digest,
    mine_conventions,
    update_project,
    consolidate_memory,
    count_sessions,
    learn_from_sessions,
    save_state,
)


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
    settings = config.sleep
    if not ws.dir.is_dir():
        raise UsageError(f"no {ws.dir.name}/ in {ws.root}: run `codemem init` first")
    result = DigestResult(dry_run=options.dry_run)
    model = None
    if options.llm and not options.dry_run:
        model, warnings = llm.open_model(config, settings, provider=provider, required=options.model_required)
        result.warnings += warnings
        summarize = summarize or (llm.CommitSummarizer(model) if model else None)
    run = DigestRun(ws, config, options, settings, now, progress, summarize, model, result)
    for step in MODEL_STEPS if model is not None else STEPS:
        step(run)
    return result
