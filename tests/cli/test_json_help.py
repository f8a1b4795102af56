"""Every `--json` says in its --help what it prints, and the fields it names are printed."""

from __future__ import annotations

import json
import re

import click
import pytest
from click.testing import CliRunner

from codemem.cli import cli

# `{label, chars, ...}`, `{archive: [...]}`, `{"type": "end", ...}`: the first braces name fields
FIELDS = re.compile(r"\{([^{}]+)\}")
FIELD = re.compile(r'^\s*"?([a-z_]+)"?\s*(?::|$)')


def json_commands() -> dict[str, tuple[click.Command, click.Option]]:
    """Each command with a --json option, by its words (`memory list`), and that option."""
    found: dict[str, tuple[click.Command, click.Option]] = {}

    def walk(command: click.Command, words: list[str], ctx: click.Context) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*words, name], ctx)
            return
        for param in command.params:
            if isinstance(param, click.Option) and "--json" in param.opts:
                found[" ".join(words)] = (command, param)

    with click.Context(cli) as ctx:
        walk(cli, [], ctx)
    return found


def named_fields(command: click.Command, option: click.Option) -> list[str]:
    """The fields --json's help names (else the command's own help, where `run` and `ask`
    describe their output)."""
    for text in (option.help or "", command.help or ""):
        match = FIELDS.search(text)
        if match:
            parts = (FIELD.match(part) for part in match.group(1).split(","))
            return [part.group(1) for part in parts if part]
    return []


def test_every_json_option_names_the_fields_it_prints():
    commands = json_commands()
    assert {"status", "index", "digest", "memory list", "search", "watch"} <= set(commands)
    silent = [words for words, (cmd, option) in commands.items() if not named_fields(cmd, option)]
    assert silent == []


@pytest.fixture
def initialized(repo_factory):
    repo = repo_factory("shop")
    result = CliRunner().invoke(cli, ["--repo", str(repo), "init", "--no-index"])
    assert result.exit_code == 0, result.output
    return repo


# The commands a script reads most, run as the help names them: each field named is printed.
RUNS = {
    "index": ["index", "--json"],
    "status": ["status", "--json"],
    "init": ["init", "--json"],
    "digest": ["digest", "--json", "--dry-run", "--no-llm"],
    "map": ["map", "--json"],
    "search": ["search", "--json", "cart"],
    "remember": ["remember", "--json", "the cart rounds totals to cents"],
    "recall": ["recall", "--json", ""],
    "memory list": ["memory", "list", "--json"],
    "memory show": ["memory", "show", "--json", "project"],
    "memory history": ["memory", "history", "--json", "project"],
    "memory import": ["memory", "import", "--json"],
    "watch": ["watch", "--status", "--json"],
    "config get": ["config", "get", "--json", "search.k"],
    "config path": ["config", "path", "--json"],
}


@pytest.mark.parametrize("words", sorted(RUNS))
def test_the_fields_a_json_help_names_are_printed(initialized, words):
    command, option = json_commands()[words]
    named = named_fields(command, option)
    result = CliRunner().invoke(cli, ["--repo", str(initialized), *RUNS[words]])
    # recall finds nothing in the fixture: exit 1, as search, and its fields still printed
    assert result.exit_code == (1 if words == "recall" else 0), result.output
    printed = json.loads(result.stdout)
    items = printed if isinstance(printed, list) else [printed]
    if not items and words == "memory import":  # the fixture has no CLAUDE.md: no parts
        return
    for item in items:
        assert set(named) <= set(item), (words, sorted(item))
