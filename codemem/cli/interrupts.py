"""How a command stops: Ctrl-C, SIGTERM (a `kill`, CI cancelling a job) and SIGHUP (a closed
terminal) end it with one line and exit 128 + the signal's number (130 for Ctrl-C).

SIGTERM and SIGHUP are taken as Ctrl-C is: a `KeyboardInterrupt` raised through whatever
handles SIGINT at that moment (a Ctrl-C held while the index's store opens is held alike), so
every command unwinds the same way (parser workers killed, a rebuild's folder removed, locks
released); only the line and the exit code say which signal it was. Their default would end
the process on the spot, silently, leaving a rebuild's folder behind. A command that handles
them itself (an agent session's `Terminated`, `watch`, `mcp`) sets its own handlers meanwhile.

Only the first of them stops the command: one that comes while it unwinds is never raised
into the clean-up (a second `KeyboardInterrupt` there left workers unkilled, printed a
traceback, or failed as an internal error); under `prompt_interrupt` it ends the process at
once instead.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

import click

from codemem.cli import end_without_teardown

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPT_GRACE_SECONDS = 0.8  # after a stop signal, how long the index may take to stop cleanly


@dataclass
class _Stop:
    """The signal that is stopping this process, once one came; whether its line was said."""

    signum: int | None = None
    said: threading.Lock = field(default_factory=threading.Lock)


_STOP = _Stop()


def take_signals_as_ctrl_c() -> None:
    """From now on SIGTERM and SIGHUP stop the command as Ctrl-C does (main thread only; a
    signal ignored, as under `nohup`, stays ignored). The console entry point calls it."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            signal.signal(signum, _as_ctrl_c)


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    if _STOP.signum is not None:
        return  # already stopping: never raised into the clean-up
    _STOP.signum = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # Ctrl-C ignored (a background job): SIGTERM still stops the command
        raise KeyboardInterrupt


def stopped_by() -> int:
    """The signal that stopped the command (Ctrl-C's when none was noted)."""
    return _STOP.signum or signal.SIGINT


def stop_line(signum: int) -> str:
    """The one line a stopped command says (after `codemem: `)."""
    if signum == signal.SIGINT:
        return "interrupted"
    return f"terminated ({signal.Signals(signum).name})"


def say_stopped() -> int:
    """Say the one line, once per process whoever asks (the main thread, the watchdog);
    return the exit code. A closed terminal (SIGHUP) takes no line."""
    signum = stopped_by()
    if _STOP.said.acquire(blocking=False):
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"codemem: {stop_line(signum)}\n")
            sys.stderr.flush()
    return 128 + signum


@contextmanager
def prompt_interrupt(grace: float = INTERRUPT_GRACE_SECONDS) -> Iterator[None]:
    """Ctrl-C (or SIGTERM, SIGHUP) prints one line and exits 128 + the signal within a second.

    The KeyboardInterrupt unwinds the work (workers killed, lock released). When the main
    thread is inside a long native call (LanceDB building an index) it sees the interrupt
    only when that call returns, so a thread woken by the signal itself ends the process
    after `grace` seconds, or at once on a second signal; an interrupted index is safe to
    abandon at any point.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def on_sigint(signum: int, _frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            return  # the watchdog below ends the process
        raised = True
        if _STOP.signum is None:
            _STOP.signum = signum
        raise KeyboardInterrupt

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    previous_sigint = signal.getsignal(signal.SIGINT)
    handled = previous_sigint not in (signal.SIG_IGN, None)  # a background job's stays ignored
    if handled:
        signal.signal(signal.SIGINT, on_sigint)
    threading.Thread(
        target=_exit_if_stuck, args=(wake_r, grace), name="codemem-interrupt", daemon=True
    ).start()
    try:
        yield
    except KeyboardInterrupt:
        if os.environ.get("CODEMEM_DEBUG"):
            raise
        # Handlers and the watchdog stay as they are: the process is ending, and a second
        # signal on its way out ends it at once rather than raising into what is left. The
        # work is unwound: the interpreter's teardown (a quarter of a second with LanceDB
        # loaded) would only delay the exit.
        end_without_teardown()
        raise click.exceptions.Exit(say_stopped()) from None
    if handled:
        signal.signal(signal.SIGINT, previous_sigint)
    signal.set_wakeup_fd(previous_wakeup)
    os.close(wake_w)  # ends the watchdog: it reads the end of the pipe, then closes it


def _exit_if_stuck(wake_r: int, grace: float) -> None:
    """Wait for a stop signal's byte on the wakeup pipe (`signal.set_wakeup_fd`); then end
    the process `grace` seconds later, or at the next one. The read end stays open while
    the process may still be signalled: a closed one made each later signal print a
    BrokenPipeError from the interpreter's handler."""
    while data := os.read(wake_r, 1):
        if data[0] in STOPPING:
            break
    else:
        os.close(wake_r)  # the block ended without a stop
        return
    deadline = time.monotonic() + grace
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([wake_r], [], [], left)[0]:
            break
        data = os.read(wake_r, 1)
        if not data:  # the block ended meanwhile: nothing more to read, the grace still holds
            time.sleep(max(0.0, deadline - time.monotonic()))
            break
        if data[0] in STOPPING:
            break  # a second signal: now
    os._exit(say_stopped())
