"""Named points where a test holds a command still (`CODEMEM_TEST_STALL_AT=point`).

A test that kills a command at a known moment, or races it with another process (a second
digest, a git command), needs it stopped there: the command writes its pid to
`CODEMEM_TEST_STALL_FILE` and waits until the test kills it or creates the file of the same
name plus `.go` (at most 10 min, so a stalled command whose test died does not wait for
ever). With `CODEMEM_TEST_STALL_DEAF` set the wait also ignores Ctrl-C, as a long call into
LanceDB does. Unset, a point costs one environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from codemem.infra.files import atomic_write

_MOST = 600.0  # seconds


def stall_for_tests(point: str) -> None:
    """Wait at `point` while a test does something there (see the module docstring)."""
    if os.environ.get("CODEMEM_TEST_STALL_AT") != point:
        return
    reached = Path(os.environ["CODEMEM_TEST_STALL_FILE"])
    atomic_write(reached, f"{os.getpid()}", durable=False)  # never read half-written
    go = reached.with_name(reached.name + ".go")
    deadline = time.monotonic() + _MOST
    while not go.exists() and time.monotonic() < deadline:
        try:
            time.sleep(0.02)
        except KeyboardInterrupt:
            if not os.environ.get("CODEMEM_TEST_STALL_DEAF"):
                raise
