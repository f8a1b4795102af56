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
import time

import pytest

from codemem.merge_driver import codemem_argv
from tests.helpers import FIXTURES, make_repo

WAIT = 60.0  # generous bound on a subprocess's run (never asserted)

# The clean-up frees an object whose finalizer the second signal interrupts, as the pool's
# weak references are freed while a stopped index unwinds: a KeyboardInterrupt raised there
# is printed as "Exception ignored in ..." with its traceback, and one raised inside a
# lock's release became "internal error: RuntimeError: release unlocked lock".
PROGRAM = """
import os, signal, sys, time
from codemem.cli.interrupts import say_stopped, stop_guard, take_signals_as_ctrl_c

FIRST, SECOND = signal.Signals[sys.argv[1]], signal.Signals[sys.argv[2]]


class Pool:
    def __del__(self):
        os.kill(os.getpid(), SECOND)
        deadline = time.monotonic() + 60  # the second signal ends the process meanwhile
        while time.monotonic() < deadline:
            time.sleep(0.01)


take_signals_as_ctrl_c()
try:
    with stop_guard():
        pool = Pool()
        try:
            os.kill(os.getpid(), FIRST)
            time.sleep(60)
        finally:
            del pool
except KeyboardInterrupt:  # as the command line's boundary does
    sys.exit(say_stopped())
print("not stopped", flush=True)
"""


def _default_sigint() -> None:
    # A suite started as a background job inherits SIGINT ignored; the child must not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_program(program: str, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `program` run with `args`, this checkout's codemem
    importable, Ctrl-C at its default."""
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent)}
    env.pop("CODEMEM_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program), *args],
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
    assert run_program(PROGRAM, first, second) == expected


LOADING = """
import builtins, os, signal, sys
import codemem.__main__ as entry

real_import = builtins.__import__
SIGNAL = signal.Signals[sys.argv[1]]


def importing(name, *args, **kwargs):
    if name == "codemem.cli":  # the signal comes while the command line loads
        os.kill(os.getpid(), SIGNAL)
    return real_import(name, *args, **kwargs)


builtins.__import__ = importing
sys.argv = ["codemem", "--version"]
entry.run()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_command_line_loads_is_one_line(signum):
    line = "interrupted" if signum == signal.SIGINT else f"terminated ({signum.name})"
    assert run_program(LOADING, signum.name) == (128 + signum, "", f"codemem: {line}\n")


# The signal comes while a class with a descriptor is made, as the command line's import of
# pathlib makes ipaddress's `IPv4Interface` (its `cached_property`s): Python before 3.12 wraps
# what `__set_name__` raises, the loading handler's exit included, in a RuntimeError, whose
# traceback the fault suite saw after a SIGTERM at a random moment of `codemem index`.
LOADING_A_CLASS = """
import builtins, os, signal, sys, time
import codemem.__main__ as entry

real_import = builtins.__import__
SIGNAL = signal.Signals[sys.argv[1]]


class Named:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), SIGNAL)
        deadline = time.monotonic() + 60  # the handler's exit is raised here meanwhile
        while time.monotonic() < deadline:
            pass


def importing(name, *args, **kwargs):
    if name == "codemem.cli":

        class Interface:
            hostmask = Named()

    return real_import(name, *args, **kwargs)


builtins.__import__ = importing
sys.argv = ["codemem", "--version"]
entry.run()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_a_class_is_made_as_the_command_line_loads_is_one_line(signum):
    line = "interrupted" if signum == signal.SIGINT else f"terminated ({signum.name})"
    assert run_program(LOADING_A_CLASS, signum.name) == (128 + signum, "", f"codemem: {line}\n")


# The same while a command runs and a lazy import makes such a class: the stop's
# KeyboardInterrupt came out wrapped, and was said as an internal error, exit 3.
COMMAND_MAKING_A_CLASS = """
import os, signal, sys, time, types
import click
import codemem.__main__ as entry
from codemem import cli

SIGNAL = signal.Signals[sys.argv[1]]


class Named:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), SIGNAL)
        deadline = time.monotonic() + 60  # the stop's KeyboardInterrupt is raised here
        while time.monotonic() < deadline:
            pass


@click.command("lazy")
def lazy():
    class Interface:
        hostmask = Named()


sys.modules["lazy_command"] = types.SimpleNamespace(lazy=lazy)
cli.COMMANDS["lazy"] = ("lazy_command:lazy", "Make a class.")
sys.argv = ["codemem", "lazy"]
entry.run()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_a_command_makes_a_class_is_a_stop(signum):
    line = "interrupted" if signum == signal.SIGINT else f"terminated ({signum.name})"
    code, out, err = run_program(COMMAND_MAKING_A_CLASS, signum.name)
    assert (code, err.splitlines()[-1:]) == (128 + signum, [f"codemem: {line}"]), err


def _stop_at_exit(repo, tmp_path, signum: signal.Signals, *args: str) -> tuple[int, str, str]:
    """Run `codemem ARGS` as the console does, send it `signum` once its command has
    returned (held at the `exit` stall point), and return what it printed and its code."""
    reached = tmp_path / f"exit-{signum.name}-{args[0]}"
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent)}
    env.pop("CODEMEM_DEBUG", None)
    env.update(CODEMEM_TEST_STALL_AT="exit", CODEMEM_TEST_STALL_FILE=str(reached))
    proc = subprocess.Popen(
        [*codemem_argv(), "--repo", str(repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + WAIT
    while not reached.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reached.exists(), proc.communicate(timeout=WAIT)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=WAIT)
    return proc.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("args", [("memory", "list"), ("ask", "where is main")])
def test_a_signal_after_the_command_returned_ends_it_with_one_line(tmp_path, signum, args):
    # A SIGTERM as `memory list` or `ask` ended was a KeyboardInterrupt raised in click's
    # exit: a traceback (found by the fault suite killing `digest` at a random moment).
    repo = make_repo(tmp_path / "repo", "shop")
    code, out, err = _stop_at_exit(repo, tmp_path, signum, *args)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert code == 128 + signum
    line = "interrupted" if signum == signal.SIGINT else f"terminated ({signum.name})"
    assert err.endswith(f"codemem: {line}\n") or signum == signal.SIGHUP, err
    if args[0] == "memory":
        assert "No memory blocks yet" in out  # what the command printed is kept


def test_a_ctrl_c_before_clicks_boundary_is_the_one_line_not_a_traceback(tmp_path):
    # `__main__.run` puts Python's handler back before `main`, whose first lines import
    # `cli.interrupts` (a dataclass made): a Ctrl-C there came out as a traceback from
    # dataclasses (found by the fault suite, kill memory set @random SIGINT). Raised here
    # where that import runs, as the signal would.
    script = textwrap.dedent(
        """
        import codemem.cli
        from codemem import __main__

        def stopped_in_main():
            raise KeyboardInterrupt

        codemem.cli.main = stopped_in_main
        __main__.run()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stderr) == (130, "codemem: interrupted\n")
