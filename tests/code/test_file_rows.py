"""A search finds a file's rows by their lines without a pass over every row of the file for
each hit or traceback frame (a file can hold 300,000 one-line definitions): the chunk holding
a frame's line, and for a symbol search the definition each hit points at, by the symbols
within the hit's lines or of its qualified name; however many rows the file holds, none is
left out."""

from __future__ import annotations

import random
from types import SimpleNamespace

from codemem.code.columns import Strings
from codemem.code.lexicon import LEXICON_DIR, Lexicon
from codemem.code.lexicon_build import from_batch
from codemem.code.lexicon_rows import LexiconRows
from codemem.code.lexicon_writer import write_list
from codemem.code.query import analyze_query
from codemem.code.rows import Batch
from codemem.code.search import Hit, Searcher
from codemem.code.stages import Candidate, symbol_matches


def old_choice(rows, hit, names, lines):
    """The definition a symbol hit pointed at when search built every row of its file: the
    narrowest of the rows within its lines named in the query or holding a frame's line, the
    first in line order on a tie; else the file's first row of the hit's qualified name."""
    ordered = sorted(rows, key=lambda r: (r["start_line"], r["end_line"], r["qualname"]))
    inside = [
        r for r in ordered if hit.start_line <= r["start_line"] and r["end_line"] <= hit.end_line
    ]
    pointed = [
        r for r in inside
        if r["name"] in names or any(r["start_line"] <= n <= r["end_line"] for n in lines)
    ]  # fmt: skip
    if pointed:
        return min(pointed, key=lambda r: r["end_line"] - r["start_line"])
    return next((r for r in ordered if r["qualname"] == hit.symbol), None)


def test_a_hit_points_at_the_definition_it_did_when_every_row_was_built(tmp_path):
    rng = random.Random(3)
    paths, symbols = ["a.py", "b/a.py", "c.py"], {}
    rows = []
    for n in range(1500):
        start = rng.randint(1, 300)
        name = rng.choice(["parse", "run", "ünï", "f" * 40, "f" * 41, f"g{n}"])
        rows.append({
            "path": rng.choice(paths), "name": name,
            "qualname": rng.choice([name, f"C.{name}", f"C.D.{name}"]),
            "kind": "function", "start_line": start,
            "end_line": start + rng.choice([0, 0, 1, 5, 40]),
        })  # fmt: skip
    for key in rows[0]:
        symbols[key] = [r[key] for r in rows]
    for key in ("signature", "docstring", "parent"):
        symbols[key] = [None] * len(rows)
    files = {"path": paths, "language": ["python"] * 3, "is_test": [False] * 3,
             "search": ["a", "b a", "c"]}  # fmt: skip
    chunks = {key: [] for key in ("path", "id", "start_line", "end_line", "kind", "symbol",
                                  "symbol_kind", "search", "file_tokens")}  # fmt: skip
    lexicon = _rows_of(tmp_path, files, chunks, symbols)
    hits = []
    for _ in range(600):
        start = rng.randint(0, 320)
        symbol = rng.choice([None, "C.parse", "run", "ünï", "C.D." + "f" * 41, "missing"])
        hits.append(Hit(rng.choice([*paths, "gone.py"]), 1.0, start, start + rng.randint(0, 60),
                        symbol, "function", "python"))  # fmt: skip
    for names in ([], ["parse"], ["run", "f" * 41, "ünï"]):
        spans = [(h.path, h.start_line, h.end_line, h.symbol, ()) for h in hits]
        spans[:50] = [(*span[:4], tuple(rng.sample(range(1, 340), 3))) for span in spans[:50]]
        got = lexicon.definitions_at(spans, names)
        for span, hit, choice in zip(spans, hits, got, strict=True):
            mine = [r for r in rows if r["path"] == hit.path]
            expected = old_choice(mine, hit, set(names), span[4])
            assert (choice and {k: choice[k] for k in rows[0]}) == expected


def _lexicon_of(tmp_path, files, chunks, symbols) -> Lexicon:
    """A lexicon of one segment holding these rows."""
    folder = tmp_path / LEXICON_DIR
    folder.mkdir()
    from_batch(Batch(files, chunks, symbols)).write(folder / "seg-1.bin")
    write_list(folder, ["seg-1.bin"])
    return Lexicon(tmp_path)


def _rows_of(tmp_path, files, chunks, symbols) -> LexiconRows:
    """The row lookups of a lexicon of one segment holding these rows."""
    return LexiconRows(_lexicon_of(tmp_path, files, chunks, symbols))


