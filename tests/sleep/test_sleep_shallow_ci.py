"""`digest --ci` in a shallow clone, as CI checks one out (`fetch-depth: 1`), from a local
bare remote: it fetches the history it lacks, or refuses in one line and writes nothing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.sleep.shallow import history_fetches
from tests.helpers import git, make_repo


def codemem(where: Path, *args: str):
    return CliRunner().invoke(cli, ["--repo", str(where), *args], catch_exceptions=False)


def add(repo: Path, name: str) -> None:
    (repo / "shop" / f"{name}.py").write_text(f"def {name}():\n    return {name!r}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"add {name}")


@pytest.fixture
def remote(tmp_path) -> Path:
    """A bare remote whose memory digested its first commits; three were pushed since."""
    dev = make_repo(tmp_path / "dev", "shop")
    for name in ("cart", "till"):
        add(dev, name)
    assert codemem(dev, "init").exit_code == 0
    assert codemem(dev, "digest").exit_code == 0
    git(dev, "add", "-A")
    git(dev, "commit", "-q", "-m", "add the team's memory")
    for name in ("coupon", "refund", "receipt"):
        add(dev, name)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(dev), str(bare))
    return bare


def checkout(remote: Path, where: Path, depth: int) -> Path:
    git(where.parent, "clone", "-q", "--depth", str(depth), f"file://{remote}", str(where))
    return where


def new_digests(ci: Path) -> list[str]:
    listed = git(ci, "status", "--porcelain", "--untracked-files=all", "--", ".codemem/digests")
    return [line[3:] for line in listed.stdout.splitlines()]


def test_a_ci_digest_of_a_shallow_clone_fetches_the_history_it_lacks(remote, tmp_path):
    # It digested the one commit it had, its changes unknown, and the two before it were
    # never digested anywhere: their digest's range said they were.
    ci = checkout(remote, tmp_path / "ci", depth=1)

    result = codemem(ci, "digest", "--ci")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "codemem digest: History: fetched from origin (the clone was shallow)."
    )
    assert "codemem digest: Commits: 3 digested (" in result.stdout
    assert git(ci, "rev-parse", "--is-shallow-repository").stdout == "false\n"
    [digest] = new_digests(ci)
    text = (ci / digest).read_text()
    assert re.findall(r"`add (\w+)`", text) == ["coupon", "refund", "receipt"]
    assert "not in this clone (shallow)" not in text


def test_a_ci_digest_that_cannot_fetch_the_history_refuses_and_writes_nothing(remote, tmp_path):
    ci = checkout(remote, tmp_path / "ci", depth=1)
    shutil.rmtree(remote)  # the remote is gone (no network, no credentials)
    before = git(ci, "status", "--porcelain", "--untracked-files=all").stdout

    result = codemem(ci, "digest", "--ci")

    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "codemem: error: this clone is shallow and lacks commits to digest; fetching them failed "
        f"(git fetch failed: fatal: '{remote}' does not appear to be a git repository): "
    )
    assert line.endswith(
        'check out the whole history (actions/checkout: `fetch-depth: 0`; GitLab CI: `GIT_DEPTH: "0"`); '
        "nothing was digested"
    )
    assert git(ci, "status", "--porcelain", "--untracked-files=all").stdout == before


def test_a_shallow_clone_deep_enough_is_digested_as_it_is(remote, tmp_path):
    ci = checkout(remote, tmp_path / "ci", depth=5)  # the memory commit and what came after

    result = codemem(ci, "digest", "--ci", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fetched_from"] is None
    assert git(ci, "rev-parse", "--is-shallow-repository").stdout == "true\n"
    [digest] = new_digests(ci)
    assert re.findall(r"`add (\w+)`", (ci / digest).read_text()) == ["coupon", "refund", "receipt"]


def test_a_digest_by_hand_in_a_shallow_clone_says_what_it_lacks(remote, tmp_path):
    ci = checkout(remote, tmp_path / "ci", depth=1)

    result = codemem(ci, "digest")

    assert result.exit_code == 0
    assert result.stderr == (
        "codemem: warning: this clone is shallow and lacks commits to digest: the changes of its "
        "oldest commit are not listed, and undigested commits before it are left out; "
        "`git fetch --unshallow` first (`digest --ci` does)\n"
    )


def dated(day: str) -> dict[str, str]:
    when = f"{day}T10:00:00+00:00"
    return {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}


@pytest.fixture
def long_remote(tmp_path) -> Path:
    """A bare remote with a year of history before its memory, and two commits since."""
    dev = make_repo(tmp_path / "dev", "shop")
    for month in range(1, 13):
        (dev / "shop" / "ledger.py").write_text(f"MONTH = {month}\n")
        git(dev, "add", "-A")
        git(dev, "commit", "-q", "-m", f"close month {month}", env=dated(f"2024-{month:02d}-28"))
    assert codemem(dev, "init").exit_code == 0
    assert codemem(dev, "digest").exit_code == 0
    git(dev, "add", "-A")
    git(dev, "commit", "-q", "-m", "add the team's memory", env=dated("2025-03-01"))
    for day, name in ((4, "coupon"), (5, "refund")):
        (dev / "shop" / f"{name}.py").write_text(f"def {name}():\n    return {name!r}\n")
        git(dev, "add", "-A")
        git(dev, "commit", "-q", "-m", f"add {name}", env=dated(f"2025-03-{day:02d}"))
    bare = tmp_path / "long.git"
    git(tmp_path, "clone", "-q", "--bare", str(dev), str(bare))
    return bare


def test_a_ci_digest_fetches_the_history_back_to_the_last_digest_not_all_of_it(
    long_remote, tmp_path
):
    ci = checkout(long_remote, tmp_path / "ci", depth=1)
    whole = tmp_path / "whole"
    git(tmp_path, "clone", "-q", f"file://{long_remote}", str(whole))

    result = codemem(ci, "digest", "--ci")

    assert result.exit_code == 0, result.output
    assert "codemem digest: History: fetched from origin (the clone was shallow)." in result.stdout
    assert "codemem digest: Commits: 2 digested (" in result.stdout
    assert git(ci, "rev-parse", "--is-shallow-repository").stdout == "true\n"
    assert int(git(ci, "rev-list", "--count", "HEAD").stdout) < 10  # not the year before
    assert codemem(whole, "digest", "--ci").exit_code == 0
    [digest] = new_digests(ci)
    assert new_digests(whole) == [digest]
    assert (ci / digest).read_bytes() == (whole / digest).read_bytes()
    assert re.findall(r"`add (\w+)`", (ci / digest).read_text()) == ["coupon", "refund"]


def test_the_history_is_fetched_from_the_newest_digest_back_then_deeper_then_whole():
    assert history_fetches("2025-03-04-1f50d42-9a8b7c6.md", 50) == [
        "--shallow-since=2025-03-03 00:00:00 +0000",
        "--deepen=100",
        "--deepen=1000",
        "--unshallow",
    ]
    assert history_fetches(None, 50) == [
        "--deepen=50",
        "--deepen=100",
        "--deepen=1000",
        "--unshallow",
    ]
