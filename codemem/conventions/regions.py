"""Marked, auto-maintained regions inside a block's text.

    <!-- codemem:conventions:start -->
    ...written by codemem, replaced on every pass...
    <!-- codemem:conventions:end -->

Only the text between a pair of markers is ever replaced; everything outside them is kept
byte for byte. A block without the markers gets the region appended at its end.
"""

from __future__ import annotations

from collections.abc import Callable

from codemem.errors import CodememError


class RegionError(CodememError):
    """A block's markers are broken (one missing, doubled or out of order)."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- codemem:{name}:start -->", f"<!-- codemem:{name}:end -->"


def find_region(value: str, name: str, label: str = "block") -> tuple[int, int] | None:
    """The span of the region including both markers, or None when the block has none."""
    start_marker, end_marker = markers(name)
    starts, ends = value.count(start_marker), value.count(end_marker)
    if starts == 0 and ends == 0:
        return None
    start, end = value.find(start_marker), value.find(end_marker)
    if starts != 1 or ends != 1 or end < start:
        raise RegionError(
            f"{label}: the markers {start_marker} and {end_marker} must appear once each, in "
            "that order; fix them by hand (codemem leaves the block alone until then)"
        )
    return start, end + len(end_marker)


def region_body(value: str, name: str, label: str = "block") -> str | None:
    """The text between the markers (without the newlines next to them), or None."""
    span = find_region(value, name, label)
    if span is None:
        return None
    start_marker, end_marker = markers(name)
    inner = value[span[0] + len(start_marker) : span[1] - len(end_marker)]
    return inner.removeprefix("\n").removesuffix("\n")


def wrap(name: str, body: str) -> str:
    start_marker, end_marker = markers(name)
    return f"{start_marker}\n{body}\n{end_marker}" if body else f"{start_marker}\n{end_marker}"


def with_region(value: str, name: str, body: str, label: str = "block") -> str:
    """`value` with the region's body replaced (or the region appended when missing)."""
    span = find_region(value, name, label)
    if span is None:
        if not value:
            return wrap(name, body)
        separator = "\n" if value.endswith("\n") else "\n\n"
        if value.endswith("\n\n"):
            separator = ""
        return value + separator + wrap(name, body)
    return value[: span[0]] + wrap(name, body) + value[span[1] :]


def region_budget(value: str, name: str, limit: int, label: str = "block") -> int:
    """Characters the body of region `name` may take so the whole block stays within `limit`."""
    span = find_region(value, name, label)
    rest = len(value) - (span[1] - span[0] if span else 0)
    if span is None and value:
        rest += 0 if value.endswith("\n\n") else 1 if value.endswith("\n") else 2
    start_marker, end_marker = markers(name)
    return limit - rest - len(start_marker) - len(end_marker) - 2


def fit(render: Callable[[int], str], count: int, budget: int) -> tuple[str, int]:
    """The text of the largest `n <= count` whose `render(n)` fits in `budget`, and that `n`.

    `render(n)` shows the first `n` items (in priority order) and, when `n < count`, says
    where the rest went; if even `render(0)` does not fit, it is returned anyway and the
    caller reports the block as full.
    """
    text = render(count)
    if len(text) <= budget:
        return text, count
    lo, hi = 0, count - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(render(mid)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return render(lo), lo
