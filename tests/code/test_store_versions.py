"""Old index versions are pruned by count, not only by age, and never under an open reader."""

from __future__ import annotations

from pathlib import Path

from codemem.code import store as store_module
from codemem.code.indexer import compaction_due_after, refresh_index
from codemem.code.store import CodeStore
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.helpers import git, make_repo

STAGES = 150  # modules of 40 functions: one saved file is a small part of the index


def index(root: Path, full: bool = False):
    ws = Workspace(root)
    return refresh_index(ws, load_config(ws.config_file), full=full)


def disk(root: Path) -> int:
    return sum(p.stat().st_size for p in Workspace(root).index_dir.rglob("*") if p.is_file())


def module_source(n: int, edit: int = 0) -> str:
    """Stage `n`'s module; each `edit` renames one function (the repository keeps its size)."""
    return "".join(
        f"def step_{n}_{i}{f'_v{edit:03d}' if i == 0 else ''}(value):\n"
        f'    """Step {i} of stage {n}."""\n    return value + {i}\n\n'
        for i in range(40)
    )


def synthetic_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", commit=False)
    (repo / "pkg").mkdir()
    for n in range(STAGES):
        (repo / "pkg" / f"stage{n}.py").write_text(module_source(n))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stages")
    return repo


def test_sixty_rapid_incremental_runs_stay_under_twice_a_fresh_build(tmp_path):
    repo = synthetic_repo(tmp_path)
    index(repo, full=True)
    fresh = disk(repo)
    compacted = 0
    for run in range(60):  # far quicker than keep_versions_seconds (300 s by default)
        n = run % 7
        (repo / "pkg" / f"stage{n}.py").write_text(module_source(n, edit=run + 1))
        summary = index(repo)
        assert summary.changed == 1
        compacted += summary.compacted
        assert disk(repo) < 2 * fresh, f"run {run}: {disk(repo)} bytes, fresh {fresh}"
    assert compacted == 3  # every index.compact_every (20) runs
    store = CodeStore(Workspace(repo).index_dir)
    # What the last maintain (run 58) left, plus run 59's delete and add: not 60 runs' worth.
    assert all(
        len(store.table(name).list_versions()) <= 5 for name in ("files", "chunks", "symbols")
    )
    rows = store.table("symbols").search().where("name = 'step_3_0_v060'").to_list()
    assert [r["path"] for r in rows] == ["pkg/stage3.py"]


def test_a_store_open_for_reading_keeps_the_versions_it_may_read(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "READERS_WAIT_SECONDS", 0.1)
    repo = synthetic_repo(tmp_path)
    index(repo, full=True)
    for run in range(3):
        (repo / "pkg" / "stage0.py").write_text(module_source(0, edit=run + 1))
        index(repo)
    index_dir = Workspace(repo).index_dir
    reader = CodeStore(index_dir)
    chunks = reader.table("chunks")
    versions = len(chunks.list_versions())
    assert versions > 1
    writer = CodeStore(index_dir)
    writer.maintain(keep_versions_seconds=300)  # a reader is open: prune by age only
    assert len(writer.table("chunks").list_versions()) > versions
    assert len(chunks.search().where("path = 'pkg/stage0.py'").limit(5).to_list()) >= 1
    reader.close()  # the reader is done
    del chunks
    writer.maintain(keep_versions_seconds=300)
    assert len(writer.table("chunks").list_versions()) == 1
    assert writer.table("chunks").search().where("path = 'pkg/stage0.py'").limit(5).to_list()


def test_a_larger_index_is_compacted_after_proportionally_more_runs(tmp_path):
    config = load_config(tmp_path / "none.yml")
    every = config.index.compact_every
    assert [compaction_due_after(config, chunks) for chunks in (0, 99_999, 100_000, 3_019_177)] == [
        every,
        every,
        every,
        30 * every,
    ]


def test_every_table_is_written_in_the_2_0_file_format_also_after_compaction(tmp_path):
    repo = synthetic_repo(tmp_path)
    index(repo, full=True)
    store = CodeStore(Workspace(repo).index_dir)
    store.maintain(keep_versions_seconds=0)
    store.close()
    data = sorted(Workspace(repo).index_dir.glob("*.lance/data/*.lance"))
    # A Lance file ends with its format version (major, minor: 0.3 is 2.0) and b"LANC".
    footers = {path.read_bytes()[-8:] for path in data}
    assert len(data) >= 3
    assert footers == {b"\x00\x00\x03\x00LANC"}
