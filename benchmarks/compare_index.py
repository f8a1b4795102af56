"""Compare two codemem index folders: every table's rows (modulo order) and BM25 searches.

    python benchmarks/compare_index.py OLD/.codemem/local/index NEW/.codemem/local/index \
        [--query "matrix determinant" ...]

Exits 0 when the files, chunks and symbols tables hold the same rows and each query's top
chunks (ids and scores) are the same; prints what differs otherwise. Used to check that a
change to the indexer's speed leaves the index it builds exactly as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from codemem.code.lexicon import Lexicon
from codemem.code.store import connect

TABLES = ("files", "chunks", "symbols")
QUERIES = ("matrix determinant", "solve linear system", "symbol new assumptions", "latex printer")


def table_rows(index_dir: Path, name: str) -> list[str]:
    """Every row of a table (no vectors) as a sorted list of reprs."""
    table = connect(index_dir).open_table(name).to_arrow()
    columns = sorted(c for c in table.column_names if c != "vector")
    return sorted(repr(tuple(row.values())) for row in table.select(columns).to_pylist())


def top_chunks(index_dir: Path, query: str) -> list[tuple[Any, float]]:
    """The ids and BM25 scores of the query's top chunks and top files, as search reads them
    (from the lexicon)."""
    lexicon = Lexicon(index_dir)
    chunks = [(row["id"], round(row["_score"], 4)) for row in lexicon.fts_chunks(query, 10)]
    files = [(row["path"], round(row["_score"], 4)) for row in lexicon.fts_files(query, 10)]
    return chunks + files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--query", action="append", help="a search to compare (repeatable)")
    args = parser.parse_args(argv)
    same = True
    for name in TABLES:
        old, new = table_rows(args.old, name), table_rows(args.new, name)
        equal = old == new
        same &= equal
        print(f"{name}: {len(old)} / {len(new)} rows, {'same' if equal else 'DIFFERENT'}")
        if not equal:
            for row in sorted(set(old) - set(new))[:3]:
                print("  only in old:", row[:300])
            for row in sorted(set(new) - set(old))[:3]:
                print("  only in new:", row[:300])
    for query in args.query or QUERIES:
        old, new = top_chunks(args.old, query), top_chunks(args.new, query)
        same &= old == new
        print(f"search {query!r}: {'same' if old == new else f'DIFFERENT {old[:3]} / {new[:3]}'}")
    print("the same index" if same else "the indexes differ")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
