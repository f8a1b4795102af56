"""A repository built to hurt an indexer: symlinks out (a file, a folder, /etc/passwd, a loop),
a huge file, binary files holding secrets, a Latin-1 file, a named pipe, a committed config
that points embeddings and the model at a server of its own (which no connection may reach);
then files turning into folders, folders into files and a file into a symlink out.

Every command is a real subprocess with a timeout: a reader that opened the named pipe
would block forever, and must show up as a hang, not hang the suite.
"""

from __future__ import annotations

import sys

from fault_env import hostile_cell
from fault_world import Codemem


def test_hostile_repository_is_indexed_safely(tmp_path):
    codemem = Codemem(tmp_path / "home", [sys.executable, "-m", "codemem"])
    outcome = hostile_cell(codemem, tmp_path, huge_mb=1)
    assert (outcome.faults, outcome.problems) == (3, [])
