"""The read-only commands in a checkout mounted read-only (a CI job's work tree)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, make_repo, run_codemem

# The repository is bound over itself read-only in a mount namespace of the command's own;
# a user namespace lets a test do so without being root.
READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'


def can_mount_read_only(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "-U", "-r", "-m", "sh", "-c", READ_ONLY, "sh", str(tmp_path), "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def read_only_codemem(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(FIXTURES.parent)}
    argv = [sys.executable, "-m", "codemem", "--repo", str(repo), *args]
    return subprocess.run(
        ["unshare", "-U", "-r", "-m", "sh", "-c", READ_ONLY, "sh", str(repo), *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_status_search_map_and_memory_read_a_read_only_checkout(tmp_path):
    if not can_mount_read_only(tmp_path):
        pytest.skip("needs a mount namespace (unshare -U -r -m)")
    repo = make_repo(tmp_path / "repo", "shop")
    assert run_codemem(repo, "init").returncode == 0

    status = read_only_codemem(repo, "status", "--json")
    assert (status.returncode, status.stderr) == (0, "")
    report = json.loads(status.stdout)
    assert (report["indexed"], report["problems"], report["damage"]) == (True, [], [])
    for args in (["search", "def", "--json"], ["map", "--json"], ["memory", "list", "--json"]):
        done = read_only_codemem(repo, *args)
        assert (done.returncode, done.stderr) == (0, ""), args
        json.loads(done.stdout)

    index = read_only_codemem(repo, "index")  # a writer: the one line it always gave
    assert index.returncode == 3
    assert index.stderr == (
        f"codemem: error: the file system is read-only ({repo}/.codemem/local/index.lock)\n"
    )


def test_an_index_that_looks_copied_is_checked_and_searched_in_a_read_only_checkout(tmp_path):
    # A CI cache restored into the work tree keeps the index's sizes and times but not their
    # change times: search checks the whole index again, under the writers' lock, whose file
    # a read-only checkout cannot open for writing.
    if not can_mount_read_only(tmp_path):
        pytest.skip("needs a mount namespace (unshare -U -r -m)")
    repo = make_repo(tmp_path / "repo", "shop")
    assert run_codemem(repo, "init").returncode == 0
    for path in (repo / ".codemem" / "local" / "index").rglob("*"):
        os.utime(path)  # a new change time, as a copy has
    for args in (["search", "def", "--json"], ["map", "--json"]):
        done = read_only_codemem(repo, *args)
        assert (done.returncode, done.stderr) == (0, ""), args  # before: file system read-only
        assert json.loads(done.stdout)


# what a search or an index run says where it must build an index and cannot write
NO_INDEX_HERE = "codemem: error: no code index yet, and none can be built here: " + (
    ".codemem/local/ is on a read-only file system; run `codemem index` in a writable checkout "
    "of this repository and bring its .codemem/local/ along (a CI cache), or mount a writable "
    "folder at .codemem/local/\n"
)


@pytest.mark.parametrize("local", ["absent", "empty"])
def test_a_read_only_checkout_with_no_index_says_so_and_how_to_get_one(tmp_path, local):
    # A CI job's checkout: .codemem/ committed, local/ (ignored) absent or left empty.
    if not can_mount_read_only(tmp_path):
        pytest.skip("needs a mount namespace (unshare -U -r -m)")
    repo = make_repo(tmp_path / "repo", "shop")
    assert run_codemem(repo, "init", "--no-index").returncode == 0
    shutil.rmtree(repo / ".codemem" / "local")
    if local == "empty":
        (repo / ".codemem" / "local").mkdir()
    search = read_only_codemem(repo, "search", "def")
    assert (search.returncode, search.stdout, search.stderr) == (3, "", NO_INDEX_HERE)
    index = read_only_codemem(repo, "index")  # before: the file system is read-only
    assert (index.returncode, index.stderr) == (3, NO_INDEX_HERE)


def test_a_search_of_a_read_only_checkout_with_saves_since_the_index_answers_and_says_so(
    tmp_path,
):
    if not can_mount_read_only(tmp_path):
        pytest.skip("needs a mount namespace (unshare -U -r -m)")
    repo = make_repo(tmp_path / "repo", "shop")
    assert run_codemem(repo, "index").returncode == 0
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef zebra_edited_total():\n    return 0\n")
    done = read_only_codemem(repo, "search", "--json", "--level", "symbol", "charge card")
    # The index cannot be brought up to date here: answered as it is, saying why.
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["symbol"] == "charge_card"
    assert done.stderr.startswith(
        "codemem: WARNING: search: 1 file(s) changed since the last index run are not "
        f"searched as they are now: the file system is read-only ({repo}/.codemem/local/"
    )
    assert done.stderr.count("\n") == 1
