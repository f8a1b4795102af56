"""The reference graph's rankings on a real repository, dumped and compared across versions.

    python benchmarks/graph_ranks.py dump REPO OUT.json    # with the codemem under test
    python benchmarks/graph_ranks.py compare OLD.json NEW.json

`dump` reads REPO's existing index (its tag store; the graph is built from it if needed) and
writes what the graph decides: every file's static rank and search prior, personalized file
ranks, the ranked definitions, and repo maps at a few budgets and focuses. Run it with the old
code, then with the new one on a copy of the same index, and `compare`: the orders must be
identical and the scores equal to within float rounding (1e-9 relative).
"""

from __future__ import annotations

import json
import math
import sys
from itertools import islice
from pathlib import Path
from typing import Any

FOCUSES: list[list[str]] = [
    [],
    ["sympy/solvers"],
    ["Basic.subs"],
    ["sympy/core/basic.py"],
    ["sympy/solvers", "Basic.subs"],
]
BUDGETS = [1024, 4096]
TOP_DEFINITIONS = 2000


def dump(repo: Path, out: Path) -> None:
    from codemem.code.index import CodeIndex
    from codemem.workspace import Workspace

    index = CodeIndex(Workspace(repo))
    loaded = index._map_data()
    if loaded is None:
        raise SystemExit(f"no index with map data under {repo}")
    _, graph = loaded
    result: dict[str, Any] = {
        "file_ranks": index.file_ranks(),
        "centrality": dict(index._centrality()),
        "personalized": graph.rank_files({"sympy/core/basic.py": 1.0}, ["subs"]),
        "definitions": [
            [path, list(d), score]
            for path, d, score in islice(graph.iter_definitions(), TOP_DEFINITIONS)
        ],
        "maps": {},
    }
    for focus in FOCUSES:
        for tokens in BUDGETS:
            repo_map = index.repo_map(tokens, focus)
            assert repo_map is not None
            result["maps"][f"{tokens}:{','.join(focus)}"] = repo_map.text
    out.write_text(json.dumps(result))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def _order(ranks: dict[str, float]) -> list[str]:
    return sorted(ranks, key=lambda p: (-ranks[p], p))


def compare(old_path: Path, new_path: Path) -> int:
    old, new = json.loads(old_path.read_text()), json.loads(new_path.read_text())
    problems: list[str] = []
    for key in ("file_ranks", "centrality", "personalized"):
        a, b = old[key], new[key]
        if set(a) != set(b):
            problems.append(f"{key}: different files ({len(a)} vs {len(b)})")
            continue
        if _order(a) != _order(b):
            first = next(
                i for i, (x, y) in enumerate(zip(_order(a), _order(b), strict=False)) if x != y
            )
            problems.append(f"{key}: order differs from position {first}")
        off = [p for p in a if not _close(a[p], b[p])]
        if off:
            problems.append(
                f"{key}: {len(off)} scores differ, e.g. {off[0]}: {a[off[0]]} vs {b[off[0]]}"
            )
    defs_a = [(p, d) for p, d, _ in old["definitions"]]
    defs_b = [(p, d) for p, d, _ in new["definitions"]]
    if defs_a != defs_b:
        first = next(
            (i for i, (x, y) in enumerate(zip(defs_a, defs_b, strict=False)) if x != y), len(defs_a)
        )
        problems.append(f"definitions: order differs from position {first}")
    scores = [
        (x[2], y[2])
        for x, y in zip(old["definitions"], new["definitions"], strict=False)
        if not _close(x[2], y[2])
    ]
    if scores:
        problems.append(f"definitions: {len(scores)} scores differ")
    for key, text in old["maps"].items():
        if new["maps"].get(key) != text:
            problems.append(f"map {key!r} differs")
    print(
        f"{len(old['file_ranks'])} files, {len(old['definitions'])} definitions, "
        f"{len(old['maps'])} maps compared: " + ("identical" if not problems else "DIFFERENT")
    )
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "dump":
        dump(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
