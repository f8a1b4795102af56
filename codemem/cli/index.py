"""`codemem init`, `codemem index` and `codemem status`."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext, end_without_teardown
from codemem.cli.interrupts import abandon_after
from codemem.cli.progress import progress_bar
from codemem.infra import printable
from codemem.workspace import UNTRACK_LOCAL

if TYPE_CHECKING:  # the code index and the sleep pass are imported when a command runs
    from codemem.code import IndexSummary, Published
    from codemem.config import Config
    from codemem.sleep.writer import Change
    from codemem.workspace import Workspace

log = logging.getLogger("codemem")


def run_index(app: AppContext, full: bool) -> IndexSummary:
    """Refresh the index of the current workspace with a progress bar; return the summary."""
    from codemem.code import CodeIndex

    index = CodeIndex(app.workspace(), app.config())
    with abandon_after(), progress_bar("Indexing") as progress:
        return index.refresh(full=full, progress=progress)


def describe_summary(summary: IndexSummary) -> str:
    """One human paragraph about an index run."""
    if summary.up_to_date:
        head = "Index is up to date"
    else:
        kind = "Full index" if summary.full else "Indexed"
        head = (
            f"{kind}: {summary.added} added, {summary.changed} changed, {summary.removed} removed"
        )
    lines = [
        f"{head} ({summary.seconds:.2f} s).",
        f"Holds {summary.files:,} files, {summary.symbols:,} symbols, {summary.chunks:,} chunks.",
    ]
    if summary.skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.skipped.items()))
        lines.append(f"Skipped this run: {reasons}.")
    if summary.compacted:
        lines.append("Compacted the tables and folded new rows into their indexes.")
    return "\n".join(lines)


@click.command("index")
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of incrementally.")
@click.option(
    "--from",
    "source",
    metavar="DIR",
    help="Start from the index published in DIR for HEAD or its nearest published ancestor, "
    "then update it from the work tree (default when there is no index: index.shared).",
)
@click.option(
    "--publish",
    "target",
    metavar="DIR",
    help="After updating, publish the index as HEAD's into the shared folder DIR.",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --publish: then remove all but the N most recently published commits in DIR "
    "and the newest on the default branch's first-parent line (origin/HEAD's branch, else "
    "init.defaultBranch, else main or master) (default: index.shared_keep; 0 there keeps all).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {added, changed, removed, files, symbols, chunks, seconds, ...} as JSON on stdout.",
)
@click.pass_obj
def index_command(
    app: AppContext,
    full: bool,
    source: str | None,
    target: str | None,
    keep: int | None,
    as_json: bool,
) -> None:
    """Bring the code index up to date (incremental by default).

    Only files whose content changed since the last run are parsed again. Works before
    `codemem init` too: it creates what it needs under .codemem/local/.

    A team builds the index once: CI runs `codemem index --publish DIR` on each commit it
    builds, and a clone runs `codemem index --from DIR` (or sets index.shared: DIR in
    .codemem/config.yml) to copy the nearest published index and update only what differs.
    A damaged or unsafe published index is refused in one line and built locally instead.
    """
    from codemem.code import CodeIndex
    from codemem.daemon.query_client import warn_other_version

    if full and source:
        raise click.UsageError("--full rebuilds from scratch; it cannot start --from a copy")
    if keep is not None and not target:
        raise click.UsageError(
            "--keep says how many published indexes to keep: use it with --publish"
        )
    # The index reads the settings itself: with nothing to do, it need not validate them.
    index = CodeIndex(app.workspace())
    warn_other_version(index.ws.root, app.told)
    started = index.start_from(source) if source else None
    with abandon_after(), progress_bar("Indexing") as progress:
        summary = index.refresh(full=full, progress=progress)
    started = started or index.started_from
    if summary.tracked_local:  # said on every run until fixed: a `git commit -a` takes it all
        log.warning(
            "git tracks %d files under .codemem/local/, each clone's own (a commit would "
            "carry this clone's index and conversations): untrack them with `%s`",
            summary.tracked_local,
            UNTRACK_LOCAL,
        )
    published = index.publish(target, keep) if target else None
    end_without_teardown()  # everything is saved
    if as_json:
        payload = summary.to_json()
        payload["started_from"] = started.to_json() if started else None
        payload["published"] = published.to_json() if published else None
        click.echo(json.dumps(payload))
        return
    if started is not None and started.used and started.commit:
        click.echo(
            f"Started from the index published for {started.commit[:12]} "
            f"({_commits_back(started.distance or 0)}; {started.bytes / 2**20:,.1f} MiB)."
        )
    click.echo(describe_summary(summary))
    if published is not None:
        click.echo(_describe_published(published))


def _commits_back(distance: int) -> str:
    if distance == 0:
        return "HEAD itself"
    return f"{distance} commit{'s' if distance != 1 else ''} back"


def _describe_published(published: Published) -> str:
    where = f"{published.target} for {published.commit[:12]}"
    if not published.published and published.other_settings:
        line = (
            f"Already published in {where} by another codemem version or with other index "
            "settings (or unreadable), left as it is: clones with these settings build "
            f"locally; remove {published.target}/{published.commit} to publish this one."
        )
    elif not published.published:
        line = f"Already published in {where}; left as it is."
    else:
        size = published.bytes / 2**20
        line = f"Published {published.files:,} files ({size:,.1f} MiB) to {where}."
        if published.dirty:
            line += " The work tree differs from HEAD: clones re-index those files."
    if published.pruned:
        count = len(published.pruned)
        kept = f"keeping the {published.kept} newest"
        if published.default_branch:
            kept += f" and {printable(published.default_branch)}'s newest"
        else:
            kept += "; no default branch found: no origin/HEAD, main or master"
        line += f"\nRemoved {count} older published index{'es' if count != 1 else ''} ({kept})."
    return line


@click.command("init")
@click.option("--no-index", is_flag=True, help="Create .codemem/ but do not build the index.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {root, created, index, learned, warnings, ...} as JSON.",
)
@click.option(
    "--llm",
    is_flag=True,
    help="Also have the model write a project summary (default: sleep.init_llm).",
)
@click.option(
    "--model",
    "-m",
    help="Model for the project summary (implies --llm; default: sleep.model, then model).",
)
@click.pass_obj
def init_command(
    app: AppContext, no_index: bool, as_json: bool, llm: bool, model: str | None
) -> None:
    """Create .codemem/ in this repository and build the first index.

    Creates config.yml, the core memory blocks (project, conventions, your user block),
    .codemem/.gitignore (keeping local/ out of git) and .codemem/.gitattributes (memory
    merged by `codemem merge-file`, registered in this clone's git config), imports existing agent
    instruction files (CLAUDE.md, AGENTS.md, ...), indexes the code and fills the project
    block with what can be learned without a model. Running it again changes nothing and
    says so. With --llm (or sleep.init_llm: true) the configured model also reads the
    README, manifests, CI files and repo map and writes a project summary at the top of
    blocks/project.md, which later digests keep current.
    """
    from codemem.infra import run_git
    from codemem.memory import initialize_memory
    from codemem.merge_driver import configure_merge_driver
    from codemem.sleep.project_init import open_init_model, write_project_summary

    ws = app.workspace()
    run_git(ws.root, "rev-parse", "--git-dir")  # nothing written where git refuses to work
    config = app.config({"sleep": {"model": model}} if model else None)
    writer, warnings = open_init_model(ws, config, explicit=llm or model is not None)
    created = initialize_memory(ws)
    merge_driver = configure_merge_driver(ws)
    summary = None if no_index else run_index(app, full=False)
    learned: list[Change] = []
    written: list[Change] = []
    if writer is not None:  # first, so the extractive overview is sized around it
        written, more = write_project_summary(ws, config, writer)
        warnings += more
    if summary is not None:
        from codemem.sleep import learn_project

        learned = learn_project(ws, app.config())
    if as_json:
        payload = {
            "root": str(ws.root),
            "created": [str(p.relative_to(ws.root)) for p in created],
            "index": summary.to_json() if summary else None,
            "learned": [change.to_json() for change in learned],
            "project_summary": [change.to_json() for change in written],
            "warnings": warnings,
            "merge_driver": merge_driver,
        }
        click.echo(json.dumps(payload))
        return
    if created:
        click.echo(f"Initialized codemem in {ws.dir}:")
        for path in created:
            click.echo(f"  created {path.relative_to(ws.root)}")
    else:
        click.echo(f"codemem is already initialized in {ws.dir}; nothing to create.")
    if merge_driver:
        click.echo(
            "Set this clone's merge driver for .codemem/ (git config merge.codemem.driver); "
            "teammates' clones get it on their first codemem command."
        )
    if summary is not None:
        click.echo(describe_summary(summary))
    if learned:
        click.echo("Learned the project overview into .codemem/blocks/project.md.")
    if written and writer is not None:
        click.echo(
            f"Wrote {writer.report.model}'s project summary into .codemem/blocks/project.md."
        )
    for warning in warnings:
        click.echo(f"codemem: warning: {warning}", err=True)
    if created:
        click.echo("Commit .codemem/ to share memory with your team (local/ stays out of git).")


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


@click.command("status")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {root, indexed, problems, damage, ...} as JSON; once indexed, also index, freshness, languages and skipped.",
)
@click.option(
    "--skipped",
    "list_skipped",
    is_flag=True,
    help="Also list each file left out of the index and why (JSON: skipped_files).",
)
@click.pass_obj
def status_command(app: AppContext, as_json: bool, list_skipped: bool) -> None:
    """Show what is indexed (per language), how fresh it is, and problems found."""
    from codemem.code import CodeIndex

    ws = app.workspace()
    config, config_damage = _config_or_defaults(app)
    index = CodeIndex(ws, config)
    report = index.status()
    for kind, message in [*config_damage, *_damage_outside_the_index(ws)]:
        report["damage"].append({"kind": kind, "message": message})
        report["problems"].append(message)
    report["git_operation"] = _git_operation(ws)
    skipped = index.skipped_files() if list_skipped else {}
    if as_json:
        if list_skipped:
            report["skipped_files"] = [
                {"path": path, "reason": why} for path, why in skipped.items()
            ]
        click.echo(json.dumps(report))
        return
    click.echo(f"Repository: {printable(str(ws.root))}")
    if not report["indexed"]:
        click.echo("Index: none yet. Run `codemem index` (or `codemem init`).")
    else:
        idx = report["index"]
        age = _age(time.time() - idx["indexed_at"])
        click.echo(
            f"Index: {idx['files']:,} files, {idx['symbols']:,} symbols, {idx['chunks']:,} chunks; "
            f"last indexed {age} in {idx['seconds']:.2f} s."
        )
        fresh = report["freshness"]
        if fresh["stale_files"]:
            click.echo(
                f"Freshness: {fresh['stale_files']} files changed since (run `codemem index`)."
            )
        else:
            click.echo("Freshness: up to date with the work tree.")
        click.echo("Languages:")
        for lang, row in report["languages"].items():
            click.echo(f"  {lang:<12} {row['files']:>7,} files {row['symbols']:>9,} symbols")
        if report["skipped"]:
            click.echo("Skipped:")
            for reason, n in report["skipped"].items():
                click.echo(f"  {reason:<24} {n:>7,}")
                for path in (path for path, why in skipped.items() if why == reason):
                    click.echo(f"      {printable(path)}")
        elif list_skipped:
            click.echo("Skipped: nothing.")
    if report.get("submodules"):
        click.echo(
            "Submodules (repositories of their own, not indexed here: run codemem in each): "
            + ", ".join(printable(path) for path in report["submodules"])
        )
    if report["git_operation"]:
        click.echo(
            f"Memory writes wait: {report['git_operation']}; until then, remember, digest "
            "and the agent's memory edits refuse."
        )
    if report["problems"]:
        click.echo("Problems:")
        for problem in report["problems"]:
            click.echo(f"  - {problem}")
    else:
        click.echo("Problems: none.")


def _config_or_defaults(app: AppContext) -> tuple[Config, list[tuple[str, str]]]:
    """The configuration, or the defaults and the error when config.yml cannot be loaded."""
    from codemem.errors import ConfigError

    try:
        return app.config(), []
    except ConfigError as exc:
        from codemem.config import Config

        return Config(), [("config", f"{exc} (status below uses the default settings)")]


def _git_operation(ws: Workspace) -> str | None:
    """The git operation under way that holds memory writes back (`Workspace.git_operation`)."""
    from codemem.errors import GitError

    try:
        return ws.git_operation()
    except GitError:
        return None


def _damage_outside_the_index(ws: Workspace) -> list[tuple[str, str]]:
    """(kind, one line naming the file and the fix) for memory, state.json and conventions."""
    from codemem.conventions import records_damage, unmerged_memory
    from codemem.memory import memory_damage
    from codemem.sleep import state_file_damage

    found = [(damage.kind, damage.message) for damage in memory_damage(ws)]
    found += [("merge", line) for line in unmerged_memory(ws)]
    if message := state_file_damage(ws):
        found.append(("state", message))
    if message := records_damage(ws):
        found.append(("conventions", message))
    return found
