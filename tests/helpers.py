"""Helpers shared by every test folder: the one git runner and real repositories from fixtures/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git in `repo`; `.stdout` is its output as text. Raises on failure unless check=False.

    `env` is added to the current environment (GIT_AUTHOR_DATE and the like).
    """
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **env} if env else None,
    )


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


def run_codemem(
    repo: Path,
    *args: str,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m codemem --repo REPO ARGS` in a subprocess, running this checkout's codemem,
    with `env` added to this process's environment (and `preexec_fn` run in the child first,
    to limit its memory, say)."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(FIXTURES.parent), os.environ.get("PYTHONPATH", "")]
    )
    return subprocess.run(
        [sys.executable, "-m", "codemem", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )
