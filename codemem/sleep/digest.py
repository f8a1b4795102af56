"""One sleep-time pass: `run_digest`, a list of steps over one `DigestRun`.

1. Re-index what changed.
2. Read the commits of HEAD that no digest covers yet (the heads named by the committed
   digests, whichever clone wrote them, and this clone's last pass; first pass: the newest
   `sleep.initial_commits`). Commits that are not project changes (only `.codemem/`, merges
   without changes of their own, bots) are set aside (`commit_files.split_skipped`); the others
   are read with their files and the definitions they added, changed and removed (and, with
   a summarizer, a bounded diff and a model's summary).
3. Write the digest file, named after the range (and remove a digest that described commits
   an earlier one describes, when this range holds what it alone described:
   `sleep/overlaps.py`); mine conventions into
   `.codemem/conventions.json` and the marked region of `blocks/conventions.md`; rebuild the
   project overview of `blocks/project.md`; consolidate; with a model, the sleep-time agent
   learns from new sessions. All of it is held in memory
   (`sleep/held.py`) and written as one set once the pass is done, and only if HEAD and its
   branch are still what the pass read and no git operation began meanwhile (`HeadMovedError`
   otherwise: a `git checkout` meanwhile would get files about the other branch, a merge's
   commit would sweep them up; nothing is written and the next pass digests the new HEAD);
   last, note in `.codemem/local/` the HEAD this clone reached, so an interrupted pass is
   simply redone.

No pass runs while a git merge, rebase, cherry-pick, revert or bisect waits for the user, or
while a git command holds the index's lock (`GitBusyError`, at once; `codemem watch` waits
for it to end): what it wrote would go into that operation's commit, or stop its
`--continue`. Both errors exit 2: run the digest again once git is done.

Committed files change only when what they say changes: the learned regions hold no
counts, dates or moving example lists (see `codemem.conventions.stable`), and a conflicted
memory file is not refused: the learned regions are re-derived and the other conflicts are
left for people and reported (`codemem.conventions.conflicts`). Without a summarizer every step is
extractive and deterministic: the same repository gives the same files on any machine, and
a pass with nothing new writes nothing. With a model configured (and
`options.llm`), the pass runs `MODEL_STEPS` instead of `STEPS`: the model path of
`codemem.sleep.llm` adds commit summaries, keeps the model-written project summary current,
and runs the sleep-time agent on new sessions; a dry run never calls the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from codemem import conventions as conv
from codemem.agent.providers import Provider
from codemem.code import CodeIndex
from codemem.config import Config, SleepConfig
from codemem.conventions import RepoFiles
from codemem.errors import UsageError
from codemem.infra import (
    BlobReader,
    git_text,
    head_branch,
    index_locked,
    resolve_commit,
    shallow_hint,
    stall_for_tests,
    utc_now,
)
from codemem.memory import (
    BlockFormatError,
    GitBusyError,
    put_back_memory_files,
    read_memory_bytes,
)
from codemem.sleep import llm, project, project_init
from codemem.sleep.changes import SymbolChanges, commit_symbol_changes
from codemem.sleep.commit_files import load_diff, split_skipped
from codemem.sleep.commits import BOT, Commit, CommitRange, commits_since, git_date
from codemem.sleep.consolidate import ConsolidationReport, consolidate
from codemem.sleep.digest_file import CommitDigest, digest_name, render_digest
from codemem.sleep.head import check_head, check_head_after
from codemem.sleep.llm import ModelReport, SleepModel
from codemem.sleep.overlaps import as_codemem_wrote, redescribed
from codemem.sleep.pass_lock import digest_lock
from codemem.sleep.patch_ids import PatchIds
from codemem.sleep.sessions import pending_sessions
from codemem.sleep.shallow import fetch_history, history_fetches
from codemem.sleep.state import DigestRecord, SleepState, read_state, write_local_state
from codemem.sleep.writer import Change, MemoryWriter
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

# A model's summary of one commit (`llm.CommitSummarizer`); returning None keeps the extractive one.
Summarizer = Callable[[Commit, SymbolChanges], str | None]


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


def _parse_options(config: Config) -> dict:
    return {"chunk_lines": config.index.chunk_lines, "max_line_chars": config.index.max_line_chars}


def read_commit_digests(
    ws: Workspace,
    config: Config,
    settings: SleepConfig,
    commit_range: CommitRange,
    summarize: Summarizer | None = None,
) -> list[CommitDigest]:
    """Files, definitions (and with `summarize`, diff and summary) of each commit."""
    items = []
    with BlobReader(ws.root) as reader:
        for commit in commit_range.commits:  # files already loaded by `split_skipped`
            symbols = commit_symbol_changes(
                reader,
                commit,
                max_files=settings.max_symbol_files,
                max_bytes=config.index.max_file_bytes,
                parse_options=_parse_options(config),
            )
            summary = None
            if summarize is not None:
                load_diff(ws.root, commit, settings.max_diff_bytes)
                summary = summarize(commit, symbols)
            items.append(CommitDigest(commit, symbols, summary))
    return items


def _update_project(writer: MemoryWriter, overview: project.Overview) -> project.OverviewRegion:
    """Rewrite project.md's overview region; returns the rendered region."""
    region = project.OverviewRegion(overview)
    writer.edit_block(
        project.LABEL,
        lambda block: project.project_value(block.value, block.limit, region),
        "project overview",
    )
    return region


