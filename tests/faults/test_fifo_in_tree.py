"""A FIFO where git reads a file: a `.gitignore` or a `.gitattributes` made a named pipe.

git never stores a FIFO, but a tarball or a shared folder can bring one, and `git ls-files
-o --exclude-standard` (every listing of the work tree) or `git check-attr` then opens it and
waits for a writer for ever: `codemem status`, `search` and `digest --dry-run` hung, and so
did the watch daemon's listing. Each must say which file it is, exit 2, and not hang. Every
command is a real `codemem` process with a bounded wait; every git wait in this process has
a writer that ends it late (`_unblocked_later`), so a regression fails, never hangs the run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from codemem.errors import GitStuckOnFifo
from codemem.infra import git_watch, run_git
from tests.helpers import git
from tests.helpers import run_codemem as codemem

HUNG = "waits for ever on"


@contextmanager
def _unblocked_later(fifo: Path, after: float = 60) -> Iterator[None]:
    """Open `fifo` for writing after `after` seconds unless the block has ended: a git that
    waits on it then goes on, so a test of code that does not notice fails instead of
    hanging the suite."""
    done = threading.Event()

    def writer() -> None:
        if not done.wait(after):
            with suppress(OSError):  # ENXIO: no git waits on it
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@pytest.fixture
def project(repo_factory):
    root = repo_factory()
    (root / "src").mkdir()
    (root / "src" / "cart.py").write_text("def order_total(items):\n    return 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "cart")
    assert codemem(root, "init").returncode == 0
    return root


@pytest.mark.parametrize("folder", ["src", "untracked/deep", ".codemem"])
@pytest.mark.parametrize("args", [("status",), ("search", "order total"), ("digest", "--dry-run")])
def test_a_fifo_gitignore_is_named_not_waited_on(project, folder, args):
    # Before: each command hung in `git ls-files -t -s -m -o --exclude-standard -z`.
    (project / folder).mkdir(parents=True, exist_ok=True)
    fifo = project / folder / ".gitignore"
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    result = codemem(project, *args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{HUNG} {folder}/.gitignore: a FIFO" in result.stderr
    assert "Traceback" not in result.stderr
    fifo.unlink()
    assert codemem(project, *args, timeout=120).returncode in (0, 1)  # fixed: works again


def test_a_fifo_gitattributes_is_named_by_the_digest(project):
    # Before: `digest --dry-run` hung in git's read of the attributes (`diff-tree`, `check-attr`).
    os.mkfifo(project / "src" / ".gitattributes")
    result = codemem(project, "digest", "--dry-run", timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{HUNG} src/.gitattributes: a FIFO" in result.stderr


def test_a_fifo_the_git_config_includes_is_named(project):
    # Before: every command hung in the guard's `git config` (the config files' includes).
    os.mkfifo(project / ".git" / "inc")
    with open(project / ".git" / "config", "a") as config:
        config.write("[include]\n\tpath = inc\n")
    result = codemem(project, "status", timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{HUNG} {project / '.git' / 'inc'}: a FIFO" in result.stderr


@pytest.mark.parametrize("hidden", [False, True])
def test_run_git_names_the_fifo_git_waits_on(project, monkeypatch, hidden):
    # `hidden`: the kernel shows the wait but not the call's arguments (stricter ptrace
    # rules); the FIFOs at the names git opens are looked for instead.
    if not Path("/proc/self/wchan").exists():
        pytest.skip("no /proc: git is waited on as before")
    if hidden:
        monkeypatch.setattr(git_watch, "_opening", lambda pid: None)
    fifo = project / "src" / ".gitignore"
    os.mkfifo(fifo)
    with _unblocked_later(fifo), pytest.raises(GitStuckOnFifo) as raised:
        run_git(project, "ls-files", "-o", "--exclude-standard", "-z")
    assert f"git ls-files {HUNG} src/.gitignore" in str(raised.value)
    assert raised.value.exit_code == 2


def test_a_fifo_git_opens_while_a_writer_comes_is_left_to_git(project):
    # A FIFO whose writer comes is git's own business: the watch never kills that git.
    fifo = project / "src" / ".gitignore"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)  # waits for git to open it: git goes on then
        opened.set()
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with _unblocked_later(fifo, after=30):
        run_git(project, "ls-files", "-o", "--exclude-standard", "-z")  # no GitStuckOnFifo
    thread.join(timeout=30)
    assert opened.is_set()


def test_the_mcp_server_names_the_fifo_and_keeps_serving(project):
    # Before: the server's first code tool call hung in the listing, and with it the server.
    from codemem.config import load_config
    from codemem.mcp.server import McpSession
    from codemem.workspace import Workspace

    ws = Workspace(project)
    session = McpSession(ws, load_config(ws.config_file))
    fifo = project / "src" / ".gitignore"
    os.mkfifo(fifo)
    with _unblocked_later(fifo):
        result = session.call_tool("search_code", {"query": "order total", "k": 1})
    assert result.is_error
    assert f"{HUNG} src/.gitignore: a FIFO" in str(result.content)
    assert not session.call_tool("memory_read", {"label": "project"}).is_error  # memory goes on
    fifo.unlink()
    result = session.call_tool("search_code", {"query": "order total", "k": 1})
    assert not result.is_error and "src/cart.py" in str(result.content)
