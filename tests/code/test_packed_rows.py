"""Rows packed by a worker come back exactly as they were, whichever way each column travelled."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa

from codemem.code.joined_rows import JoinedColumn, joined_batches
from codemem.code.packed_rows import ArrowStrings, pack_batches, pack_results
from codemem.code.rows import Batch, FileRows


class Result:
    """The part of a `FileResult` that packing reads and replaces."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch


def file_batch(path: str, chunks: list[tuple], symbols: list[tuple]) -> Batch:
    """One file's rows: chunks as (id, symbol, text, search), symbols as (name, docstring)."""
    batch = Batch()
    n, m = len(chunks), len(symbols)
    batch.files.update(path=[path], language=["python"], is_test=[False], search=[path])
    batch.chunks.update(
        id=[c[0] for c in chunks],
        path=[path] * n,
        language=["python"] * n,
        start_line=list(range(1, n + 1)),
        symbol=[c[1] for c in chunks],
        is_test=[False] * n,
        text=[c[2] for c in chunks],
        search=[c[3] for c in chunks],
    )
    batch.symbols.update(
        path=[path] * m,
        language=["python"] * m,
        name=[s[0] for s in symbols],
        name_lower=[s[0].lower() for s in symbols],
        docstring=[s[1] for s in symbols],
        is_test=[False] * m,
    )
    return batch


BATCHES = [
    file_batch("a.py", [("a#1", "f", "def f(): ...", "a f def f")], [("f", None)]),
    file_batch("b.py", [], []),  # a file without rows
    file_batch(
        "c/ü.py",
        [("c#1", None, "x = 'é'\n", "c x"), ("c#2", "g", "", "")],
        [("Größe", "doc ✓"), ("g", None), ("H", "")],
    ),
    file_batch("d.py", [("d#1", "h", "print(1)", "d print")], [("h", None)]),
]


def as_lists(batch: Batch) -> dict[str, dict[str, list]]:
    def plain(values):
        if isinstance(values, np.ndarray | JoinedColumn):
            return values.tolist()
        return values if isinstance(values, list) else values.to_pylist()  # an Arrow array

    return {
        table: {name: plain(values) for name, values in getattr(batch, table).items()}
        for table in ("files", "chunks", "symbols")
    }


def expected(batches: list[Batch]) -> dict[str, dict[str, list]]:
    whole = Batch()
    for batch in batches:
        whole.extend(batch)
    return as_lists(whole)


def parts_of(batches: list[Batch]) -> list[FileRows]:
    results = [Result(batch) for batch in batches]
    pack_results(results)
    sent = pickle.loads(pickle.dumps(results))  # as a worker sends them
    return [r.batch for r in sent]


def test_packed_rows_join_back_to_the_rows_as_lists_and_as_arrow_arrays():
    parts = parts_of(BATCHES)
    assert [(p.index, p.count("chunks"), p.count("symbols")) for p in parts] == [
        (0, 1, 1), (1, 0, 0), (2, 2, 3), (3, 1, 1),
    ]  # fmt: skip
    lists, tables = joined_batches(parts)
    want = expected(BATCHES)
    assert as_lists(tables) == want
    # The lexicon's lists: every column but the ones only the tables store, and each row's
    # file by its number in place of the columns that repeat its file's value.
    only_stored = {("chunks", "text"), ("symbols", "name_lower")}
    repeated = {"path", "language", "is_test"}
    lexicon = {
        table: {
            k: v
            for k, v in columns.items()
            if (table, k) not in only_stored and (table == "files" or k not in repeated)
        }
        for table, columns in want.items()
    }
    lexicon["chunks"]["file"] = [0, 2, 2, 3]
    lexicon["symbols"]["file"] = [0, 2, 2, 2, 3]
    assert as_lists(lists) == lexicon
    assert lists.chunks["file"].dtype == np.int64
    assert tables.chunks["text"].type == pa.string()
    assert tables.chunks["text"].equals(pa.array(want["chunks"]["text"], pa.string()))
    # The search texts only the lexicon reads: a chunk a pack's range of files, over the
    # bytes the worker sent (nothing copied).
    search = lists.chunks["search"]
    assert isinstance(search, pa.ChunkedArray)
    assert search.equals(pa.chunked_array([want["chunks"]["search"]], pa.string()))
    # Numbers go to Arrow over their numpy buffer (`pa.array` of numpy loads numpy.ma).
    start = tables.chunks["start_line"]
    assert isinstance(start, pa.Array) and start.type == pa.int64()
    assert start.to_pylist() == want["chunks"]["start_line"]


