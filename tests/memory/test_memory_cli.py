"""The `codemem memory` commands (core blocks), driven through the real CLI entry point."""

from __future__ import annotations

import json
import sys

import pytest
from memory_helpers import cli_ok as ok
from memory_helpers import read_block
from memory_helpers import run_cli as run

from codemem.memory import MemoryStore
from codemem.workspace import Workspace
from tests.helpers import AWS_KEY, SECRET_REFUSAL, git


def test_memory_list_shows_usage_bars(repo):
    assert ok(repo, "memory", "list").stdout == (
        "conventions  [██████████████████░░]  5,400 / 6,000\n"
        "             Conventions.\n"
        "project      [░░░░░░░░░░░░░░░░░░░░]      7 / 8,000\n"
        "             What the project is.\n"
        "users/alice  [░░░░░░░░░░░░░░░░░░░░]      0 / 4,000 read-only (you)\n"
        "             Alice.\n"
    )


def test_memory_list_json(repo):
    data = json.loads(ok(repo, "memory", "list", "--json").stdout)
    assert [(b["label"], b["chars"], b["limit"], b["read_only"]) for b in data] == [
        ("conventions", 5400, 6000, False),
        ("project", 7, 8000, False),
        ("users/alice", 0, 4000, True),
    ]
    assert data[1]["value"] == "A shop."


def test_memory_show(repo):
    assert ok(repo, "memory", "show", "project").stdout == (
        "project  [░░░░░░░░░░░░░░░░░░░░]      7 / 8,000\nWhat the project is.\n"
        + "-" * 40
        + "\nA shop.\n"
    )
    assert ok(repo, "memory", "show", "project", "--raw").stdout == "A shop.\n"
    assert (
        json.loads(ok(repo, "memory", "show", "project", "--json").stdout)["description"]
        == "What the project is."
    )
    everything = ok(repo, "memory", "show").stdout
    assert everything == MemoryStore(Workspace(repo)).render_blocks() + "\n"


def test_memory_set_from_value_file_and_stdin(repo, tmp_path):
    assert ok(repo, "memory", "set", "project", "--value", "A big shop.").stdout == (
        "Saved project: 11 / 8,000 characters.\n"
    )
    source = tmp_path / "value.md"
    source.write_text("From a file.\n")
    ok(repo, "memory", "set", "project", "--file", str(source))
    assert MemoryStore(Workspace(repo)).get("project").value == "From a file."
    ok(repo, "memory", "set", "project", "--file", "-", input="From stdin.\n")
    assert MemoryStore(Workspace(repo)).get("project").value == "From stdin."
    result = run(repo, "memory", "set", "project")
    assert result.exit_code == 2
    assert (
        result.stderr
        == "codemem: error: give exactly one of --value TEXT or --file FILE ('-' reads stdin)\n"
    )


def test_memory_set_refusals_are_one_line(repo):
    result = run(repo, "memory", "set", "conventions", "--value", "y" * 6001)
    assert (result.exit_code, result.stderr) == (
        2,
        "codemem: error: conventions would be 6,001 / 6,000 characters: shorten it or move detail "
        "to archival memory\n",
    )
    result = run(repo, "memory", "set", "nope", "--value", "x")
    assert result.stderr == (
        "codemem: error: unknown block 'nope': the blocks are conventions, project, users/alice; "
        "create it first to use a new label\n"
    )
    assert run(repo, "memory", "set", "users/alice", "--value", "x").stderr.startswith(
        "codemem: error: users/alice is read-only"
    )


def test_a_block_asked_for_before_init_names_init(repo_factory):
    # "the blocks are none yet; create it first" sent the user to `memory create project`,
    # where `codemem init` makes project, conventions and their own block at once
    root = repo_factory()
    want = (
        "codemem: error: unknown block 'project': .codemem/ has no blocks yet: run `codemem "
        "init` first (it creates the project, conventions and your user block)\n"
    )
    for args in (("memory", "show", "project"), ("remember", "--block", "project", "x")):
        result = run(root, *args)
        assert (result.exit_code, result.stderr) == (2, want)
    ok(root, "init", "--no-index")
    assert ok(root, "memory", "show", "project").stdout


