"""The incremental index must always equal a full rebuild, whatever happened in between."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from lexicon_helpers import symbols_in

from codemem.code.batch_writer import PendingFiles
from codemem.code.extract import INDEXED, FileResult
from codemem.code.indexer import refresh_index
from codemem.code.integrity import find_damage
from codemem.code.lexicon import Lexicon
from codemem.code.lexicon_rows import LexiconRows
from codemem.code.lexicon_writer import MERGE_AT
from codemem.code.manifest import Manifest
from codemem.code.packed_rows import pack_results
from codemem.code.rows import SCALAR_INDEXES, Batch
from codemem.code.store import CodeStore
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.helpers import git


def snapshot(root) -> dict[str, list[dict]]:
    """Every row of every code table, in a canonical order."""
    store = CodeStore(Workspace(root).index_dir)
    out = {}
    for name, key in (
        ("files", ("path",)),
        ("chunks", ("id",)),
        ("symbols", ("path", "qualname", "start_line")),
    ):
        rows = store.table(name).to_arrow().to_pylist()
        out[name] = sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))
    out["lexicon"] = lexicon_answers(Workspace(root).index_dir, [r["path"] for r in out["files"]])
    return out


LEXICON_QUERIES = ["cart total", "order payment refund", "def return self", "checkout ship"]


def lexicon_answers(index_dir, paths: list[str]) -> dict[str, list]:
    """What search reads from the lexicon: ranked rows with exact scores, rows by path."""
    lexicon = Lexicon(index_dir)
    rows = LexiconRows(lexicon)
    out: dict[str, list] = {}
    for query in LEXICON_QUERIES:
        out[f"chunks {query}"] = lexicon.fts_chunks(query, 50)
        out[f"files {query}"] = lexicon.fts_files(query, 50)
    out["symbols"] = symbols_in(lexicon, paths)
    root = index_dir.parents[2]  # <root>/.codemem/local/index
    every_line = {p: range(1, len((root / p).read_bytes().splitlines()) + 2) for p in paths}
    spans = {r["id"]: r for held in rows.chunks_holding(every_line).values() for r in held}
    out["spans"] = sorted(spans.values(), key=lambda r: r["id"])
    names = sorted({r["name"] for r in out["symbols"]})
    out["named"] = rows.symbols_named(names)
    out["by id"] = sorted(rows.chunks_by_id([r["id"] for r in out["spans"]]), key=lambda r: r["id"])
    return out


def index(root, full: bool = False):
    ws = Workspace(root)
    return refresh_index(ws, load_config(ws.config_file), full=full)


def assert_equals_full_rebuild(root, tmp_path):
    incremental = snapshot(root)
    manifest = Manifest.load(Workspace(root).index_dir)
    clone = tmp_path / f"clone{time.monotonic_ns()}"
    shutil.copytree(root, clone, symlinks=True, ignore=shutil.ignore_patterns("local"))
    index(clone, full=True)
    assert incremental == snapshot(clone)
    assert manifest.files == Manifest.load(Workspace(clone).index_dir).files


def test_first_run_indexes_and_second_is_a_no_op(repo_factory):
    repo = repo_factory("shop")
    first = index(repo)
    assert (first.full, first.added, first.changed, first.removed) == (True, 12, 0, 0)
    assert first.files == 12 and first.symbols > 20 and first.chunks > 20
    second = index(repo)
    assert second.up_to_date and (second.added, second.changed, second.removed) == (0, 0, 0)
    assert second.files == first.files


def test_incremental_equals_full_after_every_kind_of_change(repo_factory, tmp_path):
    repo = repo_factory("shop")
    index(repo)
    # edit, add, delete, rename, untracked, ignored, symlinks
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef checkout(cart):\n    return cart.total()\n")
    (repo / "shop" / "shipping.py").write_text("def ship(order):\n    return 'shipped'\n")
    (repo / "web" / "static" / "format.js").unlink()
    git(repo, "mv", "shop/payments.py", "shop/billing.py")
    (repo / ".gitignore").write_text("ignored/\n")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "secret_sauce.py").write_text("SAUCE = 1\n")
    os.symlink("shop/cart.py", repo / "cart_link.py")
    os.symlink("/etc/passwd", repo / "passwd_link")
    summary = index(repo)
    assert (summary.added, summary.changed, summary.removed) == (3, 1, 2)
    assert summary.skipped == {"symlink": 2}
    paths = set(Manifest.load(Workspace(repo).index_dir).indexed_paths())
    assert "shop/billing.py" in paths and "shop/payments.py" not in paths
    assert not any(p.startswith("ignored/") for p in paths)
    assert_equals_full_rebuild(repo, tmp_path)


def test_branch_switch_and_back(repo_factory, tmp_path):
    repo = repo_factory("shop")
    index(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "shop" / "coupons.py").write_text("def apply_coupon(cart, code):\n    return cart\n")
    (repo / "shop" / "inventory.py").write_text("class Inventory:\n    pass\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "coupons")
    index(repo)
    assert_equals_full_rebuild(repo, tmp_path)
    git(repo, "checkout", "-q", "main")
    summary = index(repo)
    assert (summary.added, summary.changed, summary.removed) == (0, 1, 1)
    assert_equals_full_rebuild(repo, tmp_path)


def test_bad_input_is_skipped_and_counted(repo_factory):
    repo = repo_factory("shop")
    (repo / "image.py").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (repo / "huge.py").write_text("x = 1\n" * 300_000)
    (repo / "bundle.js").write_text("var a=1;" * 20_000)
    (repo / "latin1.py").write_bytes(b"# caf\xe9\ndef ok():\n    return 1\n")
    (repo / "bom.py").write_bytes(b"\xef\xbb\xbfdef with_bom():\r\n    return 1\r\n")
    (repo / "broken.py").write_text("def broken(:\n    return\nclass Fine:\n    pass\n")
    (repo / "empty.py").write_text("")
    (repo / ".env").write_text("API_KEY=supersecret\n")
    (repo / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (repo / "weights.json").write_text(  # a Git LFS pointer, in a clone without git-lfs
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        "size 104857600\n"
    )
    os.symlink("loop_b", repo / "loop_a")
    os.symlink("loop_a", repo / "loop_b")
    summary = index(repo)
    assert summary.skipped == {
        "binary": 1,
        "too_large": 1,
        "minified": 1,
        "lfs_pointer": 1,
        "secret": 2,
        "symlink": 2,
    }
    manifest = Manifest.load(Workspace(repo).index_dir)
    for path in ("latin1.py", "bom.py", "broken.py", "empty.py"):
        assert manifest.files[path].status == "indexed", path
    assert manifest.files["broken.py"].syntax_errors > 0
    store = CodeStore(Workspace(repo).index_dir)
    rows = store.table("symbols").search().where("path = 'bom.py'").to_list()
    assert [(r["name"], r["start_line"], r["end_line"]) for r in rows] == [("with_bom", 1, 2)]
    texts = store.table("chunks").search().where("path = '.env' OR path = 'id_rsa'").to_list()
    assert texts == []


def test_a_file_whose_name_is_not_utf8_is_skipped_and_counted(repo_factory, tmp_path):
    # git lists the name as bytes, read as lone surrogates that no table or lexicon column
    # can hold: the run once failed as a whole (exit 3), so nothing else was indexed either.
    repo = repo_factory("shop")
    index(repo)
    name = os.fsdecode(b"shop/caf\xe9.py")
    (repo / name).write_text("def cafe():\n    return 1\n")
    (repo / "shop/fresh.py").write_text("def fresh():\n    return 2\n")
    summary = index(repo)
    assert (summary.added, summary.skipped) == (1, {"name_not_utf8": 1})
    assert Manifest.load(Workspace(repo).index_dir).files[name].status == "name_not_utf8"
    assert_equals_full_rebuild(repo, tmp_path)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "names")
    git(repo, "rm", "-q", name)
    assert index(repo).skipped == {}
    assert name not in Manifest.load(Workspace(repo).index_dir).files
    assert_equals_full_rebuild(repo, tmp_path)


def test_files_a_sparse_checkout_brings_in_are_indexed(repo_factory, tmp_path):
    # Files outside a sparse checkout were recorded as missing, under their blob id: once the
    # checkout took them in, the same id said nothing had changed, and they were never read.
    repo = repo_factory("shop")
    git(repo, "sparse-checkout", "set", "shop")
    first = index(repo)
    assert (
        first.skipped,
        "web/static/cart.js" in Manifest.load(Workspace(repo).index_dir).files,
    ) == (
        {},
        False,
    )
    git(repo, "sparse-checkout", "add", "web")
    again = index(repo)
    assert (again.added, again.changed, again.removed) == (2, 0, 0)
    entry = Manifest.load(Workspace(repo).index_dir).files["web/static/cart.js"]
    assert (entry.status, entry.symbols) == ("indexed", 4)
    assert_equals_full_rebuild(repo, tmp_path)


def test_a_file_recorded_missing_is_read_again_when_the_work_tree_changes(repo_factory):
    repo = repo_factory("shop")
    index(repo)
    ws = Workspace(repo)
    manifest = Manifest.load(ws.index_dir)
    entry = manifest.files["shop/cart.py"]
    manifest.files["shop/cart.py"] = replace(entry, status="missing")  # gone while read
    manifest.save(ws.index_dir)
    (repo / "shop/new.py").write_text("def new():\n    return 1\n")
    index(repo)
    assert Manifest.load(ws.index_dir).files["shop/cart.py"] == entry


def test_config_change_triggers_rebuild(repo_factory):
    repo = repo_factory("shop")
    index(repo)
    (repo / ".codemem").mkdir(exist_ok=True)
    (repo / ".codemem" / "config.yml").write_text("index:\n  chunk_lines: 20\n")
    summary = index(repo)
    assert summary.full and summary.added == 12


@pytest.mark.parametrize("delay", [0.6, 1.2, 2.0])
def test_killed_index_then_rerun_equals_clean_run(repo_factory, tmp_path, delay):
    repo = repo_factory("shop", commit=False)
    for n in range(400):
        (repo / "gen" / f"m{n // 50}").mkdir(parents=True, exist_ok=True)
        (repo / "gen" / f"m{n // 50}" / f"mod{n}.py").write_text(
            "".join(f"def func_{n}_{i}(x):\n    return x + {i}\n\n\n" for i in range(20))
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "many files")
    env = {**os.environ, "CODEMEM_INDEX__BATCH_FILES": "25", "CODEMEM_INDEX__WORKERS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), "index"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    index(repo)
    assert_equals_full_rebuild(repo, tmp_path)


def test_many_incremental_runs_keep_disk_and_fragments_bounded(repo_factory, monkeypatch):
    monkeypatch.setenv("CODEMEM_INDEX__COMPACT_EVERY", "5")
    monkeypatch.setenv("CODEMEM_INDEX__KEEP_VERSIONS_SECONDS", "0")
    repo = repo_factory("shop")
    index(repo)
    target = repo / "shop" / "payments.py"
    original = target.read_text()

    def disk() -> tuple[int, int]:
        root = Workspace(repo).index_dir / "chunks.lance"
        files = [p for p in root.rglob("*") if p.is_file()]
        return len(files), sum(p.stat().st_size for p in files)

    sizes = []
    for n in range(40):
        target.write_text(original + f"\n\ndef helper_{n}():\n    return {n}\n")
        summary = index(repo)
        assert summary.changed == 1
        if summary.compacted:
            sizes.append(disk())
    assert len(sizes) == 8  # every 5th run compacts
    files_counts = [count for count, _ in sizes]
    byte_counts = [size for _, size in sizes]
    assert max(files_counts) <= files_counts[0] + 4
    assert max(byte_counts) <= 2 * byte_counts[0]
    lexicon = Lexicon(Workspace(repo).index_dir)
    rows = lexicon.fts_chunks("helper_39", 5)
    assert [r["path"] for r in rows] == ["shop/payments.py"]
    assert len(lexicon.segments) <= MERGE_AT  # the newest small segments are merged


def test_a_large_repository_builds_its_scalar_indexes_one_after_the_other(
    repo_factory, tmp_path, monkeypatch
):
    """Above SIDE_BY_SIDE_MAX_FILES the scalar indexes are built in turn: the same index."""
    import codemem.code.indexer as indexer

    repo = repo_factory("shop")
    index(repo)
    side_by_side = snapshot(repo)
    monkeypatch.setattr(indexer, "SIDE_BY_SIDE_MAX_FILES", 0)
    summary = index(repo, full=True)
    assert summary.full and summary.files == 12
    assert snapshot(repo) == side_by_side
    assert Manifest.load(Workspace(repo).index_dir).full_text
    lexicon = Lexicon(Workspace(repo).index_dir)
    assert lexicon.fts_chunks("cart", 5) and lexicon.fts_files("cart", 5)


def scalar_indexes(store: CodeStore) -> dict[str, set[str]]:
    """The indexed column of each scalar index, by table."""
    return {
        name: {ix.columns[0] for ix in store.table(name).list_indices() if ix.index_type == "BTree"}
        for name in SCALAR_INDEXES
    }


def rows_of(store: CodeStore, table: str, path: str) -> list[dict]:
    """The rows of one file, as a delete finds them (`path IN`)."""
    return store.table(table).search().where(f"path IN ('{path}')").limit(10_000).to_list()


def test_a_missing_scalar_index_only_slows_reads_and_the_next_run_builds_it(repo_factory):
    repo = repo_factory("shop")
    index(repo)
    index_dir = Workspace(repo).index_dir
    store = CodeStore(index_dir)
    assert scalar_indexes(store) == {name: set(cols) for name, cols in SCALAR_INDEXES.items()}
    named = rows_of(store, "symbols", "shop/cart.py")
    assert named
    store.table("symbols").drop_index("path_idx")
    store.close()
    assert find_damage(index_dir) is None
    store = CodeStore(index_dir)
    assert rows_of(store, "symbols", "shop/cart.py") == named
    store.close()
    (repo / "shop" / "payments.py").write_text("def refund():\n    return 0\n")
    assert index(repo).changed == 1
    store = CodeStore(index_dir)
    assert "path" in scalar_indexes(store)["symbols"]
    assert [r["name"] for r in rows_of(store, "symbols", "shop/payments.py")] == ["refund"]


def test_rows_added_after_the_scalar_indexes_are_found_and_compaction_folds_them_in(
    repo_factory, monkeypatch
):
    monkeypatch.setenv("CODEMEM_INDEX__COMPACT_EVERY", "3")  # the full run counts
    repo = repo_factory("shop")
    index(repo)
    target = repo / "shop" / "payments.py"
    target.write_text(target.read_text() + "\n\ndef late_helper():\n    return 1\n")
    assert not index(repo).compacted
    store = CodeStore(Workspace(repo).index_dir)
    symbols = store.table("symbols")
    stats = symbols.index_stats("path_idx")
    assert stats.num_unindexed_rows > 0
    assert "late_helper" in [r["name"] for r in rows_of(store, "symbols", "shop/payments.py")]
    store.close()
    target.write_text(target.read_text() + "\n\ndef later_helper():\n    return 2\n")
    assert index(repo).compacted
    store = CodeStore(Workspace(repo).index_dir)
    assert store.table("symbols").index_stats("path_idx").num_unindexed_rows == 0
    assert store.table("chunks").index_stats("path_idx").num_unindexed_rows == 0
    names = [r["name"] for r in rows_of(store, "symbols", "shop/payments.py")]
    assert {"late_helper", "later_helper"} <= set(names)


def test_a_full_rebuild_commits_ever_smaller_batches_at_its_end():
    """The commit after the last file is parsed overlaps nothing: it is kept small."""
    config = load_config(None)
    result = FileResult("a.py", "0" * 40, INDEXED, "python", Batch(files={"path": ["a.py"]}))
    pack_results([result])  # as `parse_files` hands it to the writer
    pending = PendingFiles()
    sizes, size = [], 0
    for left in reversed(range(1000)):  # 1000 files of a full rebuild, `left` still to come
        pending.add(result, had_rows=False)
        size += 1
        if pending.is_large(config, left):
            sizes.append(size)
            pending.clear()
            size = 0
    assert sizes == [500, 250, 128]  # then the last 122 files in the final commit
    assert not pending.is_large(config)  # an incremental run: only the size limits count


def test_a_batch_of_files_with_many_symbols_in_few_chunks_is_committed_by_its_symbols():
    """A register header is thousands of `#define` constants in a few module chunks: counted
    by chunks alone, a batch of them held millions of symbol rows (the kernel's index peaked
    400 MB higher)."""
    config = load_config(None)
    defines = 5_000
    result = FileResult(
        "regs.h",
        "0" * 40,
        INDEXED,
        "c",
        Batch(
            files={"path": ["regs.h"]},
            chunks={"path": ["regs.h"] * 63},
            symbols={"path": ["regs.h"] * defines},
        ),
    )
    pack_results([result])
    pending = PendingFiles()
    added = 0
    while not pending.is_large(config) and added < 1000:
        pending.add(result, had_rows=False)
        added += 1
    # 50,000 symbol rows at most: well before 20,000 chunks (318 such files, 1.6 M symbols)
    assert added * defines <= 50_000 < (added + 1) * defines
    assert pending.chunks == 63 * added
    pending.clear()
    assert (pending.chunks, pending.symbols, pending.rows) == (0, 0, [])
