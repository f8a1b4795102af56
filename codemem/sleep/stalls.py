"""Named points where a test holds a sleep-time pass still (`CODEMEM_TEST_STALL_AT=point`).

A test that races a pass with another process (a second digest, a git command) needs the
pass stopped at a known moment: the pass writes its pid to `CODEMEM_TEST_STALL_FILE` and
waits there until the test creates the file of the same name plus `.go` (at most 10 min).
Unset, a point costs one environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from codemem.infra import atomic_write

_MOST = 600.0  # seconds: a stalled pass whose test died does not wait for ever


def stall_for_tests(point: str) -> None:
    """Wait at `point` while a test does something there (see the module docstring)."""
    if os.environ.get("CODEMEM_TEST_STALL_AT") != point:
        return
    reached = Path(os.environ["CODEMEM_TEST_STALL_FILE"])
    atomic_write(reached, f"{os.getpid()}", durable=False)  # never read half-written
    go = reached.with_name(reached.name + ".go")
    deadline = time.monotonic() + _MOST
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