def test_memory_edit_uses_the_editor(repo, tmp_path, monkeypatch):
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('A shop.', 'An edited shop.'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    assert ok(repo, "memory", "edit", "project").stdout == "Saved project: 15 / 8,000 characters.\n"
    assert read_block(Workspace(repo), "project").endswith("---\nAn edited shop.\n")
    monkeypatch.setenv("EDITOR", "true")  # closes without saving
    assert ok(repo, "memory", "edit", "project").stdout == "No change to project.\n"


@pytest.mark.parametrize(
    ("editor", "why"),
    [
        ("false", "false: Editing failed"),
        (
            "/no/such/editor",
            "/no/such/editor: Editing failed: [Errno 2] No such file or directory: '/no/such/editor'",
        ),
    ],
)
def test_memory_edit_with_an_editor_that_fails_says_so_in_one_line(repo, monkeypatch, editor, why):
    monkeypatch.setenv("EDITOR", editor)
    result = run(repo, "memory", "edit", "project")
    assert (result.exit_code, result.stdout) == (2, "")  # the environment's mistake, not findings
    assert result.stderr == (
        f"codemem: error: the editor failed ({why}): set $VISUAL or $EDITOR to one that works, "
        "or replace the block's value with `codemem memory set project --file FILE`\n"
    )
    assert read_block(Workspace(repo), "project").endswith("---\nA shop.\n")


def test_memory_edit_keeps_the_text_when_the_block_changed_meanwhile(repo, tmp_path, monkeypatch):
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\n"
        "from codemem.memory import MemoryStore\n"
        "from codemem.workspace import Workspace\n"
        f"MemoryStore(Workspace(pathlib.Path({str(repo)!r}))).append('project', 'Meanwhile.')\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text('My long careful edit.\\n')\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    result = run(repo, "memory", "edit", "project")
    assert result.exit_code == 2  # a refused edit: the exit-code rule
    kept = list((Workspace(repo).local_dir / "edits").glob("project-*.md"))
    assert len(kept) == 1 and kept[0].read_text() == "My long careful edit.\n"
    assert result.stderr == (
        "codemem: error: project changed since you read it: read it again and redo the edit; "
        f"what you typed is kept in {kept[0]}\n"
    )
    assert read_block(Workspace(repo), "project").endswith("---\nA shop.\nMeanwhile.\n")


def test_memory_rm_asks_on_a_terminal(repo):
    import os

    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "codemem", "--repo", str(repo), "memory", "rm", "project"],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=60,
    )
    child.expect_exact("Delete project (7 characters)? [y/N]: ")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert (Workspace(repo).blocks_dir / "project.md").exists()


def test_memory_create_rm_mv(repo):
    assert ok(
        repo, "memory", "create", "api", "--description", "API notes.", "--limit", "500"
    ).stdout.startswith("Created api (500 characters) in ")
    assert (
        read_block(Workspace(repo), "api")
        == "---\ndescription: API notes.\nlimit: 500\nread_only: false\n---\n"
    )
    assert ok(repo, "memory", "mv", "api", "backend/api").stdout == "Renamed api to backend/api.\n"
    refused = run(repo, "memory", "rm", "backend/api")  # no terminal to ask on
    assert (refused.exit_code, refused.stderr) == (
        2,
        "codemem: error: memory rm backend/api needs confirmation: add --yes to delete it\n",
    )
    assert (Workspace(repo).blocks_dir / "backend" / "api.md").exists()
    assert ok(repo, "memory", "rm", "backend/api", "--yes").stdout == "Deleted backend/api.\n"
    assert not (Workspace(repo).blocks_dir / "backend").exists()
    result = run(repo, "memory", "create", "Bad Label", "--description", "x")
    assert result.exit_code == 2
    assert result.stderr.startswith("codemem: error: invalid label 'Bad Label'")


def test_memory_history_from_git(repo):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add memory")
    ok(repo, "memory", "set", "project", "--value", "A bigger shop.")
    git(repo, "commit", "-q", "-am", "Grow the shop")
    ok(repo, "memory", "mv", "project", "about")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Rename project block")
    data = json.loads(ok(repo, "memory", "history", "about", "--json", "--patch").stdout)
    assert [c["subject"] for c in data] == ["Rename project block", "Grow the shop", "Add memory"]
    assert "+A bigger shop." in data[1]["patch"]
    text = ok(repo, "memory", "history", "about", "-n", "1").stdout
    assert text.endswith("Test Author: Rename project block\n")


def test_memory_history_of_a_label_that_is_no_block_is_an_error(repo):
    # It printed "No commits touch nope yet." and exited 0, as for a block not yet committed.
    missing = run(repo, "memory", "history", "nope")
    assert (missing.exit_code, missing.stdout, missing.stderr) == (
        2,
        "",
        "codemem: error: unknown block 'nope': the blocks are conventions, project, "
        "users/alice; create it first to use a new label\n",
    )
    assert run(repo, "memory", "history", "nope", "--json").exit_code == 2
    assert ok(repo, "memory", "history", "project").stdout == "No commits touch project yet.\n"
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add memory")
    ok(repo, "memory", "rm", "project", "--yes")
    git(repo, "commit", "-q", "-am", "Drop the project block")
    gone = ok(repo, "memory", "history", "project").stdout  # git keeps a deleted block's
    assert [line.split(": ", 1)[1] for line in gone.splitlines()] == [
        "Drop the project block",
        "Add memory",
    ]


