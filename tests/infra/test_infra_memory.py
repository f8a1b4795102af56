"""Handing freed heap memory back to the system."""

from __future__ import annotations

import sys

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
