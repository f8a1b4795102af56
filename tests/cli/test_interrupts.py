"""A stopped command says one line and exits 128 + the signal, whatever comes after the first
signal (`codemem.cli.interrupts`).

Each test runs a small program in a subprocess (signal handlers belong to a process's main
thread) that does what an interrupted index does: its work raises the first signal's
`KeyboardInterrupt` and its clean-up runs while a second signal arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import FIXTURES

WAIT = 60.0  # generous bound on a subprocess's run (never asserted)

# The clean-up frees an object whose finalizer the second signal interrupts, as the pool's
# weak references are freed while a stopped index unwinds: a KeyboardInterrupt raised there
# is printed as "Exception ignored in ..." with its traceback, and one raised inside a
# lock's release became "internal error: RuntimeError: release unlocked lock".
PROGRAM = """
import os, signal, sys, time
import click
from codemem.cli.interrupts import prompt_interrupt, take_signals_as_ctrl_c

FIRST, SECOND = signal.Signals[sys.argv[1]], signal.Signals[sys.argv[2]]


class Pool:
    def __del__(self):
        os.kill(os.getpid(), SECOND)
        deadline = time.monotonic() + 60  # the second signal ends the process meanwhile
        while time.monotonic() < deadline:
            time.sleep(0.01)


take_signals_as_ctrl_c()
try:
    with prompt_interrupt(grace=60):
        pool = Pool()
        try:
            os.kill(os.getpid(), FIRST)
            time.sleep(60)
        finally:
            del pool
except click.exceptions.Exit as stop:  # as the command line exits
    sys.exit(stop.exit_code)
print("not stopped", flush=True)
"""


def _default_sigint() -> None:
    # A suite started as a background job inherits SIGINT ignored; the child must not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stopped(first: str, second: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent)}
    env.pop("CODEMEM_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROGRAM), first, second],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT,
        preexec_fn=_default_sigint,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    "first,second,expected",
    [
        ("SIGINT", "SIGINT", (130, "", "codemem: interrupted\n")),
        ("SIGTERM", "SIGINT", (143, "", "codemem: terminated (SIGTERM)\n")),
        ("SIGHUP", "SIGTERM", (129, "", "codemem: terminated (SIGHUP)\n")),
    ],
)
def test_a_second_signal_in_the_clean_up_ends_the_process_in_the_first_ones_line(
    first, second, expected
):
    assert stopped(first, second) == expected
