"""Parse speed of the code-index parser layer: every file of one language under a folder.

    python benchmarks/parse_speed.py [FOLDER] [--language c] [--every N] [--stages]
                                     [--profile] [--jobs N]

FOLDER defaults to /tmp/sympy (an extracted sympy checkout), the language to Python (`c`
takes `.c` and `.h` files, each `.h` parsed as the index would: C, or C++ when its code says
so). Files over the index's default size limit are left out, as the index leaves them;
`--every N` takes every Nth file only (the kernel's 55,000 C files: `--every 20`). Prints
files, lines, symbols, references, chunks, wall and CPU seconds of `parse_file` (tree-sitter
parse, tag query, chunking; reading the files is not timed). By default one process; `--jobs
N` splits the files over N worker processes (wall time only). `--stages` also times the
tree-sitter parse and the tag query alone (captures or matches, as the index reads them), the
floor no Python after the parse can go below.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tree_sitter import QueryCursor

from codemem.code.languages import GRAMMARS, get_parser, get_query, language_for_path
from codemem.code.parse import parse_file
from codemem.code.syntax import CAPTURE_LANGUAGES

MAX_FILE_BYTES = 1_000_000  # the index's default `index.max_file_bytes`

Sources = list[tuple[str, str, bytes]]  # (path, language, content)


def run(sources: Sources) -> dict[str, float]:
    """Parse every file and total what came out."""
    totals = {"files": 0, "lines": 0, "symbols": 0, "references": 0, "chunks": 0, "errors": 0}
    start, cpu = time.perf_counter(), time.process_time()
    for path, language, data in sources:
        parsed = parse_file(path, data, language)
        totals["files"] += 1
        totals["symbols"] += len(parsed.symbols)
        totals["references"] += len(parsed.reference_names)
        totals["chunks"] += len(parsed.chunks)
        totals["errors"] += parsed.syntax_errors
    totals["seconds"] = round(time.perf_counter() - start, 2)
    totals["cpu_seconds"] = round(time.process_time() - cpu, 2)
    totals["lines"] = sum(data.count(b"\n") for _, _, data in sources)
    return totals


def run_parallel(sources: Sources, jobs: int) -> dict[str, float]:
    """The same totals from `jobs` worker processes (round-robin shares of the files)."""
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        parts = list(pool.map(run, [sources[i::jobs] for i in range(jobs)]))
    totals = {key: sum(part[key] for part in parts) for key in parts[0]}
    totals["seconds"] = round(time.perf_counter() - start, 2)  # includes worker start-up
    totals["cpu_seconds"] = round(totals["cpu_seconds"], 2)
    return totals


def stages(sources: Sources) -> dict[str, float]:
    """CPU seconds of the tree-sitter parse alone and of parse + tag query."""
    tools = {language: (get_parser(language), get_query(language)) for _, language, _ in sources}
    cpu = time.process_time()
    for _, language, data in sources:
        tools[language][0].parse(data)
    parse_only = time.process_time() - cpu
    cpu = time.process_time()
    for _, language, data in sources:
        parser, query = tools[language]
        cursor, root = QueryCursor(query), parser.parse(data).root_node
        if language in CAPTURE_LANGUAGES:
            cursor.captures(root)
        else:
            cursor.matches(root)
    return {
        "parse_cpu": round(parse_only, 2),
        "parse_query_cpu": round(time.process_time() - cpu, 2),
    }


def read_sources(root: Path, language: str, every: int) -> Sources:
    """Every `every`th file of `language` under `root` (by path), with the language the index
    gives it (`.h`: C or C++)."""
    grammar = next((g for g in GRAMMARS if g.name == language), None)
    if grammar is None:
        raise SystemExit(f"unknown language {language!r}: one of {[g.name for g in GRAMMARS]}")
    suffixes = set(grammar.extensions) | ({".h"} if language == "c" else set())
    paths = sorted(p for p in root.rglob("*") if p.suffix in suffixes and p.is_file())
    sources: Sources = []
    for path in paths[:: max(1, every)]:
        data = path.read_bytes()
        if len(data) <= MAX_FILE_BYTES:
            name = path.relative_to(root).as_posix()
            sources.append((name, language_for_path(name, data) or language, data))
    return sources


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="/tmp/sympy")
    ap.add_argument("--language", default="python", help="a grammar's name (default python)")
    ap.add_argument("--every", type=int, default=1, help="take every Nth file only")
    ap.add_argument("--profile", action="store_true", help="print the top functions by time")
    ap.add_argument("--stages", action="store_true", help="also time parse and query alone")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    args = ap.parse_args()
    root = Path(args.folder)
    sources = read_sources(root, args.language, args.every)
    for _, language, data in sources[:50]:  # load grammars and queries before timing
        parse_file("warmup", data, language)
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
