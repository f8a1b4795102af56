"""A damaged code index is found and rebuilt: one line says so, no traceback, same answers.

Each case deletes or truncates one kind of file under `.codemem/local/index/` and runs the
real `codemem` in a subprocess, as a person would after the damage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codemem.code import CodeIndex
from codemem.code.integrity import find_damage
from codemem.workspace import Workspace
from tests.helpers import make_repo
from tests.helpers import run_codemem as codemem

QUERY = "order total"
REPAIR_LINE = "codemem: WARNING: the code index was damaged ("

# (file kind, the glob that finds one such file, whether deleting it is damage). Cutting any
# file short is damage, but for transaction files and the version hint, which a search does
# not read. Nor does it read older versions, and a missing graph cache or scalar index is
# built again.
KINDS = [
    ("manifest", "manifest.db", True),
    ("tag store", "tags.bin", True),
    ("tag store base", "tags.base.*.bin", True),
    ("graph and search prior", "graph.*.bin", False),
    ("chunk rows", "chunks.lance/data/*.lance", True),
    ("file rows", "files.lance/data/*.lance", True),
    ("symbol rows", "symbols.lance/data/*.lance", True),
    ("lexicon segment", "lexicon/seg-*.bin", True),
    ("lexicon list", "lexicon/segments.json", True),
    ("scalar index lookup", "symbols.lance/_indices/*/page_lookup.lance", True),
    ("scalar index pages", "chunks.lance/_indices/*/page_data.lance", True),
    # They only added a scalar index: the version before holds every row.
    ("newest version", "chunks.lance/_versions/*.manifest", False),
    ("newest symbols version", "symbols.lance/_versions/*.manifest", False),
    ("version hint", "chunks.lance/_versions/latest_version_hint.json", False),
    ("transaction", "chunks.lance/_transactions/*.txn", False),
]
NOT_READ = {"version hint", "transaction"}


def top_hit(result: subprocess.CompletedProcess) -> str:
    return result.stdout.splitlines()[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A repository indexed once, and the first search result before any damage."""
    root = make_repo(tmp_path_factory.mktemp("damage") / "shop", "shop")
    CodeIndex(Workspace(root)).refresh()
    first = codemem(root, "search", QUERY, "-k", "1")
    assert first.returncode == 0, first.stderr
    return root, top_hit(first)


@pytest.fixture
def repo(built, tmp_path):
    """A fresh copy of the built repository (and its index) for one case."""
    root, _ = built
    copy = tmp_path / "shop"
    shutil.copytree(root, copy, symlinks=True)
    return copy


