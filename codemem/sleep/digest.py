"""One sleep-time pass: `run_digest`, a list of steps over one `DigestRun` (the pass's record,
with its options and result: `sleep/digest_run.py`; step 2, `sleep/digest_commits.py`).

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
from dataclasses import replace
from datetime import datetime

from codemem import conventions as conv
from codemem.agent.providers import Provider
from codemem.code import CodeIndex
from codemem.config import Config
from codemem.infra import (
    index_locked,
    stall_for_tests,
    utc_now,
)
from codemem.memory import (
    GitBusyError,
)
from codemem.sleep import llm, project, project_init
from codemem.sleep.commits import BOT
from codemem.sleep.consolidate import consolidate
from codemem.sleep.digest_commits import read_commits
from codemem.sleep.digest_file import digest_name, render_digest
from codemem.sleep.digest_run import (
    CONVENTIONS,
    INDEXING,
    SESSIONS,
    WRITING,
    DigestOptions,
    DigestResult,
    DigestRun,
    Progress,
    Summarizer,
)
from codemem.sleep.head import check_head, check_head_after
from codemem.sleep.pass_lock import digest_lock
from codemem.sleep.sessions import pending_sessions
from codemem.sleep.state import write_last_digest, write_local_state
from codemem.sleep.writer import Change, MemoryWriter
from codemem.workspace import Workspace

log = logging.getLogger("codemem")


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


def reindex(run: DigestRun) -> None:
    """Bring the code index up to date (unless `options.reindex` is off)."""
    if run.options.reindex:
        index = CodeIndex(run.ws, run.config)
        run.result.index = index.refresh(
            progress=lambda done, total: run.tell(INDEXING, done, total)
        ).to_json()


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
        run.tell(CONVENTIONS, 0, 1)  # one step, from the files and history: a bar if it lasts
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
        run.tell(CONVENTIONS, 1, 1)


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
    run.tell(WRITING, 0, 1)
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
    run.tell(SESSIONS, 0, 1)
    run.sessions_until = llm.learn(run.ws, run.config, model, run.writer, run.result, run.now)
    run.tell(SESSIONS, 1, 1)
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
    if not run.options.dry_run:
        write_last_digest(run.ws, run.options.by, run.result)


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
    progress: Progress | None = None,
    provider: Provider | None = None,
) -> DigestResult:
    """Run one sleep-time pass over `ws` (see the module docstring).

    `now` dates what git cannot (uncommitted block lines, a pass with no commits);
    `progress(phase, done, total)` follows each long phase (`digest_run.Progress`); `provider` replaces the configured model.
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
    progress: Progress | None,
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
