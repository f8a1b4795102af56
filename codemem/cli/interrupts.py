"""How a command stops: Ctrl-C, SIGTERM (a `kill`, CI cancelling a job) and SIGHUP (a closed
terminal) end it with one line and exit 128 + the signal's number (130 for Ctrl-C).

SIGTERM and SIGHUP are taken as Ctrl-C is: a `KeyboardInterrupt` raised through whatever
handles SIGINT at that moment (a Ctrl-C held while the index's store opens is held alike), so
every command unwinds the same way (parser workers killed, locks released); only the line and
the exit code say which signal it was. Their default would end the process on the spot,
silently. A command that handles them itself (an agent session's `Terminated`, `chat`'s
Ctrl-C that stops one step, `watch`, `mcp`) is left to its own handlers (`OWN_SIGNALS`).

Once the command has returned, a stop signal ends the process at once with its line
(`after_command`): a `KeyboardInterrupt` then, in click's exit or an exit handler, was a
traceback.

Only the first signal stops a command (`stop_guard`): one that comes while it unwinds is
never raised into the clean-up (a second `KeyboardInterrupt` there printed tracebacks from
finalizers, or failed as an internal error when it landed in a lock's release); it ends the
process at once, with the first one's line. Where the main thread may sit in a long native
call that sees no signal (LanceDB building an index), `abandon_after` ends the process a
moment after the first signal if the unwinding has not done so.
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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NOW = 0xFF  # written to the wakeup pipe by a handler: a second signal, end the process now
INTERRUPT_GRACE_SECONDS = 0.8  # after a stop signal, how long the index may take to stop cleanly
OWN_SIGNALS = frozenset({"ask", "run", "chat", "watch", "mcp"})  # commands that handle them


@dataclass
class _Stop:
    """The state of this command's stop: which signal, whether its KeyboardInterrupt was
    raised, whether its line was said; the guard's pipe and grace."""

    signum: int | None = None
    raised: bool = False
    said: threading.Lock = field(default_factory=threading.Lock)
    wake_w: int | None = None
    grace: float | None = None
    console: bool = False  # the process is the command line's own (`take_signals_as_ctrl_c`)


_STOP = _Stop()


def take_signals_as_ctrl_c() -> None:
    """From now on SIGTERM and SIGHUP stop the command as Ctrl-C does (main thread only; a
    signal ignored, as under `nohup`, stays ignored). The console entry point calls it."""
    if threading.current_thread() is not threading.main_thread():
        return
    _STOP.console = True
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            signal.signal(signum, _as_ctrl_c)


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    if _STOP.signum is not None:
        _end_now()  # already stopping: never raised into the clean-up
        return
    _STOP.signum = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # Ctrl-C ignored (a background job): SIGTERM still stops the command
        _STOP.raised = True
        raise KeyboardInterrupt


def _on_sigint(signum: int, _frame: FrameType | None) -> None:
    if _STOP.raised:
        _end_now()
        return
    _STOP.raised = True
    if _STOP.signum is None:
        _STOP.signum = signum
    raise KeyboardInterrupt


def _end_now() -> None:
    """Have the guard's watchdog end the process (a handler must not block or raise)."""
    if _STOP.wake_w is not None:
        with contextlib.suppress(OSError):
            os.write(_STOP.wake_w, bytes([NOW]))


def stopped_by() -> int:
    """The signal that stopped the command (Ctrl-C's when none was noted)."""
    return _STOP.signum or signal.SIGINT


def stop_line(signum: int) -> str:
    """The one line a stopped command says (after `codemem: `)."""
    if signum == signal.SIGINT:
        return "interrupted"
    return f"terminated ({signal.Signals(signum).name})"


def say_stopped() -> int:
    """Say the one line, once per command whoever asks (the main thread, the watchdog);
    return the exit code. A closed terminal (SIGHUP) takes no line."""
    signum = stopped_by()
    if _STOP.said.acquire(blocking=False):
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"codemem: {stop_line(signum)}\n")
            sys.stderr.flush()
    return 128 + signum


