"""The `codemem` command line.

Commands live one group per module and are imported only when invoked, so `codemem search`
does not pay for the agent's imports. This module is also the one error boundary: a
`CodememError` becomes a one-line message and an exit code, and so does a full disk or a
failing device (exit 3: the machine's fault, not the user's); `CODEMEM_DEBUG=1` re-raises.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from codemem import __version__
from codemem.cli.output import COLOR_MODES, color_choice
from codemem.errors import CodememError, Terminated

if TYPE_CHECKING:  # imported by the commands that need them, to keep `--help` fast
    from codemem.config import Config
    from codemem.workspace import Workspace

INTERNAL_ERROR = 3  # the exit-code rule is in codemem.errors

# command name -> "module:attribute"; the help line is kept here so `--help` imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("codemem.cli.index:init_command", "Create .codemem/ here and build the first index."),
    "index": ("codemem.cli.index:index_command", "Bring the code index up to date."),
    "status": (
        "codemem.cli.index:status_command",
        "Show what is indexed, how fresh, and problems.",
    ),
    "search": ("codemem.cli.search:search_command", "Search the code index (no model needed)."),
    "map": ("codemem.cli.map:map_command", "Print the ranked repo map within a token budget."),
    "memory": (
        "codemem.cli.memory:memory_group",
        "Core memory blocks: list, show, edit, set, create, rm, mv, history, import, export.",
    ),
    "remember": (
        "codemem.cli.recall:remember_command",
        "Save a note to archival memory (or --block LABEL).",
    ),
    "recall": (
        "codemem.cli.recall:recall_command",
        "Search archival notes and past conversations.",
    ),
    "sessions": (
        "codemem.cli.sessions:sessions_group",
        "List, show and export past conversations.",
    ),
    "chat": ("codemem.cli.chat:chat_command", "Talk with the agent in this repository (a REPL)."),
    "ask": ("codemem.cli.agent:ask_command", "Answer one question about the code (read-only)."),
    "run": (
        "codemem.cli.agent:run_command",
        "Carry out a task headlessly (edits need --yes or allow rules).",
    ),
    "digest": (
        "codemem.cli.sleep:digest_command",
        "Digest new commits into memory (sleep-time pass, no model needed).",
    ),
    "review": (
        "codemem.cli.review:review_command",
        "Review changes against memory's conventions (static checks; a model if configured).",
    ),
    "hook": (
        "codemem.cli.hook:hook_group",
        "Git hooks (pre-commit review, commit-msg check): install, uninstall, status, check-message.",
    ),
    "watch": (
        "codemem.cli.watch:watch_command",
        "Re-index on save; digest when idle (daemon: --detach, --stop, --status).",
    ),
    "mcp": (
        "codemem.cli.mcp:mcp_command",
        "Serve memory and the code index to other agents over MCP (stdio).",
    ),
    "config": (
        "codemem.cli.config_cmd:config_group",
        "Settings and where each comes from: show, get, set, path, example, trust.",
    ),
    "merge-file": (
        "codemem.cli.merge:merge_file_command",
        "Git's merge driver for .codemem/ files (set up by init).",
    ),
}


@dataclass
class AppContext:
    """What every command receives: where the repo is and the global flags."""

    repo: Path | None = None
    verbose: int = 0
    _workspace: Workspace | None = field(default=None, repr=False)
    # the running daemons of another version this command has named (`query_client`)
    told: set[object] = field(default_factory=set, repr=False)

    def workspace(self) -> Workspace:
        """The repository's workspace, discovered on first use."""
        from codemem.merge_driver import configure_merge_driver
        from codemem.workspace import Workspace

        if self._workspace is None:
            self._workspace = Workspace.discover(self.repo)
            # A clone whose memory asks for the merge driver gets it on its first codemem
            # command; said only with -v, so no command's output changes because of it.
            if configure_merge_driver(self._workspace):
                logging.getLogger("codemem").info(
                    "set up this clone's merge driver for .codemem/ (git config merge.codemem.driver)"
                )
        return self._workspace

    def config(self, flags: dict[str, Any] | None = None) -> Config:
        """The repository's configuration, with command-line `flags` on top."""
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

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            # click suggests from `self.commands`, empty here (commands are imported lazily)
            import difflib  # only for a mistyped command: start-up stays fast

            close = difflib.get_close_matches(args[0], self.list_commands(ctx), n=1)
            if close:
                ctx.fail(f"No such command {args[0]!r}. Did you mean {close[0]!r}?")
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and command.name is not None:
            from codemem.cli.interrupts import begin_command  # how it stops (`cli.interrupts`)

            ctx.with_resource(begin_command(command.name))
        return name, command, rest

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke_unwrapped(ctx)
        except CodememError as exc:
            if os.environ.get("CODEMEM_DEBUG"):
                raise
            click.echo(f"codemem: error: {_printable(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM or SIGHUP taken as one (`cli.interrupts`)
            if os.environ.get("CODEMEM_DEBUG"):
                raise
            from codemem.cli.interrupts import say_stopped

            end_without_teardown()  # unwound: nothing is left to save
            ctx.exit(say_stopped())
        except Terminated as exc:  # SIGTERM, SIGHUP: an agent session unwound (cli.agent)
            with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) takes no line
                click.echo(f"codemem: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:  # `codemem search ... | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
            ctx.exit(141)  # 128 + SIGPIPE, as a command killed by the closed pipe would
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # one line and codemem's own exit code, never a traceback
            if os.environ.get("CODEMEM_DEBUG"):
                raise
            click.echo(f"codemem: {_printable(describe_failure(exc))}", err=True)
            ctx.exit(INTERNAL_ERROR)

    def _invoke_unwrapped(self, ctx: click.Context) -> Any:
        """The command, its stop raised as itself: Python before 3.12 wraps what a class
        attribute's `__set_name__` raises in a RuntimeError, so a stop signal's
        KeyboardInterrupt (`cli.interrupts`) while a lazy import made such a class (a
        `cached_property`) was said as an internal error."""
        try:
            return super().invoke(ctx)
        except RuntimeError as exc:
            cause = exc.__cause__
            while cause is not None and not isinstance(cause, KeyboardInterrupt):
                cause = cause.__cause__
            if cause is None:
                raise
            raise cause from None


# Failures that are the machine's, not codemem's: said in one line (every write is atomic, so
# nothing was left torn; the line only says what failed and what to do).
_STORAGE_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "an input/output error (the disk may be failing)",
    errno.EMFILE: "too many open files",
}
_DISK_FULL_TEXT = ("No space left on device", "os error 28", "database or disk is full")
_FREE_SPACE = "free some space and run the command again"
_NATIVE_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def describe_failure(exc: Exception) -> str:
    """The one line for an exception no command handled (after `codemem: `)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRORS:
        where = f" ({exc.filename})" if exc.filename else ""
        hint = f" ({_FREE_SPACE})" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        return f"error: {_STORAGE_ERRORS[exc.errno]}{where}{hint}"
    native = _NATIVE_OS_ERROR.search(str(exc))  # LanceDB's errors carry errno only in text
    if native and int(native.group(1)) in _STORAGE_ERRORS:
        number = int(native.group(1))
        hint = f"; {_FREE_SPACE}" if number in (errno.ENOSPC, errno.EDQUOT) else ""
        return f"error: {_STORAGE_ERRORS[number]} (in the code index){hint}"
    if any(part in str(exc) for part in _DISK_FULL_TEXT):
        return f"error: the disk is full ({text[:200]}); {_FREE_SPACE}"
    if isinstance(exc, OSError):
        return f"error: {text[:300]}"
    return (
        f"internal error: {type(exc).__name__}: {text[:300]} (CODEMEM_DEBUG=1 shows the traceback)"
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codemem")
@click.option(
    "--repo",
    # files pass here so that `find_repo_root` names the mistake in its one line, with the fix
    type=click.Path(path_type=Path),
    metavar="DIRECTORY",
    envvar="CODEMEM_REPO",
    help="Repository to work on (default: the one containing the current directory).",
)
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
@click.option(
    "--color",
    type=click.Choice(COLOR_MODES),
    default="auto",
    show_default=True,
    help="Colour the output: auto colours a terminal unless NO_COLOR is set.",
)
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, verbose: int, color: str) -> None:
    """codemem: a memory-first coding agent with a fast local code index.

    Everything but the agent works without a model: index, search and the repo map run
    locally with no API key and no network.

    \b
    Exit codes: 0 ok; 1 findings (review, a commit message), nothing found (search,
    recall), or a run whose every edit and command was refused; 2 a usage or configuration
    mistake, or a step to run first; 3 and up codemem's own failures (4 out of time
    or steps, 130 interrupted; 129 and 143 an agent session ended by SIGHUP, SIGTERM).
    """
    ctx.color = color_choice(color)
    level = logging.WARNING - 10 * min(verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter("codemem: %(levelname)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    ctx.obj = AppContext(repo=repo, verbose=verbose)


def _printable(text: str) -> str:
    """An error or log line, which may name a file or quote text from the repository, with
    its control characters escaped: a file named `x<ESC>[2J` cannot clear the terminal."""
    from codemem.infra import printable_text  # on first use: every command's start stays light

    return printable_text(text)


class _PrintableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _printable(super().format(record))


@dataclass
class _Ending:
    """Whether the command that ran asked to end without the interpreter's teardown."""

    quick: bool = False


