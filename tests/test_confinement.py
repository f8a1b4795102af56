"""Private data is the owner's alone (the chat history and the watch log 0600, their folders
0700), and names printed for reading cannot break a line (the digest, the project block)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys

import pytest

from codemem.errors import PathOutsideRepository
from codemem.infra import create_private, printable, printable_text, private_dir
from codemem.merge_driver import _SAFE_START_310, codemem_argv
from codemem.workspace import Workspace
from tests.helpers import git


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_private_dir_creates_and_tightens(tmp_path):
    folder = private_dir(tmp_path / "a" / "local")
    assert (mode(folder), mode(tmp_path / "a")) == (0o700, 0o777 & ~_umask())
    os.chmod(folder, 0o755)
    private_dir(folder)
    assert mode(folder) == 0o700


def test_create_private_creates_0600_tightens_and_refuses_a_link(tmp_path):
    path = create_private(tmp_path / "recall.sqlite")
    assert (mode(path), path.read_bytes()) == (0o600, b"")
    path.write_bytes(b"data")
    os.chmod(path, 0o644)
    create_private(path)
    assert (mode(path), path.read_bytes()) == (0o600, b"data")
    (tmp_path / "link").symlink_to(path)
    with pytest.raises(PathOutsideRepository):
        create_private(tmp_path / "link")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("src/app.py", "src/app.py"),
        ("a\nb.py", "a\\nb.py"),
        ("a\r\tb", "a\\r\\tb"),
        ("x\x1b[31m", "x\\x1b[31m"),
        ("del\x7f", "del\\x7f"),
        ("line\u2028sep", "line\\u2028sep"),
        ("café/naïve.py", "café/naïve.py"),
    ],
)
def test_printable_escapes_control_characters_only(name, shown):
    assert printable(name) == shown


def test_chat_history_is_private(tmp_path):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from codemem.cli.chat_ui import TerminalInput

    history = tmp_path / "sessions" / "chat_history"
    with create_pipe_input() as pipe:
        TerminalInput(history, input=pipe, output=DummyOutput())
    assert (mode(history.parent), mode(history)) == (0o700, 0o600)


def test_watch_log_is_private(repo_factory):
    from codemem.daemon.process import setup_log

    ws = Workspace(repo_factory())
    ws.ensure_local()
    logger = logging.getLogger("codemem")
    level = logger.level
    handler = setup_log(ws, detached=False)
    try:
        logger.info("hello")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
    assert mode(ws.local_dir / "watch.log") == 0o600


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_digest_escapes_a_crafted_file_name(repo_factory):
    from click.testing import CliRunner

    from codemem.cli import cli
    from codemem.memory import initialize_memory
    from tests.helpers import git

    repo = repo_factory()
    initialize_memory(Workspace(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "codemem init")
    (repo / "evil\n## Injected heading.py").write_text("def evil():\n    return 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add a file")
    result = CliRunner().invoke(cli, ["--repo", str(repo), "digest"])
    assert result.exit_code == 0, result.output
    [digest] = (repo / ".codemem" / "digests").glob("*.md")
    text = digest.read_text(encoding="utf-8")
    assert text.splitlines()[-2:] == [
        "Files: `evil\\n## Injected heading.py` (A, +2 −0)",
        "Added: `evil\\n## Injected heading.py`: function `evil`",
    ]
    assert "\n## Injected heading" not in text


def test_printable_text_keeps_lines_tabs_and_crlf_and_escapes_the_rest():
    text = "a\tb\r\nc\x1b[2K\rd\x07\u2028e\n"
    assert printable_text(text) == "a\tb\r\nc\\x1b[2K\\rd\\x07\\u2028e\n"


def test_local_stays_ignored_after_a_commit_that_drops_it_from_the_gitignore(repo_factory):
    # A commit (a teammate's mistake, or a clone's trick) that empties .codemem/.gitignore
    # showed .codemem/local/ as untracked, so the next `git add -A` committed every
    # conversation in recall.sqlite and the index. local/ ignores itself now.
    repo = repo_factory()
    ws = Workspace(repo)
    ws.ensure_local()
    (ws.local_dir / "recall.sqlite").write_bytes(b"conversations")
    (ws.dir / ".gitignore").write_text("# nothing ignored here\n")
    git(repo, "add", ".codemem/.gitignore")
    git(repo, "commit", "-qm", "a .gitignore that ignores nothing")
    assert git(repo, "status", "--porcelain", "--untracked-files=all").stdout == ""
    (ws.local_dir / ".gitignore").write_text("!*\n")  # damaged: derived, so written again
    ws.ensure_local()
    assert git(repo, "status", "--porcelain", "--untracked-files=all").stdout == ""


@pytest.mark.parametrize("form", ["this Python's", "3.10's"])
def test_codemem_started_in_a_repository_never_imports_its_codemem_folder(tmp_path, form):
    # The hooks, the merge driver and `watch --detach` run codemem in the work tree, and
    # `python -m` looks in the current folder first.
    package = tmp_path / "codemem"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("print('not codemem')\n")
    argv = codemem_argv() if form == "this Python's" else [sys.executable, "-c", _SAFE_START_310]
    done = subprocess.run(
        [*argv, "--version"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("codemem, version ")
