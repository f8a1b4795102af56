"""Team memory: two clones of one repository and a bare remote, both digesting and syncing.

Everything here is real git: clone, commit, pull (merge), push. What must hold: pulls leave
no conflict markers in `.codemem/` unless two people wrote different text in one place,
`digest` never refuses, and the same commits digested on two machines give the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sleep_helpers import PEOPLE, commit, config, digest, init, scripted_history, snapshot

from codemem.agent.tools import PermissionPolicy, ToolContext, build_tools
from codemem.config import Config, PermissionsConfig
from codemem.conventions.merge import Merged, merge_memory_file
from codemem.errors import UsageError
from codemem.memory import MemoryStore
from codemem.merge_driver import merge_driver_command
from codemem.sleep import publish, push_memory
from codemem.sleep.publish import PushError
from codemem.workspace import Workspace
from tests.helpers import git, make_repo, run_codemem

COUPONS = '"""Coupons."""\n\n\ndef apply_coupon(cents: int) -> int:\n    """Ten off."""\n    return cents - 10\n'
GIFTS = '"""Gift cards."""\n\n\ndef gift_card_value(cents: int) -> int:\n    """What a card is worth."""\n    return cents\n'
LABELS = '"""Labels."""\n\n\ndef label_text(name: str) -> str:\n    """The printed label."""\n    return name.upper()\n'


def cfg():
    return config(min_samples=3)


def sh(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check)


def clone(remote: Path, path: Path, who: str | None) -> Workspace:
    """A clone as `who` (None: no identity, like a CI job's checkout); no merge driver yet."""
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True)
    git(path, "config", "pull.rebase", "false")
    if who is not None:
        name, email = PEOPLE[who]
        git(path, "config", "user.name", name)
        git(path, "config", "user.email", email)
    return Workspace(path)


def codemem(ws: Workspace, *args: str) -> subprocess.CompletedProcess:
    """The real command line in a clone (as a teammate types it)."""
    return subprocess.run(
        [sys.executable, "-m", "codemem", *args],
        cwd=ws.root,
        capture_output=True,
        text=True,
        check=False,
    )


def commit_memory(ws: Workspace, who: str, when: str) -> None:
    """Commit whatever the digest changed in `.codemem/` (nothing: no commit)."""
    if git(ws.root, "status", "--porcelain", "--", ".codemem").stdout.strip():
        commit(ws.root, "Update codemem memory", when, author=who)


def markers(ws: Workspace) -> dict[str, int]:
    """Files under .codemem/ (not local/) holding conflict markers, with how many."""
    out = {}
    for path, data in snapshot(ws).items():
        count = data.decode("utf-8", "replace").count("\n<<<<<<< ") + data.decode(
            "utf-8", "replace"
        ).startswith("<<<<<<< ")
        if count:
            out[path] = count
    return out


@pytest.fixture
def team(tmp_path):
    """(remote, alice's clone, bob's clone): a repository whose memory is committed and pushed."""
    origin = make_repo(tmp_path / "origin", "sleep/pyshop", commit=False)
    scripted_history(origin)
    digest(init(origin), cfg())
    commit(origin, "Add codemem memory", "2025-03-04T12:00:00+00:00")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(remote)], check=True)
    return (
        remote,
        clone(remote, tmp_path / "alice", "alice"),
        clone(remote, tmp_path / "bob", "bob"),
    )


def work(ws: Workspace, who: str, path: str, text: str, day: int) -> None:
    """A code commit, a digest, and the memory committed, as a teammate does it."""
    commit(ws.root, f"Add {path}", f"2025-03-{day:02d}T10:00:00+00:00", {path: text}, author=who)
    result = digest(ws, cfg())
    assert result.digest_path is not None
    commit_memory(ws, who, f"2025-03-{day:02d}T11:00:00+00:00")


