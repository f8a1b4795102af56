"""The lexicon search reads: no LanceDB in a search process, damage found, kills and merges
leave the answers of a full rebuild."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import codemem.code.lexicon_writer as writer_module
from codemem.code import CodeIndex
from codemem.code.columns import Columns
from codemem.code.indexer import refresh_index
from codemem.code.integrity import find_damage
from codemem.code.lexicon import LEXICON_DIR, LIST_NAME, Lexicon, read_list
from codemem.code.lexicon_build import from_batch
from codemem.code.lexicon_merge import _sorted_union
from codemem.code.lexicon_postings import build_chunk_and_file_postings
from codemem.code.rows import Batch
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.code.test_indexer import lexicon_answers

ROOT = Path(__file__).resolve().parents[2]


def index(root: Path, full: bool = False):
    ws = Workspace(root)
    return refresh_index(ws, load_config(ws.config_file), full=full)


def answers(root: Path) -> dict[str, list]:
    ws = Workspace(root)
    paths = sorted(CodeIndex(ws).indexed_languages())
    return lexicon_answers(ws.index_dir, paths)


def full_rebuild_answers(root: Path, tmp_path: Path) -> dict[str, list]:
    clone = tmp_path / f"clone-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(root, clone, symlinks=True, ignore=shutil.ignore_patterns("local"))
    index(clone, full=True)
    return answers(clone)


RUN_AND_REPORT_MODULES = """
import sys
from codemem.cli import main
repo, *args, modules = sys.argv[1:]
sys.argv = ["codemem", "--repo", repo, *args]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
print(sorted(m for m in modules.split(",") if m in sys.modules), file=sys.stderr)
"""


def modules_loaded(repo: Path, modules: list[str], *args: str) -> tuple[str, list[str]]:
    """`codemem ARGS` in a fresh process: its output, and which of `modules` it loaded."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT_MODULES, str(repo), *args, ",".join(modules)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout, ast.literal_eval(result.stderr.splitlines()[-1])


def test_a_search_process_never_loads_lancedb_or_pyarrow(repo_factory):
    repo = repo_factory("shop")
    index(repo)
    CodeIndex(Workspace(repo)).verify()  # the deep check (LanceDB) ran once, for this index
    output, loaded = modules_loaded(
        repo, ["lancedb", "pyarrow"], "search", "order total", "-k", "3"
    )
    assert "shop/" in output
    assert loaded == []


def test_a_cold_index_process_never_loads_numpy_ma_or_numpy_char(repo_factory):
    # 20-30 ms of a small repository's first index, for nothing it needs: `pa.array` of a
    # numpy array and `np.char` load them.
    output, loaded = modules_loaded(repo_factory("shop"), ["numpy.ma", "numpy.char"], "index")
    assert "symbols" in output
    assert loaded == []


def test_a_flipped_byte_in_a_segment_is_found_and_the_index_rebuilt(repo_factory):
    repo = repo_factory("shop")
    index(repo)
    ws = Workspace(repo)
    before = answers(repo)
    [segment] = sorted((ws.index_dir / LEXICON_DIR).glob("seg-*.bin"))
    data = bytearray(segment.read_bytes())
    data[len(data) - 100] ^= 0xFF  # inside the last column's data: only its checksum tells
    segment.write_bytes(bytes(data))
    assert find_damage(ws.index_dir, deep=False) is None
    assert "is damaged" in (find_damage(ws.index_dir) or "")
    assert CodeIndex(ws).verify() is not None  # removed and rebuilt
    assert find_damage(ws.index_dir) is None
    assert answers(repo) == before


def test_a_damaged_or_missing_segment_list_is_damage(repo_factory):
    repo = repo_factory("shop")
    index(repo)
    index_dir = Workspace(repo).index_dir
    listing = index_dir / LEXICON_DIR / LIST_NAME
    listing.write_text(listing.read_text().replace("seg-000001", "seg-000009"))
    assert "damaged" in (find_damage(index_dir, deep=False) or "")
    listing.unlink()
    assert find_damage(index_dir, deep=False) == f"{LEXICON_DIR}/{LIST_NAME} is missing"


def test_a_segment_written_but_never_listed_is_ignored_then_removed(repo_factory, tmp_path):
    """A run killed between writing a segment and listing it: search reads the listed ones."""
    repo = repo_factory("shop")
    index(repo)
    folder = Workspace(repo).index_dir / LEXICON_DIR
    before = answers(repo)
    shutil.copy(folder / "seg-000001.bin", folder / "seg-000002.bin")  # not in the list
    assert answers(repo) == before
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef order_total_v2():\n    return 2\n")
    index(repo)
    assert read_list(folder) == ["seg-000001.bin", "seg-000002.bin"]  # the stray one replaced
    assert sorted(p.name for p in folder.iterdir()) == [
        "seg-000001.bin",
        "seg-000002.bin",
        LIST_NAME,
    ]
    assert answers(repo) == full_rebuild_answers(repo, tmp_path)