_ENDING = _Ending()


def end_without_teardown() -> None:
    """Once this command returns, end the process without tearing the interpreter down.

    For a command whose work is saved when it returns (`index`, `search`): freeing, module by
    module, what it loaded (LanceDB, Arrow, numpy, pydantic) costs a fresh process a sixth of
    its time and does nothing the operating system does not do at once. Output is flushed and
    exit handlers run as usual; a thread that is not a daemon is still joined (then the
    process ends the ordinary way). Only the console entry point (`codemem.__main__.run`)
    acts on it, never `main` or a test's in-process runner.
    """
    _ENDING.quick = True


def main() -> None:
    """The command line (the console script, `codemem.__main__.run`, calls it)."""
    if sys.stdout is None:  # started with descriptor 1 closed (`codemem ... >&-`): Python's None
        if sys.stderr is not None:
            sys.stderr.write(
                "codemem: error: standard output is closed: run codemem with it open "
                "(`>/dev/null` discards what it prints)\n"
            )
        raise SystemExit(2)
    from codemem.cli.interrupts import take_signals_as_ctrl_c

    take_signals_as_ctrl_c()
    cli(prog_name="codemem")


def end_if_asked(code: object) -> None:
    """End the process now with exit `code` if the command asked to (`end_without_teardown`):
    `os._exit` after what an ordinary exit does that matters. Returns (and the caller exits
    the ordinary way) otherwise, or when a thread must be joined or the output cannot be
    flushed."""
    if not _ENDING.quick or not (code is None or isinstance(code, int)):
        return
    if any(
        thread.is_alive() and not thread.daemon
        for thread in threading.enumerate()
        if thread is not threading.current_thread()
    ):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the ordinary exit reports it as it does
        return
    atexit._run_exitfuncs()  # logging's flush, multiprocessing's clean-up
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code or 0)
