"""Memory in a Windows teammate's clone (`core.autocrlf=true`, often with `core.safecrlf=true`):
the files codemem creates have the line ends git checks them out with, so `git add` takes them
(with `safecrlf` it refused an LF file: "LF would be replaced by CRLF") and warns of nothing."""

from __future__ import annotations

from click.testing import CliRunner

from codemem.cli import cli
from tests.helpers import git, make_repo


def codemem(repo, *args):
    result = CliRunner().invoke(cli, ["--repo", str(repo), *args])
    assert result.exit_code == 0, result.output
    return result


def test_new_memory_files_in_a_windows_clone_are_written_as_git_checks_them_out(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    git(repo, "config", "core.autocrlf", "true")
    git(repo, "config", "core.safecrlf", "true")
    (repo / "app.py").write_bytes(b"def main():\r\n    return 1\r\n")  # as a Windows editor saves
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "First")
    codemem(repo, "init")
    codemem(repo, "remember", "Deploys go through the staging box first.")
    codemem(repo, "memory", "create", "team", "--description", "Who does what.", "--value", "Ann.")
    codemem(repo, "digest", "--no-llm")  # its digest and conventions.json: new files too
    codemem(repo, "memory", "export", "--format", "agents-md")  # AGENTS.md, committed too
    added = git(repo, "add", "-A", check=False)
    assert (added.returncode, added.stderr) == (0, "")  # before: fatal: LF would be replaced...
    listed = git(repo, "ls-files", "--eol", "--", ".codemem", "AGENTS.md").stdout.splitlines()
    paths = [line.split("\t")[1] for line in listed]
    assert {path.removeprefix(".codemem/").split("/")[0] for path in paths} == {
        "AGENTS.md",
        ".gitattributes",
        ".gitignore",
        "archive",
        "blocks",
        "config.yml",
        "conventions.json",
        "digests",
    }
    assert {line.split()[1] for line in listed} == {"w/crlf"}  # blob: LF, as git normalises
    assert {line.split()[0] for line in listed} == {"i/lf"}
