"""A repository built to hurt an indexer: symlinks out (a file, a folder, /etc/passwd, a loop),
a huge file, binary files holding secrets, a Latin-1 file, a named pipe, a committed config
that points embeddings and the model at a server of its own (which no connection may reach);
then files turning into folders, folders into files and a file into a symlink out.

Every command is a real subprocess with a timeout: a reader that opened the named pipe
would block forever, and must show up as a hang, not hang the suite.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

import pytest
from fault_env import hostile_cell
from fault_world import Codemem

from tests.helpers import git, run_codemem


def test_hostile_repository_is_indexed_safely(tmp_path):
    codemem = Codemem(tmp_path / "home", [sys.executable, "-m", "codemem"])
    outcome = hostile_cell(codemem, tmp_path, huge_mb=1)
    assert (outcome.faults, outcome.problems) == (3, [])


def test_search_reads_no_file_a_pull_swapped_for_a_device_or_a_pipe(repo_factory):
    # Search reads its hits' lines from the work tree. After `codemem index`, a pull (or a
    # checkout) may turn a file into a link to /dev/zero or a named pipe: search read the
    # link until memory ran out (killed after 60 s here) and waited on the pipe forever.
    repo = repo_factory(commit=False)
    (repo / "a.py").write_text("def walrus_token():\n    return 1\n")
    (repo / "b.py").write_text('def other():\n    """walrus_token here too"""\n    return 2\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two files")
    assert run_codemem(repo, "index").returncode == 0
    (repo / "a.py").unlink()
    (repo / "a.py").symlink_to("/dev/zero")
    (repo / "b.py").unlink()
    os.mkfifo(repo / "b.py")
    for level in ("chunk", "file"):  # the index as it is: hits in both swapped files
        done = run_codemem(
            repo,
            *("search", "--no-refresh", "--level", level, "--json", "walrus_token"),
            timeout=60,
            preexec_fn=_at_most_4_gb,
        )
        assert done.returncode == 0, done.stderr
        assert [hit["path"] for hit in json.loads(done.stdout)] == ["a.py", "b.py"]
    # Brought up to date first (the two saves since the index run), the index reads neither
    # either: the link and the pipe are not regular files, so nothing is found.
    done = run_codemem(
        repo, "search", "--json", "walrus_token", timeout=60, preexec_fn=_at_most_4_gb
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "[]\n", "")


def _at_most_4_gb() -> None:  # the old search's read of /dev/zero fails fast, not the machine
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize("swap", ["fifo", "sparse"])
def test_review_of_the_work_tree_diffs_no_file_a_pull_swapped_for_a_pipe_or_a_sparse_giant(
    repo_factory, swap
):
    # `codemem review` diffs the work tree with git, which reads each changed file whole: a
    # file a pull made a 1 TB sparse file kept it reading for minutes (killed after 25 s here),
    # and a FIFO failed the whole review ("git diff failed: fatal: cannot hash a.py", exit 3).
    repo = repo_factory(commit=False)
    (repo / "a.py").write_text("def walrus_token():\n    return 1\n")
    (repo / "b.py").write_text("def other():\n    return 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two files")
    (repo / "a.py").unlink()
    if swap == "fifo":
        os.mkfifo(repo / "a.py")
    else:
        os.truncate(_created(repo / "a.py"), 1 << 40)
    (repo / "b.py").write_text("def other():\n    return 3\n")
    done = _bounded(
        [sys.executable, "-m", "codemem", "--repo", str(repo), "review", "--format", "json"]
    )
    report = json.loads(done.stdout)
    assert report["files"] == ["a.py", "b.py"]
    assert [(f["file"], f["rule"], f["message"]) for f in report["findings"]] == (
        []
        if swap == "fifo"
        else [
            (
                "a.py",
                "secrets/not-scanned",
                "not scanned for secrets: 1,048,576.0 MB is more than the 256.0 MB it reads "
                "in one review",
            )
        ]
    )
    assert done.returncode == (0 if swap == "fifo" else 1), done.stderr


def _created(path):
    path.touch()
    return path


def _bounded(args: list[str], seconds: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `args` under 4 GB in a process group of its own; past `seconds` the whole group
    (git included) is killed and the test fails, so nothing is left reading a huge file."""
    with subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_at_most_4_gb,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"{args[3:]} still running after {seconds:g} s")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_search_shows_no_snippet_of_a_file_a_pull_grew_past_what_the_index_reads(repo_factory):
    # Snippets came from up to 16 MiB of a work-tree file, redacted for secrets line by line:
    # a pull that made a.py one 10 MB line cost every search that showed it 7 s here. The
    # index takes files up to index.max_file_bytes (1 MB); a snippet now reads no more.
    repo = repo_factory(commit=False)
    (repo / "a.py").write_text("def walrus_token():\n    return 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one file")
    assert run_codemem(repo, "index").returncode == 0
    (repo / "a.py").write_text("x = '" + "walrus_token " * 100_000 + "'\n")  # 1.3 MB
    search = ["search", "--no-refresh", "--level", "symbol", "walrus_token"]
    done = _bounded([sys.executable, "-m", "codemem", "--repo", str(repo), *search])
    assert (done.returncode, done.stdout) == (0, " 1. a.py:1  function walrus_token  (0.381)\n")


def test_review_greps_no_work_tree_file_a_pull_made_a_sparse_giant(repo_factory):
    # The tests and naming checks `git grep` the work tree, and git allocates a file's whole
    # size to grep it: with a 1 TB sparse file under tests/ the tests check failed ("git grep
    # failed: fatal: Out of memory, malloc failed"); an 8 GB one on a 23 GB machine without a
    # limit would take 8 GB. Such a file is now left out of the grep, as of the diff.
    repo = repo_factory("review/shop")
    with (repo / "shop" / "cart.py").open("a") as cart:
        cart.write("\n\ndef compute_discount_total(items):\n    return 0\n")
    os.truncate(_created(repo / "tests" / "big_data.py"), 1 << 40)
    done = _bounded([sys.executable, "-m", "codemem", "--repo", str(repo), "review"])
    assert done.stderr == ""
    assert [line.split("[")[-1] for line in done.stdout.splitlines() if "[" in line] == [
        "docstrings/python]",
        "tests/python]",
        "secrets/not-scanned]",
    ]


REFERENCES_IN_A_CHILD = """
import resource, sys
from pathlib import Path
from codemem.code import CodeIndex
from codemem.config import load_config
from codemem.review.related import referencing_files
from codemem.workspace import Workspace
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
root = Path(sys.argv[1])
index = CodeIndex(Workspace(root), load_config(None))  # never built: `git grep` is asked
print(referencing_files(root, index, {"walrus_token"}, 1_000_000))
"""


def test_the_model_reviews_grep_for_callers_leaves_out_a_sparse_giant(repo_factory):
    # Without an index, the model review finds the callers of changed functions with `git
    # grep --untracked`, which allocates a file's whole size: with a 1 TB sparse file in the
    # tree it failed ("Out of memory, malloc failed") and no related code was sent.
    repo = repo_factory(commit=False)
    (repo / "b.py").write_text("from a import walrus_token\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one file")
    os.truncate(_created(repo / "big.py"), 1 << 40)
    done = _bounded([sys.executable, "-c", REFERENCES_IN_A_CHILD, str(repo)])
    assert (done.stdout, done.stderr) == ("{'b.py': {'walrus_token'}}\n", "")
