"""A `codemem index` interrupted or killed at any moment leaves a usable, honest index.

Each test starts a real `codemem index` subprocess in its own process group, stops it at a
named point (CODEMEM_TEST_STALL_AT: after a committed batch, before the full-text phase),
signals it there, and then checks the index, the search, the lock and that no worker
process of the group is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import codemem.code.index_swap as index_swap
import codemem.code.indexer as indexer
from codemem.code import CodeIndex
from codemem.code.indexer import refresh_index
from codemem.code.manifest import Manifest
from codemem.config import load_config
from codemem.errors import LockTimeout, UsageError
from codemem.workspace import Workspace
from tests.helpers import git

FILES = 60  # more than workers.PARALLEL_MIN_FILES: the run forks parser workers
WAIT = 60.0  # generous bound on waiting for a subprocess to reach a point (never asserted)


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def bounded_lock_wait(monkeypatch):
    """A broken lock fails the test instead of hanging it; no stalled run outlives its test."""
    monkeypatch.setattr(indexer, "LOCK_TIMEOUT", 30.0)
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def index(root: Path, full: bool = False):
    ws = Workspace(root)
    return refresh_index(ws, load_config(ws.config_file), full=full)


def file_hits(root: Path, query: str) -> list[str]:
    ws = Workspace(root)
    return [
        hit.path
        for hit in CodeIndex(ws, load_config(ws.config_file)).search(query, k=3, level="file")
    ]


def add_modules(repo: Path, count: int = FILES) -> None:
    for n in range(count):
        (repo / "pkg").mkdir(exist_ok=True)
        (repo / "pkg" / f"mod{n}.py").write_text(
            f"def func_{n}(x):\n    return x + {n}\n\n\nclass Thing{n}:\n    size = {n}\n"
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "modules")


def _default_sigint() -> None:
    # A suite started as a background job inherits SIGINT ignored; the child must not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_index(
    repo: Path, tmp_path: Path, stall_at: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`codemem index ARGS` in its own process group, stopped at `stall_at`."""
    stall_file = tmp_path / f"stalled-{time.monotonic_ns()}"
    env = {
        **os.environ,
        **(env or {}),
        "CODEMEM_INDEX__WORKERS": "2",
        "CODEMEM_INDEX__BATCH_FILES": "10",
        "CODEMEM_TEST_STALL_AT": stall_at,
        "CODEMEM_TEST_STALL_FILE": str(stall_file),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), "index", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )
    STARTED.append(proc)
    deadline = time.monotonic() + WAIT
    while not stall_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"`codemem index` never reached {stall_at!r}: {out}{err}")
        time.sleep(0.05)
    assert int(stall_file.read_text()) == proc.pid
    return proc


