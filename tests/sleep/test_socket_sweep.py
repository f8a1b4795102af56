"""The sweep of dead search sockets against a daemon binding the same name at that moment."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from codemem.config import load_config
from codemem.daemon.query_client import remove_if_dead, socket_path
from codemem.daemon.query_server import QueryServer
from codemem.workspace import Workspace
from tests.helpers import make_repo


@pytest.fixture
def runtime(monkeypatch) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))  # short: the socket fits there
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    shutil.rmtree(folder)


def _dead_socket(path: Path) -> None:
    """What a SIGKILLed daemon leaves: a socket file, bound two minutes ago, nobody listening."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as made:
        made.bind(str(path))
    os.utime(path, (time.time() - 120, time.time() - 120))


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(str(path))
        except OSError:
            return False
    return True


def test_a_sweep_never_removes_the_socket_a_restarting_daemon_just_bound(
    tmp_path, runtime, monkeypatch
):
    # A search found the old daemon's socket dead; as it removed it, the daemon restarted and
    # bound a new socket at the same name: the search removed that one, and the new daemon
    # answered no search until it restarted again.
    repo = make_repo(tmp_path / "shop", "sleep/pyshop")
    ws = Workspace(repo)
    server = QueryServer(ws, load_config(ws.config_file))
    own = socket_path(repo)
    assert own.parent == runtime / "codemem"
    _dead_socket(own)
    binding = threading.Thread(target=server.bind)
    real_unlink = Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        sweep = threading.current_thread() is threading.main_thread()
        if path == own and sweep and binding.ident is None:  # the sweep, about to remove it
            binding.start()  # the daemon restarts now
            binding.join(timeout=1.0)
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    try:
        assert remove_if_dead(own) is True  # the dead one
        binding.join(timeout=10)
        assert not binding.is_alive()
        assert own.exists() and _answers(own)  # the new daemon's, kept and listening
    finally:
        server.stop()
    assert not own.exists()


def test_a_daemon_stopping_leaves_the_socket_of_one_that_replaced_it(tmp_path, runtime):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop")
    ws = Workspace(repo)
    first, second = (
        QueryServer(ws, load_config(ws.config_file)),
        QueryServer(ws, load_config(ws.config_file)),
    )
    first.bind()
    second.bind()  # a daemon that replaced the first: the first's file removed, its own bound
    try:
        first.stop()
        assert _answers(socket_path(repo))
    finally:
        second.stop()
    assert not socket_path(repo).exists()
