"""`checkout_line_ends`: the line end git gives a text file on checkout, asked of git's own
checkout under each attribute and config a team uses."""

from __future__ import annotations

import pytest

from codemem.infra import checkout_line_ends, checkout_line_ends_of
from tests.helpers import commands_run, git, make_repo

SETUPS = {  # name: (git config, .gitattributes)
    "plain": ({}, ""),
    "autocrlf": ({"core.autocrlf": "true"}, ""),
    "autocrlf input": ({"core.autocrlf": "input"}, ""),
    "core.eol crlf, text=auto": ({"core.eol": "crlf"}, "* text=auto\n"),
    "core.eol crlf, no attribute": ({"core.eol": "crlf"}, ""),
    "text=auto eol=crlf": ({}, "* text=auto eol=crlf\n"),
    "eol=crlf alone": ({}, "*.md eol=crlf\n"),
    "autocrlf, but eol=lf": ({"core.autocrlf": "true"}, "*.md eol=lf\n"),
    "autocrlf, but binary": ({"core.autocrlf": "true"}, "*.md binary\n"),
    "autocrlf, but -text": ({"core.autocrlf": "true"}, "*.md -text\n"),
    "text=input, eol=crlf": ({"core.autocrlf": "true"}, "*.md text=input eol=crlf\n"),
    "legacy crlf attribute": ({"core.autocrlf": "true"}, "*.md crlf=input\n"),
    "autocrlf, text": ({"core.autocrlf": "true"}, "*.md text\n"),
}


@pytest.mark.parametrize("setup", SETUPS)
def test_the_line_end_is_the_one_git_checks_the_file_out_with(tmp_path, setup):
    config, attributes = SETUPS[setup]
    repo = make_repo(tmp_path / "r", commit=False)
    for key, value in config.items():
        git(repo, "config", key, value)
    if attributes:
        (repo / ".gitattributes").write_bytes(attributes.encode())
    (repo / "notes").mkdir()
    found = checkout_line_ends(repo, "notes/a.md")
    # what git itself does with a new file of LF lines: added, then checked out again
    (repo / "notes/a.md").write_bytes(b"one\ntwo\n")
    git(repo, "-c", "core.safecrlf=false", "add", "notes/a.md")
    (repo / "notes/a.md").unlink()
    git(repo, "checkout", "--", "notes/a.md")
    checked_out = (repo / "notes/a.md").read_bytes()
    assert checked_out in (b"one\ntwo\n", b"one\r\ntwo\r\n")
    assert found == ("\r\n" if b"\r" in checked_out else "\n")


def test_the_answer_follows_the_config_and_the_attributes_changed_between_calls(tmp_path):
    # The clone's `core.autocrlf`/`core.eol` are kept per process (one `git config` per version
    # of its config files): an edit of the config, or of `.gitattributes`, is seen at once.
    repo = make_repo(tmp_path / "r", commit=False)
    answers = [checkout_line_ends(repo, "notes/a.md")]
    git(repo, "config", "core.autocrlf", "true")
    answers.append(checkout_line_ends(repo, "notes/a.md"))
    (repo / ".gitattributes").write_bytes(b"*.md eol=lf\n")
    answers.append(checkout_line_ends(repo, "notes/a.md"))
    (repo / ".gitattributes").unlink()
    answers.append(checkout_line_ends(repo, "notes/a.md"))
    git(repo, "config", "core.autocrlf", "false")
    answers.append(checkout_line_ends(repo, "notes/a.md"))
    git(repo, "config", "core.eol", "crlf")
    (repo / ".gitattributes").write_bytes(b"* text=auto\n")
    answers.append(checkout_line_ends(repo, "notes/a.md"))
    assert answers == ["\n", "\r\n", "\n", "\r\n", "\n", "\r\n"]


def test_several_files_are_asked_of_git_at_once(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "r", commit=False)
    git(repo, "config", "core.autocrlf", "true")
    (repo / ".gitattributes").write_bytes(b"*.txt eol=lf\nodd*.md -text\n")
    paths = ["notes/a.md", "notes/b.txt", "odd name.md", "notes/é.md"]
    one_by_one = {path: checkout_line_ends(repo, path) for path in paths}
    asked = commands_run(monkeypatch)
    together = checkout_line_ends_of(repo, paths)
    assert (
        together
        == one_by_one
        == {
            "notes/a.md": "\r\n",
            "notes/b.txt": "\n",
            "odd name.md": "\n",
            "notes/é.md": "\r\n",
        }
    )
    assert [args for args in asked if "git" in args[0]] == [
        [args for args in asked if "check-attr" in args][0]
    ]
