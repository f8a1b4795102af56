"""Search results of one build, to compare with another's: the top 10 of a fixed query set.

Writes every query's top 10 at file, chunk and symbol level (path, lines, symbol, kind,
language, score) as JSON, and prints the warm in-process latency (median of 5 runs per query,
one reused `Searcher`, as semble_bench measures). Run it with each build on copies of the same
indexed repository and compare the files: a change meant to be only faster must leave them
byte-identical. Fix the hash seed: the path stage visits a set of query words.

    cp -a /work/bench-work/speed-final/sympy+sympy /tmp/a   # one copy per build
    cd /tmp/a && PYTHONHASHSEED=0 PYTHONPATH=<build> python <build>/benchmarks/search_results.py . a.json
    cmp a.json b.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from codemem.code import CodeIndex
from codemem.code.search import Searcher
from codemem.config import load_config
from codemem.workspace import Workspace

QUERIES = [  # written for sympy; any repository works, the comparison is build against build
    "matrix determinant",
    "simplify trigonometric expression",
    "solve polynomial equation roots",
    "Integral",
    "sympy/core/basic.py",
    "sympy.core.basic",
    'Traceback (most recent call last):\n  File "sympy/core/sympify.py", line 383, in sympify\n'
    "    raise SympifyError(a)\nSympifyError: SympifyError: None",
    "latex printer for Piecewise",
    "groebner basis",
    "sympy.matrices.dense.MutableDenseMatrix",
    "where is the cache decorator defined",
    "lambdify numpy module",
    "diophantine",
    "ODE hint solver dsolve",
    "test_simplify",
    "printing/pretty/pretty.py _print_Integral",
    "AttributeError: 'NoneType' object has no attribute 'is_commutative'",
    "`sympify` strict mode",
    "polys.polytools.factor",
    "How are assumptions like is_positive resolved?",
    "core/numbers.py Rational",
    "init_printing",
    "physics units quantity conversion",
    "codegen fortran",
    "series expansion of exp at infinity",
]
LEVELS = ("file", "chunk", "symbol")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="an indexed repository")
    parser.add_argument("out", type=Path, help="where to write the results (JSON)")
    args = parser.parse_args()
    ws = Workspace(args.repo.resolve())
    config = load_config(ws.config_file)
    index = CodeIndex(ws, config)
    results = {}
    for level in LEVELS:
        for query in QUERIES:
            hits = index.search(query, k=10, level=level)
            results[f"{level}|{query}"] = [
                [h.path, h.start_line, h.end_line, h.symbol, h.kind, h.language, round(h.score, 9)]
                for h in hits
            ]
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    searcher = Searcher(ws, config)
    searcher.search("warm up", k=10, level="chunk")
    medians = []
    for level in ("file", "chunk"):
        for query in QUERIES:
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                searcher.search(query, k=10, level=level)
                runs.append((time.perf_counter() - started) * 1000)
            medians.append(statistics.median(runs))
    print(
        f"{len(results)} result lists written to {args.out}; in-process warm latency "
        f"p50 {statistics.median(medians):.1f} ms over {len(medians)} queries"
    )


if __name__ == "__main__":
    main()
