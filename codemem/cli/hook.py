"""`codemem hook install|uninstall|status|check-message`: codemem's git hooks.

Only click is imported at the top: the commit-msg hook runs `check-message` on every commit,
so the review's modules load inside the commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext
from codemem.errors import CodememError
from codemem.review.errors import EXIT_FINDINGS

if TYPE_CHECKING:  # only for the type checker: the hook's start-up stays cheap
    from codemem.review.hook import HookChange
    from codemem.workspace import Workspace


@click.group("hook")
def hook_group() -> None:
    """Install or remove the git hooks: pre-commit (`codemem review --staged`) and commit-msg."""


@hook_group.command("install")
@click.option(
    "--force",
    is_flag=True,
    help="Also when a <hook>.codemem-chained is left over: keep it under another name.",
)
@click.option(
    "--commit-msg",
    "commit_msg",
    is_flag=True,
    help="Install the commit-msg hook instead: messages checked against the learned conventions.",
)
@click.pass_obj
def hook_install_command(app: AppContext, force: bool, commit_msg: bool) -> None:
    """Install the pre-commit hook (respects core.hooksPath).

    An existing pre-commit hook is kept as pre-commit.codemem-chained and runs first;
    `codemem hook uninstall` puts it back. The hook calls no model unless
    review.hook_llm is true, lets the commit through when codemem itself fails, and is
    skipped by SKIP=codemem or git commit --no-verify.

    With --commit-msg: the commit-msg hook, which holds each message against the
    commit-message conventions the digest learned (Conventional Commits, mood, length...),
    with the same chaining, SKIP=codemem and never blocking on codemem's own failure.
    """
    ws = app.workspace()
    if commit_msg:
        from codemem.review.commit_msg import commit_conventions, install_commit_msg_hook

        _say_installed(ws, "commit-msg", install_commit_msg_hook(ws, force=force))
        if not commit_conventions(ws):
            click.echo(
                "No commit-message conventions learned yet: `codemem digest` learns them from history."
            )
        return
    from codemem.review.hook import install_hook

    change = install_hook(ws, force=force, timeout=app.config().review.hook_timeout)
    _say_installed(ws, "pre-commit", change)


def _say_installed(ws: Workspace, name: str, change: HookChange) -> None:
    where = _shown(ws, change.hook)
    if change.status == "unchanged":
        click.echo(f"The codemem {name} hook is already installed at {where}.")
    else:
        click.echo(f"{change.status.capitalize()} the codemem {name} hook at {where}.")
    if change.moved_aside is not None:
        click.echo(
            f"Kept the leftover {change.hook.name}.codemem-chained as {_shown(ws, change.moved_aside)}."
        )
    if change.chained is not None:
        click.echo(f"The hook that was there runs first: {_shown(ws, change.chained)}.")


@hook_group.command("uninstall")
@click.option(
    "--commit-msg", "commit_msg", is_flag=True, help="Remove the commit-msg hook instead."
)
@click.pass_obj
def hook_uninstall_command(app: AppContext, commit_msg: bool) -> None:
    """Remove codemem's pre-commit hook and restore the hook it replaced."""
    ws = app.workspace()
    if commit_msg:
        from codemem.review.commit_msg import uninstall_commit_msg_hook

        change, name = uninstall_commit_msg_hook(ws), "commit-msg"
    else:
        from codemem.review.hook import uninstall_hook

        change, name = uninstall_hook(ws), "pre-commit"
    where = _shown(ws, change.hook)
    if change.status == "absent":
        click.echo(f"No codemem {name} hook at {where}; nothing to do.")
        return
    if change.status == "restored":
        click.echo(
            f"Restored the hook codemem had replaced at {where} (its {name}.codemem-chained, "
            "left by an install or uninstall cut short)."
        )
        return
    click.echo(f"Removed the codemem {name} hook from {where}.")
    if change.chained is not None:
        click.echo(f"Restored the hook it had replaced at {where}.")


@hook_group.command("status")
@click.pass_obj
def hook_status_command(app: AppContext) -> None:
    """Say whether the pre-commit hook is installed, and what it chains; and the commit-msg
    hook, when it is installed."""
    from codemem.review.commit_msg import COMMIT_MSG
    from codemem.review.hook import PRE_COMMIT, hook_script, hooks_dir, is_ours

    ws = app.workspace()
    folder = hooks_dir(ws)
    hook = folder / PRE_COMMIT.name
    if not hook.exists():
        click.echo(f"Not installed (no pre-commit hook at {_shown(ws, hook)}).")
        left = hook.with_name(PRE_COMMIT.chained_name)
        if left.exists() or left.is_symlink():  # what an install or uninstall cut short left
            click.echo(
                f"The hook codemem had replaced is left at {_shown(ws, left)}: "
                "`codemem hook uninstall` puts it back."
            )
    elif is_ours(hook):
        current = hook_script(timeout=app.config().review.hook_timeout)
        click.echo(f"Installed at {_shown(ws, hook)}{_hook_state(ws, hook, current)}.")
    else:
        click.echo(
            f"Not installed: {_shown(ws, hook)} is another tool's hook (`codemem hook install` chains it)."
        )
    message_hook = folder / COMMIT_MSG.name
    if is_ours(message_hook, COMMIT_MSG.marker):
        state = _hook_state(ws, message_hook, COMMIT_MSG.script(), COMMIT_MSG.install)
        click.echo(f"The commit-msg hook is installed at {_shown(ws, message_hook)}{state}.")


