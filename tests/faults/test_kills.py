"""Commands killed at a phase leave a usable index, whole memory and no process behind.

A representative part of the kill matrix of `benchmarks/faults.py` (which runs every command
× signal × phase, and N random times): what `tests/code/test_indexer_interrupts.py` already
covers (`index --full` at a committed batch, by each signal) is left out. Each cell copies
the prepared repository, starts the command in its own process group, signals it at the
phase (the indexer's test hook, or a seeded random time within its uninterrupted duration),
and checks: the next command succeeds with no traceback; search still finds the untouched
file; edits reported done are there and every block is its old or new value exactly; no
process of the group is left; nothing hangs.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from fault_kills import Calibration, calibrate, kill_cell, ops, write_edit_script
from fault_world import TIMEOUT

CELLS = [
    ("index", "batch", "SIGTERM"),
    ("index", "full_text", "SIGINT"),
    ("index --full", "full_text", "SIGTERM"),
    ("digest", "batch", "SIGKILL"),
    ("digest", "random", "SIGINT"),
    ("memory set", "random", "SIGKILL"),
    ("remember --block", "random", "SIGTERM"),
    ("remember", "random", "SIGKILL"),
    ("run (memory tools)", "random", "SIGINT"),
]
SEED = 11

CALIBRATIONS: dict[str, Calibration] = {}


@pytest.mark.parametrize(("name", "phase", "signame"), CELLS, ids=[" ".join(c) for c in CELLS])
def test_killed_command_breaks_nothing(world, name, phase, signame):
    codemem, template, work = world
    op = next(op for op in ops(write_edit_script(work)) if op.name == name)
    if phase != "random" and not op.labels:  # nothing to time and no value to expect
        CALIBRATIONS.setdefault(name, Calibration(0.0, {}))
    if name not in CALIBRATIONS:
        CALIBRATIONS[name] = calibrate(codemem, template, op, work)
    rng = random.Random(f"{SEED}:{name}:{signame}")
    outcome = kill_cell(codemem, template, op, signame, phase, CALIBRATIONS[name], work, rng)
    assert outcome.problems == []
    if phase != "random":  # a random time may fall after the command finished on a busy machine
        assert outcome.faults == 1


LOADING_INTERRUPTED = """
import builtins, os, signal, sys
import codemem.__main__ as entry
real = builtins.__import__
def interrupting(name, *args, **kwargs):
    if name == "click":  # Ctrl-C lands while the command line is still being imported
        builtins.__import__ = real
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *args, **kwargs)
builtins.__import__ = interrupting
sys.argv = ["codemem", "status"]
entry.run()
"""


# A Ctrl-C before the entry point's handler is in place: while `import signal` builds its enums.
SIGNAL_IMPORT_INTERRUPTED = """
import builtins, runpy, sys
sys.modules.pop("signal", None)
real = builtins.__import__
def interrupting(name, *args, **kwargs):
    if name == "signal":
        builtins.__import__ = real
        raise KeyboardInterrupt
    return real(name, *args, **kwargs)
builtins.__import__ = interrupting
sys.argv = ["codemem", "status"]
runpy.run_module("codemem.__main__", run_name="__main__")
"""


@pytest.mark.parametrize(
    "script",
    [LOADING_INTERRUPTED, SIGNAL_IMPORT_INTERRUPTED],
    ids=["while-python-loads-the-cli", "while-the-entry-point-imports-signal"],
)
def test_ctrl_c_at_start_up_is_one_line(world, script):
    codemem, template, work = world
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=codemem.env,
        cwd=template.repo,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "codemem: interrupted\n")
