"""Memory: handing the C heap's free memory back to the operating system, and keeping the
cyclic garbage collector off the objects of heavy imports."""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The process's own symbols hold libc's; `ctypes.util.find_library` would run
        # `ldconfig -p` to find it (a subprocess, on the index run's critical path).
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "malloc_trim"):
            libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl)
    except OSError:
        return None


def trim_heap() -> None:
    """Return the free pages of every malloc arena to the system (glibc's `malloc_trim`).

    A long index run frees each batch's rows and buffers, many of them in the arenas of
    LanceDB's threads; glibc keeps those pages otherwise, and the process's resident memory
    only grows. A no-op where there is no glibc.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@contextmanager
def imports_uncollected() -> Iterator[None]:
    """Import heavy modules inside this block without the cyclic garbage collector.

    What an import makes (classes, functions, tables) lives as long as the process, yet the
    collector, triggered by the count of new objects, traverses it again and again: a tenth
    of what loading pydantic, pyarrow or numpy costs. The collector is back on after the
    block (unless it was off before); garbage is freed by its reference count meanwhile.

    A process that set its start-up aside from the collector (`set_start_up_aside`: the
    console entry, `codemem.__main__`, whose process ends with its command) sets aside what
    each block imported too, so that no later collection traverses it either; a block that
    imported nothing new sets nothing aside.
    """
    loaded = len(sys.modules)
    set_aside = _start_up_set_aside
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if set_aside and len(sys.modules) > loaded:
            gc.freeze()
        if was_on:
            gc.enable()


_start_up_set_aside = False


def set_start_up_aside() -> None:
    """Set everything the process holds now aside from the cyclic collector (`gc.freeze`), and
    what each later `imports_uncollected` block imports too: for a process that ends with its
    command. Recorded here, not read back from `gc.get_freeze_count()`, which is not zero in
    every interpreter that froze nothing (Python 3.12 sets aside a few hundred of its own)."""
    global _start_up_set_aside
    gc.freeze()
    _start_up_set_aside = True
