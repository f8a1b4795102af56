"""The pass's step that reads what to digest (`read_commits`, step 2 of `sleep/digest.py`):
the commits of HEAD no digest covers, without the digests that describe commits an earlier
one describes (`sleep/overlaps.py`), the project changes read with their files and
definitions (and summaries); a dry run puts nothing back and saves no patch id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

from codemem.config import Config, SleepConfig
from codemem.conventions import RepoFiles
from codemem.errors import UsageError
from codemem.infra import BlobReader, git_text, head_branch, resolve_commit, shallow_hint
from codemem.memory import BlockFormatError, put_back_memory_files, read_memory_bytes
from codemem.sleep.changes import commit_symbol_changes
from codemem.sleep.commit_files import load_diff, split_skipped
from codemem.sleep.commits import CommitRange, commits_since, git_date
from codemem.sleep.digest_file import CommitDigest
from codemem.sleep.digest_run import DEFINITIONS, READING, SUMMARIZING, DigestRun, Summarizer
from codemem.sleep.overlaps import as_codemem_wrote, redescribed
from codemem.sleep.patch_ids import PatchIds
from codemem.sleep.shallow import fetch_history, history_fetches
from codemem.sleep.state import DigestRecord, read_state
from codemem.sleep.writer import MemoryWriter
from codemem.workspace import Workspace

log = logging.getLogger("codemem")


def _parse_options(config: Config) -> dict:
    return {"chunk_lines": config.index.chunk_lines, "max_line_chars": config.index.max_line_chars}


def read_commit_digests(
    ws: Workspace,
    config: Config,
    settings: SleepConfig,
    commit_range: CommitRange,
    summarize: Summarizer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[CommitDigest]:
    """Files, definitions (and with `summarize`, diff and summary) of each commit;
    `progress(done, total)` before each."""
    items = []
    total = len(commit_range.commits)
    with BlobReader(ws.root) as reader:
        for done, commit in enumerate(commit_range.commits):  # files loaded by `split_skipped`
            if progress is not None:
                progress(done, total)
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
    split_skipped(ws.root, commit_range, lambda done, total: run.tell(READING, done, total))
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
    phase = DEFINITIONS if run.summarize is None else SUMMARIZING
    result.commits = read_commit_digests(
        ws,
        run.config,
        settings,
        commit_range,
        run.summarize,
        lambda done, total: run.tell(phase, done, total),
    )
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
    later = [
        (record, data)
        for record in full.overlapping
        if (data := _as_written(run, record, patch_ids))
    ]
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


def _as_written(run: DigestRun, record: DigestRecord, patch_ids: PatchIds) -> bytes | None:
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
    if not as_codemem_wrote(run.ws.root, shown, data, patch_ids):
        run.result.warnings.append(
            f"{shown} is not as codemem wrote it (edited?): kept, though an earlier digest "
            "describes some of its commits too (two clones digested them); said each pass "
            "until you settle it: remove from it the sections the earlier digest shows and "
            "their lines under `keys:`"
        )
        return None
    return data
