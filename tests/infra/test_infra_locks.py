"""The one file lock: exclusion across threads and processes, a bounded wait naming the holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from codemem.errors import LockTimeout
from codemem.infra import FileLock, LockHolder, current_holder, lock_held, locked, read_holder

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from codemem.infra import FileLock

    with FileLock(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(60)
    """
)


@pytest.fixture
def holder_script(tmp_path):
    script = tmp_path / "hold.py"
    script.write_text(HOLDER)
    return script


def _hold(script, lock) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(script), str(lock), "--full"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_second_process_gives_up_naming_the_holder(tmp_path, holder_script):
    lock = tmp_path / "index.lock"
    proc = _hold(holder_script, lock)
    try:
        assert lock_held(lock) is True
        assert read_holder(lock) == LockHolder(proc.pid, f"hold.py {lock} --full")
        with pytest.raises(LockTimeout) as caught:
            FileLock(lock, timeout=0.3).acquire()
        assert (
            str(caught.value)
            == f"{lock} is held by pid {proc.pid} (hold.py {lock} --full); gave up after 0.3 s"
        )
    finally:
        proc.kill()
        proc.wait()


WRITES_LATE = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(0.1)  # the moment between taking the lock and writing itself in
os.ftruncate(fd, 0)
os.pwrite(fd, f"{os.getpid()}\\nlate\\n".encode(), 0)
time.sleep(60)
"""


@pytest.mark.parametrize("before", ["ended", "killed"])
def test_the_holder_named_is_the_one_holding_not_the_one_before(tmp_path, holder_script, before):
    lock = tmp_path / "digest.lock"
    if before == "ended":  # let go as it ended: its record is cleared
        with FileLock(lock):
            pass
        assert lock.read_text() == ""
    else:  # killed while it held the lock: its record stays
        killed = _hold(holder_script, lock)
        killed.kill()
        killed.wait()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITES_LATE, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "held\n"
        assert current_holder(lock) == LockHolder(proc.pid, "late")
        with pytest.raises(LockTimeout) as caught:
            FileLock(lock, timeout=0).acquire()
        assert str(caught.value) == f"{lock} is held by pid {proc.pid} (late); gave up after 0 s"
    finally:
        proc.kill()
        proc.wait()


WRITES_LATER = WRITES_LATE.replace("time.sleep(0.1)", "time.sleep(60)", 1)


def test_a_killed_holders_record_is_not_blamed_for_a_new_holder_slow_to_write_itself(
    tmp_path, holder_script
):
    """Before: a new holder that had not written itself in 0.25 s after a killed one was
    passed over for the killed one's record: "held by pid <killed> (...), which has exited:
    a process it started still holds it", naming a process that held nothing."""
    lock = tmp_path / "digest.lock"
    killed = _hold(holder_script, lock)
    killed.kill()
    killed.wait()
    script = tmp_path / "late.py"
    script.write_text(WRITES_LATER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "held\n"
        assert read_holder(lock).pid == killed.pid  # the record still names the killed one
        command = f"{os.path.basename(sys.executable)} {script} {lock}"
        assert current_holder(lock) == LockHolder(proc.pid, command)
        with pytest.raises(LockTimeout) as caught:
            FileLock(lock, timeout=0).acquire()
        assert (
            str(caught.value) == f"{lock} is held by pid {proc.pid} ({command}); gave up after 0 s"
        )
    finally:
        proc.kill()
        proc.wait()


FORKS_AND_HOLDS = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from codemem.infra import FileLock

    with FileLock(Path(sys.argv[1])):
        child = os.fork()
        if child == 0:  # the child keeps the lock's descriptor
            time.sleep(60)
            os._exit(0)
        print(child, flush=True)
        print("held", flush=True)
        time.sleep(60)
    """
)


def test_a_killed_holders_child_still_holding_the_lock_is_said_to(tmp_path):
    lock = tmp_path / "index.lock"
    script = tmp_path / "forks.py"
    script.write_text(FORKS_AND_HOLDS)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(lock), "--full"], stdout=subprocess.PIPE, text=True
    )
    child = int(proc.stdout.readline())
    try:
        assert proc.stdout.readline() == "held\n"
        proc.kill()
        proc.wait()
        with pytest.raises(LockTimeout) as caught:
            FileLock(lock, timeout=0).acquire()
        assert str(caught.value) == (
            f"{lock} is held by pid {proc.pid} (forks.py {lock} --full), which has exited: "
            "a process it started still holds it; gave up after 0 s"
        )
    finally:
        proc.kill()
        os.kill(child, signal.SIGKILL)
        proc.wait()


def test_a_lock_held_by_a_dead_process_is_taken_at_once(tmp_path, holder_script):
    lock = tmp_path / "index.lock"
    proc = _hold(holder_script, lock)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_holder(lock).pid == proc.pid  # its name is still written there...
    assert lock_held(lock) is False  # ...but the kernel let the lock go with the process
    with FileLock(lock, timeout=0):  # one try, no waiting
        assert read_holder(lock).pid == os.getpid()


def test_file_lock_excludes_other_holders_and_times_out(tmp_path):
    lock = tmp_path / "x.lock"
    with (
        FileLock(lock),
        pytest.raises(LockTimeout, match=r"is held by pid \d+ \(.*\); gave up after 0.2 s$"),
    ):
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


def test_a_lock_file_without_a_holder_still_times_out_clearly(tmp_path):
    lock = tmp_path / "old.lock"
    with FileLock(lock):
        lock.write_text("")  # a holder that wrote nothing (an older codemem)
        with pytest.raises(LockTimeout) as caught:
            FileLock(lock, timeout=0).acquire()
    # The kernel's lock table names it (Linux); before, "held by another process".
    assert (
        str(caught.value)
        == f"{lock} is held by pid {os.getpid()} ({own_command()}); gave up after 0 s"
    )


def own_command() -> str:
    with open("/proc/self/cmdline", "rb") as raw:
        argv = [os.fsdecode(word) for word in raw.read().split(b"\0") if word]
    return " ".join([os.path.basename(argv[0]), *argv[1:]])


def test_locked_takes_several_locks_and_releases_them(tmp_path):
    a, b = tmp_path / "a.lock", tmp_path / "b.lock"
    with locked(b, a, a):
        assert (lock_held(a), lock_held(b)) == (True, True)
    assert (lock_held(a), lock_held(b)) == (False, False)
    assert lock_held(tmp_path / "never.lock") is False


def test_a_lock_file_that_is_a_link_is_never_written_through(tmp_path):
    # `git add -f` commits `.codemem/local/` links and all; a holder truncates its lock file
    # and writes itself into it: through a link, that was any file this user can write.
    from codemem.errors import PathOutsideRepository
    from codemem.infra import SharedLock

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    link = tmp_path / "index.lock"
    link.symlink_to(precious)
    with pytest.raises(PathOutsideRepository, match="index.lock is a symbolic link"):
        FileLock(link, timeout=0).acquire()
    assert precious.read_text() == "keep me\n"
    assert lock_held(link) is False
    dangling = tmp_path / "readers.lock"
    dangling.symlink_to(tmp_path / "made-through-the-link")
    with pytest.raises(PathOutsideRepository, match="readers.lock is a symbolic link"):
        SharedLock(dangling)
    assert not (tmp_path / "made-through-the-link").exists()


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_lock_file_that_is_no_regular_file_is_one_line(tmp_path, kind):
    from codemem.errors import NotARegularFile
    from codemem.infra import SharedLock

    path = tmp_path / "index.lock"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    # before: a FIFO's holder record failed in ftruncate (`[Errno 22] Invalid argument`)
    # a folder's was `[Errno 21] Is a directory`
    with pytest.raises(NotARegularFile, match="index.lock is not a regular file"):
        FileLock(path, timeout=0).acquire()
    with pytest.raises(NotARegularFile, match="index.lock is not a regular file"):
        SharedLock(path)
    assert lock_held(path) is False


def test_a_lock_file_removed_by_its_holder_never_lets_two_holders_in(tmp_path):
    """The classic race of removing an flock file: a waiter opened the old file, and takes its
    lock once the holder lets go, while a newcomer takes the lock of a new file at the same
    name: two holders. A waiter that finds its file no longer at the name opens it again."""
    path = tmp_path / "f.lock"
    first = FileLock(path)
    first.acquire()
    order: list[str] = []
    opened = threading.Event()
    real_open = os.open

    def waiter() -> None:
        with FileLock(path, timeout=10):
            order.append("waiter in")
            time.sleep(0.2)
            order.append("waiter out")

    def noting_open(*args, **kwargs):
        fd = real_open(*args, **kwargs)
        if threading.current_thread().name == "waiter":
            opened.set()
        return fd

    os.open = noting_open
    try:
        thread = threading.Thread(target=waiter, name="waiter")
        thread.start()
        assert opened.wait(10)  # the waiter holds the old file open, waiting for its lock
        first.release(remove=True)
        with FileLock(path, timeout=10):  # the newcomer: a new file at the name
            order.append("newcomer in")
            time.sleep(0.2)
            order.append("newcomer out")
        thread.join(10)
    finally:
        os.open = real_open
    assert order in (
        ["newcomer in", "newcomer out", "waiter in", "waiter out"],
        ["waiter in", "waiter out", "newcomer in", "newcomer out"],
    )


def test_a_lock_file_is_removed_only_by_its_holder(tmp_path):
    path = tmp_path / "f.lock"
    lock = FileLock(path)
    lock.acquire()
    lock.release(remove=True)
    assert not path.exists()
    lock.release(remove=True)  # not held: nothing to remove
    other = FileLock(path)
    other.acquire()
    FileLock(path).release(remove=True)  # never held by this one: the holder's file stays
    assert path.exists() and other.is_current()
    other.release()
