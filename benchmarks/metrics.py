"""File-level localization metrics and the Markdown tables that show them.

An instance is a hit at k when a gold file is among the first k files ("any"), or when every
gold file that exists at the base commit is ("all"; a fix may create files nobody could find).
A failed or errored instance is a miss: the denominator is every instance that was attempted.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Record = dict[str, Any]


def gold_ranks(ranked_paths: Sequence[str], gold: Iterable[str]) -> dict[str, int | None]:
    """1-based rank of each gold file in the ranking, None when absent."""
    position = {}
    for i, path in enumerate(ranked_paths, 1):
        position.setdefault(path, i)
    return {g: position.get(g) for g in gold}


def any_rank(ranks: dict[str, int | None] | None) -> int | None:
    found = [r for r in (ranks or {}).values() if r is not None]
    return min(found) if found else None


def all_rank(ranks: dict[str, int | None] | None, present: Sequence[str]) -> int | None:
    if not ranks or not present:
        return None
    found = [ranks.get(g) for g in present]
    return None if any(r is None for r in found) else max(found)


def hit_rank(record: Record, system: str, mode: str = "any") -> int | None:
    """The rank that decides a hit for `system` ("codemem", "bm25", "ablation:<stage>")."""
    if system.startswith("ablation:"):
        result = (record.get("ablation") or {}).get(system.split(":", 1)[1])
    else:
        result = record.get(system)
    if not result or result.get("error"):
        return None
    ranks = result.get("ranks")
    return any_rank(ranks) if mode == "any" else all_rank(ranks, record["gold_present"])


def accuracy(records: Sequence[Record], system: str, k: int, mode: str = "any") -> float | None:
    """Percentage of records that are hits at k; None with no records."""
    if not records:
        return None
    hits = 0
    for record in records:
        rank = hit_rank(record, system, mode)
        hits += rank is not None and rank <= k
    return 100.0 * hits / len(records)


def group_by(records: Sequence[Record], key: Callable[[Record], str]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return dict(sorted(groups.items()))


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def seconds(values: Sequence[float]) -> dict[str, float | None]:
    """Median, 90th percentile and max of some timings."""
    if not values:
        return {"median": None, "p90": None, "max": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p90": p90, "max": ordered[-1]}


def fmt_s(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; the first column is left-aligned, the rest right-aligned."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = (
        "|"
        + "|".join(
            (":" + "-" * (w + 1)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)
        )
        + "|"
    )
    body = [
        "| "
        + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        + " |"
        for r in rows
    ]
    return "\n".join([line, rule, *body])