def test_memory_import_and_export(repo_factory, monkeypatch):
    monkeypatch.setenv("CODEMEM_USER", "alice")
    root = repo_factory("memory/instructions")
    (root / ".codemem").mkdir()  # set up without `init`, which would import the files itself
    (root / ".codemem" / "config.yml").write_text("# team settings\n")
    first = json.loads(ok(root, "memory", "import", "--json").stdout)
    assert [(p["source"], p["target"], p["status"]) for p in first][:3] == [
        ("CLAUDE.md", "project", "imported"),
        ("CLAUDE.md", "project", "imported"),
        ("CLAUDE.md", "conventions", "imported"),
    ]
    assert (
        ok(root, "memory", "import").stdout.splitlines()[0]
        == "skipped      CLAUDE.md § Shop -> project"
    )
    assert (
        ok(root, "memory", "export", "--format", "agents-md").stdout
        == f"Updated {root / 'AGENTS.md'}\n"
    )
    assert (
        ok(root, "memory", "export", "--format", "agents-md").stdout
        == f"Unchanged: {root / 'AGENTS.md'}\n"
    )
    assert (
        (root / "AGENTS.md").read_text().startswith("## Architecture\n\nThe API talks to Postgres")
    )


def test_every_command_has_help(repo):
    for args in (
        ["memory"],
        ["memory", "list"],
        ["memory", "show"],
        ["memory", "edit"],
        ["memory", "set"],
        ["memory", "create"],
        ["memory", "rm"],
        ["memory", "mv"],
        ["memory", "history"],
        ["memory", "import"],
        ["memory", "export"],
        ["remember"],
        ["recall"],
        ["sessions"],
        ["sessions", "list"],
        ["sessions", "show"],
        ["sessions", "export"],
    ):
        result = ok(repo, *args, "--help")
        assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 3


def test_memory_history_of_commits_holding_separators_and_terminal_codes(repo):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add memory")
    ok(repo, "memory", "set", "project", "--value", "A \x1e shop \x1b]52;c;cHduZWQ=\x07.")
    git(repo, "commit", "-q", "-am", "Grow \x1e the \x1f shop \x1b]0;owned\x07")
    data = json.loads(ok(repo, "memory", "history", "project", "--json", "--patch").stdout)
    assert [c["subject"] for c in data] == [
        "Grow \x1e the \x1f shop \x1b]0;owned\x07",
        "Add memory",
    ]
    text = ok(repo, "memory", "history", "project", "-n", "1", "--patch").stdout
    assert "\x1b" not in text and "\x1e" not in text
    assert "Test Author: Grow \\x1e the \\x1f shop \\x1b]0;owned\\x07\n" in text
    assert "+A \\x1e shop \\x1b]52;c;cHduZWQ=\\x07.\n" in text


@pytest.mark.parametrize(
    "args",
    [
        ["remember", f"The deploy key is {AWS_KEY}."],
        ["remember", "--block", "project", f"Deploy key: {AWS_KEY}"],
        ["remember", "-"],
        ["memory", "set", "project", "--value", f"A shop. {AWS_KEY}"],
        ["memory", "create", "keys", "--description", "Keys.", "--value", AWS_KEY],
        ["memory", "create", "keys", "--description", f"Keys like {AWS_KEY}."],
    ],
)
def test_commands_that_write_memory_refuse_a_secret(repo, args):
    # memory is committed: only the commit hook stopped the key, once it was in the file
    before = {p: p.read_bytes() for p in (repo / ".codemem").rglob("*") if p.is_file()}
    result = run(repo, *args, input=f"key {AWS_KEY}\n")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"codemem: error: {SECRET_REFUSAL}\n",
    )
    after = {p: p.read_bytes() for p in (repo / ".codemem").rglob("*") if p.is_file()}
    assert after == before


def test_memory_edit_refuses_a_secret_and_keeps_what_was_typed(repo, tmp_path, monkeypatch):
    script = tmp_path / "editor.py"
    script.write_text(f"import sys\nopen(sys.argv[1], 'a').write('Key: {AWS_KEY}\\n')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    result = run(repo, "memory", "edit", "project")
    kept = list((Workspace(repo).local_dir / "edits").glob("project-*.md"))
    assert len(kept) == 1 and kept[0].read_text() == f"A shop.\nKey: {AWS_KEY}\n"
    assert (result.exit_code, result.stderr) == (
        2,
        f"codemem: error: {SECRET_REFUSAL}; what you typed is kept in {kept[0]}\n",
    )
    assert read_block(Workspace(repo), "project").endswith("---\nA shop.\n")