@pytest.mark.parametrize("first", ["alice", "bob"])
def test_two_clones_digest_pull_and_push_without_conflicts(team, first):
    remote, alice, bob = team
    work(alice, "alice", "shop/coupons.py", COUPONS, 5)
    work(bob, "bob", "shop/gifts.py", GIFTS, 6)
    clones = {"alice": alice, "bob": bob}
    second = "bob" if first == "alice" else "alice"
    git(clones[first].root, "push", "-q", "origin", "main")
    pulled = git(clones[second].root, "pull", "-q", "--no-edit", "origin", "main", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert markers(clones[second]) == {}
    result = digest(clones[second], cfg())  # never refuses; nothing new to digest but the merge
    assert result.commits == [] and result.digest_path is None
    assert not any("conflict" in warning for warning in result.warnings)
    commit_memory(clones[second], second, "2025-03-07T09:00:00+00:00")
    git(clones[second].root, "push", "-q", "origin", "main")
    assert (
        git(clones[first].root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode
        == 0
    )
    assert markers(clones[first]) == {}
    digest(clones[first], cfg())
    assert (
        git(clones[first].root, "status", "--porcelain", "--", ".codemem").stdout == ""
    )  # nothing to re-learn
    assert snapshot(alice) == snapshot(bob)
    assert not alice.state_file.exists() and not bob.state_file.exists()


def test_the_same_range_on_two_clones_gives_the_same_bytes(team):
    remote, alice, bob = team
    work(alice, "alice", "shop/coupons.py", COUPONS, 5)
    git(alice.root, "push", "-q", "origin", "main")
    assert git(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    digest(bob, cfg())  # bob's clone has not digested before: it takes the committed digests' word
    assert git(bob.root, "status", "--porcelain", "--", ".codemem").stdout == ""
    # New work by alice, pushed without a digest: both digest the same range, uncommitted.
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    git(alice.root, "push", "-q", "origin", "main")
    assert git(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    ours, theirs = digest(alice, cfg()), digest(bob, cfg())
    assert ours.digest_path == theirs.digest_path
    assert [item.commit.subject for item in ours.commits] == ["Add labels"]
    assert (alice.root / ours.digest_path).read_bytes() == (
        bob.root / theirs.digest_path
    ).read_bytes()
    assert snapshot(alice) == snapshot(bob)


def digest_labels_alike(alice: Workspace, bob: Workspace) -> None:
    """Both clones digest "Add labels" into the same file, byte for byte."""
    ours, theirs = digest(alice, cfg()), digest(bob, cfg())
    assert [item.commit.subject for item in ours.commits] == ["Add labels"]
    assert ours.digest_path == theirs.digest_path
    assert (alice.root / ours.digest_path).read_bytes() == (
        bob.root / theirs.digest_path
    ).read_bytes()


def test_a_memory_commit_on_top_does_not_rename_the_digest_of_a_range(team):
    remote, alice, bob = team
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    git(alice.root, "push", "-q", "origin", "main")
    assert git(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    # alice saves a note and commits it before she digests; bob digests at the code commit
    MemoryStore(alice, user="alice").append("project", "Labels print at the till.")
    commit_memory(alice, "alice", "2025-03-08T11:00:00+00:00")
    digest_labels_alike(alice, bob)
    # what is digested still reaches HEAD: nothing new for the next pass of either clone
    for ws in (alice, bob):
        again = digest(ws, cfg())
        assert (again.commits, again.digest_path) == ([], None)


def test_a_pulls_merge_of_memory_does_not_rename_the_digest_of_a_range(team):
    remote, alice, bob = team
    MemoryStore(alice, user="alice").append("project", "Labels print at the till.")
    commit_memory(alice, "alice", "2025-03-08T09:00:00+00:00")  # not pushed yet
    commit(bob.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    git(bob.root, "push", "-q", "origin", "main")
    assert git(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    assert len(git(alice.root, "log", "-1", "--format=%P").stdout.split()) == 2  # a merge
    digest_labels_alike(alice, bob)


def test_a_conflicted_block_never_stops_a_digest(team):
    remote, alice, bob = team
    for ws, who, day, line in (
        (alice, "alice", 5, "Deploy on Fridays."),
        (bob, "bob", 6, "Never deploy on Fridays."),
    ):
        store = MemoryStore(ws, user=who)
        value = store.get("project").value
        store.rethink("project", f"{line}\n\n{value}")  # two people, one place
        # and an older version's learned region that differs between the clones
        conventions = store.get("conventions").value
        store.rethink(
            "conventions",
            conventions.replace("## Learned conventions", f"## Learned conventions ({who})"),
        )
        commit(ws.root, "Notes", f"2025-03-{day:02d}T10:00:00+00:00", author=who)
    git(alice.root, "push", "-q", "origin", "main")
    assert (
        git(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode != 0
    )  # conflicts
    assert set(markers(bob)) == {"blocks/project.md", "blocks/conventions.md"}
    # the merge waits for bob: nothing goes into its commit
    refused = run_codemem(bob.root, "digest")
    assert refused.returncode == 2 and "nothing digested: git is in the middle of a merge" in (
        refused.stderr
    )
    assert set(markers(bob)) == {"blocks/project.md", "blocks/conventions.md"}
    git(bob.root, "commit", "-q", "-a", "--no-edit")  # markers and all, as a hurried pull does
    result = digest(bob, cfg())
    assert markers(bob) == {"blocks/project.md": 1}  # the learned region is derived again
    assert "## Learned conventions\n" in (bob.blocks_dir / "conventions.md").read_text()
    assert [w for w in result.warnings if "conflict" in w] == [
        "project: 1 merge conflict outside the learned regions left as written; resolve them by hand (look for <<<<<<<)"
    ]
    project = (bob.blocks_dir / "project.md").read_text()
    assert "Never deploy on Fridays." in project and "Deploy on Fridays." in project
    assert "<!-- codemem:project:start -->\n## Project overview" in project


def test_commits_that_are_not_project_changes_are_not_digested(team):
    _remote, alice, _bob = team
    ws = alice
    commit(ws.root, "Add coupons", "2025-03-05T10:00:00+00:00", {"shop/coupons.py": COUPONS})
    commit(
        ws.root,
        "Update codemem memory",
        "2025-03-05T11:00:00+00:00",
        {".codemem/blocks/notes.md": "x\n"},
    )
    env = {
        "GIT_AUTHOR_NAME": "dependabot[bot]",
        "GIT_AUTHOR_EMAIL": "bot@example.com",
        "GIT_COMMITTER_NAME": "GitHub",
        "GIT_COMMITTER_EMAIL": "noreply@example.com",
        "GIT_AUTHOR_DATE": "2025-03-05T12:00:00+00:00",
        "GIT_COMMITTER_DATE": "2025-03-05T12:00:00+00:00",
    }
    (ws.root / "requirements.txt").write_text("requests==2.32.0\n")
    git(ws.root, "add", "-A")
    subprocess.run(
        [
            "git",
            "commit",
            "-q",
            "-m",
            "Bump requests from 2.31.0 to 2.32.0",
            "-m",
            "Bumps [requests](https://github.com/psf/requests) from 2.31.0 to 2.32.0.\n- [Release notes]",
        ],
        cwd=ws.root,
        check=True,
        env={**os.environ, **env},
    )
    result = digest(ws, cfg())
    assert [item.commit.subject for item in result.commits] == ["Add coupons"]
    assert sorted(reason for _sha, reason in result.skipped) == [
        "bot",
        "memory only",
        "memory only",
    ]  # and the clone's first memory commit
    text = (ws.root / result.digest_path).read_text()
    assert "\nDependency and bot updates (1): `Bump requests from 2.31.0 to 2.32.0`\n" in text
    assert "Release notes" not in text and "Update codemem memory" not in text
    # The commit of the memory this pass wrote is not new work for the next pass.
    commit_memory(ws, "alice", "2025-03-05T13:00:00+00:00")
    again = digest(ws, cfg())
    assert (again.commits, again.digest_path, again.changes) == ([], None, [])


def test_a_merge_that_only_merges_memory_is_not_digested(team):
    _remote, alice, _bob = team
    assert codemem(alice, "memory", "list").returncode == 0  # sets the merge driver
    two_additions(alice)
    merged = sh(alice.root, "merge", "-q", "--no-edit", "other", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    # the driver's union of both additions is the merge's own change, all of it memory
    assert sh(alice.root, "diff-tree", "--cc", "--name-only", "--no-commit-id", "HEAD").stdout == (
        ".codemem/blocks/project.md\n"
    )
    result = digest(alice, cfg())
    assert (result.commits, result.digest_path) == ([], None)
    # the merge, both sides' commits and the clone's first memory commit
    assert [reason for _sha, reason in result.skipped] == ["memory only"] * 4


# -- the merge driver ---------------------------------------------------------------------------


def test_a_clone_gets_the_merge_driver_on_its_first_codemem_command(team):
    _remote, alice, _bob = team
    assert (alice.dir / ".gitattributes").read_text().count(
        "* merge=codemem"
    ) == 1  # committed by init
    assert sh(alice.root, "config", "merge.codemem.driver", check=False).returncode == 1
    first = codemem(alice, "-v", "memory", "list")
    assert first.returncode == 0, first.stderr
    assert "codemem: INFO: set up this clone's merge driver" in first.stderr  # said with -v only
    driver = sh(alice.root, "config", "merge.codemem.driver").stdout.strip()
    assert driver == merge_driver_command()  # this Python, never the current folder's codemem
    assert sh(alice.root, "check-attr", "merge", ".codemem/blocks/project.md").stdout.endswith(
        "merge: codemem\n"
    )
    assert "merge driver" not in codemem(alice, "-v", "memory", "list").stderr  # once


def two_additions(ws: Workspace) -> None:
    """`blocks/project.md` added to at its end on branch `other` and on the branch checked out."""
    sh(ws.root, "checkout", "-q", "-b", "other")
    MemoryStore(ws, user="a").append("project", "Build with make.")
    sh(ws.root, "commit", "-q", "-am", "make")
    sh(ws.root, "checkout", "-q", "-")
    MemoryStore(ws, user="a").append("project", "Deploy with fly.")
    sh(ws.root, "commit", "-q", "-am", "fly")


def test_a_driver_whose_python_is_gone_is_set_again_and_merges(team, tmp_path):
    _remote, alice, _bob = team
    gone = f"{tmp_path}/old-venv/bin/python -m codemem merge-file %O %A %B %P"
    sh(alice.root, "config", "merge.codemem.driver", gone)  # the venv it was set from removed
    assert codemem(alice, "memory", "list").returncode == 0
    driver = sh(alice.root, "config", "merge.codemem.driver").stdout.strip()
    assert driver == merge_driver_command()
    two_additions(alice)  # two people's additions to one block merge: git ran the driver
    merged = sh(alice.root, "merge", "-q", "--no-edit", "other", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    value = MemoryStore(alice, user="a").get("project").value
    assert value.endswith("Build with make.\nDeploy with fly.") or value.endswith(
        "Deploy with fly.\nBuild with make."
    )
    # a driver of the user's own, or one whose program is there, is theirs to keep
    for own in ("my-merge %O %A %B", f"{sys.executable} -m codemem merge-file %O %A %B %P -v"):
        sh(alice.root, "config", "merge.codemem.driver", own)
        assert codemem(alice, "memory", "list").returncode == 0
        assert sh(alice.root, "config", "merge.codemem.driver").stdout.strip() == own


def test_a_driver_line_that_imports_the_repositorys_codemem_folder_is_set_again(team, tmp_path):
    # Git runs the driver in the work tree, where `python -m codemem` finds a `codemem/`
    # folder of the repository before codemem: a pulled branch could run its own code.
    _remote, alice, _bob = team
    assert codemem(alice, "memory", "list").returncode == 0  # the driver set
    old = f"{sys.executable} -m codemem merge-file %O %A %B %P"  # as codemem 0.2.0 set it
    sh(alice.root, "config", "merge.codemem.driver", old)
    assert codemem(alice, "memory", "list").returncode == 0
    driver = sh(alice.root, "config", "merge.codemem.driver").stdout.strip()
    assert driver == merge_driver_command()
    marker = tmp_path / "ran-the-repository's-codemem"
    package = alice.root / "codemem"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    sh(alice.root, "add", "codemem")
    sh(alice.root, "commit", "-q", "-m", "a codemem folder")
    two_additions(alice)
    merged = sh(alice.root, "merge", "-q", "--no-edit", "other", check=False)
    assert (merged.returncode, marker.exists()) == (0, False), merged.stdout + merged.stderr
    value = MemoryStore(alice, user="a").get("project").value
    assert "Build with make." in value and "Deploy with fly." in value


def test_a_file_the_driver_could_not_merge_is_named_with_the_way_back(team):
    _remote, alice, _bob = team
    assert codemem(alice, "memory", "list").returncode == 0  # the driver set
    two_additions(alice)
    sh(alice.root, "config", "merge.codemem.driver", "false")  # a Python without codemem, say
    assert sh(alice.root, "merge", "-q", "--no-edit", "other", check=False).returncode == 1
    block = alice.blocks_dir / "project.md"
    assert "Build with make." not in block.read_text()  # theirs is nowhere in the file
    rel = ".codemem/blocks/project.md"
    status = codemem(alice, "status", "--json")
    assert {
        "kind": "merge",
        "message": f"{rel}: unmerged, and it holds our side only, no conflict markers: if git "
        "could not run the merge driver, `git config --unset merge.codemem.driver`, run any "
        f"codemem command to set it again, then `git checkout -m -- {rel}` merges both sides; "
        "if our side is what you chose, `git add` it",
    } in json.loads(status.stdout)["damage"]
    sh(alice.root, "config", "--unset", "merge.codemem.driver")
    assert codemem(alice, "memory", "list").returncode == 0
    sh(alice.root, "checkout", "-m", "--", rel)
    assert block.read_text().endswith("Build with make.\nDeploy with fly.\n") or (
        block.read_text().endswith("Deploy with fly.\nBuild with make.\n")
    )
    assert "merge" not in [
        d["kind"] for d in json.loads(codemem(alice, "status", "--json").stdout)["damage"]
    ]


def test_a_pull_made_before_the_driver_was_set_is_named_with_the_way_to_merge_it_again(team):
    # Bob's clone never ran codemem before his pull: git merged memory with its own text
    # merge, markers and all, in files the driver merges whole. His next codemem command sets
    # the driver, and `status` names each such file with the command that merges it again.
    _remote, alice, bob = team
    two_additions(bob)  # `other` and main each appended a line to project.md
    conventions = bob.dir / "conventions.json"
    records = json.loads(conventions.read_text())
    sh(bob.root, "checkout", "-q", "other")
    conventions.write_text(json.dumps(records, indent=4))
    sh(bob.root, "commit", "-q", "-am", "records as another version wrote them")
    sh(bob.root, "checkout", "-q", "-")
    conventions.write_text(json.dumps(records, indent=1))
    sh(bob.root, "commit", "-q", "-am", "records as a third version wrote them")
    assert sh(bob.root, "config", "merge.codemem.driver", check=False).returncode == 1  # none
    assert sh(bob.root, "merge", "-q", "--no-edit", "other", check=False).returncode == 1
    assert set(markers(bob)) == {"blocks/project.md", "conventions.json"}
    status = codemem(bob, "status", "--json")  # sets the driver
    named = [d["message"] for d in json.loads(status.stdout)["damage"] if d["kind"] == "merge"]
    rels = [".codemem/blocks/project.md", ".codemem/conventions.json"]
    assert named == [
        f"{rel}: git merged it without codemem's merge driver (none was set in this clone) and "
        f"left conflict markers the driver resolves: `git checkout -m -- {rel}` merges it again "
        "with the driver, now set (what you changed in it since is replaced), then `git add` it"
        for rel in rels
    ]
    sh(bob.root, "checkout", "-m", "--", *rels)
    assert markers(bob) == {}
    value = MemoryStore(bob, user="a").get("project").value
    assert "Build with make." in value and "Deploy with fly." in value
    # the driver kept our side of the records, as it does: nothing to warn of, `git add` them
    assert conventions.read_text() == json.dumps(records, indent=1)
    after = json.loads(codemem(bob, "status", "--json").stdout)["damage"]
    assert [d for d in after if d["kind"] == "merge"] == []


def test_status_names_a_block_deleted_on_one_side_and_the_merge_holding_memory_back(team):
    # Alice deleted a block Bob changed: a modify/delete conflict, which no merge driver is
    # handed. `status` said "Problems: none" while every memory write was refused.
    _remote, alice, _bob = team
    sh(alice.root, "checkout", "-q", "-b", "other")
    MemoryStore(alice, user="a").append("project", "Build with make.")
    sh(alice.root, "commit", "-q", "-am", "make")
    sh(alice.root, "checkout", "-q", "-")
    sh(alice.root, "rm", "-q", ".codemem/blocks/project.md")
    sh(alice.root, "commit", "-q", "-m", "no project block")
    assert sh(alice.root, "merge", "-q", "--no-edit", "other", check=False).returncode == 1
    status = codemem(alice, "status", "--json")
    report = json.loads(status.stdout)
    rel = ".codemem/blocks/project.md"
    assert [d["message"] for d in report["damage"] if d["kind"] == "merge"] == [
        f"{rel}: unmerged, deleted on one side and changed on the other: `git add {rel}` "
        f"keeps it as the work tree holds it, `git rm {rel}` deletes it"
    ]
    assert report["git_operation"].startswith("git is in the middle of a merge")
    text = codemem(alice, "status").stdout
    assert "\nMemory writes wait: git is in the middle of a merge (" in text
    sh(alice.root, "rm", "-q", rel)
    sh(alice.root, "commit", "-q", "--no-edit")
    after = json.loads(codemem(alice, "status", "--json").stdout)
    assert (after["git_operation"], [d for d in after["damage"] if d["kind"] == "merge"]) == (
        None,
        [],
    )


def test_the_merge_driver_merges_by_kind_of_file():
    base = "---\ndescription: Notes.\nlimit: 4000\n---\nIntro.\n\n- one\n\n<!-- codemem:c:start -->\nold\n<!-- codemem:c:end -->\n"
    ours = (
        base.replace("limit: 4000", "limit: 5000")
        .replace("- one\n", "- one\n- mine\n")
        .replace("\nold", "\nours")
    )
    theirs = (
        base.replace("Notes.", "Team notes.")
        .replace("- one\n", "- one\n- yours\n- more\n")
        .replace("\nold", "\ntheirs")
    )
    merged = merge_memory_file(base, ours, theirs, ".codemem/blocks/notes.md")
    assert merged.conflicts == 0
    assert merged.text == (
        "---\ndescription: Team notes.\nlimit: 5000\n---\nIntro.\n\n- one\n- mine\n- yours\n- more\n"
        "\n<!-- codemem:c:start -->\nours\n<!-- codemem:c:end -->\n"
    )
    other_way = merge_memory_file(
        base, theirs, ours, ".codemem/blocks/notes.md"
    )  # the other clone merging
    assert other_way.text == merged.text.replace(
        "\nours\n", "\ntheirs\n"
    )  # lists in one order; region ours
    # Two people, one place: markers, and a non-zero count (git's conflict).
    prose = merge_memory_file(
        base,
        base.replace("Intro.", "Deploy."),
        base.replace("Intro.", "Never deploy."),
        ".codemem/blocks/x.md",
    )
    assert prose.conflicts == 1 and "<<<<<<< ours\nDeploy.\n" in prose.text
    key = merge_memory_file(
        base, base.replace("4000", "5000"), base.replace("4000", "6000"), ".codemem/blocks/x.md"
    )
    assert (
        key.conflicts == 1
        and "<<<<<<< ours\nlimit: 5000\n=======\nlimit: 6000\n>>>>>>> theirs\n" in key.text
    )
    # Derived whole files keep our side; the next digest derives them again.
    assert (
        merge_memory_file("{}", '{"a": 1}', '{"b": 2}', ".codemem/conventions.json").text
        == '{"a": 1}'
    )
    assert merge_memory_file("", "ours\n", "theirs\n", ".codemem/digests/x.md").conflicts == 0


def test_frontmatter_both_sides_changed_keeps_what_people_wrote_in_it():
    base = (
        "---\n# the team's block: ask in #infra before raising the limit\n"
        "description: >\n  What the project is.\nlimit: 8000  # tokens are dear\n"
        "read_only: false\ntags: [a, b]\n---\nBody.\n"
    )
    ours = base.replace("limit: 8000", "limit: 9000")
    theirs = base.replace("  What the project is.", "  What the shop is.").replace(
        "tags: [a, b]\n", "owner: x@y.z  # Xavier\n"
    )
    merged = merge_memory_file(base, ours, theirs, ".codemem/blocks/project.md")
    assert (merged.conflicts, merged.text) == (
        0,
        "---\n# the team's block: ask in #infra before raising the limit\n"
        "description: >\n  What the shop is.\nlimit: 9000  # tokens are dear\n"
        "read_only: false\nowner: x@y.z  # Xavier\n---\nBody.\n",
    )
    # a comment the other side edited is kept with our side's key
    edited = merge_memory_file(
        base,
        base.replace("read_only: false", "read_only: true"),
        base.replace("in #infra", "in #platform"),
        ".codemem/blocks/project.md",
    )
    assert edited.text == base.replace("in #infra", "in #platform").replace(
        "read_only: false", "read_only: true"
    )
    # a header whose lines cannot be told apart by key is still merged by its values
    odd = "---\n{description: Notes., limit: 4000}\n---\n"
    merged = merge_memory_file(
        odd, odd.replace("4000", "5000"), odd.replace("Notes.", "All."), ".codemem/blocks/x.md"
    )
    assert merged.text == "---\ndescription: All.\nlimit: 5000\n---\n"


@pytest.mark.parametrize(
    ("value", "theirs_edit", "merged_value", "merged_description"),
    [
        # `1` and `true` are one value to Python's `==`, two to a header edit: the driver took
        # them for one, kept our `1` and dropped their edit when another key's lines clashed
        ("read_only: 1", ("read_only: 1", "read_only: true"), "read_only: true", "Notes."),
        # `.nan` is not `==` itself: an unchanged one was a conflict
        ("weight: .nan", ("Notes.", "All notes."), "weight: .nan", "All notes."),
    ],
    ids=["another-type", "nan"],
)
def test_a_header_value_is_compared_as_the_header_edits_compare_it(
    value, theirs_edit, merged_value, merged_description
):
    base = f"---\ndescription: Notes.\n{value}\nlimit: 4000\n---\nBody.\n"
    ours = base.replace("limit: 4000", "limit: 5000")
    merged = merge_memory_file(base, ours, base.replace(*theirs_edit), ".codemem/blocks/x.md")
    assert (merged.conflicts, merged.text) == (
        0,
        f"---\ndescription: {merged_description}\n{merged_value}\nlimit: 5000\n---\nBody.\n",
    )


@pytest.mark.parametrize("path", [".codemem/blocks/x.md", ".codemem/config.yml"])
def test_a_memory_file_holding_a_nul_is_left_to_people_as_git_leaves_a_binary_file(path):
    """git merge-file refuses such a file: the driver failed with a line naming a temp file."""
    base = "---\nlimit: 100\n---\nline a\x00\nline b\nline c\n"
    ours, theirs = base.replace("line a", "line A"), base.replace("line c", "line C")
    assert merge_memory_file(base, ours, theirs, path) == Merged(ours, 1)


def test_two_clones_folding_duplicates_into_one_note_merge_their_header_lists():
    """Each clone's digest folded another duplicate into the note: each side only added to
    `tags:` and `merged:`, so the merge holds both, where it left conflict markers."""
    base = "---\nid: k  # Dana\ncreated: 2025-03-01T12:00:00+00:00\ntags: [ci]\n---\nRun tests.\n"
    ours = base.replace("tags: [ci]", "tags: [ci, tests]\nmerged: [a]")
    theirs = base.replace("tags: [ci]", "tags: [ci, docker]\nmerged: [b]\nmerged_sources: [x]")
    merged = merge_memory_file(base, ours, theirs, ".codemem/archive/k.md")
    assert (merged.conflicts, merged.text) == (
        0,
        "---\nid: k  # Dana\ncreated: 2025-03-01T12:00:00+00:00\ntags: [ci, docker, tests]\n"
        "merged: [a, b]\nmerged_sources: [x]\n---\nRun tests.\n",
    )
    # a side that took an item out is no addition: that is still for people to settle
    removed = merge_memory_file(
        base, ours, base.replace("tags: [ci]", "tags: []"), ".codemem/archive/k.md"
    )
    assert removed.conflicts == 1


def test_two_settings_added_to_the_config_are_a_conflict_not_a_duplicate_key():
    base = "index:\n  include: []\n"
    merged = merge_memory_file(
        base,
        base + "model: anthropic/claude-sonnet-4-6\n",
        base + "model: ollama/qwen2.5-coder\n",
        ".codemem/config.yml",
    )  # united, the second `model:` would silently win
    assert (merged.conflicts, merged.text) == (
        1,
        "index:\n  include: []\n<<<<<<< ours\nmodel: anthropic/claude-sonnet-4-6\n"
        "||||||| base\n=======\nmodel: ollama/qwen2.5-coder\n>>>>>>> theirs\n",
    )
    apart = merge_memory_file(
        base, "model: x\n" + base, base + "sleep:\n  model: y\n", ".codemem/config.yml"
    )
    assert (apart.conflicts, apart.text) == (0, "model: x\n" + base + "sleep:\n  model: y\n")
    # one key added at two places: git's merge is clean, the file sets it twice
    twice = merge_memory_file(
        base, "model: x\n" + base, base + "model: y\n", ".codemem/config.yml"
    )  # before: merged clean, and the second `model:` silently won
    assert (twice.conflicts, twice.text) == (
        1,
        "<<<<<<< ours\nmodel: x\n||||||| base\n=======\nmodel: y\n>>>>>>> theirs\n" + base,
    )  # the one key between markers, in our place


def agent_append(ws: Workspace, label: str, content: str) -> None:
    """The agent's memory tool, as a chat calls it."""
    context = ToolContext(ws, Config(), PermissionPolicy(PermissionsConfig(mode="allow")))
    result = build_tools(context).call("memory_append", {"label": label, "content": content})
    assert not result.is_error, result.content


@pytest.mark.parametrize("first", ["alice", "bob"])
def test_concurrent_memory_edits_merge_without_markers(team, first):
    remote, alice, bob = team
    clones = {"alice": alice, "bob": bob}
    for ws in clones.values():
        assert codemem(ws, "memory", "list").returncode == 0  # the first command sets the driver
    # Both digest different commits and append different lines to the same blocks, by hand and
    # through the agent's memory tools; the learned regions differ too.
    work(alice, "alice", "shop/coupons.py", COUPONS, 5)
    work(bob, "bob", "shop/gifts.py", GIFTS, 6)
    edits = {
        "alice": [
            ("cli", "project", "Coupons stack."),
            ("agent", "conventions", "- Money is in cents."),
        ],
        "bob": [
            ("cli", "project", "Gift cards never expire."),
            ("agent", "conventions", "- Prices include tax."),
        ],
    }
    for who, ws in clones.items():
        for how, label, line in edits[who]:
            if how == "cli":
                done = codemem(ws, "remember", "--block", label, line)
                assert done.returncode == 0, done.stderr
            else:
                agent_append(ws, label, line)
        commit(ws.root, "Notes", "2025-03-07T10:00:00+00:00", author=who)
    second = "bob" if first == "alice" else "alice"
    sh(clones[first].root, "push", "-q", "origin", "main")
    pulled = sh(clones[second].root, "pull", "-q", "--no-edit", "origin", "main", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert markers(clones[second]) == {}
    for _how, label, line in edits["alice"] + edits["bob"]:  # no edit lost
        assert line in (clones[second].blocks_dir / f"{label}.md").read_text()
    result = digest(clones[second], cfg())  # never refuses
    assert not any("conflict" in warning for warning in result.warnings)
    commit_memory(clones[second], second, "2025-03-07T12:00:00+00:00")
    sh(clones[second].root, "push", "-q", "origin", "main")
    assert (
        sh(clones[first].root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode
        == 0
    )
    digest(clones[first], cfg())
    assert snapshot(alice) == snapshot(bob)
    assert markers(alice) == {}


# -- the CI job as a teammate -------------------------------------------------------------------


def test_the_ci_bot_retries_a_moved_branch_and_never_duplicates_a_digest(team, tmp_path):
    remote, alice, bob = team
    commit(alice.root, "Add coupons", "2025-03-05T10:00:00+00:00", {"shop/coupons.py": COUPONS})
    sh(alice.root, "push", "-q", "origin", "main")  # code, not digested yet
    bot = clone(remote, tmp_path / "bot", None)  # a CI checkout: no identity, no driver
    ours = digest(bot, cfg())
    assert [item.commit.subject for item in ours.commits] == ["Add coupons"]
    # Meanwhile alice digests the same range and bob appends to a block; both push first.
    theirs = digest(alice, cfg())
    assert theirs.digest_path == ours.digest_path
    commit_memory(alice, "alice", "2025-03-05T11:00:00+00:00")
    sh(alice.root, "push", "-q", "origin", "main")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    MemoryStore(bob, user="bob").append("project", "Coupons are checked at the till.")
    commit(bob.root, "Note about coupons", "2025-03-05T12:00:00+00:00", author="bob")
    sh(bob.root, "push", "-q", "origin", "main")
    pushed = push_memory(bot)  # the first push is refused: pull --rebase, then the retry succeeds
    assert pushed.attempts == 2 and pushed.commit is not None
    assert markers(bot) == {}
    assert sh(bot.root, "status", "--porcelain").stdout == ""
    assert (
        sh(bot.root, "rev-parse", "HEAD").stdout == sh(bot.root, "rev-parse", "origin/main").stdout
    )
    digests = sh(bot.root, "ls-files", ".codemem/digests").stdout.split()
    assert ours.digest_path in digests and len(digests) == len(set(digests))
    assert sh(bot.root, "log", "--format=%s", "--", ours.digest_path).stdout.splitlines() == [
        "Update codemem memory"
    ]  # alice's
    assert "Coupons are checked at the till." in (bot.blocks_dir / "project.md").read_text()
    # The next run: what is digested comes from the committed digests; nothing to do.
    again = digest(bot, cfg())
    assert (again.commits, again.digest_path) == ([], None)
    assert push_memory(bot).commit is None


def test_digest_push_on_the_command_line(team, tmp_path):
    remote, alice, _bob = team
    bot = clone(remote, tmp_path / "bot", None)
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    sh(alice.root, "push", "-q", "origin", "main")  # the branch moves after the bot's checkout
    sh(bot.root, "pull", "-q", "--no-edit", "origin", "main")
    commit(alice.root, "Add gifts", "2025-03-08T11:00:00+00:00", {"shop/gifts.py": GIFTS})
    sh(alice.root, "push", "-q", "origin", "main")
    done = codemem(bot, "digest", "--ci", "--no-llm", "--push")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Pushed " in done.stdout and "after 2 tries" in done.stdout
    log = sh(bot.root, "log", "-3", "--format=%s", "origin/main").stdout.splitlines()
    assert log == ["codemem: update memory [skip ci]", "Add gifts", "Add labels"]
    assert codemem(bot, "digest", "--dry-run", "--push").returncode == 2


def test_the_ci_bots_memory_commit_is_no_new_work_for_a_teammate(team, tmp_path, monkeypatch):
    remote, alice, _bob = team
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    sh(alice.root, "push", "-q", "origin", "main")
    for name in ("AUTHOR", "COMMITTER"):  # a CI job has no identity: it commits as codemem[bot]
        monkeypatch.delenv(f"GIT_{name}_NAME")
        monkeypatch.delenv(f"GIT_{name}_EMAIL")
    bot = clone(remote, tmp_path / "bot", None)
    done = codemem(bot, "digest", "--ci", "--no-llm", "--push")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sh(bot.root, "log", "-1", "--format=%an", "origin/main").stdout == "codemem[bot]\n"
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    again = codemem(alice, "digest", "--no-llm", "--json")  # the bot's settings: the defaults
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert (result["commits"], result["digest"]["path"], result["changes"]) == ([], None, [])
    assert sh(alice.root, "status", "--porcelain").stdout == ""


def test_a_checkout_between_the_digest_and_its_push_commits_and_pushes_nothing(
    team, tmp_path, monkeypatch
):
    # The push took HEAD as it was then: a feature branch checked out meanwhile had its
    # unreviewed commit, and the memory committed on top, pushed to main.
    from click.testing import CliRunner

    from codemem.cli import cli
    from codemem.sleep import digest as digest_module

    remote, alice, _bob = team
    bot = clone(remote, tmp_path / "bot", None)
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    sh(alice.root, "push", "-q", "origin", "main")
    sh(bot.root, "pull", "-q", "--no-edit", "origin", "main")
    main = sh(bot.root, "rev-parse", "HEAD").stdout.strip()
    sh(bot.root, "checkout", "-q", "-b", "feature")
    feature = commit(bot.root, "Half-done gifts", "2025-03-08T12:00:00+00:00", {"shop/g.py": GIFTS})
    sh(bot.root, "checkout", "-q", "main")
    save = digest_module.write_local_state

    def checkout_then_save(*args):  # the digest's last step: its set is written by now
        sh(bot.root, "checkout", "-q", "feature")
        return save(*args)

    monkeypatch.setattr(digest_module, "write_local_state", checkout_then_save)
    done = CliRunner().invoke(
        cli, ["--repo", str(bot.root), "digest", "--ci", "--no-llm", "--push"]
    )
    assert done.exit_code == 2, done.output
    assert done.output.splitlines()[-1] == (
        f"codemem: error: nothing pushed: HEAD moved from main at {main[:7]} to feature at "
        f"{feature[:7]} since the digest read it; run it again"
    )
    assert sh(bot.root, "rev-parse", "HEAD").stdout.strip() == feature  # nothing committed
    assert sh(remote, "rev-parse", "main").stdout.strip() == main  # nor pushed


def test_a_push_from_a_detached_head_without_a_branch_stops_before_the_digest(team, tmp_path):
    # A CI checkout of a commit: the digest used to be written, then the push failed (exit 3).
    remote, alice, _bob = team
    bot = clone(remote, tmp_path / "bot", None)
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    sh(alice.root, "push", "-q", "origin", "main")
    sh(bot.root, "pull", "-q", "--no-edit", "origin", "main")
    sh(bot.root, "checkout", "-q", "--detach", "HEAD")
    done = codemem(bot, "digest", "--ci", "--no-llm", "--push")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        "codemem: error: HEAD is detached: name the branch to push with --branch "
        "(e.g. $CI_COMMIT_BRANCH)\n"
    )
    assert not sh(bot.root, "status", "--porcelain").stdout  # no digest written to push later
    done = codemem(bot, "digest", "--ci", "--no-llm", "--push", "--branch", "main")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sh(bot.root, "log", "-1", "--format=%s", "origin/main").stdout.strip() == (
        "codemem: update memory [skip ci]"
    )


def test_a_branch_named_like_an_option_is_refused_before_git_reads_it(team, tmp_path, monkeypatch):
    # A ref may begin with `-` (`git push origin HEAD:refs/heads/--upload-pack=...` makes
    # one), and `$CI_COMMIT_BRANCH` names it: `git pull origin <it>` would run its program.
    remote, alice, _bob = team
    bot = clone(remote, tmp_path / "bot", None)
    marker = tmp_path / "ran"
    branch = f"--upload-pack=touch {marker}; git-upload-pack"
    done = codemem(bot, "digest", "--ci", "--no-llm", "--push", "--branch", branch)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        f"codemem: error: --branch {branch!r} is not a name git gives a branch\n"
    )
    assert not marker.exists() and not sh(bot.root, "status", "--porcelain").stdout
    with pytest.raises(UsageError):
        push_memory(bot, "origin", branch)
    # Past the check, git still reads it as a name, never an option.
    monkeypatch.setattr(publish, "push_branch", lambda _ws, name: name)
    MemoryStore(bot, user="bot").append("project", "Labels print at the till.")
    with pytest.raises(PushError):
        push_memory(bot, "origin", branch, attempts=2)
    assert not marker.exists()


def test_a_failed_push_leaves_the_pass_summary_in_the_log(team, tmp_path):
    remote, alice, _bob = team
    commit(alice.root, "Add labels", "2025-03-08T10:00:00+00:00", {"shop/labels.py": LABELS})
    sh(alice.root, "push", "-q", "origin", "main")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")  # a protected branch
    hook.chmod(0o755)
    bot = clone(remote, tmp_path / "bot", None)
    done = codemem(bot, "digest", "--ci", "--no-llm", "--push")
    assert done.returncode == 3
    assert "codemem digest: Commits: 1 digested (" in done.stdout  # what the job did, then why
    assert done.stderr.endswith(
        "codemem: error: origin refused the memory pushed to main: "
        "[remote rejected] (pre-receive hook declined)\n"
    )


def test_a_push_that_meets_another_push_at_the_remote_pulls_and_tries_again(team, tmp_path):
    # Two jobs push at once: alice's push lands while the bot's is between its read of main
    # and its update (the remote's hook runs her push then). git says "[remote rejected]
    # (failed to update ref)", and the bot gave up as if the branch were protected.
    remote, alice, _bob = team
    commit(alice.root, "Add coupons", "2025-03-05T10:00:00+00:00", {"shop/coupons.py": COUPONS})
    flag = tmp_path / "raced"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"if [ ! -e '{flag}' ]; then\n"
        f"  touch '{flag}'\n"
        "  env -u GIT_DIR -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY"
        f" -u GIT_ALTERNATE_OBJECT_DIRECTORIES git -C '{alice.root}' push -q origin main >&2\n"
        "fi\n"
    )
    hook.chmod(0o755)
    bot = clone(remote, tmp_path / "bot", None)
    MemoryStore(bot, user="bot").append("project", "Labels print at the till.")

    pushed = push_memory(bot, "origin", "main")

    assert flag.exists() and pushed.attempts == 2
    assert sh(remote, "log", "--format=%s", "main").stdout.splitlines()[:2] == [
        "codemem: update memory [skip ci]",
        "Add coupons",
    ]


def test_a_push_the_remote_refuses_for_good_is_tried_once_and_says_why(team, tmp_path):
    # A protected branch (a server hook declining it): no pull makes the next try pass. It was
    # pulled and tried five times, and the error said only "failed to push some refs".
    remote, _alice, _bob = team
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    bot = clone(remote, tmp_path / "bot", None)
    MemoryStore(bot, user="bot").append("project", "Labels print at the till.")
    pulls = []
    original = publish._pull_rebase
    publish._pull_rebase = lambda *args: pulls.append(args) or original(*args)
    try:
        with pytest.raises(PushError) as raised:
            push_memory(bot, "origin", "main")
    finally:
        publish._pull_rebase = original
    assert str(raised.value) == (
        "origin refused the memory pushed to main: [remote rejected] (pre-receive hook declined)"
    )
    assert pulls == []
    # A push that fails before any ref is refused (the local pre-push hook) says git's reason.
    hook.unlink()
    local = bot.root / ".git" / "hooks" / "pre-push"
    local.write_text("#!/bin/sh\nexit 1\n")
    local.chmod(0o755)
    MemoryStore(bot, user="bot").append("project", "Gifts are wrapped at the till.")
    with pytest.raises(PushError, match="could not push memory to origin/main: git push failed"):
        push_memory(bot, "origin", "main")
    local.unlink()
    # The next run finds nothing new to commit: it pushes what the failed run committed
    # (before: "nothing to commit", and the memory stayed in this clone).
    pushed = push_memory(bot, "origin", "main")
    assert (pushed.commit, pushed.attempts) == (sh(bot.root, "rev-parse", "HEAD").stdout.strip(), 1)
    assert sh(bot.root, "rev-parse", "HEAD").stdout == sh(remote, "rev-parse", "main").stdout
    assert push_memory(bot, "origin", "main").commit is None  # pushed: nothing to do again
    commit(bot.root, "Not memory", "2025-03-08T10:00:00+00:00", {"shop/x.py": "X = 1\n"})
    assert push_memory(bot, "origin", "main").commit is None  # a person's commit: never pushed
    assert sh(remote, "log", "-1", "--format=%s", "main").stdout.strip() == (
        "codemem: update memory [skip ci]"
    )


def test_the_driver_merges_a_file_outside_codemem_as_git_would():
    # A .gitattributes naming the driver for `*.json` or `*.md` must not make conflicts in the
    # project's own files resolve silently to one side, nor unite its lists.
    json = merge_memory_file(
        '{"version": "1"}\n', '{"version": "2"}\n', '{"version": "3"}\n', "package.json"
    )
    assert json.conflicts == 1
    assert json.text == (
        '<<<<<<< ours\n{"version": "2"}\n||||||| base\n{"version": "1"}\n=======\n'
        '{"version": "3"}\n>>>>>>> theirs\n'
    )
    notes = merge_memory_file("- a\n", "- a\n- mine\n", "- a\n- yours\n", "docs/digests/x.md")
    assert notes.conflicts == 1 and "<<<<<<< ours\n- mine\n" in notes.text
    assert merge_memory_file("a\nb\nc\n", "A\nb\nc\n", "a\nb\nC\n", "x.md").text == "A\nb\nC\n"
    binary = merge_memory_file("\0a", "\0b", "\0c", "logo.png")
    assert (binary.text, binary.conflicts) == ("\0b", 1)


def test_a_merge_through_a_hostile_gitattributes_still_stops_on_the_conflict(tmp_path):
    repo = make_repo(tmp_path / "repo")
    assert codemem(init(repo), "memory", "list").returncode == 0  # registers the driver
    assert sh(repo, "config", "merge.codemem.driver").stdout.strip()
    (repo / ".gitattributes").write_text("*.json merge=codemem\n")
    (repo / "package.json").write_text('{\n  "version": "1.0.0"\n}\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "attributes")
    git(repo, "checkout", "-qb", "theirs")
    (repo / "package.json").write_text('{\n  "version": "2.0.0"\n}\n')
    git(repo, "commit", "-qam", "theirs")
    git(repo, "checkout", "-q", "-")
    (repo / "package.json").write_text('{\n  "version": "1.5.0"\n}\n')
    git(repo, "commit", "-qam", "ours")
    merged = sh(repo, "merge", "theirs", check=False)
    assert merged.returncode == 1, merged.stdout
    text = (repo / "package.json").read_text()
    assert '"version": "2.0.0"' in text and '"version": "1.5.0"' in text


def test_merge_file_writes_ours_and_exits_1_on_a_conflict(tmp_path):
    files = {name: tmp_path / name for name in ("base", "ours", "theirs")}
    for name, text in (("base", "Intro.\n"), ("ours", "Deploy.\n"), ("theirs", "Never deploy.\n")):
        files[name].write_text(text)
    args = [str(files[name]) for name in ("base", "ours", "theirs")]
    done = subprocess.run(
        [sys.executable, "-m", "codemem", "merge-file", *args, ".codemem/blocks/project.md"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert files["ours"].read_text().startswith("<<<<<<< ours\nDeploy.\n")
    files["theirs"].write_text("Intro.\n- added\n")
    files["ours"].write_text("Intro.\n- mine\n")
    done = subprocess.run(
        [sys.executable, "-m", "codemem", "merge-file", *args, ".codemem/blocks/project.md"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, files["ours"].read_text()) == (0, "Intro.\n- added\n- mine\n")


def test_a_merge_driver_killed_while_writing_leaves_our_side_whole(tmp_path, monkeypatch):
    from codemem.conventions.merge import merge_files

    files = {name: tmp_path / name for name in ("base", "ours", "theirs")}
    for name, text in (("base", "Intro.\n"), ("ours", "Intro.\nMine.\n"), ("theirs", "Theirs.\n")):
        files[name].write_text(text)

    def killed(*_args):
        raise KeyboardInterrupt  # as a signal lands: the merged text written, not yet in place

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        merge_files(files["base"], files["ours"], files["theirs"], ".codemem/blocks/project.md")
    # before: OURS was opened for writing in place, so emptied first; git then reads it as
    # the merge's result
    assert files["ours"].read_text() == "Intro.\nMine.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "ours", "theirs"]


# -- rewritten history: pull --rebase, rebase -i, cherry-pick ------------------------------------


def digested_subjects(ws: Workspace) -> list[str]:
    """The subject of every commit section of every digest, in file order (one per digest)."""
    found = []
    for path in sorted(ws.digests_dir.glob("*.md")):
        found += [line for line in path.read_text().splitlines() if line.startswith("## ")]
    return [line.split(" ", 3)[3] for line in found]


def test_a_digest_rebased_by_a_pull_is_not_digested_again_on_any_clone(team):
    # Alice digests her two commits and commits that memory, then `git pull --rebase` puts
    # them on top of bob's push: new ids for the commits her digest names. Neither clone may
    # describe her commits a second time, and both describe bob's the same way.
    remote, alice, bob = team
    for ws in (alice, bob):
        assert codemem(ws, "memory", "list").returncode == 0  # the first command sets the driver
    commit(bob.root, "Add gifts", "2025-03-05T10:00:00+00:00", {"shop/gifts.py": GIFTS}, "bob")
    sh(bob.root, "push", "-q", "origin", "main")
    commit(alice.root, "Add coupons", "2025-03-05T11:00:00+00:00", {"shop/coupons.py": COUPONS})
    commit(alice.root, "Add labels", "2025-03-05T12:00:00+00:00", {"shop/labels.py": LABELS})
    assert digest(alice, cfg()).digest_path is not None
    commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
    rebased = sh(alice.root, "pull", "-q", "--rebase", "origin", "main", check=False)
    assert rebased.returncode == 0, rebased.stdout + rebased.stderr
    sh(alice.root, "push", "-q", "origin", "main")
    assert digested_subjects(alice).count("`Add coupons`") == 1
    ours = digest(alice, cfg())
    assert [c.commit.subject for c in ours.commits] == ["Add gifts"]
    assert digested_subjects(alice).count("`Add coupons`") == 1
    assert digested_subjects(alice).count("`Add labels`") == 1
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    theirs = digest(bob, cfg())  # bob never had the ids alice's digest names
    assert not theirs.warnings, theirs.warnings
    assert theirs.digest_path == ours.digest_path
    assert (alice.root / ours.digest_path).read_bytes() == (
        bob.root / theirs.digest_path
    ).read_bytes()
    for ws in (alice, bob):  # and nothing is left for the next pass of either
        again = digest(ws, cfg())
        assert (again.commits, again.digest_path) == ([], None)


def rewrite(ws: Workspace, how: str) -> None:
    """Give the two newest code commits and the memory commit on top new ids, as `how` does."""
    if how == "rebase -i":  # the two code commits swapped, the memory commit kept on top
        env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i -n '1{h;d};2{p;x;p;d};p'"}
        subprocess.run(["git", "rebase", "-q", "-i", "HEAD~3"], cwd=ws.root, env=env, check=True)
    elif how == "reword":  # the older code commit's message fixed (`rebase -i`'s reword)
        env = {
            **os.environ,
            "GIT_SEQUENCE_EDITOR": "sed -i '1s/^pick/reword/'",
            "GIT_EDITOR": "sed -i '1s/.*/Add coupons (ten off)/'",
        }
        subprocess.run(["git", "rebase", "-q", "-i", "HEAD~3"], cwd=ws.root, env=env, check=True)
    elif how == "cherry-pick":  # onto a branch that forked before them
        sh(ws.root, "switch", "-q", "-c", "release", "HEAD~3")
        sh(ws.root, "cherry-pick", "main~2", "main~1", "main")
    else:  # reworded memory commit: everything under it is as it was, only its id changes
        sh(ws.root, "commit", "-q", "--amend", "-m", "Memory after review")
        sh(ws.root, "rebase", "-q", "--force-rebase", "HEAD~3")


@pytest.mark.parametrize("how", ["rebase -i", "cherry-pick", "rebase", "reword"])
@pytest.mark.parametrize("keys", [True, False], ids=["keys", "older-digest"])
def test_digested_commits_given_new_ids_are_not_digested_again(team, how, keys):
    remote, alice, _bob = team
    commit(alice.root, "Add coupons", "2025-03-05T11:00:00+00:00", {"shop/coupons.py": COUPONS})
    commit(alice.root, "Add labels", "2025-03-05T12:00:00+00:00", {"shop/labels.py": LABELS})
    done = codemem(alice, "digest")
    assert done.returncode == 0, done.stderr
    if not keys:  # a digest an older version wrote: its head's commit is still in this clone
        (digest_file,) = alice.digests_dir.glob("2025-03-05-*.md")
        digest_file.write_text(re.sub(r"keys:\n(- \w{16}\n)*", "", digest_file.read_text()))
    commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
    rewrite(alice, how)
    again = codemem(alice, "digest")
    assert again.returncode == 0, again.stderr
    assert "Commits: nothing new" in again.stdout, again.stdout
    assert digested_subjects(alice).count("`Add coupons`") == 1
    assert sh(alice.root, "status", "--porcelain", "--", ".codemem").stdout == ""


def test_a_digested_commit_amended_and_force_pushed_is_not_digested_again_by_a_new_clone(
    team, tmp_path
):
    # Alice's message is fixed after her commit was digested and pushed (`commit --amend` keeps
    # its author, author date and patch) and the branch force-pushed: a clone made afterwards
    # has none of the ids the digest names, nor a commit with the subject its keys name.
    remote, alice, _bob = team
    commit(alice.root, "Add coupns", "2025-03-05T11:00:00+00:00", {"shop/coupons.py": COUPONS})
    assert codemem(alice, "digest").returncode == 0
    sh(alice.root, "commit", "-q", "--amend", "-m", "Add coupons")
    commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
    sh(alice.root, "push", "-q", "-f", "origin", "main")
    carol = clone(remote, tmp_path / "carol", "alice")
    again = codemem(carol, "digest")
    assert again.returncode == 0, again.stderr
    assert "Commits: nothing new" in again.stdout, again.stdout
    assert len(list(carol.digests_dir.glob("2025-03-05-*.md"))) == 1
    assert sh(carol.root, "status", "--porcelain", "--", ".codemem").stdout == ""


def test_a_squash_merge_of_a_digested_branch_is_not_digested_again(team):
    # A feature branch digested (and its memory committed) on the branch, then squashed into
    # main as one new commit, dated anew: its patch is the digested range's.
    remote, alice, bob = team
    sh(alice.root, "switch", "-q", "-c", "coupons")
    commit(alice.root, "Add coupons", "2025-03-05T11:00:00+00:00", {"shop/coupons.py": COUPONS})
    commit(alice.root, "Add labels", "2025-03-05T12:00:00+00:00", {"shop/labels.py": LABELS})
    assert codemem(alice, "digest").returncode == 0
    commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
    sh(alice.root, "switch", "-q", "main")
    sh(alice.root, "merge", "-q", "--squash", "coupons")
    commit(alice.root, "Add coupons and labels (#12)", "2025-03-06T09:00:00+00:00", author="bob")
    sh(alice.root, "push", "-q", "origin", "main")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    for ws in (alice, bob):
        again = codemem(ws, "digest")
        assert again.returncode == 0, again.stderr
        assert "Commits: nothing new" in again.stdout, again.stdout
        assert len(list(ws.digests_dir.glob("*.md"))) == 2  # the first pass's and the branch's
        assert sh(ws.root, "status", "--porcelain", "--", ".codemem").stdout == ""


@pytest.mark.parametrize("after_the_last_pass", [False, True])
def test_a_squash_merge_of_a_branch_digested_over_several_passes(team, after_the_last_pass):
    # Each pass on the branch wrote its own digest, so no one digest's range is the squash's
    # patch: the squash was described again. With a commit made on the branch after its last
    # pass, the squash holds a change no digest describes: it is digested. (The branch was
    # pushed and fetched, as for a pull request: a clone without its commits cannot tell.)
    remote, alice, bob = team
    sh(alice.root, "switch", "-q", "-c", "shop")
    for hour, (path, text) in enumerate(
        (("shop/coupons.py", COUPONS), ("shop/labels.py", LABELS), ("shop/gifts.py", GIFTS))
    ):
        commit(alice.root, f"Add {path}", f"2025-03-05T1{hour}:00:00+00:00", {path: text})
        assert codemem(alice, "digest").returncode == 0
        commit_memory(alice, "alice", f"2025-03-05T1{hour}:30:00+00:00")
    if after_the_last_pass:
        commit(alice.root, "Add a notes file", "2025-03-05T14:00:00+00:00", {"NOTES.md": "n\n"})
    sh(alice.root, "push", "-q", "origin", "shop")
    sh(alice.root, "switch", "-q", "main")
    sh(alice.root, "merge", "-q", "--squash", "shop")
    commit(alice.root, "The shop (#14)", "2025-03-06T09:00:00+00:00", author="bob")
    sh(alice.root, "push", "-q", "origin", "main")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    sh(bob.root, "fetch", "-q", "origin", "shop")
    for ws in (alice, bob):
        again = codemem(ws, "digest")
        assert again.returncode == 0, again.stderr
        said = "Commits: 1 digested" if after_the_last_pass else "Commits: nothing new"
        assert said in again.stdout, again.stdout
        assert ("`The shop (#14)`" in digested_subjects(ws)) == after_the_last_pass


def test_a_digested_change_reapplied_by_reverting_its_revert_is_digested(team):
    # The same patch again, by the same author, but dated anew: a change of its own.
    remote, alice, _bob = team
    commit(alice.root, "Add coupons", "2025-03-05T11:00:00+00:00", {"shop/coupons.py": COUPONS})
    assert codemem(alice, "digest").returncode == 0
    commit_memory(alice, "alice", "2025-03-05T12:00:00+00:00")
    for day in (6, 7):
        env = {**os.environ, "GIT_AUTHOR_DATE": f"2025-03-0{day}T10:00:00+00:00"}
        subprocess.run(
            ["git", "revert", "--no-edit", "HEAD~1" if day == 6 else "HEAD"],
            cwd=alice.root,
            env=env,
            check=True,
            capture_output=True,
        )
    again = codemem(alice, "digest")
    assert again.returncode == 0, again.stderr
    assert "Commits: 2 digested" in again.stdout, again.stdout


@pytest.mark.parametrize("undo", ["revert", "discard"])
def test_a_digest_reverted_or_discarded_is_written_again_as_every_clone_writes_it(team, undo):
    # What is digested is what the digests say, on every clone: the clone whose pass wrote a
    # digest that was then thrown away (`git revert` of its commit, `git checkout` and `git
    # clean` of its output) digests those commits again, as a teammate's clone does.
    remote, alice, bob = team
    commit(alice.root, "Add coupons", "2025-03-05T11:00:00+00:00", {"shop/coupons.py": COUPONS})
    first = codemem(alice, "digest")
    assert first.returncode == 0, first.stderr
    (written,) = alice.digests_dir.glob("2025-03-05-*.md")
    kept = written.read_bytes()
    if undo == "revert":
        commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
        sh(alice.root, "revert", "--no-edit", "HEAD")
    else:
        sh(alice.root, "checkout", "-q", "--", ".codemem")
        sh(alice.root, "clean", "-fdq", "--", ".codemem")
    assert not written.exists()
    again = codemem(alice, "digest")
    assert again.returncode == 0, again.stderr
    assert written.read_bytes() == kept, again.stdout
    sh(alice.root, "push", "-q", "origin", "main")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    assert digest(bob, cfg()).digest_path == written.relative_to(alice.root).as_posix()
    assert (bob.root / written.relative_to(alice.root)).read_bytes() == kept


# -- two clones digesting overlapping ranges -----------------------------------------------------


# every commit's subject once, in the digests of `overlapping_digests` once a pass settled them
SETTLED = [
    "`Add VAT to cart totals`",
    "`Add coupons`",
    "`Add gifts`",
    "`Add labels`",
    "`Add the shop package`",
    "`Document the CLI`",
    "`Remove the legacy discount`",
]


def overlapping_digests(team) -> tuple[Workspace, Workspace]:
    """Alice digests X..Y and pushes it; bob, who had pulled X..Y and committed Z on top, digests
    X..Z before he pulls her digest, then pulls with `--rebase` and pushes: both digests land."""
    remote, alice, bob = team
    for ws in (alice, bob):
        assert codemem(ws, "memory", "list").returncode == 0  # the first command sets the driver
    commit(alice.root, "Add coupons", "2025-03-05T10:00:00+00:00", {"shop/coupons.py": COUPONS})
    commit(alice.root, "Add labels", "2025-03-05T11:00:00+00:00", {"shop/labels.py": LABELS})
    sh(alice.root, "push", "-q", "origin", "main")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    commit(bob.root, "Add gifts", "2025-03-05T12:00:00+00:00", {"shop/gifts.py": GIFTS}, "bob")
    assert [c.commit.subject for c in digest(alice, cfg()).commits] == ["Add coupons", "Add labels"]
    commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
    sh(alice.root, "push", "-q", "origin", "main")
    theirs = [c.commit.subject for c in digest(bob, cfg()).commits]
    assert theirs == ["Add coupons", "Add labels", "Add gifts"]
    commit_memory(bob, "bob", "2025-03-05T14:00:00+00:00")
    rebased = sh(bob.root, "pull", "-q", "--rebase", "origin", "main", check=False)
    assert rebased.returncode == 0, rebased.stdout + rebased.stderr
    sh(bob.root, "push", "-q", "origin", "main")
    assert sorted(digested_subjects(bob)).count("`Add coupons`") == 2  # before the next pass
    return alice, bob


def test_a_digest_overlapping_an_earlier_one_describes_only_its_new_commits(team):
    alice, bob = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    ours, theirs = digest(alice, cfg()), digest(bob, cfg())  # both clones settle it alike
    for result in (ours, theirs):
        assert [c.commit.subject for c in result.commits] == ["Add gifts"]
        assert [c.kind for c in result.changes if c.kind.startswith("digest")] == [
            "digest",
            "digest-removed",
        ]
    assert ours.digest_path == theirs.digest_path
    assert ours.digest_text == theirs.digest_text
    assert ours.changes[1].target == theirs.changes[1].target
    for ws in (alice, bob):
        assert sorted(digested_subjects(ws)) == SETTLED
    commit_memory(bob, "bob", "2025-03-05T15:00:00+00:00")
    sh(bob.root, "push", "-q", "origin", "main")
    commit_memory(alice, "alice", "2025-03-05T15:30:00+00:00")
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    assert markers(alice) == {}
    assert sh(alice.root, "status", "--porcelain").stdout == ""
    assert sorted(digested_subjects(alice)) == sorted(digested_subjects(bob))
    for ws in (alice, bob):  # settled: nothing left for the next pass of either
        again = digest(ws, cfg())
        assert (again.commits, again.digest_path, again.changes) == ([], None, [])


def test_an_overlapping_digest_stays_when_a_later_digest_covers_its_commits(team):
    # Bob digested again on top of his overlapping digest before he pulled: the commit only his
    # overlapping digest describes is under that later digest's head, so no pass would read it
    # again. Removing his digest would lose it: both stay, as before.
    remote, alice, bob = team
    for ws in (alice, bob):
        assert codemem(ws, "memory", "list").returncode == 0
    commit(alice.root, "Add coupons", "2025-03-05T10:00:00+00:00", {"shop/coupons.py": COUPONS})
    sh(alice.root, "push", "-q", "origin", "main")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    commit(bob.root, "Add gifts", "2025-03-05T12:00:00+00:00", {"shop/gifts.py": GIFTS}, "bob")
    digest(alice, cfg())
    commit_memory(alice, "alice", "2025-03-05T13:00:00+00:00")
    sh(alice.root, "push", "-q", "origin", "main")
    digest(bob, cfg())
    commit_memory(bob, "bob", "2025-03-05T14:00:00+00:00")
    commit(bob.root, "Add labels", "2025-03-06T10:00:00+00:00", {"shop/labels.py": LABELS}, "bob")
    digest(bob, cfg())
    commit_memory(bob, "bob", "2025-03-06T11:00:00+00:00")
    assert sh(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    before = snapshot(bob)
    again = digest(bob, cfg())
    assert [c.kind for c in again.changes if c.kind.startswith("digest")] == []
    assert digested_subjects(bob).count("`Add gifts`") == 1
    assert digested_subjects(bob).count("`Add coupons`") == 2
    assert {p for p in snapshot(bob) if p.startswith("digests/")} == {
        p for p in before if p.startswith("digests/")
    }
