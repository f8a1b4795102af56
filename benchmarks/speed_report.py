"""The speed benchmark's Markdown: targets met or not, incremental cost against changed
files, search latency, and full-index cost against repository size."""

from __future__ import annotations

import os
import statistics
from typing import Any

from metrics import markdown_table

TARGETS = {  # name: (limit, unit)
    "full_index_s": (5.0, "s"),
    "full_index_rss_mb": (1024.0, "MB"),
    "map_warm_s": (0.5, "s"),
    "incremental_1_s": (1.0, "s"),
    "search_s": (0.5, "s"),
    "linux_index_s": (300.0, "s"),
    "linux_index_rss_mb": (2048.0, "MB"),
}


def _value(row: dict[str, Any] | None, key: str = "wall_s") -> float | None:
    if not row or row.get("error"):
        return None
    if key == "peak":
        return max(row["max_rss_mb"], row.get("tree_rss_mb") or 0.0)
    return row[key]


def render(results: dict[str, Any]) -> str:
    name = results["repo"]
    searches = [row["median_s"] for row in results.get("search", []) if not row["errors"]]
    incr = {row["changed"]: row for row in results["incremental"]}
    linux = next((row["index"] for row in results["sizes"] if row["repo"] == "linux"), None)
    values = {
        "full_index_s": _value(results["full_index"]),
        "full_index_rss_mb": _value(results["full_index"], "peak"),
        "map_warm_s": _value((results.get("map") or {}).get("warm")),
        "incremental_1_s": _value(incr.get(1)),
        "search_s": statistics.median(searches) if searches else None,
        "linux_index_s": _value(linux),
        "linux_index_rss_mb": _value(linux, "peak"),
    }
    labels = {
        "full_index_s": f"{name} full index, wall",
        "full_index_rss_mb": f"{name} full index, peak RSS",
        "map_warm_s": "`codemem map`, warm (2nd run)",
        "incremental_1_s": "`codemem index` after editing 1 file",
        "search_s": f"`codemem search` incl. start-up (median, {len(searches)} queries)",
        "linux_index_s": "Linux kernel full index, wall",
        "linux_index_rss_mb": "Linux kernel full index, peak RSS",
    }
    rows = []
    for key, (limit, unit) in TARGETS.items():
        value = values[key]
        shown = (
            "n/a"
            if value is None
            else f"{value:.2f} {unit}"
            if unit == "s"
            else f"{value:.0f} {unit}"
        )
        met = "–" if value is None else "yes" if value <= limit else "no"
        rows.append([labels[key], shown, f"≤ {limit:g} {unit}", met])
    size = results["size"]
    out = [
        f"## Speed and memory ({name} @ {results['commit'][:10]}: {size['files']} files, "
        f"{size['lines']:,} lines of text; {os.cpu_count()} CPUs)",
        "",
        markdown_table(["measurement", "value", "target", "met"], rows),
        "",
        f"Peak RSS is the larger of the largest process and the sampled process-tree sum. "
        f"Python start-up alone (`python -c pass`): {results['python_startup_s']:.3f} s.",
    ]
    load = (results.get("meta") or {}).get("load_avg_1m", 0.0)
    if load > 0.5:
        out.append(f"Load average at the start was {load:.1f}: other work inflated these times.")
    unavailable = {k: v for k, v in results["available"].items() if v}
    for command, why in unavailable.items():
        out.append(f"- `codemem {command}` not measured: {why}")
    out += [
        "",
        "### Incremental index against number of changed files",
        "",
        markdown_table(
            ["changed files", "wall s", "peak RSS MB", "error"],
            [
                [
                    r["changed"],
                    f"{r['wall_s']:.2f}",
                    f"{_value(r, 'peak') or r['max_rss_mb']:.0f}",
                    r.get("error", "")[:80],
                ]
                for r in results["incremental"]
            ],
        ),
    ]
    if results.get("search"):
        out += [
            "",
            "### Search wall time incl. start-up",
            "",
            markdown_table(
                ["query", "median s", "min s", "max s"],
                [
                    [
                        r["query"][:70],
                        f"{r['median_s']:.3f}",
                        f"{min(r['walls_s']):.3f}",
                        f"{max(r['walls_s']):.3f}",
                    ]
                    for r in results["search"]
                ],
            ),
        ]
    size_rows = []
    for row in results["sizes"]:
        if "error" in row:
            size_rows.append([row["repo"], "–", "–", "–", "–", "–", row["error"][:80]])
            continue
        index = row["index"]
        size_rows.append(
            [
                row["repo"],
                row["files"],
                f"{row['lines']:,}",
                f"{index['wall_s']:.1f}",
                f"{index['max_rss_mb']:.0f}",
                f"{index['tree_rss_mb'] or 0:.0f}",
                index.get("error", "")[:80],
            ]
        )
    out += [
        "",
        "### Full index by repository size",
        "",
        markdown_table(
            [
                "repository",
                "files",
                "lines",
                "wall s",
                "largest process MB",
                "process tree MB",
                "error",
            ],
            size_rows,
        ),
    ]
    return "\n".join(out) + "\n"
