"""CLI conventions shared by every command: the exit-code rule and colour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.cli.output import color_choice, console, use_color

README = Path(__file__).resolve().parents[2] / "README.md"


def run(repo, *args, env=None):
    return CliRunner().invoke(cli, ["--repo", str(repo), *args], env=env, catch_exceptions=False)


@pytest.fixture
def shop(repo_factory):
    repo = repo_factory("shop")
    assert run(repo, "index").exit_code == 0
    return repo


def test_a_bug_is_exit_3_and_one_line(shop, monkeypatch):
    import codemem.cli.search as search

    def boom(*_args, **_kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(search, "_search", boom)
    result = run(shop, "search", "cart")
    assert (result.exit_code, result.stderr) == (
        3,
        "codemem: internal error: KeyError: 'surprise' (CODEMEM_DEBUG=1 shows the traceback)\n",
    )


def test_usage_mistakes_are_exit_2(shop):
    assert run(shop, "search", "--level", "nope", "x").exit_code == 2
    assert run(shop, "review", "--range", "nope..HEAD").exit_code == 2
    assert run(shop, "memory", "show", "nope").exit_code == 2


@pytest.mark.parametrize(
    ("mode", "environ", "expected"),
    [
        ("auto", {}, None),
        ("auto", {"NO_COLOR": "1"}, False),
        ("auto", {"NO_COLOR": ""}, None),  # only a non-empty NO_COLOR counts
        ("never", {}, False),
        ("always", {"NO_COLOR": "1"}, True),  # an explicit flag wins
    ],
)
def test_color_choice(mode, environ, expected):
    assert color_choice(mode, environ) is expected


def test_color_always_colours_even_a_pipe(shop):
    coloured = run(shop, "--color", "always", "search", "charge_card", "-k", "1")
    assert coloured.stdout.startswith(" 1. \x1b[36m\x1b[1mshop/payments.py:12\x1b[0m")


def test_no_color_turns_colour_off_on_a_terminal(shop):
    args = ["--repo", str(shop), "search", "charge_card", "-k", "1"]
    terminal = CliRunner().invoke(cli, args, color=True)  # as if stdout were a terminal
    assert "\x1b[" in terminal.stdout
    plain = CliRunner().invoke(cli, args, color=True, env={"NO_COLOR": "1"})
    assert plain.stdout.startswith(" 1. shop/payments.py:12  function charge_card")
    assert "\x1b[" not in plain.stdout
    never = CliRunner().invoke(cli, ["--color", "never", *args], color=True)
    assert "\x1b[" not in never.stdout


def test_rich_consoles_follow_the_choice():
    for color, expected in ((True, "truecolor"), (False, None)):
        with click.Context(click.Command("x"), color=color):
            made = console(color_system="truecolor" if color else "auto")
            assert made.color_system == expected
            assert use_color() is color


def test_shell_completion_works_as_the_readme_says():
    readme = README.read_text(encoding="utf-8")
    assert 'eval "$(_CODEMEM_COMPLETE=bash_source codemem)"' in readme
    command = [sys.executable, "-c", "from codemem.cli import main; main()"]
    script = subprocess.run(
        command,
        env={**os.environ, "_CODEMEM_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_codemem_completion()" in script.stdout
    words = {
        **os.environ,
        "_CODEMEM_COMPLETE": "bash_complete",
        "COMP_WORDS": "codemem conf",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(command, env=words, capture_output=True, text=True, check=True)
    assert done.stdout == "plain,config\n"


def test_the_readme_states_the_exit_code_rule():
    readme = README.read_text(encoding="utf-8")
    assert "**Exit codes**, the same rule for every command: `0` ok; `1` findings" in readme


def test_a_reader_that_stops_early_gets_no_error_line(tmp_path):
    """`codemem ... | head`: a closed pipe ends the command quietly (exit 141, like SIGPIPE)."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before codemem writes anything
    with os.fdopen(write, "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "codemem", "config", "example"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert (done.returncode, done.stderr) == (141, "")
