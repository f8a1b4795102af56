"""The `codemem` command line.

Commands live one group per module and are imported only when invoked, so `codemem search`
does not pay for the agent's imports. This module is also the one error boundary: a
`CodememError` becomes a one-line message and an exit code, and so does a full disk or a
failing device (exit 3: the machine's fault, not the user's); `CODEMEM_DEBUG=1` re-raises.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from codemem import __version__
from codemem.errors import CodememError

# OS errors that say the machine cannot store what codemem writes: reported in one line.
DEVICE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
DEVICE_EXIT = 3

# LanceDB's native errors carry the OS error only in their text: "... (os error 28), file:line".
_NATIVE_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def device_problem(exc: BaseException) -> str | None:
    """One line for an error that says the disk is full or failing (Python's or LanceDB's)."""
    if isinstance(exc, OSError) and exc.errno in DEVICE_ERRORS:
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    found = _NATIVE_OS_ERROR.search(str(exc))
    if found and int(found.group(1)) in DEVICE_ERRORS:
        return f"{os.strerror(int(found.group(1)))} (in the code index)"
    return None


# command name -> "module:attribute"; the help line is kept here so `--help` imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("codemem.cli.index:init_command", "Create .codemem/ here and build the first index."),
    "index": ("codemem.cli.index:index_command", "Bring the code index up to date."),
    "status": ("codemem.cli.index:status_command", "Show what is indexed, how fresh, and problems."),
    "search": ("codemem.cli.search:search_command", "Search the code index (no model needed)."),
    "map": ("codemem.cli.map:map_command", "Print the ranked repo map within a token budget."),
    "memory": ("codemem.cli.memory:memory_group", "Core memory blocks: list, show, edit, create, import, export."),
    "remember": ("codemem.cli.memory:remember_command", "Save a note to archival memory (or --block LABEL)."),
    "recall": ("codemem.cli.memory:recall_command", "Search archival notes and past conversations."),
    "sessions": ("codemem.cli.memory:sessions_group", "List, show and export past conversations."),
    "chat": ("codemem.cli.chat:chat_command", "Talk with the agent in this repository (a REPL)."),
    "ask": ("codemem.cli.agent:ask_command", "Answer one question about the code (read-only)."),
    "run": ("codemem.cli.agent:run_command", "Carry out a task headlessly (edits need --yes or allow rules)."),
    "digest": ("codemem.cli.sleep:digest_command", "Digest new commits into memory (sleep-time pass, no model needed)."),
    "review": ("codemem.cli.review:review_command", "Review changes against memory's conventions (static checks; a model if configured)."),
    "hook": ("codemem.cli.review:hook_group", "Install or remove the git pre-commit hook that runs codemem review."),
    "watch": ("codemem.cli.watch:watch_command", "Re-index on save; digest when idle (daemon: --detach, --stop, --status)."),
    "mcp": ("codemem.cli.mcp:mcp_command", "Serve memory and the code index to other agents over MCP (stdio)."),
}


@dataclass
class AppContext:
    """What every command receives: where the repo is and the global flags."""

    repo: Path | None = None
    verbose: int = 0
    _workspace: Any = field(default=None, repr=False)

    def workspace(self):
        from codemem.workspace import Workspace

        if self._workspace is None:
            self._workspace = Workspace.discover(self.repo)
        return self._workspace

    def config(self, flags: dict[str, Any] | None = None):
        from codemem.config import load_config

        return load_config(self.workspace().config_file, flags=flags)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module_name, attr = COMMANDS[name][0].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CodememError as exc:
            if os.environ.get("CODEMEM_DEBUG"):
                raise
            click.echo(f"codemem: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (OSError, RuntimeError) as exc:
            problem = device_problem(exc)
            if os.environ.get("CODEMEM_DEBUG") or problem is None:
                raise
            click.echo(f"codemem: error: {problem}", err=True)
            ctx.exit(DEVICE_EXIT)
        except KeyboardInterrupt:
            if os.environ.get("CODEMEM_DEBUG"):
                raise
            click.echo("codemem: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codemem")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CODEMEM_REPO",
    help="Repository to work on (default: the one containing the current directory).",
)
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, verbose: int) -> None:
    """codemem: a memory-first coding agent with a fast local code index.

    Everything but the agent works without a model: index, search and the repo map run
    locally with no API key and no network.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="codemem: %(levelname)s: %(message)s", stream=sys.stderr)
    ctx.obj = AppContext(repo=repo, verbose=verbose)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="codemem")
