"""A symbol search refines each hit to the definition it points at: by the file's symbols
within the hit's lines, or of its qualified name, found without a pass over every symbol of
the file for each hit (a file can hold 300,000 one-line definitions)."""

from __future__ import annotations

import random
from types import SimpleNamespace

from codemem.code.file_symbols import FileSymbols
from codemem.code.query import analyze_query
from codemem.code.search import Hit, Searcher


class CountedRow(dict):
    """A symbol row that counts how often its fields are read."""

    reads = 0

    def __getitem__(self, key):
        CountedRow.reads += 1
        return super().__getitem__(key)


def _row(path: str, name: str, start: int, end: int, qualname: str | None = None) -> CountedRow:
    return CountedRow(
        path=path,
        name=name,
        qualname=qualname or name,
        kind="function",
        start_line=start,
        end_line=end,
    )


def test_rows_within_lines_are_the_ones_a_pass_over_them_all_finds_in_the_same_order():
    rng = random.Random(3)
    symbols = FileSymbols()
    rows = []
    for n in range(400):
        start = rng.randint(1, 300)
        row = _row("a.py", f"f{n}", start, start + rng.choice([0, 0, 1, 5, 40]))
        rows.append(row)
        symbols.add(row)
    for _ in range(300):
        start = rng.randint(0, 320)
        end = start + rng.randint(0, 60)
        assert symbols.within(start, end) == [
            r for r in rows if start <= r["start_line"] and r["end_line"] <= end
        ]
    assert symbols.first_named("f7") is rows[7]
    assert symbols.first_named("nothing") is None


def test_refining_symbol_hits_reads_a_files_rows_a_few_times_not_once_a_hit():
    rows = [_row("big.py", f"f{n}", n, n) for n in range(1, 20_001)]
    rows += [
        _row("big.py", "parse_header", 30, 31, "C.parse_header"),
        _row("big.py", "parse_header", 40, 40, "D.parse_header"),
    ]
    hits = [Hit("big.py", 1.0, n, n, f"f{n}", "function", "python") for n in range(1, 1001)]
    hits += [Hit("big.py", 0.5, 29, 32, "C", "class", "python")]
    searcher = SimpleNamespace(store=SimpleNamespace(symbols_in=lambda paths: rows))
    CountedRow.reads = 0
    Searcher._refine_symbols(searcher, hits, analyze_query("where is parse_header"))  # type: ignore[arg-type]
    assert CountedRow.reads < 5 * len(rows)
    assert [(h.symbol, h.start_line, h.end_line) for h in hits[:2]] == [("f1", 1, 1), ("f2", 2, 2)]
    assert (hits[-1].symbol, hits[-1].kind, hits[-1].start_line) == (
        "C.parse_header",
        "function",
        30,
    )