def learn_project(ws: Workspace, config: Config, *, dry_run: bool = False) -> list[Change]:
    """Fill the overview region of `blocks/project.md` from the repository (for `codemem init`).

    Needs the index built first (for languages and key files; it works without, with less).
    Returns the writes made, or that would be made with `dry_run`.
    """
    settings = config.sleep
    writer = MemoryWriter(ws, dry_run=dry_run, clock=utc_now)
    overview = project.learn_overview(ws, config, settings.project_map_files)
    region = _update_project(writer, overview)
    if region.built:
        writer.sync_overflow(project.REGION, region.overflow, project.NOTE_TAGS)
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
    branch: str | None = field(init=False)  # the branch HEAD was on as the pass read it
    digest_file: Path | None = None
    # Digests describing commits another describes first: removed, their range read again.
    redundant: list[tuple[Path, bytes]] = field(default_factory=list)  # with the bytes read
    sessions_until: str | None = None  # the session cursor to save once the set is written

    @property
    def commits(self) -> list[Commit]:
        return [item.commit for item in self.result.commits]


def reindex(run: DigestRun) -> None:
    """Bring the code index up to date (unless `options.reindex` is off)."""
    if run.options.reindex:
        run.result.index = CodeIndex(run.ws, run.config).refresh(progress=run.progress).to_json()


