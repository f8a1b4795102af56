"""`codemem index --publish DIR --keep N`: what a prune keeps, and two publishers at once.

A team's shared folder holds indexes published from the default branch and from others; a
prune by a branch's publisher must never remove the default branch's newest, which every
fresh clone of it starts from. Real repositories, real indexes, real processes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from codemem.code.shared_copy import RECORD_NAME, copy_in, read_record, record_files
from tests.code.test_publish import (
    WAIT,
    _publish_process,
    clone,
    commit_edit,
    head,
    index_json,
    published,
    run,
)
from tests.helpers import commands_run, git


@pytest.fixture
def origin(repo_factory):
    repo = repo_factory("shop")
    commit_edit(repo, "first_helper")
    return repo


def _age(shared: Path, commit: str, minutes: int) -> None:
    """Date `commit`'s published folder `minutes` ago: "most recently published" then has
    one answer however fast the machine publishes."""
    stamp = time.time() - 60 * minutes
    os.utime(shared / commit, (stamp, stamp))


def _on_branch(repo: Path, branch: str, start: str = "main") -> str:
    git(repo, "checkout", "-qb", branch, start)
    commit_edit(repo, f"on_{branch}")
    return head(repo)


def _whole(shared: Path, commit: str, into: Path) -> bool:
    """Whether the published folder of `commit` holds every file its record lists, each
    matching its hash (what `--from` checks before it takes one)."""
    record = read_record(shared / commit)
    copy_in(shared / commit / "index", record_files(record, 1 << 40), into)
    return record["commit"] == commit


def test_branch_publishes_never_prune_the_default_branchs_newest(origin, tmp_path):
    # was: two publishes from branches with --keep 2 removed main's, and a clone of main
    # then built everything locally
    shared = tmp_path / "shared"
    main = head(origin)
    index_json(origin, "--publish", str(shared))
    _age(shared, main, 30)
    branches, said = [], []
    for minutes, branch in ((20, "feature_a"), (10, "feature_b")):
        branches.append(_on_branch(origin, branch))
        said.append(index_json(origin, "--publish", str(shared), "--keep", "1")["published"])
        _age(shared, branches[-1], minutes)
    assert published(shared) == sorted([main, branches[-1]])  # feature_a's went
    assert [out.get("default_branch") for out in said] == ["main", "main"]

    result = run(origin, "index", "--publish", str(shared), "--keep", "1")
    assert "Already published" in result.output
    fresh = clone(origin, tmp_path / "fresh")
    git(fresh, "checkout", "-q", "main")
    out = index_json(fresh, "--from", str(shared))["started_from"]
    assert (out["used"], out["commit"], out["distance"]) == (True, main, 0)


def test_a_clone_that_has_not_fetched_the_default_branchs_newest_still_keeps_it(origin, tmp_path):
    shared = tmp_path / "shared"
    stale = clone(origin, tmp_path / "stale")  # knows main as it is now
    index_json(origin, "--publish", str(shared))
    old_main = head(origin)
    _age(shared, old_main, 40)
    commit_edit(origin, "later_on_main")  # published from main; the stale clone lacks it
    index_json(origin, "--publish", str(shared))
    new_main = head(origin)
    _age(shared, new_main, 30)

    _on_branch(stale, "feature", "origin/main")
    out = index_json(stale, "--publish", str(shared), "--keep", "1")["published"]
    # Its own main's newest (old_main) by its git, the newer one by its record's mark.
    assert published(shared) == sorted([old_main, new_main, head(stale)])
    assert out.get("default_branch") == "origin/main"  # from origin/HEAD
    record = json.loads((shared / new_main / RECORD_NAME).read_text())
    assert record["on_default_line"] is True


def test_the_default_branch_is_origin_heads_whatever_its_name(repo_factory, tmp_path):
    upstream = repo_factory("shop")
    git(upstream, "branch", "-qm", "main", "trunk")
    commit_edit(upstream, "first_helper")
    shared = tmp_path / "shared"
    index_json(upstream, "--publish", str(shared))
    trunk = head(upstream)
    _age(shared, trunk, 30)
    work = clone(upstream, tmp_path / "work")
    for minutes, branch in ((20, "main"), (10, "other")):  # a branch named main is no default
        _on_branch(work, branch, "origin/trunk")
        out = index_json(work, "--publish", str(shared), "--keep", "1")["published"]
        _age(shared, head(work), minutes)
    assert published(shared) == sorted([trunk, head(work)])
    assert out.get("default_branch") == "origin/trunk"


def test_two_clones_publishing_and_pruning_at_once_leave_only_whole_indexes(origin, tmp_path):
    shared = tmp_path / "shared"
    main = head(origin)
    index_json(origin, "--publish", str(shared))
    _age(shared, main, 60)
    clones = [clone(origin, tmp_path / f"clone{n}") for n in range(2)]
    for n, repo in enumerate(clones):
        _on_branch(repo, f"feature{n}", "origin/main")
        run(repo, "index")
    for round_ in range(2):
        procs = [_publish_process(repo, shared, None, "--keep", "1") for repo in clones]
        outputs = [proc.communicate(timeout=WAIT) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        left = published(shared)
        assert not [name for name in left if name.startswith(".")], left
        assert main in left
        for n, commit in enumerate(left):
            assert _whole(shared, commit, tmp_path / f"check{round_}-{n}")
        for repo in clones:  # the next round publishes new commits from both
            commit_edit(repo, f"round{round_}")
            run(repo, "index")

    fresh = clone(origin, tmp_path / "fresh")
    out = index_json(fresh, "--from", str(shared))["started_from"]
    assert (out["used"], out["commit"]) == (True, main)


def test_an_index_the_prune_may_not_remove_is_left_with_one_warning(
    origin, tmp_path, monkeypatch, caplog
):
    # was: "codemem: error: operation not permitted (...)", exit 3, after a publish that
    # had succeeded (a shared folder with the sticky bit: another user's index stays)
    shared = tmp_path / "shared"
    theirs = head(origin)
    index_json(origin, "--publish", str(shared))
    _age(shared, theirs, 30)
    git(origin, "checkout", "-qb", "feature", "main")
    commit_edit(origin, "mine")
    git(origin, "branch", "-qf", "main", "feature")  # main moves on: `theirs` is prunable
    real_rename = os.rename

    def sticky(src, dst):
        if Path(src).name == theirs:
            raise PermissionError(1, "Operation not permitted", str(src))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", sticky)
    result = run(origin, "index", "--publish", str(shared), "--keep", "1")
    assert "Published" in result.output
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"1 older published index(es) in {shared} could not be removed and are left "
        f"as they are ({theirs[:12]}: Operation not permitted)"
    ]
    assert published(shared) == sorted([theirs, head(origin)])


def test_publishing_the_default_branchs_tip_walks_no_history(origin, tmp_path, monkeypatch):
    # The mark costs CI (publishing main's tip) no `git rev-list` of the branch's line
    # (about a second for sympy's 5,000 first-parent commits on a loaded machine).
    started = commands_run(monkeypatch)

    def walks() -> list[list[str]]:
        return [args for args in started if args[0] == "git" and "--first-parent" in args]

    shared = tmp_path / "shared"
    index_json(origin, "--publish", str(shared))
    assert json.loads((shared / head(origin) / RECORD_NAME).read_text())["on_default_line"]
    assert walks() == []
    _on_branch(origin, "feature")
    index_json(origin, "--publish", str(shared))
    assert not json.loads((shared / head(origin) / RECORD_NAME).read_text())["on_default_line"]
    assert len(walks()) == 1  # off the tip: is it further down the line?


def test_the_published_index_the_pruning_clone_starts_from_is_kept(origin, tmp_path):
    # HEAD published before by another codemem version: this clone would start from its
    # nearest ancestor published with its settings, which a prune must not remove.
    shared = tmp_path / "shared"
    ancestor = head(origin)
    index_json(origin, "--publish", str(shared))
    _age(shared, ancestor, 40)
    commit_edit(origin, "later")
    index_json(origin, "--publish", str(shared))
    record_path = shared / head(origin) / RECORD_NAME
    record = json.loads(record_path.read_text())
    record.update(codemem="99.0.0", fingerprint="0" * 16)
    record_path.write_text(json.dumps(record))
    _age(shared, head(origin), 30)
    fresh = clone(origin, tmp_path / "fresh")
    _on_branch(origin, "feature")  # newer, off main
    index_json(origin, "--publish", str(shared))
    git(origin, "checkout", "-q", "main")
    index_json(origin, "--publish", str(shared), "--keep", "1")
    assert ancestor in published(shared)
    out = index_json(fresh, "--from", str(shared))["started_from"]
    assert (out["used"], out["commit"]) == (True, ancestor)
