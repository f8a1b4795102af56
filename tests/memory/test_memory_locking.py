"""Atomic writes, locks and compare-and-swap, with real processes racing and being killed."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest

from codemem.memory import MemoryStore
from codemem.memory.errors import LockTimeoutError
from codemem.memory.locking import FileLock, atomic_write, update_text

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


def test_atomic_write_replaces_and_keeps_the_mode(tmp_path):
    target = tmp_path / "sub" / "file.md"
    atomic_write(target, "one\n")
    assert target.read_text() == "one\n"
    os.chmod(target, 0o640)
    atomic_write(target, b"two\n")
    assert target.read_text() == "two\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.md"]


def test_update_text_reapplies_the_edit_when_someone_writes_without_the_lock(tmp_path):
    path, lock = tmp_path / "block.md", tmp_path / "locks" / "block.lock"
    path.write_text("base\n")
    seen = []

    def edit(text):
        seen.append(text)
        if len(seen) == 1:
            path.write_text(text + "editor\n")  # a person saves between our read and our rename
        return text + "agent\n"

    assert update_text(path, edit, lock) == ("base\neditor\n", "base\neditor\nagent\n")
    assert path.read_text() == "base\neditor\nagent\n"
    assert seen == ["base\n", "base\neditor\n"]


def test_update_text_writes_nothing_when_nothing_changes(tmp_path):
    path, lock = tmp_path / "block.md", tmp_path / "block.lock"
    path.write_text("same\n")
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert update_text(path, lambda text: text, lock) == ("same\n", "same\n")
    assert path.stat().st_mtime_ns == mtime


def test_file_lock_excludes_other_holders_and_times_out(tmp_path):
    lock = tmp_path / "x.lock"
    with FileLock(lock), pytest.raises(LockTimeoutError, match="still locked after 0.2s"):
        FileLock(lock, timeout=0.2).acquire()
    held = FileLock(lock, timeout=1)
    held.acquire()
    released = []

    def wait_for_it() -> None:
        with FileLock(lock):
            released.append(True)

    thread = threading.Thread(target=wait_for_it)
    thread.start()
    time.sleep(0.1)
    assert released == []
    held.release()
    thread.join(timeout=5)
    assert released == [True]
