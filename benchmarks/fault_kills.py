"""Kill cells: a command killed by a signal at a phase, then the invariants.

A phase is either a named point reached through codemem's test hook
(CODEMEM_TEST_STALL_AT=batch|full_text: after a committed batch of the index writer, before
the full-text phase) or `random`: a delay drawn (fixed seed) between zero and the time the
same command took uninterrupted on a copy, so over N runs every phase gets hit.

After the kill: (a) the next `index` succeeds with no traceback, (b) search finds the file no
fault touched, (c) an edit reported successful is there, every block is its old or its new
value exactly, (d) no process of the killed group is left, (e) nothing hangs (every command
has a timeout; a stale lock shows as a hang or a failed `index`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fault_world import (
    TIMEOUT,
    Codemem,
    Outcome,
    Result,
    Template,
    block_value,
    check_index,
    check_kept_edits,
    copy_template,
    kill_group,
    last_line,
    run,
    traceback_summary,
    wait_group_gone,
)

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
HOOK_ENV = {"CODEMEM_INDEX__WORKERS": "2", "CODEMEM_INDEX__BATCH_FILES": "10"}
EDIT_SCRIPT = [
    {
        "tool_calls": [
            {
                "name": "memory_replace",
                "arguments": {
                    "label": "project",
                    "old": "Prices are euros.",
                    "new": "Prices are in euros.",
                },
            },
            {
                "name": "memory_append",
                "arguments": {"label": "scratch", "content": "agent was here"},
            },
        ]
    },
    "Done.",
]


@dataclass(frozen=True)
class Op:
    """A command to kill: its arguments, the hook points it passes, the blocks it edits."""

    name: str
    args: tuple[str, ...]
    hooks: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # blocks it may change: old or new value, nothing else
    note: str | None = None  # an archival note it saves (found by recall iff it succeeded)


def ops(script: Path) -> list[Op]:
    return [
        Op("index --full", ("index", "--full"), ("batch", "full_text")),
        Op("index", ("index",), ("batch", "full_text")),
        Op("digest", ("digest", "--no-llm"), ("batch",), ("project", "conventions")),
        Op(
            "memory set",
            ("memory", "set", "scratch", "--value", "scratch v1 " + "x" * 3000),
            (),
            ("scratch",),
        ),
        Op(
            "remember --block",
            ("remember", "--block", "scratch", "appended-token"),
            (),
            ("scratch",),
        ),
        Op(
            "remember",
            ("remember", "note-token-walrus: staging deploys on Fridays"),
            note="note-token-walrus",
        ),
        Op(
            "run (memory tools)",
            ("run", "-m", f"scripted/{script}", "--yes", "tidy memory"),
            (),
            ("project", "scratch"),
        ),
    ]


def write_edit_script(root: Path) -> Path:
    script = root / "edit-session.json"
    script.write_text(json.dumps(EDIT_SCRIPT))
    return script


@dataclass
class Calibration:
    """The command run uninterrupted on a copy: how long it takes, what it leaves."""

    seconds: float
    values: dict[str, str | None]


def calibrate(cli: Codemem, template: Template, op: Op, work: Path) -> Calibration:
    repo = copy_template(template, work / "calibrate")
    result = run(cli.argv(repo, op.args), cli.env)  # a real process: its time includes start-up
    if result.rc != 0:
        raise RuntimeError(f"calibration: `{result.command}` failed: {last_line(result.stderr)}")
    values = {label: block_value(cli, repo, label) for label in op.labels}
    shutil.rmtree(repo, ignore_errors=True)
    return Calibration(result.seconds, values)


def kill_cell(
    cli: Codemem,
    template: Template,
    op: Op,
    signame: str,
    phase: str,
    calibration: Calibration,
    work: Path,
    rng: random.Random,
) -> Outcome:
    """One run: copy, start, kill at `phase` with `signame`, check everything."""
    cell = f"kill {op.name} @{phase} {signame}"
    outcome = Outcome(cell, runs=1)
    repo = copy_template(template, work / "kill")
    env = dict(HOOK_ENV)
    stall = work / "stalled"
    stall.unlink(missing_ok=True)
    if phase != "random":
        env |= {"CODEMEM_TEST_STALL_AT": phase, "CODEMEM_TEST_STALL_FILE": str(stall)}
    proc = cli.start(repo, *op.args, env=env)
    alive = _reach(proc, phase, stall, calibration, rng)
    if alive is None:
        out, err = _finish(proc, outcome, cell)
        outcome.problem(
            "other", f"{cell}: never reached the phase (exit {proc.returncode}): {last_line(err)}"
        )
        return outcome
    sig = SIGNALS[signame]
    if alive:
        outcome.faults += 1
        # Ctrl-C reaches the terminal's whole foreground group; `kill` and the OOM killer one pid.
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGINT:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
    out, err = _finish(proc, outcome, cell)
    killed = Result(cli.argv(repo, op.args), proc.returncode, out, err, 0.0)
    if killed.traceback and "/codemem/" not in err:  # no codemem frame: Python was still starting
        outcome.startup_tracebacks += 1
        outcome.notes.append(f"{cell}: Python start-up: {traceback_summary(err)}")
    elif killed.traceback:
        outcome.problem(
            "tracebacks", f"{cell}: the killed command printed {traceback_summary(err)}"
        )
    _check_after(cli, repo, op, template, calibration, killed, outcome, cell)
    shutil.rmtree(repo, ignore_errors=True)
    return outcome


def _reach(
    proc, phase: str, stall: Path, calibration: Calibration, rng: random.Random
) -> bool | None:
    """Wait for the phase: True if the command is alive there, False if it finished first,
    None if it never reached a named phase."""
    if phase == "random":
        time.sleep(rng.uniform(0.0, calibration.seconds))
        return proc.poll() is None
    deadline = time.monotonic() + TIMEOUT
    while not stall.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    return True


def _finish(proc, outcome: Outcome, cell: str) -> tuple[str, str]:
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        outcome.problem("hangs", f"{cell}: the signalled command did not exit within {TIMEOUT:g} s")
        kill_group(proc.pid)
        out, err = proc.communicate()
    left = wait_group_gone(proc.pid)
    if left:
        outcome.problem(
            "orphans_left", f"{cell}: processes {sorted(left)} of the killed group outlived it"
        )
        kill_group(proc.pid)
    return out, err


def _check_after(
    cli: Codemem,
    repo: Path,
    op: Op,
    template: Template,
    calibration: Calibration,
    killed: Result,
    outcome: Outcome,
    cell: str,
) -> None:
    for label in op.labels:
        value = block_value(cli, repo, label)
        new = calibration.values[label]
        old = template.values.get(label)
        if value is None:
            outcome.problem("edits_lost", f"{cell}: block {label} unreadable after the kill")
        elif killed.rc == 0 and value != new:
            outcome.problem(
                "edits_lost", f"{cell}: {label} reported written but holds {value[:80]!r}"
            )
        elif value not in (old, new):
            outcome.problem(
                "edits_lost",
                f"{cell}: {label} is neither its old nor its new value: {value[:80]!r}",
            )
    if op.note:
        recall = cli.run(repo, "recall", "--archive", "--json", op.note)
        if outcome.check_command(recall) and killed.rc == 0 and op.note not in recall.stdout:
            outcome.problem(
                "edits_lost", f"{cell}: the note was reported saved but recall lacks it"
            )
    listing = cli.run(repo, "memory", "list")
    if outcome.check_command(listing) and "warning" in listing.stderr:
        outcome.problem("edits_lost", f"{cell}: `memory list` reports {last_line(listing.stderr)}")
    index = cli.run(repo, "index")
    outcome.check_command(index)
    check_index(cli, repo, outcome, cell)
    check_kept_edits(cli, repo, outcome, cell)
