"""No write makes the repository's folders again: a daemon's write that races an `rm -rf` of
the repository fails, instead of leaving `.codemem/local/…` where the repository was (or
failing the `rm` with "Directory not empty")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codemem.code.store import CodeStore
from codemem.infra import FileLock, SharedLock, atomic_write, private_dir


def write_file(path: Path) -> None:
    atomic_write(path, "x")


def take_lock(path: Path) -> None:
    with FileLock(path, timeout=0):
        pass


def share_lock(path: Path) -> None:
    SharedLock(path).close()


def make_private(path: Path) -> None:
    private_dir(path)


WRITES = [write_file, take_lock, share_lock, make_private]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".codemem" / "local" / "index").mkdir(parents=True)
    (repo / ".codemem" / "blocks").mkdir()
    return repo


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__)
def test_a_write_after_the_repository_is_removed_makes_nothing(repo, write):
    shutil.rmtree(repo)
    with pytest.raises(FileNotFoundError, match="gone"):
        write(repo / ".codemem" / "local" / "index.next" / "graph.bin")
    with pytest.raises(FileNotFoundError, match="gone"):
        write(repo / ".codemem" / "digests" / "d.md")
    assert not repo.exists()


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__)
def test_a_write_after_the_state_folders_are_removed_makes_neither_again(repo, write):
    shutil.rmtree(repo / ".codemem" / "local")
    with pytest.raises(FileNotFoundError, match="gone"):
        write(repo / ".codemem" / "local" / "index" / "x")
    assert sorted(p.name for p in (repo / ".codemem").iterdir()) == ["blocks"]
    shutil.rmtree(repo / ".codemem")
    with pytest.raises(FileNotFoundError, match="gone"):
        write(repo / ".codemem" / "blocks" / "x")
    assert list(repo.iterdir()) == []


def test_folders_below_the_floor_are_made_as_mkdir_p_makes_them(repo, tmp_path):
    from codemem.infra import make_folder

    deep = repo / ".codemem" / "local" / "index.next" / "lexicon"
    assert make_folder(deep) == deep and deep.is_dir()
    assert make_folder(deep) == deep  # there already
    assert make_folder(repo / ".codemem" / "review" / "dismissed").is_dir()
    elsewhere = tmp_path / "home" / "codemem"  # no `.codemem/` in it: plain `mkdir -p`
    assert make_folder(elsewhere).is_dir()


def test_the_index_store_writes_nothing_once_its_folder_is_gone(repo):
    store = CodeStore(repo / ".codemem" / "local" / "index")
    shutil.rmtree(repo)
    with pytest.raises(FileNotFoundError, match="gone"):
        store.delete_paths(["a.py"])
    store.close()
    assert not repo.exists()


def test_a_commit_in_flight_when_the_repository_goes_makes_nothing_again(repo):
    import pyarrow as pa

    store = CodeStore(repo / ".codemem" / "local" / "index.next", writer=True)
    shutil.rmtree(repo)  # after the store looked at its folder, before LanceDB writes
    with pytest.raises(Exception, match="No such file or directory"):
        store.db.create_table("files", data=pa.table({"path": ["a.py"]}))
    store.close()
    assert not repo.exists()
