"""Memory under concurrency: real processes racing over blocks and being killed mid-write."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.memory import Archive, MemoryStore
from tests.helpers import git

WORKERS = 4
EDITS = 120  # per worker: 480 interleaved edits over two blocks

EDITOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    root, worker, edits = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = MemoryStore(Workspace(root), user="w")
    for i in range(edits):
        label = ("alpha", "beta")[i % 2]
        token = f"<{worker}-{i}>"
        kind = i % 4
        if kind == 0:
            store.append(label, token)
        elif kind == 1:
            store.insert(label, token, 0)
        elif kind == 2:
            store.insert(label, token, -1)
        else:  # add a placeholder, then swap it for the token: a read-modify-write pair
            store.append(label, f"<{worker}-{i}-draft>")
            store.replace(label, f"<{worker}-{i}-draft>", token)
    """
)


def test_concurrent_writers_lose_no_edit(ws):
    store = MemoryStore(ws, user="w")
    for label in ("alpha", "beta"):
        store.create(label, "Contended.", limit=1_000_000)
    workers = [
        subprocess.Popen([sys.executable, "-c", EDITOR, str(ws.root), f"w{n}", str(EDITS)])
        for n in range(WORKERS)
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0] * WORKERS
    values = store.get("alpha").value + "\n" + store.get("beta").value
    tokens = Counter(re.findall(r"<w\d+-\d+(?:-draft)?>", values))
    expected = Counter({f"<w{n}-{i}>": 1 for n in range(WORKERS) for i in range(EDITS)})
    assert tokens == expected
    assert len(tokens) == WORKERS * EDITS


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    store = MemoryStore(Workspace(Path(sys.argv[1])), user="w")
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        store.rethink("big", "AB"[n % 2] * 200_000)
    """
)


def test_a_writer_killed_at_random_leaves_the_old_or_the_new_file(ws):
    store = MemoryStore(ws, user="w")
    store.create("big", "Rewritten constantly.", value="start", limit=300_000)
    allowed = {"start", "A" * 200_000, "B" * 200_000}
    rng = random.Random(7)
    for _ in range(8):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(ws.root)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 0.3))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert store.get("big").value in allowed
        assert store.problems() == []
    # the dead writer's lock is gone with it: the next edit goes through at once
    assert store.rethink("big", "after").value == "after"


CRASH_AT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    store = MemoryStore(Workspace(Path(sys.argv[1])), user="w")
    where = sys.argv[2]

    def crash(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(os, where, crash)
    if where == "replace":  # the rename that puts the file in place, or the swap that does
        import codemem.infra.swaps

        codemem.infra.swaps._exchange = crash
    store.rethink("facts", "new value")
    """
)


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_crash_before_the_rename_leaves_the_old_file(ws, where):
    store = MemoryStore(ws, user="w")
    store.create("facts", "Facts.", value="old value")
    before = (ws.blocks_dir / "facts.md").read_bytes()
    crashed = subprocess.run([sys.executable, "-c", CRASH_AT, str(ws.root), where], check=False)
    assert crashed.returncode == -signal.SIGKILL
    assert (ws.blocks_dir / "facts.md").read_bytes() == before
    assert [block.label for block in store.list()] == ["facts"]  # the stray temp file is ignored
    assert store.rethink("facts", "next").value == "next"