def read_commits(run: DigestRun) -> None:
    """The commits no digest covers yet, the project changes with their files and definitions
    (and summaries); the others set aside."""
    ws, options, settings, result = run.ws, run.options, run.settings, run.result
    if not options.dry_run:  # a removal a kill cut short: the digest is judged again below
        put_back_memory_files(ws, ws.digests_dir)
    run.state = read_state(ws)
    run.branch = result.branch = head_branch(ws.root)  # before HEAD: a checkout between is caught
    if options.since is not None and resolve_commit(ws.root, options.since) is None:
        raise UsageError(
            f"--since {options.since}: no such commit in this repository{shallow_hint(ws.root)}"
        )

    patch_ids = PatchIds(ws.root, ws, save=not options.dry_run)

    def read_range() -> CommitRange:
        return commits_since(
            ws.root,
            options.since or run.state.digested,
            first_run_limit=settings.initial_commits,
            max_commits=settings.max_commits,
            # with --since too: a commit a digest describes is never described twice
            digested_keys=run.state.keys,
            patch_ids=patch_ids,
        )

    commit_range = read_range()
    if run.state.overlapping and options.since is None:
        commit_range = _without_overlaps(run, commit_range, read_range, patch_ids)
    if commit_range.beyond_clone and options.fetch_from is not None and not options.dry_run:
        newest = run.state.last_digest.rsplit("/", 1)[-1] if run.state.last_digest else None

        def enough() -> bool:
            nonlocal commit_range
            commit_range = read_range()
            return not commit_range.beyond_clone

        fetches = history_fetches(newest, settings.initial_commits)
        fetch_history(ws.root, options.fetch_from, fetches, enough)
        result.fetched_from = options.fetch_from
    if commit_range.beyond_clone:
        result.warnings.append(
            "this clone is shallow and lacks commits to digest: the changes of its oldest "
            "commit are not listed, and undigested commits before it are left out; "
            "`git fetch --unshallow` first (`digest --ci` does)"
        )
    run.commit_range = commit_range
    split_skipped(ws.root, commit_range)
    result.base, result.head, result.omitted = (
        commit_range.base,
        commit_range.head,
        commit_range.omitted,
    )
    result.skipped = [(commit.sha, reason) for commit, reason in commit_range.skipped]
    result.warnings += commit_range.warnings
    if ws.state_file.exists():  # read above (its last commit counts as digested), never written
        old = ws.relative(ws.state_file)
        result.warnings.append(
            f"{old} is no longer written or needed (the digests record what was digested): "
            f"remove it with `git rm {old}`"
        )
    result.commits = read_commit_digests(ws, run.config, settings, commit_range, run.summarize)
    # Block lines and notes are dated by HEAD's commit date (git's), not by the clock or by
    # how far this clone had got, so a pass gives the same files on every clone at one HEAD.
    head_date = (
        git_date(git_text(ws.root, "log", "-1", "--format=%cI", "HEAD", ok=(0, 128)).strip())
        if commit_range.head
        else ""
    )
    run.as_of = (
        datetime.fromisoformat(head_date).astimezone(timezone.utc) if head_date else run.now()
    )
    run.writer = MemoryWriter(ws, dry_run=options.dry_run, clock=lambda: run.as_of, hold=True)
    run.files = RepoFiles(ws.root)


def _without_overlaps(
    run: DigestRun,
    commit_range: CommitRange,
    read_range: Callable[[], CommitRange],
    patch_ids: PatchIds,
) -> CommitRange:
    """The range read without the digests that describe commits an earlier one describes
    (`sleep/overlaps.py`), which the pass then removes, when that range holds every commit
    they alone describe; else `commit_range`, all digests kept. One a person has written
    into is kept, and said."""
    full = run.state
    later = [(record, data) for record in full.overlapping if (data := _as_written(run, record))]
    if not later:
        return commit_range
    run.state = read_state(run.ws, without={r.name for r, _ in later}, records=full.records)
    trial = read_range()
    bases = [(record.base, record.keys) for record, _ in later]
    if redescribed(run.ws.root, bases, run.state.keys, trial, patch_ids):
        run.redundant = [(run.ws.digests_dir / record.name, data) for record, data in later]
        return trial
    run.state = full
    return commit_range


def _as_written(run: DigestRun, record: DigestRecord) -> bytes | None:
    """The bytes of an overlapping digest when they are what codemem wrote
    (`overlaps.as_codemem_wrote`); None, said for one a person has written into, else."""
    path = run.ws.digests_dir / record.name
    try:
        data = read_memory_bytes(run.ws, path)
    except BlockFormatError as exc:  # too large, or a link: not one codemem wrote
        log.debug("%s", exc)
        return None
    if data is None:
        return None
    shown = path.relative_to(run.ws.root).as_posix()
    if not as_codemem_wrote(run.ws.root, shown, data):
        run.result.warnings.append(
            f"{shown} is not as codemem wrote it (edited?): kept, though an earlier digest "
            "describes some of its commits too (two clones digested them); remove the sections "
            "it repeats by hand if they should be read once"
        )
        return None
    return data


