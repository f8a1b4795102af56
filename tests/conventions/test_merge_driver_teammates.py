"""The merge driver as two teammates meet it through real git: merge, rebase, cherry-pick and
stash pop, with lines both appended, a side saved with Windows line ends, a block both added
under one name, and the driver run by hand with a file missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.merge_driver import GITATTRIBUTES
from tests.helpers import FIXTURES, git, make_repo

HEADER = "---\ndescription: Notes.\nlimit: 4000\nread_only: false\n---\n"
FLOWS = ["merge", "rebase", "cherry-pick", "stash pop"]


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository whose `.codemem/` goes through `codemem merge-file`, with one block."""
    root = make_repo(tmp_path / "r")
    driver = f"{sys.executable} -m codemem merge-file %O %A %B %P"
    git(root, "config", "merge.codemem.driver", driver)
    (root / ".codemem" / "blocks").mkdir(parents=True)
    (root / ".codemem" / ".gitattributes").write_text(GITATTRIBUTES)
    (root / ".codemem" / "blocks" / "notes.md").write_text(HEADER + "Deploys:\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "memory")
    return root


def teammates(
    root: Path, flow: str, ours: str, theirs: str, name: str = "notes.md", crlf: str = ""
) -> subprocess.CompletedProcess[str]:
    """Two edits of `blocks/<name>` from the same commit (`crlf`: the side, "ours" or
    "theirs", saved with Windows line ends), brought together by `flow`; git's last result."""
    path = root / ".codemem" / "blocks" / name
    worktree = {"PYTHONPATH": str(FIXTURES.parent)}  # the driver git starts runs this checkout

    def write(side: str, text: str) -> None:
        path.write_bytes((text.replace("\n", "\r\n") if crlf == side else text).encode())
        git(root, "add", "-A")

    if flow == "stash pop":  # theirs: work in progress, set aside while ours is committed
        write("theirs", theirs)
        git(root, "stash", "-q")
        write("ours", ours)
        git(root, "commit", "-q", "-m", "ours")
        return git(root, "stash", "pop", "-q", env=worktree, check=False)
    git(root, "checkout", "-q", "-b", "other")
    write("theirs", theirs)
    git(root, "commit", "-q", "-m", "theirs")
    git(root, "checkout", "-q", "main")
    write("ours", ours)
    git(root, "commit", "-q", "-m", "ours")
    command = {
        "merge": ["merge", "--no-edit", "other"],
        "rebase": ["rebase", "other"],
        "cherry-pick": ["cherry-pick", "other"],
    }[flow]
    return git(root, *command, env=worktree, check=False)


def block(root: Path, name: str = "notes.md") -> bytes:
    return (root / ".codemem" / "blocks" / name).read_bytes()


@pytest.mark.parametrize("flow", FLOWS)
def test_lines_both_appended_are_kept_whole(repo, flow):
    done = teammates(
        repo,
        flow,
        HEADER + "Deploys:\nStaging:\n- check the logs\n",
        HEADER + "Deploys:\nProduction:\n- check the logs\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        block(repo)
        == (
            HEADER + "Deploys:\nProduction:\n- check the logs\nStaging:\n- check the logs\n"
        ).encode()
    )  # before: `Staging:` alone, its item taken for the other side's


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("crlf", ["ours", "theirs"])
def test_a_side_saved_with_windows_line_ends_loses_no_line(repo, flow, crlf):
    done = teammates(
        repo, flow, HEADER + "Deploys:\n- Alice\n", HEADER + "Deploys:\n- Bob\n", crlf=crlf
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = HEADER + "Deploys:\n- Alice\n- Bob\n"
    # the line ends of the side git writes into (a rebase and a stash pop write into theirs)
    kept = crlf == ("theirs" if flow == "rebase" else "ours")
    assert block(repo) == (text.replace("\n", "\r\n") if kept else text).encode()


@pytest.mark.parametrize("flow", ["merge", "cherry-pick"])
def test_a_block_both_added_under_one_name_is_a_conflict(repo, flow):
    ours = HEADER + "## Deploy\n\nNever on Fridays.\n\n- staging first\n"
    theirs = HEADER + "## Deploy\n\nUse the blue button.\n\n- staging first\n"
    done = teammates(repo, flow, ours, theirs, name="deploy.md")
    assert done.returncode == 1
    assert block(repo, "deploy.md").decode() == (
        HEADER + "<<<<<<< ours\n## Deploy\n\nNever on Fridays.\n\n- staging first\n"
        "||||||| base\n=======\n## Deploy\n\nUse the blue button.\n\n- staging first\n"
        ">>>>>>> theirs\n"
    )  # before: one text, the other's lines that matched any of it dropped


def test_the_driver_run_by_hand_with_a_side_missing_is_refused(tmp_path):
    for name in ("ours", "theirs"):
        (tmp_path / name).write_text(HEADER + "Deploys:\n")
    run = [sys.executable, "-m", "codemem", "merge-file"]
    done = subprocess.run(
        [*run, "base", "ours", "gone", ".codemem/blocks/notes.md"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(FIXTURES.parent), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "'THEIRS': File 'gone' does not exist" in done.stderr
    assert (tmp_path / "ours").read_text() == HEADER + "Deploys:\n"  # before: its header dropped


def test_an_ancestor_that_cannot_be_read_is_merged_as_none(tmp_path):
    (tmp_path / "base").mkdir()  # read, it fails (as an unreadable file does)
    (tmp_path / "ours").write_text(HEADER + "Deploys:\n- Alice\n")
    (tmp_path / "theirs").write_text(HEADER + "Deploys:\n- Bob\n")
    done = subprocess.run(
        [sys.executable, "-m", "codemem", "merge-file", "base", "ours", "theirs", ".codemem/x.md"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(FIXTURES.parent), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stderr  # before: 2, and ours left as it was: Bob lost
    assert "cannot read the common ancestor" in done.stderr
    assert (tmp_path / "ours").read_text() == (
        HEADER + "<<<<<<< ours\nDeploys:\n- Alice\n||||||| base\n=======\nDeploys:\n- Bob\n"
        ">>>>>>> theirs\n"
    )


def test_a_block_past_its_limit_after_a_merge_is_a_problem_status_names(repo):
    small = HEADER.replace("limit: 4000", "limit: 40")
    done = teammates(
        repo,
        "merge",
        small + "Deploys:\n- Alice: the blue button\n",
        small + "Deploys:\n- Bob: tag\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr  # both kept: 44 characters
    status = CliRunner().invoke(cli, ["--repo", str(repo), "status", "--json"])
    assert {
        "kind": "block",
        "message": ".codemem/blocks/notes.md: 44 / 40 characters, over its limit (two teammates' "
        "additions merged?): shorten it or move detail to archival memory, since no edit that "
        "leaves it over is saved",
    } in json.loads(status.stdout)["damage"]


COMMENTED = (
    "---\n"
    "# the team's block: ask in #infra before raising the limit\n"
    "description: >\n  What the project is.\n"
    "limit: 4000  # tokens are dear\n"
    "read_only: false\n"
    "---\n"
    "Deploys:\n"
)


@pytest.mark.parametrize("flow", ["merge", "rebase"])
def test_a_key_both_sides_changed_is_the_only_conflict_and_the_header_stays_as_written(repo, flow):
    ours = COMMENTED.replace("limit: 4000", "limit: 5000").replace("Deploys:", "Deploys: Fridays")
    theirs = COMMENTED.replace("limit: 4000  # tokens are dear", "limit: 6000  # Bob's agent")
    theirs = theirs.replace("read_only: false", "read_only: true")
    (repo / ".codemem" / "blocks" / "notes.md").write_text(COMMENTED)
    git(repo, "commit", "-qam", "commented")
    done = teammates(repo, flow, ours, theirs)
    assert done.returncode != 0  # one conflict: git stops for the person
    first, second = ("ours", "theirs") if flow == "merge" else ("theirs", "ours")
    wrote = {"ours": "limit: 5000  # tokens are dear\n", "theirs": "limit: 6000  # Bob's agent\n"}
    assert block(repo).decode() == (
        "---\n"
        "# the team's block: ask in #infra before raising the limit\n"
        "description: >\n  What the project is.\n"
        f"<<<<<<< ours\n{wrote[first]}=======\n{wrote[second]}>>>>>>> theirs\n"
        "read_only: true\n"
        "---\n"
        "Deploys: Fridays\n"
    )  # before: the header dumped afresh around the markers, its comments and `>` text gone
