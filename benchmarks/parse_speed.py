"""Parse speed of the code-index parser layer: every .py file under a folder.

    python benchmarks/parse_speed.py [FOLDER] [--stages] [--profile] [--jobs N]

FOLDER defaults to /tmp/sympy (an extracted sympy checkout). Prints files, lines, symbols,
references, chunks, wall and CPU seconds of `parse_file` (tree-sitter parse, tag query,
chunking; reading the files is not timed). By default one process; `--jobs N` splits the
files over N worker processes (wall time only). `--stages` also times the tree-sitter parse
and the tag query alone, to show what the Python side adds.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tree_sitter import QueryCursor

from codemem.code.languages import get_parser, get_query
from codemem.code.parse import parse_file


def run(sources: list[tuple[str, bytes]]) -> dict[str, float]:
    """Parse every (path, bytes) pair and total what came out."""
    totals = {"files": 0, "lines": 0, "symbols": 0, "references": 0, "chunks": 0, "errors": 0}
    start, cpu = time.perf_counter(), time.process_time()
    for path, data in sources:
        parsed = parse_file(path, data, "python")
        totals["files"] += 1
        totals["symbols"] += len(parsed.symbols)
        totals["references"] += len(parsed.reference_names)
        totals["chunks"] += len(parsed.chunks)
        totals["errors"] += parsed.syntax_errors
    totals["seconds"] = round(time.perf_counter() - start, 2)
    totals["cpu_seconds"] = round(time.process_time() - cpu, 2)
    totals["lines"] = sum(data.count(b"\n") for _, data in sources)
    return totals


def run_parallel(sources: list[tuple[str, bytes]], jobs: int) -> dict[str, float]:
    """The same totals from `jobs` worker processes (round-robin shares of the files)."""
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        parts = list(pool.map(run, [sources[i::jobs] for i in range(jobs)]))
    totals = {key: sum(part[key] for part in parts) for key in parts[0]}
    totals["seconds"] = round(time.perf_counter() - start, 2)  # includes worker start-up
    totals["cpu_seconds"] = round(totals["cpu_seconds"], 2)
    return totals


def stages(sources: list[tuple[str, bytes]]) -> dict[str, float]:
    """CPU seconds of the tree-sitter parse alone and of parse + tag query."""
    parser, query = get_parser("python"), get_query("python")
    cpu = time.process_time()
    for _, data in sources:
        parser.parse(data)
    parse_only = time.process_time() - cpu
    cpu = time.process_time()
    for _, data in sources:
        QueryCursor(query).matches(parser.parse(data).root_node)
    return {
        "parse_cpu": round(parse_only, 2),
        "parse_query_cpu": round(time.process_time() - cpu, 2),
    }


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="/tmp/sympy")
    ap.add_argument("--profile", action="store_true", help="print the top functions by time")
    ap.add_argument("--stages", action="store_true", help="also time parse and query alone")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    args = ap.parse_args()
    root = Path(args.folder)
    sources = [(str(p.relative_to(root)), p.read_bytes()) for p in sorted(root.rglob("*.py"))]
    parse_file("warmup.py", b"def f():\n    pass\n", "python")  # load grammar and query
    if args.jobs > 1:
        totals = run_parallel(sources, args.jobs)
    else:
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        totals = run(sources)
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    if args.stages:
        totals |= stages(sources)
    print("  ".join(f"{key}={value}" for key, value in totals.items()))


if __name__ == "__main__":
    main()