def refresh_project_summary(run: DigestRun) -> None:
    """The model path: keep the model-written project summary true for the new commits."""
    assert run.model is not None  # only in MODEL_STEPS
    project_init.refresh_project(run.ws, run.config, run.model, run.writer, run.result.commits)


def write_digest(run: DigestRun) -> None:
    """Write the digest file of the range's project changes (none, and no bot commits: no file),
    and remove the digests it makes redundant (`_without_overlaps`)."""
    commit_range = run.commit_range
    if run.commits or any(reason == BOT for _, reason in commit_range.skipped):
        text = render_digest(commit_range, run.result.commits)
        path = run.ws.digests_dir / digest_name(commit_range)
        run.writer.write_file(path, text, "digest")
        run.digest_file = path
        run.result.digest_path = path.relative_to(run.ws.root).as_posix()
        run.result.digest_text = text
    for redundant, data in run.redundant:
        if redundant != run.digest_file:  # only while it holds what was judged codemem's
            run.writer.remove_file(
                redundant,
                "digest-removed",
                "it described commits an earlier digest describes",
                expected=data,
            )


def mine_conventions(run: DigestRun) -> None:
    """Mine conventions into `.codemem/conventions.json` and the marked region of
    `blocks/conventions.md`, keeping what the last records said wherever it still holds."""
    ws, config, settings, files, writer, result = (
        run.ws,
        run.config,
        run.settings,
        run.files,
        run.writer,
        run.result,
    )
    if settings.conventions:
        previous = conv.records_text(ws)
        if isinstance(previous, conv.NewerRecords):  # never written back in an older format
            conv.read_records(ws)  # names it, once per run
            return
        facts = conv.gather_facts(ws, config, settings, files)
        rules = conv.mine_conventions(facts, settings.min_samples, conv.read_records(ws))
        text = conv.render_records(rules, previous)
        writer.write_file(conv.records_path(ws), text, "conventions")
        region = conv.ConventionsRegion(rules)
        writer.update_region(conv.LABEL, conv.REGION, region)
        if region.built:  # an unreadable block keeps its overflow note as it is
            writer.sync_overflow(conv.REGION, region.overflow, conv.NOTE_TAGS)
        result.rules = len(rules)


def update_project(run: DigestRun) -> None:
    """Rewrite the overview region of `blocks/project.md`."""
    if not run.settings.project:
        return
    overview = project.learn_overview(run.ws, run.config, run.settings.project_map_files, run.files)
    built = _update_project(run.writer, overview)
    if built.built:
        run.writer.sync_overflow(project.REGION, built.overflow, project.NOTE_TAGS)


def consolidate_memory(run: DigestRun) -> None:
    """Blocks within their limits, duplicate notes merged, relative dates made absolute."""
    if run.settings.consolidate:
        run.result.consolidation = consolidate(run.writer, run.now())


def write_memory(run: DigestRun) -> None:
    """Write what the pass holds as one set, if HEAD and its branch are still what it read
    (see the module docstring), and look again once it is written: a move in between is
    `HeadMovedError` naming the writes, and the state is not saved; a dry run writes nothing."""
    if run.options.dry_run:
        return
    stall_for_tests("digest-check")
    check_head(run.ws, run.branch, run.commit_range.head)
    stall_for_tests("digest-write")
    run.writer.write_held()
    # Git may have begun in between (see `sleep/head.py`): said, and the state not saved.
    check_head_after(run.ws, run.branch, run.commit_range.head, len(run.writer.changes))


def count_sessions(run: DigestRun) -> None:
    """How many recorded chat sessions are newer than the last ones learned from."""
    if run.settings.sessions:
        run.result.sessions_pending = pending_sessions(run.ws)


