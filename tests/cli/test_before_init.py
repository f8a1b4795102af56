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