FILES = {"path": ["big.py", "other.py"], "language": ["python"] * 2, "is_test": [False] * 2,
         "search": ["big", "other"]}  # fmt: skip
NO_SYMBOLS = {key: [] for key in ("path", "name", "qualname", "kind", "start_line", "end_line",
                                  "signature", "docstring", "parent")}  # fmt: skip


def test_the_chunk_at_a_frames_line_is_found_past_the_hundred_thousandth_chunk(tmp_path):
    # A generated file of 100,010 one-line definitions under a class outline: a frame past
    # the 100,000th chunk names its definition, not nothing (a cap once dropped the rest).
    count = 100_010
    lines = list(range(1, count + 1))
    chunks = {
        "path": ["big.py"] * (count + 1) + ["other.py"],
        "id": [f"c{n}" for n in lines] + ["outline", "other"],
        "start_line": [*lines, 1, 1],
        "end_line": [*lines, count, 9],
        "kind": ["definition"] * count + ["outline", "module"],
        "symbol": [None] * (count + 2),
        "symbol_kind": [None] * (count + 2),
        "search": ["f"] * (count + 2),
        "file_tokens": [0] * (count + 2),
    }
    searcher = SimpleNamespace(rows=_rows_of(tmp_path, FILES, chunks, NO_SYMBOLS))
    frames = [Candidate("big.py", 0, n, n) for n in (1, 99_999, 100_000, 100_001, count)]
    located = Searcher._chunks_at(searcher, [*frames, Candidate("other.py", 0, 5, 5)])  # type: ignore[arg-type]
    assert located == {("big.py", f.start_line): f"c{f.start_line}" for f in frames} | {
        ("other.py", 5): "other"
    }
    outside = [Candidate("big.py", 0, count + 1, count + 1), Candidate("gone.py", 0, 3, 3)]
    assert Searcher._chunks_at(searcher, outside) == {}  # type: ignore[arg-type]


def test_a_symbol_hit_is_refined_past_the_two_hundred_thousandth_definition(tmp_path, monkeypatch):
    count = 200_010  # one-line functions, then a class whose method the query names
    names = [f"f{n}" for n in range(1, count + 1)] + ["C", "parse_header"]
    symbols = {
        "path": ["big.py"] * len(names),
        "name": names,
        "qualname": names[:-1] + ["C.parse_header"],
        "kind": ["function"] * count + ["class", "function"],
        "start_line": [*range(1, count + 1), count + 1, count + 2],
        "end_line": [*range(1, count + 1), count + 4, count + 3],
        **{key: [None] * len(names) for key in ("signature", "docstring", "parent")},
    }
    chunks = {key: [] for key in ("path", "id", "start_line", "end_line", "kind", "symbol",
                                  "symbol_kind", "search", "file_tokens")}  # fmt: skip
    searcher = SimpleNamespace(rows=_rows_of(tmp_path, FILES, chunks, symbols))
    built = []
    row_of = LexiconRows._symbol_row
    monkeypatch.setattr(
        LexiconRows, "_symbol_row", lambda self, s, r: built.append(r) or row_of(self, s, r)
    )
    hits = [
        Hit("big.py", 1.0, count + 1, count + 4, "C", "class", "python"),
        Hit("big.py", 1.0, count - 9, count, "f200001", "function", "python"),  # by its name
    ]
    Searcher._refine_symbols(searcher, hits, analyze_query("where is parse_header"))  # type: ignore[arg-type]
    assert [(h.symbol, h.kind, h.start_line, h.end_line) for h in hits] == [
        ("C.parse_header", "function", count + 2, count + 3),
        ("f200001", "function", 200_001, 200_001),
    ]
    assert len(built) == 2  # no row built for each definition of the file


