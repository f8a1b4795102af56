"""The merge driver line `codemem init` writes into `.git/config`, read back as git reads it.

Git stores a value holding `"` or `\\` escaped (`\\"`, `\\\\`), and one holding `#` or `;`
between double quotes; the line codemem writes under Python 3.10 (`-c '[__import__(...)]'`,
shell-quoted by `shlex.join` as `'"'"'`) holds double quotes, as does one whose Python lives
in a folder named with a quote. Read back raw, such a line was never recognized as codemem's.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from codemem.merge_driver import (
    _SAFE_START_310,
    MERGE_DRIVER_KEY,
    configure_merge_driver,
    merge_driver_command,
)
from codemem.workspace import Workspace


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / ".codemem").mkdir()
    (root / ".codemem" / ".gitattributes").write_text("* merge=codemem\n", encoding="utf-8")
    return Workspace(root)


def driver(python: str, start: list[str]) -> str:
    return f"{shlex.join([python, *start])} merge-file %O %A %B %P"


PY310 = ["-c", _SAFE_START_310]
PY311 = ["-P", "-m", "codemem"]


@pytest.mark.parametrize("start", [PY310, PY311], ids=["3.10", "3.11+"])
@pytest.mark.parametrize("folder", ["old venv", 'old "venv"', "old\\venv", "it's;#here"])
def test_a_driver_whose_python_is_gone_is_set_again_whatever_its_quoting(
    ws, tmp_path, start, folder
):
    gone = driver(str(tmp_path / folder / "bin" / "python"), start)
    git(ws.root, "config", "--local", MERGE_DRIVER_KEY, gone)
    assert git(ws.root, "config", MERGE_DRIVER_KEY) == gone
    assert configure_merge_driver(ws) is True
    assert git(ws.root, "config", MERGE_DRIVER_KEY) == merge_driver_command()


@pytest.mark.parametrize("start", [PY310, PY311], ids=["3.10", "3.11+"])
@pytest.mark.parametrize("folder", ["a venv", 'a "venv"', "a\\venv", "it's;#here"])
def test_a_driver_whose_python_is_there_is_kept_whatever_its_quoting(ws, tmp_path, start, folder):
    python = tmp_path / folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    there = driver(str(python), start)
    git(ws.root, "config", "--local", MERGE_DRIVER_KEY, there)
    assert configure_merge_driver(ws) is False
    assert git(ws.root, "config", MERGE_DRIVER_KEY) == there
