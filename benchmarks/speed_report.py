"""The speed benchmark's Markdown: targets met or not, incremental cost against changed
files, search latency, cost against repository size beside ctags and Aider, its growth per
line, and a typical repository's cold index plus first search."""

from __future__ import annotations

import os
import statistics
from typing import Any

from metrics import markdown_table

TARGETS = {  # name: (limit, unit); issue #14's targets on 2 cores
    "full_index_s": (4.0, "s"),
    "full_index_rss_mb": (1024.0, "MB"),
    "map_warm_s": (0.5, "s"),
    "noop_index_s": (0.2, "s"),
    "incremental_1_s": (1.0, "s"),
    "search_s": (0.35, "s"),
    "linux_index_s": (120.0, "s"),
    "linux_index_rss_mb": (1536.0, "MB"),
    "linux_incremental_1_s": (1.5, "s"),
    "linux_search_s": (0.5, "s"),
    "linux_search_rss_mb": (300.0, "MB"),
    "typical_s": (0.6, "s"),
}


def _value(row: dict[str, Any] | None, key: str = "wall_s") -> float | None:
    if not row or row.get("error"):
        return None
    if key == "peak":
        return max(row["max_rss_mb"], row.get("tree_rss_mb") or 0.0)
    return row.get(key)


def render(results: dict[str, Any]) -> str:
    name = results["repo"]
    searches = [row["median_s"] for row in results.get("search", []) if not row["errors"]]
    incr = {row["changed"]: row for row in results["incremental"]}
    linux_row = next((row for row in results["sizes"] if row["repo"] == "linux"), {})
    linux = linux_row.get("index")
    typical = [r["total_s"] for r in results.get("typical", []) if _typical_ok(r)]
    values = {
        "full_index_s": _value(results["full_index"]),
        "full_index_rss_mb": _value(results["full_index"], "peak"),
        "map_warm_s": _value((results.get("map") or {}).get("warm")),
        "noop_index_s": _value(incr.get(0)),
        "incremental_1_s": _value(incr.get(1)),
        "search_s": statistics.median(searches) if searches else None,
        "linux_index_s": _value(linux),
        "linux_index_rss_mb": _value(linux, "peak"),
        "linux_incremental_1_s": _value(linux_row.get("incremental_1")),
        "linux_search_s": _value(linux_row.get("search")),
        "linux_search_rss_mb": _value(linux_row.get("search"), "peak"),
        "typical_s": statistics.mean(typical) if typical else None,
    }
    labels = {
        "full_index_s": f"{name} full index, wall",
        "full_index_rss_mb": f"{name} full index, peak RSS",
        "map_warm_s": "`codemem map`, warm (2nd run)",
        "noop_index_s": "`codemem index` with nothing changed",
        "incremental_1_s": "`codemem index` after editing 1 file",
        "search_s": f"`codemem search` incl. start-up (median, {len(searches)} queries)",
        "linux_index_s": "Linux kernel full index, wall",
        "linux_index_rss_mb": "Linux kernel full index, peak RSS",
        "linux_incremental_1_s": "Linux kernel, `codemem index` after editing 1 file",
        "linux_search_s": "Linux kernel, `codemem search` in a fresh process",
        "linux_search_rss_mb": "Linux kernel, `codemem search` peak RSS",
        "typical_s": f"typical repository: cold index + first search (mean of {len(typical)})",
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
    out += _size_sections(results["sizes"])
    out += _typical_section(results.get("typical", []))
    return "\n".join(out) + "\n"


def _typical_ok(row: dict[str, Any]) -> bool:
    return "error" not in row and not row["index"].get("error") and not row["search"].get("error")


def _cell(row: dict[str, Any] | None, key: str = "wall_s", digits: int = 2) -> str:
    value = _value(row, key) if row else None
    if value is None:
        return "–"
    return f"{value:.0f}" if key == "peak" else f"{value:.{digits}f}"


def _size_sections(sizes: list[dict[str, Any]]) -> list[str]:
    """The size table (codemem beside ctags and Aider) and its growth per line."""
    if not sizes:
        return []
    rows, growth, errors = [], [], []
    previous: dict[str, Any] | None = None
    for row in sizes:
        if "error" in row:
            errors.append(f"- {row['repo']}: {row['error'][:200]}")
            continue
        index = row["index"]
        for part in ("index", "search", "incremental_1", "ctags", "aider"):
            if row.get(part) and row[part].get("error"):
                errors.append(f"- {row['repo']} {part}: {row[part]['error'][:200]}")
        rows.append(
            [
                row["repo"],
                f"{row['files']:,}",
                f"{row['lines']:,}",
                _cell(index, digits=1),
                _cell(index, "cpu_s", 1),
                _cell(index, "peak"),
                _cell(row.get("search")),
                _cell(row.get("search"), "peak"),
                _cell(row.get("incremental_1")),
                _cell(row.get("ctags"), digits=1),
                _cell(row.get("ctags"), "peak"),
                _cell(row.get("aider"), digits=1),
                _cell(row.get("aider"), "peak"),
            ]
        )
        wall, cpu, peak = _value(index), _value(index, "cpu_s"), _value(index, "peak")
        kilo = row["lines"] / 1000 or 1
        cells = [
            row["repo"],
            f"{row['lines']:,}",
            "–" if wall is None else f"{1000 * wall / kilo:.2f}",
            "–" if cpu is None else f"{1000 * cpu / kilo:.2f}",
            "–" if peak is None else f"{100 * peak / kilo:.0f}",
        ]
        if previous is not None and wall is not None and _value(previous["index"]):
            lines_x = row["lines"] / max(previous["lines"], 1)
            wall_x = wall / _value(previous["index"])
            peak_x = (peak or 0) / (_value(previous["index"], "peak") or 1)
            cells += [f"{lines_x:.1f}×", f"{wall_x:.1f}×", f"{peak_x:.1f}×"]
        else:
            cells += ["", "", ""]
        growth.append(cells)
        previous = row if wall is not None else previous
    out = [
        "",
        "### By repository size, side by side (each number one fresh process)",
        "",
        markdown_table(
            [
                "repository",
                "files",
                "lines",
                "index s",
                "index CPU s",
                "index peak MB",
                "search s",
                "search MB",
                "1-file index s",
                "ctags s",
                "ctags MB",
                "Aider map s",
                "Aider MB",
            ],
            rows,
        ),
        "",
        "Index peak MB is the summed RSS of all codemem processes (sampled); search is a fresh "
        "`codemem search` (median run); the 1-file index follows a comment appended to one code "
        "file; ctags is `ctags -R`; Aider is `aider --show-repo-map --map-tokens 1024` with its "
        "tag cache removed (cold), no key, no network.",
        "",
        "### Growth per line (linear when the per-line columns stay flat)",
        "",
        markdown_table(
            [
                "repository",
                "lines",
                "index ms / 1k lines",
                "CPU ms / 1k lines",
                "peak MB / 100k lines",
                "lines × prev",
                "wall × prev",
                "peak × prev",
            ],
            growth,
        ),
    ]
    if errors:
        out += ["", "Failures:", *errors]
    return out


def _typical_section(typical: list[dict[str, Any]]) -> list[str]:
    if not typical:
        return []
    rows = []
    for row in typical:
        if "error" in row:
            rows.append([row["repo"], "–", "–", "–", "–", "–", row["error"][:80]])
            continue
        problem = row["index"].get("error") or row["search"].get("error") or ""
        rows.append(
            [
                row["repo"],
                f"{row['files']:,}",
                f"{row['lines']:,}",
                _cell(row["index"]),
                _cell(row["search"]),
                f"{row['total_s']:.2f}",
                problem[:80],
            ]
        )
    good = [r["total_s"] for r in typical if _typical_ok(r)]
    summary = (
        f"Mean {statistics.mean(good):.2f} s, median {statistics.median(good):.2f} s, "
        f"worst {max(good):.2f} s over {len(good)} repositories (target ≤ 0.6 s)."
        if good
        else "No repository measured."
    )
    return [
        "",
        "### A typical repository: cold `codemem index` + first `codemem search`",
        "",
        markdown_table(
            ["repository", "files", "lines", "index s", "search s", "total s", "error"], rows
        ),
        "",
        summary,
    ]
