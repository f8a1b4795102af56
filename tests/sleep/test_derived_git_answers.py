"""What the digest derives from git and keeps in `.codemem/local/patch-ids.json`: a pass with
nothing new asks git none of it again (the squash rule's merge bases, the text the commit
that added an older digest holds), and a damaged file is made again, not trusted.

Real git repositories; the git processes are counted where codemem starts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sleep_helpers import commit, digest
from test_team_memory import (  # noqa: F401 (team: a fixture)
    COUPONS,
    GIFTS,
    LABELS,
    cfg,
    commit_memory,
    overlapping_digests,
    sh,
    team,
)

from codemem.sleep.overlaps import as_codemem_wrote
from codemem.sleep.patch_ids import FILE_NAME, PatchIds
from codemem.sleep.squashes import squashed_keys
from codemem.workspace import Workspace
from tests.helpers import commands_run, git, make_repo


@pytest.fixture
def counted(monkeypatch) -> list[list[str]]:
    """Every git command codemem runs, as its arguments after the guard's options."""
    return commands_run(monkeypatch)


def _asked(calls: list[list[str]], word: str) -> int:
    """How many git commands held the argument `word`."""
    return sum(1 for call in calls if word in call)


def _workspace(repo: Path) -> Workspace:
    ws = Workspace(repo)
    ws.ensure_local()
    return ws


def _branches(tmp_path: Path) -> tuple[Path, list[str], str]:
    """A repository whose main moved on past three branches of two commits each: the
    branches' tips (digested heads main does not hold) and main's HEAD."""
    repo = make_repo(tmp_path / "r")
    commit(repo, "Start", "2025-03-05T09:00:00+00:00", {"a.py": "a = 1\n"})
    tips = []
    for n in range(3):
        git(repo, "switch", "-qc", f"b{n}", "main")
        for step in range(2):
            commit(
                repo, f"b{n}.{step}", f"2025-03-05T1{n}:{step}0:00+00:00", {f"b{n}.py": f"{step}\n"}
            )
        tips.append(git(repo, "rev-parse", "HEAD").stdout.strip())
    git(repo, "switch", "-q", "main")
    commit(repo, "Main moves on", "2025-03-06T09:00:00+00:00", {"a.py": "a = 2\n"})
    return repo, tips, git(repo, "rev-parse", "HEAD").stdout.strip()


def test_a_pass_with_nothing_new_asks_git_no_merge_base(tmp_path, counted):
    # was: one `git merge-base` per digested head on every pass, HEAD unmoved
    repo, tips, head = _branches(tmp_path)
    ws = _workspace(repo)
    first = squashed_keys(tips, head, PatchIds(repo, ws))
    assert len(first) == 3 and _asked(counted, "merge-base") == 3
    counted.clear()
    assert squashed_keys(tips, head, PatchIds(repo, ws)) == first  # the next pass
    assert counted == []

    # A damaged file is made again: the same answers, asked of git once more.
    (ws.local_dir / FILE_NAME).write_text('{"version": 1, "sha256": "0", "ids": []}')
    assert squashed_keys(tips, head, PatchIds(repo, ws)) == first
    assert _asked(counted, "merge-base") == 3
    counted.clear()
    assert squashed_keys(tips, head, PatchIds(repo, ws)) == first
    assert counted == []

    # HEAD moved: the merge bases are asked again (a new HEAD, a new question).
    commit(repo, "Later", "2025-03-07T09:00:00+00:00", {"a.py": "a = 3\n"})
    later = git(repo, "rev-parse", "HEAD").stdout.strip()
    counted.clear()
    assert squashed_keys(tips, later, PatchIds(repo, ws)) == first
    assert _asked(counted, "merge-base") == 3


def test_an_older_digests_text_is_asked_of_git_once_per_head(tmp_path, counted):
    # was: `git log --diff-filter=A` and `git cat-file` for each older overlapping digest,
    # every pass
    repo = make_repo(tmp_path / "r")
    ws = _workspace(repo)
    relative = ".codemem/digests/2025-03-05-aaaaaaa-bbbbbbb.md"
    older = "---\ndate: 2025-03-05\nhead: bbbbbbb\nkeys:\n- 0123456789abcdef\n---\n# Digest\n"
    (repo / relative).parent.mkdir(parents=True, exist_ok=True)
    (repo / relative).write_text(older)
    commit(repo, "Add codemem memory", "2025-03-05T10:00:00+00:00")
    edited = (older + "\nBob: the gift cards need a review.\n").encode()
    for data, wrote in ((older.encode(), True), (edited, False)):
        counted.clear()
        assert as_codemem_wrote(repo, relative, data, PatchIds(repo, ws)) is wrote
        assert as_codemem_wrote(repo, relative, data, PatchIds(repo, ws)) is wrote  # next pass
        assert (
            as_codemem_wrote(repo, relative, data.replace(b"\n", b"\r\n"), PatchIds(repo, ws))
            is wrote
        )
        asked = _asked(counted, "log") + _asked(counted, "cat-file")
        assert asked == (2 if data == older.encode() else 0), counted  # once, for the first

    # A commit that adds the file anew (removed, then added back edited) is a new answer.
    (repo / relative).unlink()
    commit(repo, "Drop it", "2025-03-05T11:00:00+00:00")
    (repo / relative).write_bytes(edited)
    commit(repo, "Bob writes it anew", "2025-03-05T12:00:00+00:00")
    assert as_codemem_wrote(repo, relative, edited, PatchIds(repo, ws)) is True


def test_a_pass_at_an_unmoved_head_after_a_squash_merge_asks_git_no_merge_base(
    team,  # noqa: F811
    counted,
):
    # was: one `git merge-base` per digested head of the squashed branch, on every pass
    _remote, alice, _bob = team
    sh(alice.root, "switch", "-q", "-c", "shop")
    for hour, (path, text) in enumerate(
        (("shop/coupons.py", COUPONS), ("shop/labels.py", LABELS), ("shop/gifts.py", GIFTS))
    ):
        commit(alice.root, f"Add {path}", f"2025-03-05T1{hour}:00:00+00:00", {path: text})
        digest(alice, cfg())
        commit_memory(alice, "alice", f"2025-03-05T1{hour}:30:00+00:00")
    sh(alice.root, "switch", "-q", "main")
    sh(alice.root, "merge", "-q", "--squash", "shop")
    commit(alice.root, "The shop (#14)", "2025-03-06T09:00:00+00:00", author="bob")
    counted.clear()
    assert digest(alice, cfg()).commits == []  # the squash is digested already
    assert _asked(counted, "merge-base") == 3  # one per digested head main does not hold
    counted.clear()
    assert digest(alice, cfg()).commits == []
    assert _asked(counted, "merge-base") == 0


def test_a_pass_at_an_unmoved_head_asks_git_nothing_of_an_older_edited_digest(
    team,  # noqa: F811
    counted,
):
    # was: `git log --diff-filter=A` and `git cat-file` for it on every pass, while the
    # warning naming it repeats (until a person settles it)
    alice, _ = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    (later,) = [p for p in alice.digests_dir.glob("*.md") if "`Add gifts`" in p.read_text()]
    # An older codemem's digest (no checksum) a person then wrote into.
    text = "".join(line for line in later.read_text().splitlines(True) if "checksum:" not in line)
    later.write_text(text + "\nGift cards ship in spring.\n")
    for asked in (1, 0):
        counted.clear()
        result = digest(alice, cfg())
        assert any("is not as codemem wrote it (edited?)" in w for w in result.warnings)
        assert _asked(counted, "--diff-filter=A") == asked, counted
