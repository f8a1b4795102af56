"""Handing the C heap's free memory back to the operating system."""

from __future__ import annotations

import ctypes
import sys
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
