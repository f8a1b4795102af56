"""Two clones' overlapping digests, settled by the next pass (`sleep/overlaps.py`), with what
can go wrong meanwhile: a kill in the middle of the removal, a digest a person wrote into.

Real git clones and a bare remote (`test_team_memory.team`); the kill is a real SIGKILL of a
`codemem digest` held still at a named point (`CODEMEM_TEST_STALL_AT`)."""

from __future__ import annotations

import hashlib
import time

import pytest
from sleep_helpers import commit, digest, snapshot
from test_team_memory import (  # noqa: F401 (team: a fixture)
    SETTLED,
    cfg,
    codemem,
    digested_subjects,
    overlapping_digests,
    sh,
    team,
)

from codemem.sleep.digest_file import as_written
from codemem.sleep.overlaps import as_codemem_wrote
from codemem.workspace import Workspace
from tests.helpers import make_repo, reach, start_held


def later_digest(ws: Workspace) -> str:
    """The name of the digest the next pass removes as an overlap: bob's, which also shows
    his commit."""
    (name,) = [p.name for p in ws.digests_dir.glob("*.md") if "`Add gifts`" in p.read_text()]
    return name


def set_aside(ws: Workspace) -> list[str]:
    folder = ws.local_dir / "removing" / "digests"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def killed_at(ws: Workspace, point: str, tmp_path) -> None:
    """`codemem digest --no-llm` in `ws`, SIGKILLed once it reaches `point`."""
    stall = tmp_path / f"reached-{time.monotonic_ns()}"
    held = start_held(ws.root, point, stall, "digest", "--no-llm")
    try:
        reach(held, point, stall, ("digest",))
    finally:
        held.kill()  # SIGKILL
        held.communicate(timeout=60)


def test_a_kill_while_an_overlapping_digest_is_removed_loses_nothing(team, tmp_path):  # noqa: F811
    # Killed once the later digest is set aside in local/removing/digests/, before the
    # removal ends: git shows it deleted, and nothing put it back or finished its removal.
    # The next pass puts it back and judges it again: removed, its replacement kept.
    alice, _ = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    later = later_digest(alice)
    killed_at(alice, "file-set-aside", tmp_path)
    assert not (alice.digests_dir / later).exists()
    assert [name.split(".md.")[0] + ".md" for name in set_aside(alice)] == [later]
    again = digest(alice, cfg())
    assert set_aside(alice) == []
    removed = [c for c in again.changes if c.kind.startswith("digest")]
    assert [(c.kind, c.target.rsplit("/", 1)[-1]) for c in removed] == [("digest-removed", later)]
    assert sorted(digested_subjects(alice)) == SETTLED
    settled = digest(alice, cfg())
    assert (settled.commits, settled.changes) == ([], [])
    assert sh(alice.root, "status", "--porcelain", "--", ".codemem/digests").stdout.startswith(
        f" D .codemem/digests/{later}\n"
    )


def test_an_overlapping_digest_a_person_wrote_into_is_kept_and_named(team):  # noqa: F811
    alice, _ = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    later = alice.digests_dir / later_digest(alice)
    assert as_written(later.read_bytes()) is True
    note = "\nGift cards ship with the spring release: ask Bob before changing them.\n"
    later.write_text(later.read_text() + note)  # not committed: the work tree's edit counts
    assert as_written(later.read_bytes()) is False
    before = snapshot(alice)
    result = digest(alice, cfg())
    assert later.read_text().endswith(note)
    assert snapshot(alice) == before  # nor is what it alone described digested again
    shown = later.relative_to(alice.root).as_posix()
    assert [w for w in result.warnings if w.startswith(shown)] == [
        f"{shown} is not as codemem wrote it (edited?): kept, though an earlier digest describes "
        "some of its commits too (two clones digested them); said each pass until you settle "
        "it: remove from it the sections the earlier digest shows and their lines under "
        "`keys:`"
    ]
    again = digest(alice, cfg())  # kept on every pass, and said each time
    assert snapshot(alice) == before and again.commits == []
    assert any(w.startswith(shown) for w in again.warnings)


def test_an_older_digest_without_a_checksum_is_judged_by_the_commit_that_added_it(tmp_path):
    # An older codemem wrote no `checksum:`: the text the commit adding the file holds is what
    # it wrote; an edit since, committed or not, is a person's.
    repo = make_repo(tmp_path / "r")
    relative = ".codemem/digests/2025-03-05-aaaaaaa-bbbbbbb.md"
    path = repo / relative
    path.parent.mkdir(parents=True)
    older = "---\ndate: 2025-03-05\nhead: bbbbbbb\nkeys:\n- 0123456789abcdef\n---\n# Digest\n"
    assert as_written(older.encode()) is None
    assert not as_codemem_wrote(repo, relative, older.encode())  # no commit holds it yet
    path.write_text(older)
    commit(repo, "Add codemem memory", "2025-03-05T10:00:00+00:00")
    assert as_codemem_wrote(repo, relative, older.encode())
    assert as_codemem_wrote(repo, relative, older.replace("\n", "\r\n").encode())
    edited = older + "\nBob: the gift cards need a review.\n"
    assert not as_codemem_wrote(repo, relative, edited.encode())
    path.write_text(edited)
    commit(repo, "Bob's note", "2025-03-05T11:00:00+00:00")
    assert not as_codemem_wrote(repo, relative, edited.encode())


