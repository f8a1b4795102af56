"""Signals held back for a few steps that must not be cut in two.

Python runs a signal's handler in the main thread, between any two bytecodes, whichever thread
the kernel handed the signal to: blocking it in the main thread (`pthread_sigmask`) holds it
only while no other thread runs (an output reader, a file watcher, a server), and a process
started meanwhile would inherit the block. So `signals_held` holds signals where Python handles
them: a held signal's arrival is noted, and once the block ends its own handler runs, as if it
had arrived then.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_held(signums: tuple[int, ...] = HELD) -> Iterator[None]:
    """Hold `signums` (SIGINT, SIGTERM, SIGHUP) until the block ends, then raise each that came
    meanwhile again, in the order they came, under the handler that was there before: a Ctrl-C
    is then a KeyboardInterrupt after the block, a SIGTERM that would have ended the process
    ends it then. A handler that raises ends the block with that exception (what came after
    it is dropped, as it would have been). A signal that is ignored stays ignored. Only the
    main thread can set handlers: elsewhere nothing is held (none run there anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous: dict[int, Callable[[int, FrameType | None], Any] | int] = {}
    holding = True

    def note(signum: int, _frame: FrameType | None) -> None:
        if holding:
            arrived.append(signum)
            return
        # The block has ended and this one was not yet given back its handler (a signal in
        # the moment the handlers are put back): give it back, and let it handle this one.
        signal.signal(signum, previous[signum])
        signal.raise_signal(signum)

    try:
        for signum in signums:
            handler = signal.getsignal(signum)
            if handler is not None and handler != signal.SIG_IGN:  # None: set outside Python
                previous[signum] = handler
                signal.signal(signum, note)
        yield
    finally:
        holding = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in arrived:
            signal.raise_signal(signum)