KILLED_BETWEEN_SWAPS = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.swaps as swaps
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    store = MemoryStore(Workspace(Path(sys.argv[1])), user="w")
    path, saved = Path(sys.argv[2]), sys.argv[3]
    real_exchange = swaps._exchange

    def save_then_swap_then_die(one, other):
        path.write_text(saved)  # a person's save lands just before the swap
        real_exchange(one, other)
        os.kill(os.getpid(), signal.SIGKILL)  # and codemem dies before it compares

    swaps._exchange = save_then_swap_then_die
    store.append("facts", "codemem's line")
    """
)


def test_a_kill_between_the_swaps_leaves_no_stray_file_and_the_save_is_kept(ws, caplog):
    """The save a kill left swapped out sat in `.facts.md.<hex>.tmp` beside the block: a file
    `git add -A` would commit, and nothing ever said the block had lost the person's change."""
    store = MemoryStore(ws, user="w")
    store.create("facts", "Facts.", value="Deploy on Tuesdays.")
    path = ws.blocks_dir / "facts.md"
    saved = path.read_text().replace("Tuesdays.", "Tuesdays and Thursdays (Dana).")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "facts")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_SWAPS, str(ws.root), str(path), saved], check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert store.get("facts").value == "Deploy on Tuesdays.\ncodemem's line"  # swapped in
    status = git(ws.root, "status", "--porcelain", "--untracked-files=all").stdout
    assert status == " M .codemem/blocks/facts.md\n"
    assert store.append("facts", "Next.").value == "Deploy on Tuesdays.\ncodemem's line\nNext."
    kept = sorted(p for p in (ws.local_dir / "swapping").iterdir() if p.name != "locks")
    assert [p.read_text() for p in kept] == [saved]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: a save made just before codemem's write of it, which a kill interrupted "
        f"before it could put the save back, is kept in {kept[0]}: compare the two and keep "
        "what you mean"
    ]
    # and `codemem status` names it for as long as it is there: the warning was said once
    kept_line = (
        f".codemem/local/swapping/{kept[0].name}: a save of facts.md that a killed write took "
        "out of place, kept: compare it with facts.md, keep what you mean, then delete it"
    )
    status = CliRunner().invoke(cli, ["--repo", str(ws.root), "status", "--json"])
    assert {"kind": "kept", "message": kept_line} in json.loads(status.stdout)["damage"]
    assert (
        f"  - {kept_line}\n" in CliRunner().invoke(cli, ["--repo", str(ws.root), "status"]).stdout
    )
    kept[0].unlink()
    assert "kept" not in CliRunner().invoke(cli, ["--repo", str(ws.root), "status"]).stdout


KILLED_MID_DELETE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.removals as removals
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    def die(self):  # set aside, compared, and killed before it was removed
        os.kill(os.getpid(), signal.SIGKILL)

    removals.SetAside.remove = die
    MemoryStore(Workspace(Path(sys.argv[1])), user="w").delete(sys.argv[2])
    """
)


@pytest.mark.parametrize("label", ["team", "users/dana", "personal"])
def test_a_block_whose_delete_was_killed_is_back_at_the_next_load(ws, label, isolated_home):
    """The block waited in `.codemem/local/removing/blocks/` for good: gone from memory, and
    a `users/` block under its bare name, so nothing could tell where it came from. The
    personal block, set aside beside itself in the home folder, waited there for good."""
    store = MemoryStore(ws, user="w")
    store.create(label, "Team notes.", "Deploy on Tuesdays.")
    path = store.path_for(label)
    before = path.read_bytes()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_DELETE, str(ws.root), label], check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert not path.exists()
    assert [block.label for block in MemoryStore(ws, user="w").list()] == [label]
    assert path.read_bytes() == before
    assert [p for p in (ws.local_dir / "removing").rglob("*") if p.is_file()] == []
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".removing")] == []
    assert store.delete(label).value == "Deploy on Tuesdays."  # and it can be deleted again
    assert store.list() == []


def test_what_an_older_codemem_set_aside_is_put_back_where_it_was(ws):
    """Older codemems set a block being deleted aside flat in `removing/blocks/` (a `users/`
    block under its bare name: put back as the block `dana`), in `removing/` itself, notes
    and blocks alike, or beside the block, where nothing looked any more."""
    store = MemoryStore(ws, user="w")
    store.create("users/dana", "Dana.", "Tabs, never spaces.")
    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    store.create("plan", "The plan.", "Ship it.")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "blocks")
    removing = ws.local_dir / "removing"
    (removing / "blocks").mkdir(parents=True)
    texts = {}
    for label, aside in (
        ("users/dana", removing / "blocks" / "dana.md.0a1b2c3d.removing"),  # flat
        ("team", removing / "blocks" / "team.md.1b2c3d4e.removing"),  # flat, and where it goes
        ("plan", removing / "plan.md.2c3d4e5f.removing"),  # in removing/ itself
    ):
        path = store.path_for(label)
        texts[label] = path.read_bytes()
        path.rename(aside)
    store.create("users/eve", "Eve.", "Spaces.")
    eve = store.path_for("users/eve")
    texts["users/eve"] = eve.read_bytes()
    eve.rename(eve.with_name(".eve.md.4e5f6071.removing"))  # beside the block, the oldest way
    note = removing / "20260101-000000-0123abcd.md.3d4e5f60.removing"
    note.write_text("---\nid: 20260101-000000-0123abcd\n---\nA note.\n")
    assert [block.label for block in MemoryStore(ws, user="w").list()] == [
        "plan",
        "team",
        "users/dana",
        "users/eve",
    ]
    assert {label: store.path_for(label).read_bytes() for label in texts} == texts
    assert git(ws.root, "status", "--porcelain").stdout == "?? .codemem/blocks/users/eve.md\n"
    left = sorted(p.relative_to(removing).as_posix() for p in removing.rglob("*") if p.is_file())
    assert left == ["archive/20260101-000000-0123abcd.md.3d4e5f60.removing"]  # the archive's


KILLED_MID_NOTE_DELETE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.removals as removals
    from codemem.memory import Archive
    from codemem.workspace import Workspace

    def die(self):  # set aside, compared, and killed before it was removed
        os.kill(os.getpid(), signal.SIGKILL)

    removals.SetAside.remove = die
    Archive(Workspace(Path(sys.argv[1]))).delete(sys.argv[2])
    """
)