def _hook_state(
    ws: Workspace, hook: Path, current: str, install: str = "codemem hook install"
) -> str:
    """What follows a hook's path in `hook status`: the hook it runs first, and whether this
    codemem would write it otherwise."""
    chained = hook.with_name(f"{hook.name}.codemem-chained")
    extra = f"; it runs {_shown(ws, chained)} first" if chained.exists() else ""
    # One written by an older codemem (or for another Python, or time limit) lacks what
    # this one's script does: `python -P`, a Ctrl-C that reaches the review.
    if hook.read_text(encoding="utf-8", errors="replace") != current:
        extra += f"; written by another codemem version: `{install}` updates it"
    return extra


@hook_group.command("check-message")
@click.argument(
    "message_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=str)
)
@click.option(
    "--hook", is_flag=True, help="Run as the commit-msg hook: never fail because of codemem itself."
)
@click.pass_obj
def hook_check_message_command(app: AppContext, message_file: str, hook: bool) -> None:
    """Check a commit message (a file, or - for stdin) for secrets and against the learned
    conventions.

    Exit codes: 0 it follows them; 1 it holds a secret or breaks one; 2 a usage mistake; 3
    codemem failed (with --hook: a warning and 0).
    """
    ctx = click.get_current_context()
    try:
        message = _message(message_file)
        secrets, doubtful = _secrets(app, message)
        try:
            broken = _broken_conventions(app, message)
        except (CodememError, OSError) as exc:
            if not secrets:
                raise
            click.echo(f"codemem: warning: {exc}; the conventions were not checked", err=True)
            broken = []
    except (CodememError, OSError) as exc:
        if os.environ.get("CODEMEM_DEBUG"):
            raise
        if hook:
            click.echo(f"codemem: warning: {exc}; the message was not checked", err=True)
            ctx.exit(0)
        raise
    except Exception as exc:  # a bug: never a blocked commit
        if os.environ.get("CODEMEM_DEBUG") or not hook:
            raise
        click.echo(
            f"codemem: warning: internal error: {type(exc).__name__}: {exc}; the message was not checked",
            err=True,
        )
        ctx.exit(0)
    for line in doubtful:  # what the staged review reports below its threshold
        click.echo(f"codemem: warning: the commit message may hold a secret: {line}", err=True)
    if not (broken or secrets):
        return
    if secrets:
        click.echo(
            "codemem: the commit message holds a secret (remove it; rotate it if it was ever "
            "pushed):",
            err=True,
        )
        for line in secrets:
            click.echo(f"  - {line}", err=True)
    if broken:
        click.echo(
            "codemem: the commit message does not follow the conventions in memory:", err=True
        )
        for statement in broken:
            click.echo(f"  - {statement}", err=True)
    if hook:
        verdict = os.environ.get("CODEMEM_HOOK_RESULT")
        if verdict:
            Path(verdict).write_text("findings", encoding="utf-8")
        click.echo(
            "Edit the message (git keeps it in .git/COMMIT_EDITMSG), or commit anyway: "
            "SKIP=codemem git commit ... (or git commit --no-verify).",
            err=True,
        )
    ctx.exit(EXIT_FINDINGS)


def _message(message_file: str) -> str:
    if message_file == "-":
        return sys.stdin.read()
    return Path(message_file).read_text(encoding="utf-8", errors="replace")


def _secrets(app: AppContext, message: str) -> tuple[list[str], list[str]]:
    """The secrets in the message that stop the commit and those only warned of, at the
    levels and threshold of the staged review (`review.severity`, `review.fail_on`); with the
    default settings when the configuration is broken, as the pre-commit hook's scan: a
    broken file never opens the door to a secret."""
    from codemem.errors import ConfigError
    from codemem.review.commit_msg import message_secrets
    from codemem.review.findings import severity_rank

    try:
        review = app.config().review
    except ConfigError:
        from codemem.config import ReviewConfig

        review = ReviewConfig()
    found = message_secrets(message, review.secret_entropy, review.severity)
    threshold = severity_rank(review.fail_on)
    stopping = [line for level, line in found if severity_rank(level) >= threshold]
    return stopping, [line for level, line in found if severity_rank(level) < threshold]


def _broken_conventions(app: AppContext, message: str) -> list[str]:
    from codemem.review.commit_msg import check_message, commit_conventions

    ws = app.workspace()
    return check_message(message, commit_conventions(ws), app.config().review.min_share)


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return path.relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)
