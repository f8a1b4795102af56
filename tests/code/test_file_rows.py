"""A search finds a file's rows by their lines without a pass over every row of the file for
each hit or traceback frame (a file can hold 300,000 one-line definitions): the chunk holding
a frame's line, and for a symbol search the definition each hit points at, by the symbols
within the hit's lines or of its qualified name."""

from __future__ import annotations

import random
from types import SimpleNamespace

from codemem.code.file_rows import FileRows
from codemem.code.query import analyze_query
from codemem.code.search import Hit, Searcher
from codemem.code.stages import Candidate


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


def test_rows_within_or_holding_lines_are_the_ones_a_pass_over_them_all_finds_in_order():
    rng = random.Random(3)
    symbols = FileRows()
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
    holding = symbols.holding(range(360, -1, -3))
    assert holding == {
        line: [r for r in rows if r["start_line"] <= line <= r["end_line"]]
        for line in range(0, 361, 3)
    }
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


def test_the_chunk_at_each_frames_line_is_found_reading_a_files_rows_a_few_times():
    rows = [CountedRow(id=f"c{n}", path="big.py", start_line=n, end_line=n, kind="definition")
            for n in range(1, 20_001)]  # fmt: skip
    rows.append(
        CountedRow(id="outline", path="big.py", start_line=1, end_line=20_000, kind="outline")
    )
    rows.append(CountedRow(id="other", path="other.py", start_line=1, end_line=9, kind="module"))
    searcher = SimpleNamespace(store=SimpleNamespace(chunk_spans=lambda paths: rows))
    frames = [Candidate("big.py", 0, n, n) for n in range(100, 20_001, 100)]
    CountedRow.reads = 0
    located = Searcher._chunks_at(searcher, [*frames, Candidate("other.py", 0, 5, 5)])  # type: ignore[arg-type]
    assert CountedRow.reads < 5 * len(rows) + 10 * len(frames)
    assert located == {("big.py", n): f"c{n}" for n in range(100, 20_001, 100)} | {
        ("other.py", 5): "other"
    }