def test_any_run_of_files_joins_to_its_own_rows():
    parts = parts_of(BATCHES)
    for a in range(len(BATCHES)):
        for b in range(a + 1, len(BATCHES) + 1):
            lists, tables = joined_batches(parts[a:b])
            assert as_lists(tables) == expected(BATCHES[a:b])


def test_files_of_several_packs_join_in_order():
    first, second = parts_of(BATCHES[:2]), parts_of(BATCHES[2:])
    _, tables = joined_batches([*first, *second])
    assert as_lists(tables) == expected(BATCHES)


def test_columns_that_cannot_be_packed_travel_as_lists():
    batches = [
        file_batch("a.py", [("a\0#1", "f", "nul \0 inside", "s")], [("bad\udcff", None)]),
        file_batch("b.py", [("b#1", "g", "fine", "s")], [("ok", None)]),
    ]
    rows = pack_batches(batches)
    assert isinstance(rows.packed["chunks"]["id"], list)  # NUL inside: as it was
    assert isinstance(rows.packed["chunks"]["text"], ArrowStrings)  # NUL is fine in Arrow
    assert isinstance(rows.packed["chunks"]["search"], ArrowStrings)  # the lexicon reads Arrow
    assert isinstance(rows.packed["symbols"]["name"], list)  # a lone surrogate
    assert isinstance(rows.packed["symbols"]["name_lower"], list)
    assert "path" not in rows.packed["chunks"]  # rebuilt from the file rows
    want = expected(batches)
    _, tables = joined_batches(parts_of(batches))
    assert as_lists(tables) == want


def test_a_plain_batch_of_one_file_row_packs_alone():
    (part,) = parts_of([Batch(files={"path": ["a.py"]})])
    lists, tables = joined_batches([part, part])
    assert lists.files == {"path": ["a.py", "a.py"]}
    assert lists.count("chunks") == 0


def test_joined_string_columns_reach_the_lexicon_as_bytes_and_the_store_as_arrow():
    from codemem.code.columns import string_columns
    from codemem.code.joined_rows import JoinedColumn

    lists, tables = joined_batches(parts_of(BATCHES))
    want = expected(BATCHES)
    for table, name in (("chunks", "id"), ("chunks", "symbol"), ("symbols", "docstring")):
        column = getattr(lists, table)[name]
        assert isinstance(column, JoinedColumn)
        values = want[table][name]
        (_, blob), (_, offsets) = string_columns(values, clean=True)  # the segment's layout
        assert column.data == blob
        assert column.offsets.tolist() == offsets.tolist()
        assert column.tolist() == values
        stored = getattr(tables, table)[name]
        assert stored.type == pa.string()
        assert stored.equals(pa.array(values, pa.string()))


def test_the_lexicon_segment_of_joined_rows_is_the_one_of_the_plain_rows(tmp_path):
    from codemem.code.lexicon_build import from_batch

    def with_every_column(batch: Batch) -> Batch:
        n, m = batch.count("chunks"), batch.count("symbols")
        batch.chunks.update(end_line=[9] * n, kind=["function"] * n, symbol_kind=["f"] * n,
                            file_tokens=[1] * n)  # fmt: skip
        batch.symbols.update(qualname=batch.symbols["name"], kind=["function"] * m,
                             start_line=[1] * m, end_line=[2] * m, signature=["()"] * m,
                             parent=[None] * m)  # fmt: skip
        return batch

    batches = [with_every_column(b) for b in pickle.loads(pickle.dumps(BATCHES))]
    whole = Batch()
    for batch in batches:
        whole.extend(batch)
    lists, _ = joined_batches(parts_of(batches))
    from_batch(lists, ["gone.py"]).write(tmp_path / "joined.bin")
    from_batch(whole, ["gone.py"]).write(tmp_path / "plain.bin")
    assert (tmp_path / "joined.bin").read_bytes() == (tmp_path / "plain.bin").read_bytes()