def live_group(pgid: int) -> set[int]:
    """Processes of group `pgid` that are not zombies."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.add(int(entry.name))
    return members


def wait_group_gone(pgid: int) -> set[int]:
    deadline = time.monotonic() + WAIT
    while (left := live_group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def stop(
    proc: subprocess.Popen,
    sig: signal.Signals,
    workers: int = 2,
    then: signal.Signals | None = None,
) -> tuple[int, str]:
    """Signal the run's process group, as a terminal's Ctrl-C or hang-up does (with `workers`
    parser processes alive), `then` a second signal; wait until the group is gone.

    Workers that finished their share exit without being waited for (`workers._stop`): on a
    loaded machine a few may still be on their way out when the run reaches its stall."""
    deadline = time.monotonic() + WAIT
    while len(live_group(proc.pid) - {proc.pid}) > workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live_group(proc.pid) - {proc.pid}) == workers
    os.killpg(proc.pid, sig)
    if then is not None:
        time.sleep(0.2)  # (the first is being handled; the second may come at any moment)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, then)
    _, err = proc.communicate(timeout=WAIT)
    assert wait_group_gone(proc.pid) == set(), "parser workers outlived the indexer"
    return proc.returncode, err


@pytest.fixture
def indexed_repo(repo_factory):
    """A repository with an index, and one file changed since."""
    repo = repo_factory("shop")
    add_modules(repo)
    index(repo)
    target = repo / "pkg" / "mod3.py"
    target.write_text(target.read_text() + "\n\ndef zebra_marker():\n    return 3\n")
    return repo


EXPECTED_EXIT = {
    signal.SIGINT: (130, "codemem: interrupted\n"),
    # Unwound as Ctrl-C is (workers killed, the lock let go), said in one line.
    signal.SIGTERM: (143, "codemem: terminated (SIGTERM)\n"),
    signal.SIGHUP: (129, "codemem: terminated (SIGHUP)\n"),
    signal.SIGKILL: (-signal.SIGKILL, ""),
}


@pytest.mark.parametrize(
    "sig,point",
    [
        (signal.SIGINT, "batch"),
        (signal.SIGTERM, "batch"),
        (signal.SIGHUP, "batch"),
        (signal.SIGKILL, "batch"),
        (signal.SIGKILL, "full_text"),
    ],
    ids=["sigint-batch", "sigterm-batch", "sighup-batch", "sigkill-batch", "sigkill-fts"],
)
def test_interrupted_full_rebuild_keeps_the_old_index(indexed_repo, tmp_path, sig, point):
    repo = indexed_repo
    index_dir = Workspace(repo).index_dir
    before = Manifest.load(index_dir)
    proc = start_index(repo, tmp_path, point, "--full")
    # A reader during the rebuild sees the complete old index.
    assert file_hits(repo, "func_7 Thing7")[0] == "pkg/mod7.py"
    code, err = stop(proc, sig, workers=2 if point == "batch" else 0)  # parsing is over at FTS
    assert (code, err) == EXPECTED_EXIT[sig]
    assert Manifest.load(index_dir) == before
    assert file_hits(repo, "func_7 Thing7")[0] == "pkg/mod7.py"
    summary = index(repo)  # the lock is free; the old index needs only the one change
    assert (summary.full, summary.added, summary.changed, summary.removed) == (False, 0, 1, 0)
    assert file_hits(repo, "zebra_marker")[0] == "pkg/mod3.py"
    assert not index_dir.with_name("index.next").exists()


def test_ctrl_c_exits_130_even_when_the_work_does_not_stop(indexed_repo, tmp_path):
    proc = start_index(
        indexed_repo, tmp_path, "batch", "--full", env={"CODEMEM_TEST_STALL_DEAF": "1"}
    )
    assert stop(proc, signal.SIGINT) == (130, "codemem: interrupted\n")
    assert index(indexed_repo).changed == 1


@pytest.mark.parametrize(
    "first,second",
    [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGINT)],
    ids=["ctrl-c-twice", "sigterm-then-ctrl-c"],
)
def test_a_second_signal_while_stopping_ends_the_run_at_once_in_one_line(
    indexed_repo, tmp_path, first, second
):
    """The run does not stop at the first signal (as inside a long LanceDB call); the second
    ends it, with the first one's line only: no BrokenPipeError from the signal's wakeup
    pipe, no traceback, no worker left."""
    proc = start_index(
        indexed_repo, tmp_path, "batch", "--full", env={"CODEMEM_TEST_STALL_DEAF": "1"}
    )
    assert stop(proc, first, then=second) == EXPECTED_EXIT[first]
    assert index(indexed_repo).changed == 1


def test_a_ctrl_c_while_the_store_opens_stops_the_parser_workers(indexed_repo, monkeypatch):
    """Stopped after the workers are forked and before the first result is read: none is
    left behind (idle, with the pool's thread, which a process's exit then waits for)."""
    import multiprocessing

    from codemem.code import batch_writer

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setenv("CODEMEM_INDEX__WORKERS", "2")
    monkeypatch.setattr(batch_writer.BatchWriter, "open", interrupted)
    with pytest.raises(KeyboardInterrupt):
        index(indexed_repo, full=True)
    assert multiprocessing.active_children() == []


def test_killed_first_build_leaves_no_index_and_the_next_run_builds_it(repo_factory, tmp_path):
    repo = repo_factory("shop")
    add_modules(repo)
    proc = start_index(repo, tmp_path, "batch")
    with pytest.raises(UsageError, match="no index yet"):  # nothing claimed before it is complete
        file_hits(repo, "func_7")
    stop(proc, signal.SIGKILL)
    assert Manifest.load(Workspace(repo).index_dir) is None
    summary = index(repo)
    assert summary.full and summary.files == FILES + 12
    assert file_hits(repo, "func_7 Thing7")[0] == "pkg/mod7.py"


def test_killed_in_the_finish_phase_the_next_run_finishes_the_index(
    repo_factory, tmp_path, monkeypatch
):
    repo = repo_factory()  # an empty commit
    index(repo)  # an index of no files
    add_modules(repo)
    proc = start_index(repo, tmp_path, "full_text")
    stop(proc, signal.SIGKILL, workers=0)
    manifest = Manifest.load(Workspace(repo).index_dir)
    assert (len(manifest.files), manifest.full_text) == (FILES, False)
    summary = index(repo)
    assert not summary.up_to_date and summary.files == FILES
    assert Manifest.load(Workspace(repo).index_dir).full_text
    for stage in ("SYMBOLS", "PATHS", "GRAPH_PRIOR"):  # only BM25 can find it now
        monkeypatch.setenv(f"CODEMEM_SEARCH__{stage}", "false")
    assert file_hits(repo, "func_41")[0] == "pkg/mod41.py"
    assert index(repo).up_to_date


def test_a_held_lock_times_out_naming_its_holder(indexed_repo, tmp_path, monkeypatch):
    proc = start_index(indexed_repo, tmp_path, "batch", "--full")
    monkeypatch.setattr(indexer, "LOCK_TIMEOUT", 0.3)
    with pytest.raises(LockTimeout) as caught:
        index(indexed_repo)
    lock = Workspace(indexed_repo).local_dir / indexer.LOCK_NAME
    assert str(caught.value).startswith(f"{lock} is held by pid {proc.pid} (")
    assert "index --full)" in str(caught.value)
    assert str(caught.value).endswith("; gave up after 0.3 s")
    stop(proc, signal.SIGKILL)
    monkeypatch.setattr(indexer, "LOCK_TIMEOUT", 30.0)
    assert index(indexed_repo).changed == 1


def test_a_search_during_a_rebuild_answers_from_the_last_complete_index_and_says_so(
    indexed_repo, tmp_path
):
    proc = start_index(indexed_repo, tmp_path, "batch", "--full")  # the new index half written
    result = subprocess.run(
        [sys.executable, "-m", "codemem", "--repo", str(indexed_repo), "-v", "search"]
        + ["--json", "--level", "file", "func_7 Thing7"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["path"] == "pkg/mod7.py"  # neither blocked nor half
    # Before: nothing said the rebuild was under way.
    said = [line for line in result.stderr.splitlines() if "rebuilding" in line]
    assert len(said) == 1 and said[0].startswith(f"codemem: INFO: search: pid {proc.pid} (")
    assert said[0].endswith(
        " index --full) is rebuilding the index; answered from the last complete one"
    )
    stop(proc, signal.SIGKILL)


def test_rebuild_without_an_atomic_exchange_and_a_swap_stopped_halfway(indexed_repo, monkeypatch):
    index_dir = Workspace(indexed_repo).index_dir
    monkeypatch.setattr(index_swap, "_exchange", lambda a, b: False)  # a file system without it
    summary = index(indexed_repo, full=True)
    assert (summary.full, summary.added) == (True, FILES + 12)
    assert sorted(p.name for p in index_dir.parent.glob("index*")) == ["index", "index.lock"]
    # Stopped between the fallback's two renames: the next run puts the old index back.
    before = Manifest.load(index_dir)
    index_dir.rename(index_dir.with_name("index.old"))
    assert index(indexed_repo).up_to_date
    assert Manifest.load(index_dir) == before
    assert file_hits(indexed_repo, "zebra_marker")[0] == "pkg/mod3.py"


def test_a_ctrl_c_while_the_store_opens_is_held_then_delivered():
    import os
    import signal
    import threading
    import time
    from concurrent.futures import Future

    from codemem.code.batch_writer import HeldInterrupt

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set in the main thread only")
    # A suite started in the background inherits SIGINT ignored, and a held Ctrl-C then
    # rightly stays ignored: the usual handler is the one a held Ctrl-C must reach.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    opened: Future[int] = Future()
    held = HeldInterrupt(opened)
    try:
        os.kill(os.getpid(), signal.SIGINT)  # noted, not raised: another thread may be importing
        time.sleep(0.05)
        assert held.pending
        with pytest.raises(KeyboardInterrupt):
            threading.Thread(target=opened.set_result, args=(1,)).start()
            time.sleep(10)  # the opener signals the main thread again once it is done
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        held.restore()
        signal.signal(signal.SIGINT, before)


def test_a_run_that_fails_before_it_writes_gives_ctrl_c_back(indexed_repo, monkeypatch):
    """An index run in a long-lived process (watch, chat) that fails while the store is still
    opening puts the Ctrl-C handler back, and a Ctrl-C noted meanwhile is not delivered later."""
    import threading

    from codemem.code import batch_writer

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set in the main thread only")
    opening = threading.Event()
    open_store = batch_writer._open_store

    def slow_open(*args, **kwargs):
        opening.wait(10)
        return open_store(*args, **kwargs)

    def fail(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # noted by the held handler, not raised
        time.sleep(0.05)
        raise OSError("disk gone")

    monkeypatch.setattr(batch_writer, "_open_store", slow_open)
    monkeypatch.setattr(indexer, "_write", fail)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(OSError, match="disk gone"):
        index(indexed_repo)
    assert signal.getsignal(signal.SIGINT) is before
    opening.set()  # the store opens now: the Ctrl-C noted earlier is not delivered
    time.sleep(0.5)


def test_a_store_that_fails_to_open_gives_ctrl_c_back(indexed_repo, monkeypatch):
    """A run whose store cannot be opened, or whose writer cannot be set up (its tag store
    unreadable), fails with that error and leaves the Ctrl-C handler as it found it."""
    import threading

    from codemem.code import batch_writer, tags

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set in the main thread only")

    def broken(*_args, **_kwargs):
        raise OSError("store unreadable")

    before = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as patch:
        patch.setattr(batch_writer, "_open_store", broken)
        with pytest.raises(OSError, match="store unreadable"):
            index(indexed_repo)
    assert signal.getsignal(signal.SIGINT) is before
    monkeypatch.setattr(tags.TagStore, "load", broken)
    with pytest.raises(OSError, match="store unreadable"):
        index(indexed_repo)
    assert signal.getsignal(signal.SIGINT) is before
