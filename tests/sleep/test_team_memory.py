"""Team memory: two clones of one repository and a bare remote, both digesting and syncing.

Everything here is real git: clone, commit, pull (merge), push. What must hold: pulls leave
no conflict markers in `.codemem/` unless two people wrote different text in one place,
`digest` never refuses, and the same commits digested on two machines give the same bytes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sleep_helpers import PEOPLE, commit, config, digest, init, scripted_history, snapshot

from codemem.memory import MemoryStore
from codemem.workspace import Workspace
from tests.helpers import git, make_repo

COUPONS = '"""Coupons."""\n\n\ndef apply_coupon(cents: int) -> int:\n    """Ten off."""\n    return cents - 10\n'
GIFTS = '"""Gift cards."""\n\n\ndef gift_card_value(cents: int) -> int:\n    """What a card is worth."""\n    return cents\n'
LABELS = '"""Labels."""\n\n\ndef label_text(name: str) -> str:\n    """The printed label."""\n    return name.upper()\n'


def cfg():
    return config(min_samples=3)


def clone(remote: Path, path: Path, who: str) -> Workspace:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True)
    name, email = PEOPLE[who]
    for key, value in (("user.name", name), ("user.email", email), ("pull.rebase", "false")):
        git(path, "config", key, value)
    return Workspace(path)


def commit_memory(ws: Workspace, who: str, when: str) -> None:
    """Commit whatever the digest changed in `.codemem/` (nothing: no commit)."""
    if git(ws.root, "status", "--porcelain", "--", ".codemem").stdout.strip():
        commit(ws.root, "Update codemem memory", when, author=who)


def markers(ws: Workspace) -> dict[str, int]:
    """Files under .codemem/ (not local/) holding conflict markers, with how many."""
    out = {}
    for path, data in snapshot(ws).items():
        count = data.decode("utf-8", "replace").count("\n<<<<<<< ") + data.decode("utf-8", "replace").startswith("<<<<<<< ")
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
    return remote, clone(remote, tmp_path / "alice", "alice"), clone(remote, tmp_path / "bob", "bob")


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
    assert git(clones[first].root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    assert markers(clones[first]) == {}
    digest(clones[first], cfg())
    assert git(clones[first].root, "status", "--porcelain", "--", ".codemem").stdout == ""  # nothing to re-learn
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
    assert (alice.root / ours.digest_path).read_bytes() == (bob.root / theirs.digest_path).read_bytes()
    assert snapshot(alice) == snapshot(bob)


def test_a_conflicted_block_never_stops_a_digest(team):
    remote, alice, bob = team
    for ws, who, day, line in ((alice, "alice", 5, "Deploy on Fridays."), (bob, "bob", 6, "Never deploy on Fridays.")):
        store = MemoryStore(ws, user=who)
        value = store.get("project").value
        store.rethink("project", f"{line}\n\n{value}")  # two people, one place
        # and an older version's learned region that differs between the clones
        conventions = store.get("conventions").value
        store.rethink("conventions", conventions.replace("## Learned conventions", f"## Learned conventions ({who})"))
        commit(ws.root, "Notes", f"2025-03-{day:02d}T10:00:00+00:00", author=who)
    git(alice.root, "push", "-q", "origin", "main")
    assert git(bob.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode != 0  # conflicts
    assert set(markers(bob)) == {"blocks/project.md", "blocks/conventions.md"}
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
    commit(ws.root, "Update codemem memory", "2025-03-05T11:00:00+00:00", {".codemem/blocks/notes.md": "x\n"})
    env = {"GIT_AUTHOR_NAME": "dependabot[bot]", "GIT_AUTHOR_EMAIL": "bot@example.com",
           "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@example.com",
           "GIT_AUTHOR_DATE": "2025-03-05T12:00:00+00:00", "GIT_COMMITTER_DATE": "2025-03-05T12:00:00+00:00"}
    (ws.root / "requirements.txt").write_text("requests==2.32.0\n")
    git(ws.root, "add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", "Bump requests from 2.31.0 to 2.32.0",
                    "-m", "Bumps [requests](https://github.com/psf/requests) from 2.31.0 to 2.32.0.\n- [Release notes]"],
                   cwd=ws.root, check=True, env={**os.environ, **env})
    result = digest(ws, cfg())
    assert [item.commit.subject for item in result.commits] == ["Add coupons"]
    assert sorted(reason for _sha, reason in result.skipped) == ["bot", "memory only", "memory only"]  # and the clone's first memory commit
    text = (ws.root / result.digest_path).read_text()
    assert "\nDependency and bot updates (1): Bump requests from 2.31.0 to 2.32.0\n" in text
    assert "Release notes" not in text and "Update codemem memory" not in text
    # The commit of the memory this pass wrote is not new work for the next pass.
    commit_memory(ws, "alice", "2025-03-05T13:00:00+00:00")
    again = digest(ws, cfg())
    assert (again.commits, again.digest_path, again.changes) == ([], None, [])
