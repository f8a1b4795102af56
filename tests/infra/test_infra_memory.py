"""Handing freed heap memory back to the system."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codemem.infra import trim_heap
from codemem.infra.memory import _libc


def test_trim_heap_returns_and_leaves_allocations_intact() -> None:
    kept = [bytes(1000) * (i % 7 + 1) for i in range(20_000)]
    del kept[::2]
    assert trim_heap() is None
    assert sum(map(len, kept)) == sum(1000 * (i % 7 + 1) for i in range(1, 20_000, 2))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is a Linux library")
def test_trim_heap_finds_glibc_on_linux() -> None:
    assert _libc() is not None


def run_python(code: str) -> str:
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout


def test_imports_uncollected_pauses_the_collector() -> None:
    out = run_python(
        """
        import gc
        from codemem.infra import imports_uncollected

        start = gc.get_freeze_count()  # not 0 on Python 3.12: its own
        with imports_uncollected():
            inside = gc.isenabled()
            import decimal
        print(inside, gc.isenabled(), gc.get_freeze_count() - start)  # a plain process: only paused
        gc.disable()
        with imports_uncollected():
            import csv
        print(gc.isenabled())  # off before, off after
        """
    )
    assert out == "False True 0\nFalse\n"


def test_a_process_that_set_its_start_up_aside_sets_heavy_imports_aside() -> None:
    out = run_python(
        """
        import gc

        from codemem.infra import imports_uncollected, set_start_up_aside

        set_start_up_aside()  # as the console entry does with its start-up

        before = gc.get_freeze_count()
        with imports_uncollected():
            import decimal, fractions
        after = gc.get_freeze_count()
        with imports_uncollected():
            import decimal  # nothing new: nothing set aside
            garbage = [[] for _ in range(100)]
        print(after > before, gc.get_freeze_count() == after, gc.isenabled())
        """
    )
    assert out == "True True True\n"