def test_a_name_defined_everywhere_neither_hides_a_rare_one_nor_builds_its_rows(
    tmp_path, monkeypatch
):
    # 20,010 methods `handle_event` (a few in tests) before `rare_thing` in zzz.py: the search skips a
    # name that common, and once read them all only to cut the list at 20,000, `rare_thing` with it.
    count = 20_010
    paths = ["a.py"] * (count - 3) + ["tests/test_a.py"] * 3 + ["zzz.py"]
    names = ["handle_event"] * count + ["rare_thing"]
    qualnames = [f"H{n}.handle_event" for n in range(count)] + ["rare_thing"]
    symbols = {
        "path": paths,
        "name": names,
        "qualname": qualnames,
        "kind": ["method"] * count + ["function"],
        "start_line": list(range(1, count + 2)),
        "end_line": list(range(1, count + 2)),
        **{key: [None] * len(names) for key in ("signature", "docstring", "parent")},
    }
    files = {"path": ["a.py", "tests/test_a.py", "zzz.py"], "language": ["python"] * 3,
             "is_test": [False, True, False], "search": ["a", "test a", "zzz"]}  # fmt: skip
    chunks = {key: [] for key in ("path", "id", "start_line", "end_line", "kind", "symbol",
                                  "symbol_kind", "search", "file_tokens")}  # fmt: skip
    lexicon = _rows_of(tmp_path, files, chunks, symbols)
    built = []
    row_of = LexiconRows._symbol_row
    monkeypatch.setattr(
        LexiconRows, "_symbol_row", lambda self, s, r: built.append(r) or row_of(self, s, r)
    )
    found = symbol_matches(lexicon, analyze_query("handle_event rare_thing H7.handle_event"))
    assert [(c.path, c.symbol, c.start_line) for c in found] == [
        ("a.py", "H7.handle_event", 8),
        ("zzz.py", "rare_thing", count + 1),
    ]
    assert len(built) < 40  # the rare row, the pinned one, 26 to say `handle_event` is common
    rows = lexicon.symbols_named(["handle_event"], most=3)  # tests last
    assert [r["qualname"] for r in rows] == [f"H{n}.handle_event" for n in range(4)]
    everything = lexicon.symbols_named(["handle_event", "rare_thing"])
    assert len(everything) == count + 1 and everything[-1]["name"] == "rare_thing"


def test_chunks_are_read_by_id_without_reading_every_id_of_their_file(tmp_path, monkeypatch):
    count = 100_010
    ids = [f"big.py#{n}-{n}#{n - 1}" for n in range(1, count + 1)]
    chunks = {
        "path": ["big.py"] * count + ["other.py"],
        "id": [*ids, "other.py#1-9#odd"],  # an id of another shape: found all the same
        "start_line": [*range(1, count + 1), 1],
        "end_line": [*range(1, count + 1), 9],
        "kind": ["definition"] * count + ["module"],
        "symbol": [None] * (count + 1),
        "symbol_kind": [None] * (count + 1),
        "search": ["f"] * (count + 1),
        "file_tokens": [0] * (count + 1),
    }
    lexicon = _rows_of(tmp_path, FILES, chunks, NO_SYMBOLS)
    reads = []
    read = Strings.__getitem__
    monkeypatch.setattr(Strings, "__getitem__", lambda self, i: reads.append(i) or read(self, i))
    wanted = [ids[0], ids[99_999], ids[-1], "big.py#5-5#3", "gone.py#1-1#0"]
    rows = lexicon.chunks_by_id(wanted)
    assert sorted((r["id"], r["start_line"]) for r in rows) == [
        (ids[0], 1), (ids[99_999], 100_000), (ids[-1], count)
    ]  # fmt: skip
    assert len(reads) < 100
    assert [r["id"] for r in lexicon.chunks_by_id(["other.py#1-9#odd"])] == ["other.py#1-9#odd"]


def test_thousands_of_chunks_scoring_alike_are_ordered_by_id_read_at_once(tmp_path, monkeypatch):
    # Every chunk of a generated file holds its path's words: a query naming the file scores
    # them all alike, and the ties are ordered by id, once read one id at a time.
    count = 20_000
    ids = [f"gen.py#{n}-{n}#{n - 1}" for n in range(1, count + 1)]
    chunks = {
        "path": ["big.py"] * count, "id": ids,
        "start_line": list(range(1, count + 1)), "end_line": list(range(1, count + 1)),
        "kind": ["definition"] * count, "symbol": [None] * count, "symbol_kind": [None] * count,
        "search": ["gen py"] * count, "file_tokens": [0] * count,
    }  # fmt: skip
    lexicon = _lexicon_of(tmp_path, FILES, chunks, NO_SYMBOLS)
    reads = []
    read = Strings.__getitem__
    monkeypatch.setattr(Strings, "__getitem__", lambda self, i: reads.append(i) or read(self, i))
    found = lexicon.fts_chunks("gen", 5)
    assert [row["id"] for row in found] == sorted(ids)[:5]
    assert len(reads) < 1_000
