"""`codemem digest`: one sleep-time pass."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext

if TYPE_CHECKING:  # the sleep pass is imported when the command runs
    from codemem.sleep import Pushed
    from codemem.sleep.digest_run import DigestResult
    from codemem.sleep.llm import ModelReport

VERBS = {
    "digest": ("write", "Wrote"),
    "conventions": ("write", "Wrote"),
    "block": ("update", "Updated"),
    "note-added": ("add archival note", "Added archival note"),
    "note-deleted": ("delete archival note", "Deleted archival note"),
    "note-updated": ("update archival note", "Updated archival note"),
    "state": ("update", "Updated"),
    "digest-removed": ("remove", "Removed"),
}


def describe(result: DigestResult) -> list[str]:
    """Plain lines about a pass, fit for a terminal or a CI log."""
    lines = []
    if result.fetched_from is not None:
        lines.append(f"History: fetched from {result.fetched_from} (the clone was shallow).")
    index = result.index
    if index is not None:
        if index["up_to_date"]:
            lines.append("Index: up to date.")
        else:
            lines.append(
                f"Index: {index['added']} added, {index['changed']} changed, {index['removed']} removed."
            )
    if result.commits:
        n = len(result.commits)
        span = f"{result.base[:7] if result.base else 'root'}..{(result.head or '')[:7]}"
        lines.append(
            f"Commits: {n} digested ({span})"
            + (f", {result.omitted} older left out" if result.omitted else "")
            + "."
        )
    else:
        head = f" since {result.head[:7]}" if result.head else ""
        lines.append(f"Commits: nothing new{head}.")
    for change in result.changes:
        present, past = VERBS[change.kind]
        target = f"blocks/{change.target}.md" if change.kind == "block" else change.target
        detail = f" ({change.detail})" if change.detail else ""
        lines.append(
            f"Would {present} {target}{detail}." if result.dry_run else f"{past} {target}{detail}."
        )
    if result.rules:
        lines.append(f"Conventions: {result.rules} rules learned.")
    report = result.consolidation
    if report.moved or report.merged or report.dated:
        lines.append(
            f"Consolidation: {len(report.moved)} sections moved to archival memory, "
            f"{len(report.merged)} duplicate notes merged, {len(report.dated)} relative dates made absolute."
        )
    lines += describe_model(result.model)
    if result.sessions_pending:
        why = (
            "left for the next pass" if result.model else "that needs a model; nothing was invented"
        )
        lines.append(f"Sessions: {result.sessions_pending} not yet learned from ({why}).")
    if not result.changes:
        lines.append(
            "Nothing new: nothing would be written."
            if result.dry_run
            else "Nothing new: nothing written."
        )
    return lines


def describe_model(report: ModelReport | None) -> list[str]:
    """Lines about the model path of a pass (none when it did not run)."""
    if report is None or not (report.calls or report.fallbacks):
        return []
    parts = [f"{report.summaries} commit summaries"]
    if report.fallbacks:
        parts.append(f"{report.fallbacks} kept extractive")
    if report.project_summary:
        parts.append(f"project summary {report.project_summary}")
    if report.agent is not None:
        calls = len(report.agent.tool_calls)
        parts.append(f"sleep-time agent: {calls} memory tool call{'s' if calls != 1 else ''}")
    if report.sessions_learned:
        parts.append(f"{report.sessions_learned} sessions learned from")
    return [
        f"Model {report.model}: "
        + ", ".join(parts)
        + f" ({report.calls} calls, ${report.cost:.4f})."
    ]


@click.command("digest")
@click.option(
    "--since",
    metavar="REV",
    help="Digest the commits after REV that no digest describes yet (default: after the last "
    "digested one).",
)
@click.option(
    "--no-llm", is_flag=True, help="Never use a model: extractive, deterministic summaries."
)
@click.option(
    "--model",
    "-m",
    help="Model for this pass, e.g. ollama/qwen2.5-coder (default: sleep.model, then model).",
)
@click.option(
    "--ci", is_flag=True, help="Non-interactive: no progress bars, a plain summary for CI logs."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would change; write nothing under .codemem/ (the local index is still refreshed).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="While another digest runs in this clone, wait up to SECONDS for it to end (default: "
    "say who runs it and exit 2 at once).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {range, commits, digest, conventions, changes, warnings, ...} as JSON on stdout.",
)
@click.option(
    "--push",
    is_flag=True,
    help="Then commit .codemem/ and push it, pulling --rebase and retrying if the branch moved (the CI job).",
)
@click.option(
    "--branch",
    metavar="NAME",
    help="With --push: the branch to push to (default: the current one; needed on a detached HEAD).",
)
@click.option(
    "--remote",
    default="origin",
    show_default=True,
    help="With --push: the remote to push to (--ci fetches a shallow clone's missing history from it).",
)
@click.pass_obj
def digest_command(
    app: AppContext,
    since: str | None,
    no_llm: bool,
    model: str | None,
    ci: bool,
    dry_run: bool,
    wait: float,
    as_json: bool,
    push: bool,
    branch: str | None,
    remote: str,
) -> None:
    """Run one sleep-time pass: digest new commits into memory.

    Re-indexes what changed; reads the commits since the last digested one (the newest
    sleep.initial_commits on the first pass) with their files and the definitions they
    added, changed and removed; writes one digest file to .codemem/digests/; updates the
    learned-conventions region of blocks/conventions.md and the overview and Recent changes
    of blocks/project.md; and consolidates memory (blocks within their limits, duplicate
    notes merged, relative dates made absolute). Text outside codemem's marked regions is
    never changed. A second pass with nothing new writes nothing.

    With a model configured (--model, sleep.model, model: or CODEMEM_MODEL) each commit also gets a
    model-written summary, a project summary written by `codemem init --llm` is kept
    current, and a sleep-time agent with only the memory tools learns from the chat sessions
    recorded since the last pass (your preferences to your users/ block, project facts to
    project or archival notes) and consolidates memory. A model failure keeps the extractive
    result for that step and prints a warning. Without a model (or with --no-llm, or
    sleep.llm: false) every step is extractive and deterministic, and --dry-run never calls
    the model. With --ci it never prompts and exits non-zero only on a real failure; a
    missing API key then means an extractive pass with a warning, not an error.

    One pass runs at a time in a clone: while another (`codemem watch`'s, a CI job's) runs,
    this one says who runs it (pid, command) and exits 2 having done nothing (with --json, also
    {"busy": {"lock", "pid", "command"}} on stdout); --wait SECONDS waits for it first.

    With --push (the CI job) the changes under .codemem/ are committed as "codemem: update
    memory [skip ci]" and pushed; if the branch moved meanwhile the job pulls with --rebase (memory
    merged by codemem's merge driver) and tries again, up to 5 times. What a developer
    already digested and pushed is never digested again.

    Two clones that digested the same commits before either pulled the other's digest: the
    next pass removes the later digest and describes what only it showed. One a person wrote
    into is kept, and a warning names it on every pass until it is settled by hand: remove
    from it the sections the earlier digest shows and their lines under `keys:`.
    """
    from contextlib import nullcontext

    from codemem.cli.progress import phase_bars
    from codemem.errors import DigestRunningError, UsageError
    from codemem.sleep import DigestOptions, digest_lock, push_branch, push_memory, run_digest

    if model and no_llm:
        raise UsageError(
            "--model and --no-llm do not go together: give one (--no-llm: no model at all)"
        )
    if push and dry_run:
        raise UsageError(
            "--push and --dry-run do not go together: a dry run writes nothing to push"
        )
    if (branch or remote != "origin") and not push:
        raise UsageError("--branch and --remote only go with --push")
    ws = app.workspace()
    if push:
        branch = push_branch(ws, branch)  # a detached HEAD without --branch: before any work
    config = app.config({"sleep": {"model": model}} if model else None)
    options = DigestOptions(
        since=since,
        dry_run=dry_run,
        llm=not no_llm,
        model_required=not ci,
        fetch_from=remote if ci else None,  # CI checks out one commit: fetch what is missing
        by="codemem digest --ci" if ci else "codemem digest",
    )
    prefix = "codemem digest: " if ci else ""
    try:  # one pass at a time per clone, its push included
        with nullcontext() if dry_run else digest_lock(ws, wait):
            with phase_bars(enabled=not (ci or as_json)) as progress:
                result = run_digest(ws, config, options, progress=progress)
            if not as_json:  # before the push: a push that fails leaves what the pass did said
                _say_pass(result, prefix)
            read = (result.branch, result.head)
            pushed = push_memory(ws, remote, branch, read=read) if push else None
    except DigestRunningError as exc:
        if as_json:  # said on stdout too, for a script; the one line and exit 2 follow
            holder = {"lock": exc.lock, "pid": exc.pid, "command": exc.command}
            click.echo(json.dumps({"busy": holder}, ensure_ascii=False))
        raise
    if as_json:
        payload = result.to_json()
        if pushed is not None:
            payload["pushed"] = {
                "commit": pushed.commit,
                "branch": pushed.branch,
                "attempts": pushed.attempts,
            }
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    if pushed is not None:
        click.echo(prefix + describe_push(pushed, remote))


def _say_pass(result: DigestResult, prefix: str) -> None:
    """The pass's summary on stdout, its warnings on stderr."""
    for line in describe(result):
        click.echo(prefix + line)
    for warning in result.warnings:
        click.echo(f"codemem: warning: {warning}", err=True)


def describe_push(pushed: Pushed, remote: str) -> str:
    """One line about what `--push` did."""
    if pushed.commit is None:
        return "Push: nothing to commit in .codemem/."
    tries = f" after {pushed.attempts} tries" if pushed.attempts > 1 else ""
    return f"Pushed {pushed.commit[:7]} to {remote}/{pushed.branch}{tries}."
