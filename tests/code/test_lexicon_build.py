"""The lexicon's postings, built with numpy, against a plain Python count of the same tokens,
on the edge cases a batch can hold: no rows, one term, dropped tokens, huge counts, texts
from Arrow and texts too long for 32-bit offsets."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

import codemem.code.lexicon_build as build
import codemem.code.lexicon_postings as postings_module
from codemem.code.columns import Columns, string_columns
from codemem.code.lexicon_build import from_batch
from codemem.code.lexicon_postings import MAX_TOKEN_BYTES, build_chunk_and_file_postings
from codemem.code.rows import Batch


def reference(chunks, chunk_files, tails, heads):
    """The chunk and file postings counted token by token: (terms, starts, docs, tfs, lengths)."""

    def kept(tokens):
        return [t.encode() for t in tokens if 0 < len(t.encode()) <= MAX_TOKEN_BYTES]

    chunk_docs = [kept(text.split(" ")) for text in chunks]
    file_tokens = [text.split(" ") for text in heads]
    for text, file, tail in zip(chunks, chunk_files, tails, strict=True):
        if tail:
            file_tokens[file] += text.split(" ")[-tail:]
    return postings_of(chunk_docs), postings_of([kept(tokens) for tokens in file_tokens])


def postings_of(docs):
    counts = [Counter(tokens) for tokens in docs]
    terms = sorted({t for c in counts for t in c})
    starts, ids, tfs = [0], [], []
    for term in terms:
        for doc, c in enumerate(counts):
            if term in c:
                ids.append(doc)
                tfs.append(c[term])
        starts.append(len(ids))
    return terms, starts, ids, tfs, [len(tokens) for tokens in docs]


def as_lists(postings):
    return (postings.terms.tolist(), postings.starts.tolist(), postings.docs.tolist(),
            postings.tfs.tolist(), postings.lengths.tolist())  # fmt: skip


def check(chunks, chunk_files, tails, heads):
    got = build_chunk_and_file_postings(chunks, np.array(chunk_files, np.int64),
                                        np.array(tails, np.int64), heads)  # fmt: skip
    want = reference(chunks, chunk_files, tails, heads)
    for postings, expected in zip(got, want, strict=True):
        assert as_lists(postings) == expected
        assert postings.terms.dtype.itemsize == max([len(t) for t in expected[0]] or [1])


def random_batch(seed: int, files: int, grouped: bool = True):
    rng = np.random.default_rng(seed)
    words = ["a", "ab", "b", "zz", "é", "ünï", "x\x01y", "_", "q" * 40, "q" * 41, "0", "a0"]
    chunks, chunk_files, tails = [], [], []
    for file in range(files):
        for _ in range(rng.integers(0, 4)):
            tokens = list(rng.choice(words, rng.integers(0, 12)))
            if rng.random() < 0.2:
                tokens.insert(int(rng.integers(0, len(tokens) + 1)), "")  # two spaces meet
            chunks.append(" ".join(tokens))
            chunk_files.append(file)
            tails.append(int(rng.integers(0, len(chunks[-1].split(" ")) + 1)))
    heads = [" ".join(rng.choice(words, rng.integers(0, 4))) for _ in range(files)]
    if not grouped:
        order = rng.permutation(len(chunks))
        chunks = [chunks[i] for i in order]
        chunk_files = [chunk_files[i] for i in order]
        tails = [tails[i] for i in order]
    return chunks, chunk_files, tails, heads


@pytest.mark.parametrize("seed", range(8))
def test_postings_are_the_tokens_counted_one_by_one(seed):
    check(*random_batch(seed, files=6))


def test_chunks_not_grouped_by_file_give_the_same_file_postings():
    check(*random_batch(11, files=7, grouped=False))


def test_no_texts_at_all_give_empty_postings():
    check([], [], [], [])
    check([], [], [], ["", ""])  # files with no tokens
    check(["", ""], [0, 0], [0, 1], [""])  # every token dropped


def test_one_term():
    check(["a"], [0], [1], ["a"])
    check(["a"], [0], [0], [""])


def test_counts_past_16_bits_and_many_distinct_terms():
    many = " ".join(f"t{n}" for n in range(70_000))
    check(["x " * 70_000 + "y", many], [0, 1], [70_001, 70_000], ["x", ""])


def test_tokens_too_long_or_empty_are_dropped_but_split_the_same():
    long = "q" * (MAX_TOKEN_BYTES + 1)
    check([f"a {long} b", f" {long}", "é" * 20 + " " + "é" * 21], [0, 0, 1], [2, 2, 2], ["", long])


def test_texts_from_arrow_give_what_strings_give(monkeypatch):
    chunks, chunk_files, tails, heads = random_batch(5, files=5)
    want = [as_lists(p) for p in build_chunk_and_file_postings(
        chunks, np.array(chunk_files), np.array(tails), heads)]  # fmt: skip
    for kind in (pa.string(), pa.large_string()):
        got = build_chunk_and_file_postings(pa.array(chunks, kind), np.array(chunk_files),
                                            np.array(tails), pa.chunked_array([heads]))  # fmt: skip
        assert [as_lists(p) for p in got] == want
    monkeypatch.setattr(postings_module, "SMALL_TEXTS_CHARS", 0)  # 64-bit offsets throughout
    for texts in (chunks, pa.array(chunks)):
        got = build_chunk_and_file_postings(texts, np.array(chunk_files), np.array(tails), heads)
        assert [as_lists(p) for p in got] == want


def test_a_batch_with_no_rows_but_removed_files_writes_a_segment_covering_them(tmp_path):
    from_batch(Batch(), ["gone.py"]).write(tmp_path / "seg.bin")
    cols = Columns.open(tmp_path / "seg.bin")
    assert cols.view("covers").tolist() == [build.key_hash("gone.py")]
    assert len(cols.view("p_hash")) == len(cols.view("c_path")) == len(cols.view("cp_docs")) == 0
    assert cols.view("cp_starts").tolist() == cols.view("fp_starts").tolist() == [0]


def test_the_name_index_keys_are_the_names_first_bytes_sorted_stably(tmp_path):
    names = ["b", "é" * 30, "a", "b", "x\0y"]  # 60 bytes: the key is the first 48
    symbols = {"path": ["a.c"] * 5, "name": names, "qualname": names, "kind": ["function"] * 5,
               "start_line": [1] * 5, "end_line": [2] * 5, "signature": [None] * 5,
               "docstring": [None] * 5, "parent": [None] * 5}  # fmt: skip
    batch = Batch(files={"path": ["a.c"], "language": ["c"], "is_test": [False], "search": [""]},
                  chunks={"path": [], "search": [], "file_tokens": []}, symbols=symbols)  # fmt: skip
    from_batch(batch).write(tmp_path / "seg.bin")
    cols = Columns.open(tmp_path / "seg.bin")
    keys = np.frombuffer(cols.bytes("sn_keys"), "S48").tolist()
    assert keys == [b"a", b"b", b"b", b"xy", "é".encode() * 24]  # NUL left out, as stored
    assert cols.view("sn_rows").tolist() == [2, 0, 3, 4, 1]


def test_clean_string_columns_store_none_as_empty_and_leave_nul_out():
    (_, blob), (_, offsets) = string_columns(["a\0b", None, "c"], clean=True)
    assert bytes(blob) == b"ab\0\0c\0"
    assert np.asarray(offsets).tolist() == [0, 3, 4, 6]
    with pytest.raises(TypeError):
        string_columns(["a", None])


def test_coded_strings_take_codes_as_a_list_of_their_values_would():
    column = build.CodedStrings()
    column.extend(["x", "y"], np.array([1, 0, 1]))
    column.extend(["y", "z", ""], np.array([1, 0, 2]))
    codes = {"c": 0}
    assert column.coded(codes).tolist() == [1, 2, 1, 3, 1, 4]  # y x y z y ""
    assert codes == {"c": 0, "y": 1, "x": 2, "z": 3, "": 4}  # in the order first held
    assert build.CodedStrings().coded(codes).tolist() == []


def test_a_batch_whose_search_texts_are_arrow_arrays_writes_the_same_segment(tmp_path):
    def batch(texts):
        return Batch(
            files={"path": ["a.c", "b.c"], "language": ["c", "c"], "is_test": [False, False],
                   "search": texts(["a c", "b c"])},
            chunks={"path": ["b.c", "a.c", "b.c"], "id": ["b1", "a1", "b2"],
                    "start_line": [1, 1, 5], "end_line": [4, 9, 8], "kind": ["f", "f", "f"],
                    "symbol": ["g", None, "h"], "symbol_kind": [None, None, "f"],
                    "search": texts(["b c g g x y", "a c y", "b c h h z"]),
                    "file_tokens": [2, 1, 1]},
            symbols={key: [] for key in ("path", "name", "qualname", "kind", "start_line",
                                         "end_line", "signature", "docstring", "parent")},
        )  # fmt: skip

    from_batch(batch(list)).write(tmp_path / "strings.bin")
    from_batch(batch(pa.array)).write(tmp_path / "arrow.bin")  # rows regrouped by `take`
    assert (tmp_path / "arrow.bin").read_bytes() == (tmp_path / "strings.bin").read_bytes()
