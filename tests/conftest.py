"""Shared test fixtures: real git repositories in tmp_path, isolated home folder."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.helpers import make_repo


def pytest_configure(config):
    """Ctrl-C reaches the codemem processes the tests start, as a terminal delivers it.

    A job started in the background by a shell without job control (`bash .ci/run &`, a CI
    runner's script) runs with SIGINT ignored, and every process it starts inherits that: the
    tests that stop a `codemem run` or `chat` with a Ctrl-C would wait on a signal their child
    ignores. A handled signal is back to its default in a child that execs."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real home folder or picks up the developer's settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CODEMEM_HOME", str(home / "codemem"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # A hook git runs starts `python -m codemem`: this checkout's, not the one installed.
    checkout = str(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([checkout, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.com")
    for name in list(os.environ):
        if name.startswith("CODEMEM_") and name != "CODEMEM_HOME":
            monkeypatch.delenv(name)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def repo_factory(tmp_path):
    """Build a git repository from a fixture folder: repo_factory("pyproj")."""
    counter = iter(range(1000))

    def build(fixture: str | None = None, commit: bool = True) -> Path:
        return make_repo(tmp_path / f"repo{next(counter)}", fixture, commit)

    return build
