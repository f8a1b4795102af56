"""Every command and subcommand click knows, and the `--json` of each that takes it, is in the
README's command table: a new one not written there fails here (the table once left out
`hook status|uninstall|check-message` and `review --json`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from codemem.cli import COMMANDS, cli

README = Path(__file__).resolve().parents[2] / "README.md"


def table_segments(text: str) -> list[list[str]]:
    """The words of each command the table's first column names (`codemem chat` / `ask ...`
    is two), `codemem` left off: `[["memory", "list", "show", ...], ["ask", "QUESTION"]]`."""
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    segments = []
    for row in section.splitlines():
        if not row.startswith("| `codemem"):
            continue
        cell = row.split(" | ")[0].removeprefix("| ").replace("\\|", "|")
        for segment in re.split(r"`\s*/\s*`", cell):
            words = segment.strip("` ").removeprefix("codemem ")
            segments.append([word for word in re.split(r"[\s|\[\]]+", words) if word])
    return segments


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command click can run, as its path (`("hook", "status")`), hidden ones left out."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if command.hidden:
            continue
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def missing(text: str) -> list[str]:
    segments = table_segments(text)
    gaps = []
    for path, command in commands(cli):
        rows = [words for words in segments if words and words[0] == path[0]]
        rows = [words for words in rows if all(name in words for name in path[1:])]
        if not rows:
            gaps.append(" ".join(path))
            continue
        takes_json = any("--json" in getattr(param, "opts", ()) for param in command.params)
        if takes_json and not any("--json" in words for words in rows):
            gaps.append(" ".join((*path, "--json")))
    return gaps


def test_every_command_and_its_json_is_in_the_readme_table():
    assert missing(README.read_text(encoding="utf-8")) == []


def test_the_check_finds_a_command_or_a_json_left_out():
    text = README.read_text(encoding="utf-8")
    hook_row = next(row for row in text.splitlines() if row.startswith("| `codemem hook "))
    without_status = text.replace(hook_row, hook_row.replace("\\|status", "", 1))
    assert missing(without_status) == ["hook status"]
    review_row = next(row for row in text.splitlines() if row.startswith("| `codemem review "))
    without_json = text.replace(review_row, review_row.replace(" [--json]", "", 1))
    assert missing(without_json) == ["review --json"]


def test_the_help_and_the_readme_name_the_same_commands_that_exit_1_on_nothing_found():
    readme = " ".join(README.read_text(encoding="utf-8").split())
    help_text = " ".join((cli.help or "").split())
    assert "nothing found (`search`, `recall`;" in readme
    assert "nothing found (search, recall)" in help_text


def unnamed_subcommands(help_text: str) -> list[str]:
    """The subcommands a group's one-line summary in `codemem --help` does not name."""
    flat = " ".join(help_text.split())
    gaps = []
    for name, command in commands(cli):
        if len(name) != 1 or not isinstance(command, click.Group):
            continue
        summary = COMMANDS[name[0]][1]
        assert summary in flat, name  # printed whole, not cut at click's 45 characters
        for (_, sub), _command in commands(command, name):
            if not re.search(rf"(?<![\w-]){re.escape(sub)}(?![\w-])", summary, re.IGNORECASE):
                gaps.append(f"{name[0]} {sub}")
    return gaps


def test_the_help_names_every_subcommand_of_each_group():
    """`codemem --help` once named only some of `hook`'s and `config`'s subcommands."""
    assert unnamed_subcommands(CliRunner().invoke(cli, ["--help"]).stdout) == []


def test_the_help_check_finds_a_subcommand_left_out(monkeypatch):
    module, summary = COMMANDS["config"]
    monkeypatch.setitem(COMMANDS, "config", (module, summary.replace(", trust", "")))
    assert unnamed_subcommands(CliRunner().invoke(cli, ["--help"]).stdout) == ["config trust"]
