"""A typo in a command or a block's label is answered with what was meant."""

from __future__ import annotations

from click.testing import CliRunner

from codemem.cli import cli


def test_a_mistyped_command_is_answered_with_the_command_meant(tmp_path):
    result = CliRunner().invoke(cli, ["--repo", str(tmp_path), "serch", "tokens"])
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[-1] == "Error: No such command 'serch'. Did you mean 'search'?"
    )
    unknown = CliRunner().invoke(cli, ["--repo", str(tmp_path), "frobnicate"])
    assert (unknown.exit_code, unknown.stderr.splitlines()[-1]) == (
        2,
        "Error: No such command 'frobnicate'.",
    )


def test_a_mistyped_block_label_is_answered_with_the_label_meant(repo_factory):
    repo = repo_factory("shop")
    assert CliRunner().invoke(cli, ["--repo", str(repo), "init", "--no-index"]).exit_code == 0
    for args in (["memory", "show", "projct"], ["remember", "--block", "projct", "Uses tabs."]):
        result = CliRunner().invoke(cli, ["--repo", str(repo), *args])
        assert result.exit_code == 2
        assert result.stderr.startswith(
            "codemem: error: unknown block 'projct': did you mean 'project'? (the blocks are "
            "conventions, project, "
        )
    far = CliRunner().invoke(cli, ["--repo", str(repo), "memory", "show", "deployment"])
    assert "did you mean" not in far.stderr and "create it first" in far.stderr