def damage(repo: Path, pattern: str, how: str) -> Path:
    index_dir = repo / ".codemem" / "local" / "index"
    # The newest version's manifest sorts first: version numbers are stored inverted.
    target = sorted(index_dir.glob(pattern))[0]
    if how == "delete":
        target.unlink()
    else:
        with target.open("r+b") as handle:
            handle.truncate(target.stat().st_size // 2)
    return target


@pytest.mark.parametrize("how", ["delete", "truncate"])
@pytest.mark.parametrize(("kind", "pattern", "deleting_damages"), KINDS, ids=[k[0] for k in KINDS])
def test_search_after_damage_rebuilds_once_and_answers_the_same(
    built, repo, kind, pattern, deleting_damages, how
):
    damage(repo, pattern, how)
    result = codemem(repo, "search", QUERY, "-k", "1")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert top_hit(result) == built[1]
    lines = result.stderr.splitlines()
    if deleting_damages if how == "delete" else kind not in NOT_READ:
        assert len(lines) == 1 and lines[0].startswith(REPAIR_LINE), result.stderr
        assert lines[0].endswith("); rebuilding it from the work tree")
    else:
        assert lines == [], result.stderr


@pytest.mark.parametrize(
    ("pattern", "how"),
    [
        ("tags.bin", "truncate"),
        ("tags.base.*.bin", "delete"),
        ("chunks.lance/data/*.lance", "truncate"),
        ("lexicon/seg-*.bin", "truncate"),
        ("symbols.lance/data/*.lance", "delete"),  # seen only by opening the tables
    ],
)
def test_index_after_damage_rebuilds_instead_of_saying_up_to_date(built, repo, pattern, how):
    damage(repo, pattern, how)
    ws = Workspace(repo)
    assert find_damage(ws.index_dir) is not None
    result = codemem(repo, "index")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith(REPAIR_LINE)
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("Full index: 12 added")
    assert find_damage(ws.index_dir) is None
    assert top_hit(codemem(repo, "search", QUERY, "-k", "1")) == built[1]
    assert "up to date" in codemem(repo, "index").stdout


def test_status_reports_index_damage(repo):
    damage(repo, "symbols.lance/data/*.lance", "delete")
    result = codemem(repo, "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [found] = report["damage"]
    assert found["kind"] == "index"
    assert found["message"].startswith(
        "the code index is damaged (the symbols table cannot be read: "
    )
    assert found["message"].endswith("): the next `codemem index` or `codemem search` rebuilds it")


def _probes(monkeypatch) -> list[Path]:
    """Record each deep probe of the tables (the scan a checked index is spared)."""
    from codemem.code import store

    seen: list[Path] = []
    real = store.probe_tables

    def probe(index_dir, *args, **kwargs):
        seen.append(index_dir)
        return real(index_dir, *args, **kwargs)

    monkeypatch.setattr(store, "probe_tables", probe)
    return seen


def test_an_edit_to_a_checked_index_is_not_rescanned(repo, monkeypatch):
    index = CodeIndex(Workspace(repo))
    assert index.verify(again=True) is None  # the copy is checked as it stands
    seen = _probes(monkeypatch)
    (repo / "shop" / "cart.py").write_text("def order_total_v2():\n    return 2\n")
    summary = index.refresh()
    assert (summary.full, summary.changed) == (False, 1)
    assert seen == []  # the run vouched for its own writes
    assert find_damage(index.ws.index_dir) is None


def test_damage_from_outside_is_still_found_after_an_edit(built, repo, monkeypatch):
    damage(repo, "symbols.lance/data/*.lance", "delete")  # between two runs, by somebody else
    seen = _probes(monkeypatch)
    (repo / "shop" / "cart.py").write_text("def order_total_v2():\n    return 2\n")
    summary = CodeIndex(Workspace(repo)).refresh()
    assert seen  # not vouched for: the tables were scanned
    assert summary.full  # the damage was found and the index rebuilt
    assert find_damage(Workspace(repo).index_dir) is None


def test_an_index_named_by_a_relative_path_checks_out(repo, monkeypatch):
    monkeypatch.chdir(repo)
    assert find_damage(Path(".codemem/local/index")) is None


def test_status_reports_a_manifest_damaged_in_the_middle(repo):
    manifest = repo / ".codemem" / "local" / "index" / "manifest.db"
    data = manifest.read_bytes()
    middle = len(data) // 3  # inside the files table's pages
    manifest.write_bytes(data[:middle] + b"\xff\xfe\xc3\x28\x80" + data[middle:])
    result = codemem(repo, "status", "--json")
    assert result.returncode == 0, result.stderr
    [found] = json.loads(result.stdout)["damage"]
    assert found["message"].startswith("the code index is damaged (manifest.db ")
    assert codemem(repo, "index").returncode == 0
    assert json.loads(codemem(repo, "status", "--json").stdout)["damage"] == []


def test_a_checked_index_is_verified_without_taking_the_writers_lock(repo):
    ws = Workspace(repo)
    assert CodeIndex(ws).verify(again=True) is None  # the copy is checked as it stands
    lock = ws.local_dir / "index.lock"
    before = (lock.stat().st_mtime_ns, lock.read_bytes())
    assert CodeIndex(ws).verify() is None  # as a search does first
    assert (lock.stat().st_mtime_ns, lock.read_bytes()) == before
    damage(repo, "lexicon/seg-*.bin", "truncate")
    assert CodeIndex(ws).verify() is not None  # changed files: checked under the lock
    assert lock.stat().st_mtime_ns != before[0]


class _Runs:
    """Pickles to a call of `touch MARKER`: what a hostile record would do when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant_hostile_tags(index_dir: Path, marker: Path) -> None:
    """Replace one file's tag record with pickles that would `touch` `marker` when read."""
    import pickle

    from codemem.code.tags import TagStore

    store = TagStore.load(index_dir)
    path = next(iter(store._records))
    store._records[path] = (pickle.dumps(_Runs(marker)), pickle.dumps(_Runs(marker)))
    store.version += 1
    store.save()


def test_a_committed_index_never_runs_code_from_its_tag_store(repo_factory, tmp_path):
    # `.codemem/local/` is derived and ignored, but a clone can commit it (`git add -f`).
    repo = repo_factory("shop")
    codemem = [sys.executable, "-m", "codemem", "--repo", str(repo)]
    subprocess.run([*codemem, "index"], check=True, capture_output=True, timeout=120)
    marker = tmp_path / "owned"
    plant_hostile_tags(Workspace(repo).index_dir, marker)
    for args in (["map"], ["search", "cart total"], ["index"], ["map"]):
        result = subprocess.run([*codemem, *args], capture_output=True, text=True, timeout=120)
        assert not marker.exists(), (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert result.returncode == 0 and "shop/cart.py" in result.stdout  # rebuilt by `index`


def test_an_index_copied_with_its_times_is_checked_before_it_is_read(repo_factory, tmp_path):
    # A tar or zip of a project, or a CI cache, carries `.codemem/local/` with the file times
    # and the record of the last check (`checked.json`) that match them.
    from codemem.code.integrity import vouch_for_writes

    repo = repo_factory("shop")
    assert codemem(repo, "index").returncode == 0
    index_dir = Workspace(repo).index_dir
    marker = tmp_path / "owned"
    plant_hostile_tags(index_dir, marker)
    vouch_for_writes(index_dir)  # the record matches the hostile files' sizes and times
    copy = tmp_path / "unpacked" / "shop"
    shutil.copytree(repo, copy, symlinks=True)  # `cp -a`: modification times kept to the ns

    result = codemem(copy, "map")
    assert not marker.exists()
    assert result.returncode == 0, result.stderr
    assert "shop/cart.py" in result.stdout
    assert REPAIR_LINE in result.stderr and "posix.system" in result.stderr


@pytest.mark.parametrize("kind", ["dangling link", "folder"])
def test_a_manifest_journal_that_is_no_file_is_damage_and_the_index_rebuilt(repo, tmp_path, kind):
    # SQLite writes its journal through no link: with one in its place every save failed,
    # `codemem index` said "internal error: OperationalError: unable to open database file"
    # run after run, and searches kept answering from the index as it was.
    journal = Workspace(repo).index_dir / "manifest.db-journal"
    if kind == "folder":
        journal.mkdir()
    else:
        journal.symlink_to(tmp_path / "nowhere")
    (repo / "shop" / "refunds.py").write_text("def refund_order(order):\n    return order\n")
    result = codemem(repo, "index")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{REPAIR_LINE}manifest.db-journal is not a regular file); rebuilding it from the work tree"
    ]
    assert result.stdout.startswith("Full index: 13 added")
    assert not os.path.lexists(journal)
    assert "refunds.py" in top_hit(codemem(repo, "search", "refund order", "-k", "1"))


def test_a_copied_index_of_a_file_name_with_newlines_is_not_called_damaged(repo_factory, tmp_path):
    # A copy (`cp -a`, a backup restored) makes the next run check the whole index. That check
    # read the work-tree listing (`listing.bin`, plain bytes: `codemem-listing 1 …`) as a
    # pickle: its `c` was pickle's GLOBAL, and two newlines in the listing (a file name holding
    # one) completed it, so every such copy was "damaged", rebuilt, the listing dumped raw.
    repo = repo_factory("shop")
    (repo / "notes\nimport os\n.py").write_text("def noted():\n    return 1\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    assert codemem(repo, "index").returncode == 0
    copy = tmp_path / "copied" / "shop"
    shutil.copytree(repo, copy, symlinks=True)

    result = codemem(copy, "index")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0].startswith("Index is up to date")
