"""A full disk: one line, exit 3 or more, old files intact, and the next run goes through.

The Nth call of os.write, os.replace, os.rename or os.fsync (not counting multiprocessing's
writes to its pipes) raises ENOSPC inside this process while the command runs (benchmarks/faults.py does the same in a subprocess for every N).
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
from fault_env import DISK_OPS, enospc_cell
from fault_world import copy_template

PATCHED = ("write", "replace", "rename", "fsync")
PIPES = ("multiprocessing", "concurrent")  # their os.write goes to pipes, not to the disk


def failing_at(monkeypatch):
    """A `faulty` runner for enospc_cell: the command in this process, the `at`-th call failing."""

    def run(cli, repo: Path, args: tuple[str, ...], at: int, mark: Path):
        calls = [0]

        def wrap(real):
            def call(*a, **k):
                if sys._getframe(1).f_globals.get("__name__", "").startswith(PIPES):
                    return real(*a, **k)
                calls[0] += 1
                if calls[0] == at:
                    mark.touch()
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real(*a, **k)

            return call

        mark.unlink(missing_ok=True)
        with monkeypatch.context() as patch:
            for name in PATCHED:
                patch.setattr(os, name, wrap(getattr(os, name)))
            return cli.run(repo, *args)

    return run


CELLS = [(op.name, at) for op in DISK_OPS for at in (1, 2)]


@pytest.mark.parametrize(("name", "at"), CELLS, ids=[f"{name} call {at}" for name, at in CELLS])
def test_full_disk_fails_cleanly(world, monkeypatch, name, at):
    codemem, template, work = world
    op = next(op for op in DISK_OPS if op.name == name)
    outcome = enospc_cell(codemem, template, op, at, work, faulty=failing_at(monkeypatch))
    assert (outcome.faults, outcome.problems) == (1, [])


NATIVE = (
    "lance error: LanceError(IO): Generic LocalFileSystem error: Unable to copy data to file: "
    "No space left on device (os error 28), /root/.cargo/registry/src/lance-table/src/io/commit.rs:1663:50"
)


def test_a_full_disk_under_lancedb_is_one_line_too(world, monkeypatch):
    codemem, template, work = world

    def refresh(self, *args, **kwargs):
        raise RuntimeError(NATIVE)  # what LanceDB raises when its own write hits ENOSPC

    monkeypatch.setattr("codemem.code.CodeIndex.refresh", refresh)
    result = codemem.run(copy_template(template, work / "lancedb-enospc"), "index")
    assert (result.rc, result.stderr) == (
        3,
        "codemem: error: the disk is full (in the code index); free some space and run the command again\n",
    )
