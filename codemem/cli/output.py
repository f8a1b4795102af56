"""Output shared by the commands: JSON on stdout, warnings on stderr, and colour.

Colour is decided in one place: `--color`, `NO_COLOR`, and the rich Console.

`--color auto` (the default) colours only a terminal and honours `NO_COLOR` (any non-empty
value, https://no-color.org); `always` and `never` override both. click's `style`/`echo`
follow the choice through the root context's `color`; rich output goes through `console()`.
rich is imported inside `console()` so commands that never draw do not pay for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

if TYPE_CHECKING:
    from rich.console import Console

COLOR_MODES = ("auto", "always", "never")
# The exit code of a search that found nothing (`search`, `recall`), like grep's: a script
# tells "no match" from an answer, and both from a usage mistake (2).
NOTHING_FOUND = 1


def color_choice(mode: str, environ: dict[str, str] | None = None) -> bool | None:
    """click's `color` for a `--color` mode: True, False, or None (colour a terminal)."""
    variables = os.environ if environ is None else environ
    if mode == "always":
        return True
    if mode == "never" or variables.get("NO_COLOR"):
        return False
    return None


def _current_choice() -> bool | None:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return color_choice("auto")
    return ctx.find_root().color


def use_color(stream: TextIO | None = None) -> bool:
    """Whether text written to `stream` (stdout by default) should be coloured."""
    choice = _current_choice()
    if choice is not None:
        return choice
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def console(*, stderr: bool = False, file: TextIO | None = None, **options: Any) -> Console:
    """A rich Console that follows `--color` and `NO_COLOR`; `options` go to rich as they are."""
    from rich.console import Console

    choice = _current_choice()
    if choice is True:
        options.setdefault("force_terminal", True)
    elif choice is False:
        options["color_system"] = None
        options["no_color"] = True
    return Console(stderr=stderr, file=file, **options)


def echo_json(data: Any, *, indent: int | None = None) -> None:
    """`data` as JSON on stdout (one line unless `indent`), non-ASCII kept as it is (`json_text`)."""
    from codemem.infra import json_text  # on first use: every command's start stays light

    click.echo(json_text(data, indent=indent))


def echo_exact(text: str, *, nl: bool = True) -> None:
    """`text` on stdout exactly as it is when stdout is a pipe or a file (a script's
    `--raw > file`), but with its control characters escaped (`printable_text`) when stdout is
    a terminal: a person reads it there, and a clone's text could otherwise drive the terminal
    (`\x1b]52` writing the clipboard, `\x1b[2J` clearing the screen), as `ls` shows a name's
    control characters as `?` only on a terminal."""
    if not sys.stdout.isatty():  # click strips what looks like colour from a pipe: not here
        click.echo(text, nl=nl, color=True)
        return
    from codemem.infra import printable_text  # on first use: every command's start stays light

    click.echo(printable_text(text), nl=nl)


def warn_problems(problems: Iterable[object]) -> None:
    """One `codemem: warning: ...` line on stderr for each problem."""
    for problem in problems:
        click.echo(f"codemem: warning: {problem}", err=True)


OUTPUT_HELP = "a folder (an existing one, or ending in '/') takes the default name"


def output_path(given: str, default_name: str) -> Path:
    """Where an `--output` writes: the file given, or `default_name` in the folder given.

    A path naming a folder (one there, or written with a trailing '/') is that folder: the
    file is not written under the folder's name beside it. A folder that is not there is a
    usage error before any work, never an `OSError` after it.
    """
    from codemem.errors import UsageError  # on first use: every command's start stays light

    path = Path(given)
    if given.endswith(("/", os.sep)) or path.is_dir():
        if not path.is_dir():
            raise UsageError(f"--output {given}: no such folder; make it first or name a file")
        return path / default_name
    if not path.parent.is_dir():
        raise UsageError(f"--output {given}: no folder {path.parent}; make it first")
    return path


def dash_hint_command(words: str, doing: str, *, keep_before: bool = False) -> type[click.Command]:
    """A click command class for a command whose argument may start with '-' (a query, a
    value such as -5): where click takes it for an option, its error says how to give it,
    `words` then `--` (`codemem search -- '-quantity must be positive'`); with `keep_before`
    (a command of arguments alone, no options), the arguments typed before it too."""

    class DashHintCommand(click.Command):
        def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
            given = list(args)  # the parser consumes `args`
            try:
                return super().parse_args(ctx, args)
            except click.NoSuchOption as exc:
                import shlex  # only for the hint

                name = exc.option_name
                typed = next((arg for arg in given if arg.startswith(name)), name)
                before = given[: given.index(typed)] if keep_before and typed in given else []
                before = [shlex.quote(arg) for arg in before]
                example = " ".join([words, *before, "--", shlex.quote(typed)])
                hint = f"\nTo {doing} that starts with '-', put -- before it: {example}"
                raise click.NoSuchOption(  # the same error, with the hint (its message is final)
                    name, exc.message + hint, exc.possibilities, exc.ctx
                ) from None

    return DashHintCommand