def test_a_note_whose_delete_was_killed_is_back_at_the_next_load(ws):
    """It waited in `.codemem/local/removing/archive/` until the next removal of a note, and
    one an older codemem set aside in `removing/` itself until then too: gone from every
    search and `status` meanwhile."""
    archive = Archive(ws)
    note = archive.insert("Deploys go through staging.").note
    before = note.path.read_bytes()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_NOTE_DELETE, str(ws.root), note.id], check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert not note.path.exists()
    older = ws.local_dir / "removing" / "20260101-000000-0123abcd.md.3d4e5f60.removing"
    older.write_text("---\nid: 20260101-000000-0123abcd\n---\nA note.\n")
    assert sorted(n.id for n in Archive(ws).notes()) == ["20260101-000000-0123abcd", note.id]
    assert note.path.read_bytes() == before
    assert [p for p in (ws.local_dir / "removing").rglob("*") if p.is_file()] == []


def test_an_uncommitted_users_block_an_older_codemem_set_aside_flat_comes_back_in_users(ws):
    """HEAD has no block of its name, so nothing placed it: it came back as the block `dana`
    beside `project`, in every teammate's context once committed, and no longer Dana's. Its
    `owner:` says whose block it is, and its name is one a block of theirs is given."""
    flat = ws.local_dir / "removing" / "blocks"
    flat.mkdir(parents=True)
    text = "---\ndescription: Dana.\nowner: dana@example.com\n---\nTabs, never spaces.\n"
    (flat / "dana.md.0a1b2c3d.removing").write_text(text)
    other = "---\ndescription: Team.\nowner: dana@example.com\n---\nDeploy on Tuesdays.\n"
    (flat / "team.md.1b2c3d4e.removing").write_text(other)  # hers, renamed: not a user's name
    store = MemoryStore(ws, user="w")
    assert [block.label for block in store.list()] == ["team", "users/dana"]
    assert (ws.blocks_dir / "users" / "dana.md").read_text() == text


def test_a_write_leaves_no_lock_file_behind(ws):
    """Every file written by compare-and-swap left its lock in `swapping/locks/` for good: one
    per block, note and source file the agent ever wrote."""
    store = MemoryStore(ws, user="w")
    for n in range(3):
        store.create(f"b{n}", "A block.", "Text.")
        store.append(f"b{n}", "More.")
    Archive(ws).insert("A note.")
    assert list((ws.swap_dir / "locks").iterdir()) == []
