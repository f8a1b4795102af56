"""Shared test fixtures: real git repositories in tmp_path, isolated home folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real home folder or picks up the developer's settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CODEMEM_HOME", str(home / "codemem"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
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


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its stdout."""
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout


def make_repo(path: Path, fixture: str | None = None, commit: bool = True) -> Path:
    """A real git repository at `path`, optionally filled from fixtures/<fixture>."""
    path.mkdir(parents=True, exist_ok=True)
    if fixture:
        shutil.copytree(FIXTURES / fixture, path, dirs_exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    return path


@pytest.fixture
def repo_factory(tmp_path):
    """Build a git repository from a fixture folder: repo_factory("pyproj")."""
    counter = iter(range(1000))

    def build(fixture: str | None = None, commit: bool = True) -> Path:
        return make_repo(tmp_path / f"repo{next(counter)}", fixture, commit)

    return build