def test_a_checksum_tells_a_digest_as_written_from_one_written_into():
    text = "---\ndate: 2025-03-05\nchecksum: <>\nkeys:\n- 0123456789abcdef\n---\n# Digest\n"
    unmarked = text.replace("checksum: <>\n", "")
    mark = hashlib.blake2b(unmarked.encode(), digest_size=16).hexdigest()
    written = text.replace("<>", mark)
    assert as_written(written.encode()) is True
    assert as_written(written.replace("\n", "\r\n").encode()) is True  # git's CRLF checkout
    assert as_written(written.replace("# Digest", "# Digest!").encode()) is False
    assert as_written(written.replace(mark, "0" * 32).encode()) is False
    assert as_written(written.encode() + b"\xff") is False  # no UTF-8 text
    assert as_written(written.replace("---\n# Digest", "# Digest").encode()) is None


def test_a_pass_settling_overlaps_reads_each_digest_once(team, monkeypatch):  # noqa: F811
    # The pass read every digest's frontmatter, then all of them again without the later ones.
    from codemem.sleep import state

    alice, _ = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    files = sorted(p.name for p in alice.digests_dir.glob("*.md"))
    read: list[str] = []
    real = state.digest_record
    monkeypatch.setattr(
        state, "digest_record", lambda ws, path: read.append(path.name) or real(ws, path)
    )
    result = digest(alice, cfg())
    assert [c.kind for c in result.changes if c.kind.startswith("digest")] == [
        "digest",
        "digest-removed",
    ]
    assert sorted(read) == files


@pytest.mark.parametrize("saved_into_it", [False, True])
def test_a_set_aside_digest_whose_name_was_taken_is_settled_never_lost(
    team,  # noqa: F811
    tmp_path,
    saved_into_it,
):
    # was: left in local/removing/digests/ for good once a checkout restored its name
    alice, _ = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    later = later_digest(alice)
    killed_at(alice, "file-set-aside", tmp_path)
    sh(alice.root, "checkout", "--", f".codemem/digests/{later}")  # its name, taken again
    (left,) = set_aside(alice)
    aside = alice.local_dir / "removing" / "digests" / left
    mine = "\nBob: gift cards ship in spring.\n" if saved_into_it else ""
    aside.write_bytes(aside.read_bytes() + mine.encode())
    held = aside.read_bytes()
    digest(alice, cfg())
    if saved_into_it:  # a line no other file holds: kept, where `codemem status` names it
        assert set_aside(alice) == [f"{left}.kept"]
        assert (aside.parent / f"{left}.kept").read_bytes() == held
        status = codemem(alice, "status")
        assert f"{left}.kept" in status.stdout + status.stderr
    else:  # every line of it is in the file now there: nothing is lost removing it
        assert set_aside(alice) == []
    assert sorted(digested_subjects(alice)) == SETTLED


def test_an_edited_overlapping_digest_is_settled_as_its_warning_says(team):  # noqa: F811
    # The warning repeats each pass until a person settles it, as it says: the sections the
    # earlier digest shows removed, with their lines under `keys:`.
    alice, _ = overlapping_digests(team)
    assert sh(alice.root, "pull", "-q", "--no-edit", "origin", "main", check=False).returncode == 0
    later = alice.digests_dir / later_digest(alice)
    (earlier,) = [
        p for p in alice.digests_dir.glob("*.md") if p != later and "`Add labels`" in p.read_text()
    ]
    later.write_text(later.read_text() + "\nGift cards ship with the spring release.\n")
    shown = later.relative_to(alice.root).as_posix()
    for _ in range(2):
        warned = [w for w in digest(alice, cfg()).warnings if w.startswith(shown)]
        assert len(warned) == 1 and "until you settle it" in warned[0]
    kept, skipping = [], False
    for line in later.read_text().splitlines(keepends=True):
        if line.startswith("## "):
            skipping = "`Add coupons`" in line or "`Add labels`" in line
        if not skipping:
            kept.append(line)
    later.write_text("".join(kept))  # the sections alone (the old warning's advice): not yet
    assert [w for w in digest(alice, cfg()).warnings if w.startswith(shown)] == warned
    repeated = {line for line in earlier.read_text().splitlines() if line.startswith("- ")}
    later.write_text("".join(line for line in kept if line.rstrip("\n") not in repeated))
    before = snapshot(alice)
    settled = digest(alice, cfg())
    assert (settled.warnings, settled.commits) == ([], [])
    assert snapshot(alice) == before
    assert later.read_text().endswith("Gift cards ship with the spring release.\n")
    assert sorted(digested_subjects(alice)) == SETTLED