def begin_command(name: str) -> AbstractContextManager[None]:
    """What a command named `name` runs under: `stop_guard`, unless it handles the stop
    signals itself; a fresh stop state either way (a test runs many commands in one
    process)."""
    if _STOP.wake_w is None:
        _STOP.signum, _STOP.raised, _STOP.said, _STOP.grace = None, False, threading.Lock(), None
    return _then_end_at_once() if name in OWN_SIGNALS else stop_guard()


@contextmanager
def _then_end_at_once() -> Iterator[None]:
    """For a command that handles the stop signals itself: once it returns, `after_command`."""
    try:
        yield
    finally:
        after_command()


def after_command() -> None:
    """The command has returned: in the command line's own process, a stop signal from now on
    ends the process at once, its output flushed, with the signal's line and exit code.

    Nothing is left to unwind. A `KeyboardInterrupt` raised now would come out of click's
    exit, an exit handler or the interpreter's teardown as a traceback."""
    if not _STOP.console or threading.current_thread() is not threading.main_thread():
        return
    for signum in STOPPING:
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            signal.signal(signum, _end_after_command)


def _end_after_command(signum: int, _frame: FrameType | None) -> None:
    if _STOP.signum is None:
        _STOP.signum = signum
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe; a write this signal cut in two
            stream.flush()
    os._exit(say_stopped())


@contextmanager
def stop_guard() -> Iterator[None]:
    """While a command runs: the first stop signal raises its KeyboardInterrupt, a second
    ends the process at once (see the module docstring). Main thread only.

    When the command ends stopped in the command line's own process, the handlers stay: the
    process is ending, and a signal on its way out ends it at once too."""
    if threading.current_thread() is not threading.main_thread() or _STOP.wake_w is not None:
        yield
        return
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    _STOP.wake_w = wake_w
    previous_sigint = signal.getsignal(signal.SIGINT)
    handled = previous_sigint not in (signal.SIG_IGN, None)  # a background job's stays ignored
    if handled:
        signal.signal(signal.SIGINT, _on_sigint)
    threading.Thread(target=_watchdog, args=(wake_r,), name="codemem-stop", daemon=True).start()
    try:
        yield
    finally:
        if not (_STOP.console and _STOP.signum is not None):
            if handled:
                signal.signal(signal.SIGINT, previous_sigint)
            signal.set_wakeup_fd(previous_wakeup)
            _STOP.wake_w = None
            os.close(wake_w)  # ends the watchdog: it reads the end of the pipe, then closes it
            after_command()


@contextmanager
def abandon_after(grace: float = INTERRUPT_GRACE_SECONDS) -> Iterator[None]:
    """Within `stop_guard`: a stop signal that came while this block runs ends the process
    `grace` seconds later if the unwinding has not by then (for work that is safe to abandon
    at any point: an interrupted index is)."""
    before, _STOP.grace = _STOP.grace, grace
    try:
        yield
    finally:
        _STOP.grace = before


def _watchdog(wake_r: int) -> None:
    """Read the wakeup pipe (`signal.set_wakeup_fd`: a byte per signal, written even while
    the main thread is inside a native call). A stop signal starts the grace, if one is set;
    `NOW` (a second signal, from the handlers) ends the process at once. The read end stays
    open while the process may still be signalled: a closed one made each later signal
    print a BrokenPipeError from the interpreter's handler."""
    deadline: float | None = None
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not select.select([wake_r], [], [], wait)[0]:
            break  # the grace is over
        data = os.read(wake_r, 1)
        if not data:  # the guard ended
            if deadline is None:
                os.close(wake_r)
                return
            time.sleep(max(0.0, deadline - time.monotonic()))
            break
        if data[0] == NOW:
            break
        if data[0] in STOPPING and deadline is None and _STOP.grace is not None:
            deadline = time.monotonic() + _STOP.grace
    os._exit(say_stopped())