def learn_from_sessions(run: DigestRun) -> None:
    """The model path: the sleep-time agent learns from new sessions, its edits held with the
    pass's; the model's report."""
    model = run.model
    assert model is not None  # only in MODEL_STEPS
    run.sessions_until = llm.learn(run.ws, run.config, model, run.writer, run.result, run.now)
    run.result.model = model.finish()
    run.result.warnings += model.warnings


def save_sessions_cursor(run: DigestRun) -> None:
    """The model path, once the set is written: the sessions the agent learned from are done."""
    until = run.sessions_until
    if until is not None:
        write_local_state(run.ws, lambda old: replace(old, sessions_until=until))


def save_state(run: DigestRun) -> None:
    """Last: this clone's pass reached HEAD (in `.codemem/local/`, never committed)."""
    head = run.commit_range.head
    written = run.digest_file.name if run.digest_file is not None else None
    if head is not None and not run.options.dry_run and run.options.since is None:
        write_local_state(
            run.ws,
            lambda old: replace(old, last_head=head, digest_file=written or old.digest_file),
        )
    run.result.changes, run.result.warnings = (
        run.writer.changes,
        run.result.warnings + run.writer.warnings,
    )


Step = Callable[[DigestRun], None]

# The extractive pass; each step reads and fills the one `DigestRun`.
STEPS: tuple[Step, ...] = (
    reindex,
    read_commits,
    write_digest,
    mine_conventions,
    update_project,
    consolidate_memory,
    write_memory,
    count_sessions,
    save_state,
)
# With a model: the same, plus the project summary and the sleep-time agent.
MODEL_STEPS: tuple[Step, ...] = (
    reindex,
    read_commits,
    refresh_project_summary,
    write_digest,
    mine_conventions,
    update_project,
    consolidate_memory,
    learn_from_sessions,
    write_memory,
    save_sessions_cursor,
    count_sessions,
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
    provider: Provider | None = None,
) -> DigestResult:
    """Run one sleep-time pass over `ws` (see the module docstring).

    `now` dates what git cannot (uncommitted block lines, a pass with no commits);
    `progress(done, total)` follows the re-index; `provider` replaces the configured model.
    Holds the clone's digest lock throughout (`DigestRunningError` at once while another pass
    holds it; a caller that holds it, `digest_lock`, holds it on), but for a dry run.
    """
    options = options or DigestOptions()
    ws.check_initialized()
    if options.dry_run:  # writes nothing: runs beside a pass
        return _run_pass(ws, config, options, summarize, now, progress, provider)
    with digest_lock(ws):  # one pass at a time per clone (held on if the caller holds it)
        return _run_pass(ws, config, options, summarize, now, progress, provider)


def _run_pass(
    ws: Workspace,
    config: Config,
    options: DigestOptions,
    summarize: Summarizer | None,
    now: Callable[[], datetime],
    progress: Callable[[int, int], None] | None,
    provider: Provider | None,
) -> DigestResult:
    settings = config.sleep
    # A dry run shows what the pass will write once git is done (a merge waiting), but not
    # writes no pass makes until the person acts: a sparse checkout that leaves .codemem/ out
    # refuses them all (the dry run listed blocks no run could write).
    if options.dry_run:
        busy = ws.memory_left_out()
    else:
        busy = ws.git_operation() or index_locked(ws.root, ws.git_dir)
    if busy is not None:  # its files would go into that operation's commit, or stop it
        nothing = "nothing would be digested" if options.dry_run else "nothing digested"
        raise GitBusyError(f"{nothing}: {busy}, then run it again")
    result = DigestResult(dry_run=options.dry_run)
    model = None
    if options.llm and not options.dry_run:
        model, warnings = llm.open_model(
            config, settings, provider=provider, required=options.model_required
        )
        result.warnings += warnings
        summarize = summarize or (llm.CommitSummarizer(model) if model else None)
    run = DigestRun(ws, config, options, settings, now, progress, summarize, model, result)
    for step in MODEL_STEPS if model is not None else STEPS:
        step(run)
    return result
