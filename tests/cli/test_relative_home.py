"""A relative CODEMEM_HOME: refused in one line, never a folder made inside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codemem.config import user_config_dir
from tests.helpers import git, make_repo

REFUSAL = (
    "codemem: error: CODEMEM_HOME is a relative path (.cm), which each command would take "
    "from the folder it runs in: set it to an absolute path (or one starting with ~/)"
)


def run_in(folder: Path, *args: str, home: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codemem", *args],
        cwd=folder,
        env={**os.environ, "CODEMEM_HOME": home},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_relative_codemem_home_is_refused_and_leaves_nothing_in_the_repository(tmp_path):
    # `CODEMEM_HOME=.cm codemem remember --block personal ...` made .cm/locks/ in the folder
    # the command ran in: untracked files in the repository, another home in each folder.
    repo = make_repo(tmp_path / "shop", "sleep/pyshop")
    assert run_in(repo, "init", home=str(tmp_path / "home")).returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "codemem")
    for args in (("remember", "--block", "personal", "I like tabs"), ("config", "show")):
        done = run_in(repo, *args, home=".cm")
        assert (done.returncode, done.stdout, done.stderr.strip()) == (2, "", REFUSAL)
    assert not (repo / ".cm").exists()
    assert git(repo, "status", "--porcelain").stdout == ""


def test_home_and_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CODEMEM_HOME", "~/cm")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_config_dir() == tmp_path / "cm"
    monkeypatch.delenv("CODEMEM_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", "conf")  # relative: ignored, as XDG says
    assert user_config_dir() == tmp_path / ".config" / "codemem"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "conf"))
    assert user_config_dir() == tmp_path / "conf" / "codemem"
