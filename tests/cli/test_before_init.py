"""A command that writes memory, run before `codemem init`, refuses in one line naming
`codemem init` and makes nothing: no `.codemem/`, no lock, no folder left for nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from codemem.cli import cli

INIT_FIRST = "run `codemem init` first"


@pytest.mark.parametrize(
    "args",
    [
        ["remember", "--block", "project", "Deploys go through the release branch."],
        ["remember", "--block", "notes", "A block that does not exist."],
        ["memory", "set", "project", "--value", "A whole new value."],
        ["memory", "mv", "project", "overview"],
        ["memory", "rm", "project", "--yes"],
        ["memory", "edit", "project"],
        ["digest"],
        ["config", "set", "sleep.llm", "false"],
        ["watch", "--detach"],
    ],
)
def test_a_memory_write_before_init_refuses_first_and_makes_nothing(repo_factory, args):
    repo = repo_factory("shop")
    result = CliRunner().invoke(cli, ["--repo", str(repo), *args], env={"EDITOR": "true"})
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("codemem: error: ") and INIT_FIRST in line
    assert not (repo / ".codemem").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["remember", "Deploys go through the release branch."],
        ["remember", "--archive", "--tag", "deploy", "Deploys go through the release branch."],
        ["memory", "create", "notes", "--description", "Team notes", "--value", "hi"],
        ["memory", "import"],
    ],
)
def test_a_note_a_new_block_or_an_import_before_init_refuses_first(repo_factory, args):
    repo = repo_factory("shop")
    (repo / "CLAUDE.md").write_text("# Rules\n\nUse tabs.\n")
    result = CliRunner().invoke(cli, ["--repo", str(repo), *args])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("codemem: error: ") and INIT_FIRST in line
    assert not (repo / ".codemem").exists()


def test_the_personal_block_needs_no_init(repo_factory):
    """The personal block lives in the home folder (the test's own): made before any init."""
    repo = repo_factory("shop")
    args = ["memory", "create", "personal", "--description", "Mine", "--value", "Tabs."]
    result = CliRunner().invoke(cli, ["--repo", str(repo), *args])
    assert result.exit_code == 0, result.output
    assert not (repo / ".codemem").exists()


@pytest.mark.parametrize("args", [["digest"], ["config", "set", "sleep.llm", "false"]])
def test_a_search_before_init_does_not_pass_for_init(repo_factory, args):
    """A search indexes into `.codemem/local/` (and its `.gitignore`) before `codemem init`:
    that folder alone is not a set-up repository, so a digest or `config set` still refuses."""
    repo = repo_factory("shop")
    runner = CliRunner()
    runner.invoke(cli, ["--repo", str(repo), "search", "checkout"])
    assert sorted(p.name for p in (repo / ".codemem").iterdir()) == [".gitignore", "local"]
    result = runner.invoke(cli, ["--repo", str(repo), *args])
    assert result.exit_code == 2, result.output
    assert INIT_FIRST in result.stderr
    assert not (repo / ".codemem" / "config.yml").exists()