def test_merged_segments_answer_as_a_full_rebuild(repo_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "MERGE_AT", 3)
    repo = repo_factory("shop")
    index(repo)
    folder = Workspace(repo).index_dir / LEXICON_DIR
    cart, payments = repo / "shop" / "cart.py", repo / "shop" / "payments.py"
    for n in range(7):
        target = cart if n % 2 else payments
        target.write_text(
            target.read_text() + f"\n\ndef helper_{n}(order):\n    return order.total\n"
        )
        if n == 4:
            (repo / "shop" / "inventory.py").unlink()
        index(repo)
        assert len(read_list(folder) or []) <= 3
    assert answers(repo) == full_rebuild_answers(repo, tmp_path)
    assert [r["path"] for r in Lexicon(Workspace(repo).index_dir).fts_chunks("helper_5", 3)] == [
        "shop/cart.py"
    ]


def test_an_index_run_rebuilds_an_index_whose_segment_list_is_damaged(repo_factory, tmp_path):
    repo = repo_factory("shop")
    index(repo)
    listing = Workspace(repo).index_dir / LEXICON_DIR / LIST_NAME
    listing.write_bytes(listing.read_bytes()[:-5])
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef order_total_v2():\n    return 2\n")
    assert index(repo).full
    assert answers(repo) == full_rebuild_answers(repo, tmp_path)


def test_file_postings_counted_from_chunk_tokens_are_those_of_the_whole_file_text():
    chunks = ["a b a b get x", "a b a b y z", "", "a b a b " + "q" * 41 + " get get"]
    chunk_files = np.array([0, 0, 1, 2])
    tails = np.array([2, 0, 0, 3])  # the second chunk is an outline: its file text skips it
    heads = ["a b a b", "c c", "a b a b"]
    chunk_postings, file_postings = build_chunk_and_file_postings(chunks, chunk_files, tails, heads)
    texts = ["a b a b get x", "c c", "a b a b " + "q" * 41 + " get get"]
    zeros = np.zeros(len(texts), np.int64)
    for got, want in (  # each text whole, as the chunks' texts are
        (chunk_postings, build_chunk_and_file_postings(chunks, chunk_files, tails * 0, [])[0]),
        (file_postings, build_chunk_and_file_postings(texts, zeros, zeros, [])[0]),
    ):
        assert got.terms.dtype == want.terms.dtype
        for name in ("terms", "starts", "docs", "tfs", "lengths"):
            assert getattr(got, name).tolist() == getattr(want, name).tolist(), name


def test_a_segment_groups_rows_by_file_and_keeps_nul_and_none_apart(tmp_path):
    batch = Batch(
        files={"path": ["a.c", "b.c"], "language": ["c", "c"], "is_test": [False, True],
               "search": ["a c", "b c"]},
        chunks={"path": ["b.c", "a.c", "b.c"], "id": ["b1", "a1", "b2"], "start_line": [1, 1, 5],
                "end_line": [4, 9, 8], "kind": ["function", None, "function"],
                "symbol": ["f\0g", None, ""], "symbol_kind": [None, None, "function"],
                "search": ["x", "y", "z"], "file_tokens": [1, 1, 1]},
        symbols={key: [] for key in ("path", "name", "qualname", "kind", "start_line",
                                     "end_line", "signature", "docstring", "parent")},
    )  # fmt: skip
    from_batch(batch).write(tmp_path / "seg.bin")
    cols = Columns.open(tmp_path / "seg.bin")
    assert cols.view("c_path").tolist() == [0, 1, 1]  # a.c's row first, b.c's in their order
    assert bytes(cols.bytes("c_id")) == b"a1\0b1\0b2\0"
    assert bytes(cols.bytes("c_symbol")) == b"\0fg\0\0"  # NUL left out, None stored as ""
    assert cols.view("c_null").tolist() == [3, 2, 0]  # None, not "", is null
    assert bytes(cols.bytes("codes")) == b"c\0\0function\0"  # in the order first seen
    assert cols.view("c_kind").tolist() == [1, 2, 2]
    assert cols.view("c_symbol_kind").tolist() == [1, 1, 2]


def test_texts_too_long_for_32_bit_offsets_are_split_into_the_same_tokens(monkeypatch):
    import codemem.code.lexicon_postings as build

    texts = ["a b a", "", "x  y", " ünï cödé ", "q" * 41 + " b"]
    small = build._tokens(texts)
    monkeypatch.setattr(build, "SMALL_TEXTS_CHARS", 0)  # 64-bit offsets
    large = build._tokens(texts)
    for got, want in zip(large, small, strict=True):
        assert got.dtype == want.dtype
        assert got.tolist() == want.tolist()
    assert small[3].tolist() == [3, 1, 3, 4, 2]  # tokens per text


def test_a_merge_unites_the_sorted_term_tables_as_a_sort_of_all_would():
    rng = np.random.default_rng(3)
    words = np.array([f"w{n}".encode() * rng.integers(1, 4) for n in range(400)])
    tables = [np.unique(rng.choice(words, size)).astype(f"S{width}")
              for size, width in ((50, 9), (300, 12), (1, 40), (0, 1), (120, 20))]  # fmt: skip
    united, rows = _sorted_union(tables)
    expected = np.unique(np.concatenate(tables))
    assert united.dtype == expected.dtype
    assert united.tolist() == expected.tolist()
    for table, found in zip(tables, rows, strict=True):
        assert found.tolist() == np.searchsorted(united, table.astype(united.dtype)).tolist()
