"""`codemem watch` as a real process: re-index on save, digest when idle, one per repository,
clean stops (even mid-digest), stale pid files, --detach/--stop/--status.

Each test starts the daemon with a short idle time and polls for what it should do (status
file, log, index); timeouts are generous because two cores run the whole suite.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sleep_helpers import commit, digest, init, read_value

from codemem.code import CodeIndex
from codemem.code.manifest import Manifest
from codemem.config import load_config
from codemem.daemon.process import lock_held, read_pid, read_status
from codemem.daemon.query_client import ask_daemon, socket_path
from codemem.memory import MemoryStore
from codemem.sleep.state import read_state
from codemem.workspace import Workspace
from tests.helpers import make_repo

TIMEOUT = 60.0
IDLE = "0.05"  # minutes: 3 seconds


def wait_for(condition, timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def codemem(repo: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codemem", "--repo", str(repo), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Daemon:
    """`codemem watch` in the foreground, as a child of the test."""

    def __init__(self, repo: Path, idle: str = IDLE) -> None:
        self.repo = repo
        self.ws = Workspace(repo)
        self.err = repo.parent / f"watch-{time.monotonic_ns()}.err"
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "codemem", "watch", "--idle", idle],
                cwd=repo,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )

    def wait_ready(self, activity: str = "watching") -> Daemon:
        """Wait until the daemon's status says `activity` (it runs), or it has exited."""
        wait_for(
            lambda: (
                self.status().pid == self.proc.pid
                and self.status().activity == activity
                or self.proc.poll() is not None
            ),
            what=f"the daemon to start {activity}",
        )
        assert self.proc.poll() is None, self.stderr()
        return self

    def status(self):
        return read_status(self.ws)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def log(self) -> str:
        return (self.ws.local_dir / "watch.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(repo: Path, idle: str = IDLE, activity: str = "watching") -> Daemon:
        daemon = Daemon(repo, idle)
        started.append(daemon)
        return daemon.wait_ready(activity)

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture
def shop(tmp_path) -> Path:
    """The pyshop fixture with one commit, memory initialized and already digested."""
    repo = make_repo(tmp_path / "shop", "sleep/pyshop", commit=False)
    commit(
        repo,
        "Add the shop package",
        "2025-03-01T10:00:00+00:00",
        {".gitignore": "*.log\n__pycache__/\nnode_modules/\n"},
    )
    ws = init(repo)
    digest(ws)
    return repo


def searchable(repo: Path, word: str, text: str | None = None) -> bool:
    """Whether searching for `word` finds a chunk containing it (and `text`, if given)."""
    ws = Workspace(repo)
    hits = CodeIndex(ws, load_config(ws.config_file)).search(word, k=3)
    return any(word in hit.text and (text is None or text in hit.text) for hit in hits)


def leftovers(ws: Workspace) -> list[str]:
    """Temp files an interrupted atomic write would leave under .codemem/."""
    return sorted(p.name for p in ws.dir.rglob("*.tmp"))


def test_a_saved_file_becomes_searchable_and_ignored_paths_do_no_work(shop, daemons):
    (shop / "node_modules" / "lib").mkdir(parents=True)  # ignored: not even watched
    daemon = daemons(shop)
    runs = daemon.status().index_runs
    assert runs == 1  # the catch-up refresh at start
    (shop / "notes.log").write_text("zebra_ignored_marker\n")  # *.log: ignored by .gitignore
    (shop / "node_modules" / "lib" / "index.js").write_text("function zebraIgnored() {}\n")
    (shop / ".codemem" / "local" / "scratch.txt").write_text("zebra\n")
    (shop / ".git" / "scratch").write_text("zebra\n")
    time.sleep(1.5)  # longer than the debounce window, so a batch of these alone would have run
    for i in range(5):  # a burst of saves: one refresh
        (shop / "shop" / "zebra.py").write_text(
            f'def zebra_quantum_flux():\n    """Marker {i}."""\n    return {i}\n'
        )
    wait_for(lambda: daemon.status().index_runs == runs + 1, what="one refresh")
    assert daemon.status().last_index["paths"] == ["shop/zebra.py"]
    assert daemon.status().last_index["added"] == 1
    assert searchable(shop, "zebra_quantum_flux", "Marker 4.")
    assert not searchable(shop, "zebra_ignored_marker")
    assert not searchable(shop, "zebraIgnored")
    time.sleep(1.5)  # nothing more may happen
    assert daemon.status().index_runs == runs + 1
    assert daemon.stop() == 0


def test_a_new_or_renamed_top_level_folder_is_indexed_and_then_watched(shop, daemons):
    daemon = daemons(shop)
    (shop / "plugins").mkdir()
    (shop / "plugins" / "tax.py").write_text("def tax_rate_lookup():\n    return 1\n")
    wait_for(lambda: searchable(shop, "tax_rate_lookup"), what="the file in the new folder")
    wait_for(lambda: "plugins" in daemon.status().last_index["paths"], what="the folder's record")
    # Its files are watched now: a change inside is its own batch.
    (shop / "plugins" / "tax.py").write_text("def tax_rate_override():\n    return 2\n")
    wait_for(lambda: daemon.status().last_index["paths"] == ["plugins/tax.py"], what="the change")
    assert searchable(shop, "tax_rate_override")
    # Renamed: changes inside are reported under the new name.
    (shop / "plugins").rename(shop / "addons")
    wait_for(lambda: "addons" in daemon.status().last_index["paths"], what="the rename")
    (shop / "addons" / "tax.py").write_text("def tax_rate_renamed():\n    return 3\n")
    wait_for(lambda: daemon.status().last_index["paths"] == ["addons/tax.py"], what="the edit")
    assert searchable(shop, "tax_rate_renamed")
    assert daemon.stop() == 0


def test_idleness_with_a_new_commit_triggers_one_digest(shop, daemons):
    ws = Workspace(shop)
    before = sorted(p.name for p in ws.digests_dir.iterdir())
    daemon = daemons(shop)
    sha = commit(
        shop,
        "Add gift cards",
        "2025-03-05T10:00:00+00:00",
        {"shop/gift.py": 'def gift_card(amount):\n    """A gift card."""\n    return amount\n'},
    )
    wait_for(lambda: (daemon.status().last_digest or {}).get("head") == sha, what="a digest")
    record = daemon.status().last_digest
    assert record["commits"] == 1 and "error" not in record
    assert read_state(ws).last_commit == sha
    after = sorted(p.name for p in ws.digests_dir.iterdir())
    assert after == sorted([*before, Path(record["digest"]).name])
    assert "Add gift cards" in (shop / record["digest"]).read_text()
    assert (
        "gift" not in read_value(ws, "project").lower()
    )  # no Recent changes list: the digests hold it
    # Nothing new since: the next idle checks write nothing.
    time.sleep(4)
    assert daemon.status().last_digest == record
    assert daemon.stop() == 0


def test_a_running_chat_holds_the_digest_back(shop, daemons):
    from codemem.agent.session import ChatLock

    ws = Workspace(shop)
    with ChatLock(ws):
        daemon = daemons(shop)
        sha = commit(
            shop,
            "Add coupons",
            "2025-03-06T10:00:00+00:00",
            {"shop/coupon.py": "def coupon():\n    return 1\n"},
        )
        wait_for(lambda: "a chat is running; the digest waits" in daemon.log(), what="the wait")
        assert read_state(ws).last_commit != sha
    wait_for(lambda: read_state(ws).last_commit == sha, what="the digest after the chat")
    assert daemon.stop() == 0


def long_history(tmp_path: Path) -> Path:
    """A repository whose first digest takes a while: 120 commits over 40 modules."""
    repo = make_repo(tmp_path / "long", "sleep/pyshop", commit=False)
    commit(repo, "Start", "2025-01-01T00:00:00+00:00")
    for n in range(120):
        mod = f"pkg/mod{n % 40}.py"
        body = "".join(
            f'def func_{n}_{i}(value):\n    """Step {i}."""\n    return value + {i}\n\n'
            for i in range(n % 7 + 1)
        )
        commit(
            repo,
            f"Change {mod} ({n})",
            f"2025-01-02T00:{n // 60:02d}:{n % 60:02d}+00:00",
            {mod: body},
        )
    ws = init(repo)
    ws.config_file.write_text("sleep:\n  initial_commits: 200\n")
    return repo


@pytest.mark.parametrize(
    "sig,count", [(signal.SIGTERM, 1), (signal.SIGINT, 2)], ids=["sigterm", "sigint-twice"]
)
def test_a_signal_in_the_middle_of_a_digest_stops_cleanly(tmp_path, daemons, sig, count):
    repo = long_history(tmp_path)
    ws = Workspace(repo)
    # The digest starts as soon as the catch-up index is done, so the status may never say
    # "watching" before it (and a wait for that would see it only once the digest is over).
    daemon = daemons(repo, activity="digesting")
    for _ in range(count):
        daemon.proc.send_signal(sig)
    assert daemon.proc.wait(timeout=TIMEOUT) == 0, daemon.stderr()
    assert f"{signal.Signals(sig).name} received, stopping" in daemon.log()
    assert not lock_held(ws) and read_pid(ws) is None
    assert read_status(ws).activity == "stopped"
    assert leftovers(ws) == []
    assert not ws.state_file.exists()  # no committed bookkeeping
    local = ws.local_dir / "sleep.json"
    if local.exists():
        json.loads(local.read_text())  # whole, valid JSON
    store = MemoryStore(ws, user="tester")
    for label in ("project", "conventions"):
        store.get(label)  # parses (frontmatter and all)
    # The next pass completes whatever was cut short.
    result = digest(ws)
    assert read_state(ws).last_commit == result.head


def test_a_second_instance_is_refused(shop, daemons):
    daemon = daemons(shop)
    second = codemem(shop, "watch", "--idle", IDLE)
    assert second.returncode == 2
    assert f"codemem watch is already running in {shop} (pid {daemon.proc.pid})" in second.stderr
    assert "watching" not in second.stderr
    detached = codemem(shop, "watch", "--detach")
    assert detached.returncode == 2 and "already running" in detached.stderr
    assert daemon.proc.poll() is None and read_pid(daemon.ws) == daemon.proc.pid
    assert daemon.stop() == 0


def test_a_stale_pid_file_from_a_crash_is_recovered(shop, daemons):
    ws = Workspace(shop)
    crashed = daemons(shop)
    crashed.kill()  # SIGKILL: no cleanup at all
    # Its workers, which share the lock's open file, notice the death and exit soon after.
    wait_for(lambda: not lock_held(ws), what="the crashed daemon's workers to exit")
    assert read_pid(ws) == crashed.proc.pid and not lock_held(ws)
    status = json.loads(codemem(shop, "watch", "--status", "--json").stdout)
    assert status["running"] is False and status["stale_pid"] == crashed.proc.pid
    (ws.local_dir / "watch.pid").write_text(
        f"{os.getpid()}\n"
    )  # a live pid, reused by another process
    daemon = daemons(shop)
    assert read_pid(ws) == daemon.proc.pid
    assert f"did not stop cleanly (pid {os.getpid()})" in daemon.log()
    assert daemon.stop() == 0
    assert read_pid(ws) is None


def test_detach_status_and_stop(shop):
    started = codemem(shop, "watch", "--detach", "--idle", "5", "--json")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    ws = Workspace(shop)
    try:
        assert info["started"] is True and read_pid(ws) == info["pid"] and lock_held(ws)
        status = json.loads(codemem(shop, "watch", "--status", "--json").stdout)
        assert status["running"] is True and status["pid"] == info["pid"]
        assert status["idle_minutes"] == 5 and status["uptime_s"] >= 0
        assert status["log"] == str(ws.local_dir / "watch.log")
        text = codemem(shop, "watch", "--status").stdout.splitlines()
        assert text[0].startswith(f"codemem watch is running (pid {info['pid']}, up ")
        assert text[1].startswith("Last index: ")
        stopped = codemem(shop, "watch", "--stop")
        assert stopped.returncode == 0
        assert stopped.stdout == f"Stopped codemem watch (pid {info['pid']}).\n"
    finally:
        if lock_held(ws):
            os.kill(info["pid"], signal.SIGKILL)
    assert not lock_held(ws) and read_pid(ws) is None
    again = codemem(shop, "watch", "--stop")
    assert again.returncode == 0 and again.stdout == "codemem watch is not running.\n"
    status = codemem(shop, "watch", "--status").stdout.splitlines()
    assert status[0] == "codemem watch is not running."
    assert "started in" in (ws.local_dir / "watch.log").read_text()


def test_search_is_answered_by_the_running_daemon_exactly_as_in_process(shop, daemons):
    in_process = codemem(shop, "search", "--json", "--level", "symbol", "parse price")
    assert in_process.returncode == 0, in_process.stderr
    daemon = daemons(shop)
    socket_file = Path(daemon.status().socket)
    assert socket_file == socket_path(shop) and socket_file.exists()
    assert stat.S_IMODE(socket_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket_file.parent.stat().st_mode) == 0o700
    hits = ask_daemon(shop, "parse price", None, "symbol")
    assert hits is not None and hits[0]["text"]
    via_cli = codemem(shop, "search", "--json", "--level", "symbol", "parse price")
    assert json.loads(via_cli.stdout) == json.loads(in_process.stdout)
    # The daemon refreshes before answering: a file saved a moment ago is found at once.
    (shop / "shop" / "fresh.py").write_text("def zebra_quartz_lookup():\n    return 1\n")
    hits = ask_daemon(shop, "zebra_quartz_lookup", None, "symbol")
    assert hits[0]["symbol"] == "zebra_quartz_lookup"
    # Different settings in the client's environment: the daemon declines, search runs here.
    os.environ["CODEMEM_SEARCH__RRF_K"] = "7"
    try:
        assert ask_daemon(shop, "parse price", None, "symbol") is None
    finally:
        del os.environ["CODEMEM_SEARCH__RRF_K"]
    assert daemon.stop() == 0
    assert not socket_file.exists()


def test_a_client_that_hangs_up_without_asking_costs_no_traceback(shop, daemons):
    # Any process of the user may connect and go (one killed between connect and send, a
    # probe of the socket folder): the daemon logged a JSON error and, writing its reply to
    # the closed socket, a BrokenPipeError traceback that socketserver printed to the log.
    import socket

    daemon = daemons(shop)
    for _ in range(3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(socket_path(shop)))
    hits = ask_daemon(shop, "parse price", None, "symbol")
    assert hits is not None and hits[0]["text"]
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log() + daemon.stderr()
    assert "search request failed" not in daemon.log()


def test_a_repository_path_of_200_characters_gets_a_working_socket(tmp_path):
    deep = tmp_path
    while len(str(deep)) < 170:
        deep = deep / ("d" * 40)
    repo = make_repo(deep / ("r" * max(1, 200 - len(str(deep)) - 1)), "sleep/pyshop")
    assert len(str(repo)) == 200
    init(repo)
    started = codemem(repo, "watch", "--detach", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    ws = Workspace(repo)
    try:
        socket_file = Path(read_status(ws).socket)
        assert len(str(socket_file)) < 108 and socket_file.exists()
        # The repository has no index yet: its catch-up builds the first, and until then a
        # search is declined (the client answers it), so ask once it is watching.
        wait_for(lambda: read_status(ws).activity == "watching", what="the catch-up")
        hits = ask_daemon(repo, "parse price", None, "symbol")
        assert hits is not None and hits[0]["text"]
        assert codemem(repo, "watch", "--stop").stdout == f"Stopped codemem watch (pid {pid}).\n"
    finally:
        if lock_held(ws):
            os.kill(pid, signal.SIGKILL)
    assert not socket_file.exists()


def test_detach_reports_a_daemon_that_dies_at_start(shop, monkeypatch):
    runtime = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))  # short: the socket fits there
    (runtime / "codemem").write_text("not a folder\n")  # where the socket would go
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    try:
        started = codemem(shop, "watch", "--detach")
    finally:
        shutil.rmtree(runtime)
    assert started.returncode == 3, started.stdout  # codemem's own failure
    line = started.stderr.strip()
    assert line.startswith("codemem: error: codemem watch stopped as it started (exit 3): ")
    assert f"(exit 3): cannot create the search socket's folder {runtime / 'codemem'}: " in line
    assert len(started.stderr.splitlines()) == 1
    assert not lock_held(Workspace(shop))


def session_processes(sid: int) -> list[int]:
    """Pids of the processes in session `sid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_process_outlives_a_daemon_killed_in_the_middle_of_indexing(shop):
    ws = Workspace(shop)
    ws.config_file.write_text("index:\n  workers: 2\n")
    started = codemem(shop, "watch", "--detach", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    wait_for(lambda: read_status(ws).activity == "watching", what="the catch-up")
    (shop / "bulk").mkdir()
    for n in range(100):  # enough files for the parser workers, big enough to keep them busy
        body = "".join(f"def bulk_{n}_{i}(x):\n    return x * {i}\n\n" for i in range(300))
        (shop / "bulk" / f"mod{n}.py").write_text(body)
    # The daemon, the resource tracker, the fork server and at least one parser worker.
    wait_for(lambda: len(session_processes(pid)) >= 4, what="the parser workers")
    os.kill(pid, signal.SIGKILL)
    try:
        wait_for(lambda: session_processes(pid) == [], timeout=10, what="every process to end")
    finally:
        for left in session_processes(pid):  # a failure leaves no orphans behind either
            os.kill(left, signal.SIGKILL)


def test_a_daemon_whose_state_folder_is_removed_stops_and_the_next_one_runs_alone(shop, daemons):
    ws = Workspace(shop)
    first = daemons(shop)
    shutil.rmtree(ws.local_dir)
    second = codemem(shop, "watch", "--detach", "--json")
    assert second.returncode == 0, second.stderr
    pid = json.loads(second.stdout)["pid"]
    try:
        assert first.proc.wait(timeout=TIMEOUT) == 0
        assert "was removed or replaced under the daemon; stopping" in first.stderr()
        assert read_pid(ws) == pid and lock_held(ws)
        assert read_status(ws).pid == pid  # the first wrote nothing into the new folder
        assert Path(read_status(ws).socket).exists()  # nor removed the second's socket
        # Its catch-up builds the index anew (the folder went with it): until it has one, a
        # search is declined (and answered by the client), so ask once it is watching.
        wait_for(lambda: read_status(ws).activity == "watching", what="the catch-up")
        assert ask_daemon(shop, "parse price", None, "symbol")
        assert codemem(shop, "watch", "--stop").stdout == f"Stopped codemem watch (pid {pid}).\n"
    finally:
        if lock_held(ws):
            os.kill(pid, signal.SIGKILL)
    assert not lock_held(ws)


def test_a_daemon_whose_repository_is_moved_stops_cleanly_and_status_says_so(shop, daemons):
    daemon = daemons(shop)
    moved = shop.with_name("moved")
    shop.rename(moved)  # `mv` under the running daemon
    assert daemon.proc.wait(timeout=TIMEOUT) == 0, daemon.stderr()
    ws = Workspace(moved)
    assert read_pid(ws) is None and not lock_held(ws)  # its pid file went with it
    status = codemem(moved, "watch", "--status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == "codemem watch is not running."
    assert "did not stop cleanly" not in status.stdout
    assert "stale_pid" not in json.loads(codemem(moved, "watch", "--status", "--json").stdout)


def test_detach_that_loses_the_race_to_another_start_says_it_is_already_running(shop):
    from codemem.daemon.process import DaemonLock, WatchRunningError, start_detached

    ws = Workspace(shop)
    # Two `watch --detach` at once: both saw no daemon, and the other took the lock first.
    with DaemonLock(ws), pytest.raises(WatchRunningError) as lost:
        start_detached(ws, [])
    assert lost.value.exit_code == 2
    assert str(lost.value) == f"codemem watch is already running in {shop} (pid {os.getpid()})"


def _socket_file(path: Path, *, listening: bool, age: float) -> socket.socket:
    """A socket file at `path`, bound `age` seconds ago: a daemon's that listens, or, closed
    unremoved, what a SIGKILLed daemon leaves."""
    made = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    made.bind(str(path))
    if listening:
        made.listen()
    else:
        made.close()
    os.utime(path, (time.time() - age, time.time() - age))
    return made


def test_the_sockets_killed_daemons_left_are_removed_and_living_ones_kept(
    shop, daemons, monkeypatch
):
    # Each SIGKILLed daemon left its socket, one per repository, kept until that repository's
    # daemon started again: the shared folder held 150 sockets no daemon listened on.
    runtime = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))  # short: the socket fits there
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    folder = runtime / "codemem"
    living = None
    try:
        killed = daemons(shop)
        own = socket_path(shop)
        assert own.parent == folder
        killed.kill()
        os.utime(own, (time.time() - 120, time.time() - 120))
        names = [f"{letter * 24}.sock" for letter in "abc"]
        _socket_file(folder / names[0], listening=False, age=120)  # another repository's
        living = _socket_file(folder / names[1], listening=True, age=120)
        _socket_file(folder / names[2], listening=False, age=1)  # a daemon binding right now
        started = time.monotonic()
        assert ask_daemon(shop, "total", 5, "chunk") is None  # quietly, at once
        assert time.monotonic() - started < 1
        assert not own.exists()  # the client removed the socket it found dead
        daemons(shop)  # a new daemon removes the others' dead sockets as it binds its own
        left = sorted(p.name for p in folder.iterdir())
        assert left == sorted([*names[1:], own.name, "sockets.lock"])
    finally:
        if living is not None:
            living.close()
        shutil.rmtree(runtime)


def test_a_saved_gitattributes_flips_the_files_it_marks(shop, daemons):
    def status(path: str) -> str | None:
        manifest = Manifest.load(Workspace(shop).index_dir)
        entry = manifest.files.get(path) if manifest is not None else None
        return entry.status if entry is not None else None

    target = next(p for p in sorted((shop / "shop").glob("*.py")) if p.name != "__init__.py")
    path = target.relative_to(shop).as_posix()
    daemon = daemons(shop)
    runs = daemon.status().index_runs
    assert status(path) == "indexed"
    (shop / ".gitattributes").write_text(f"{path} linguist-generated\n")
    wait_for(lambda: daemon.status().index_runs == runs + 1, what="one refresh")
    assert status(path) == "generated"
    (shop / ".gitattributes").write_text("*.py diff=python\n")
    wait_for(lambda: daemon.status().index_runs == runs + 2, what="a second refresh")
    assert status(path) == "indexed"
    assert daemon.stop() == 0


def test_info_attributes_marking_files_takes_them_out_at_the_next_refresh(shop, daemons):
    # `.git/info/attributes` is no work-tree file: the daemon saw no event for it, and the
    # files it marks stayed indexed until some other save.
    daemon = daemons(shop)
    runs = daemon.status().index_runs
    index_dir = Workspace(shop).index_dir
    indexed = sorted(p for p, e in Manifest.load(index_dir).files.items() if p.startswith("shop/"))
    assert indexed and {Manifest.load(index_dir).files[p].status for p in indexed} == {"indexed"}
    info = shop / ".git" / "info" / "attributes"
    info.parent.mkdir(exist_ok=True)
    info.write_text("shop/** linguist-vendored\n")
    wait_for(lambda: daemon.status().index_runs == runs + 1, what="a refresh")
    files = Manifest.load(index_dir).files
    assert {p: files[p].status for p in indexed} == dict.fromkeys(indexed, "vendored")
    info.unlink()
    wait_for(lambda: daemon.status().index_runs == runs + 2, what="a second refresh")
    files = Manifest.load(index_dir).files
    assert {p: files[p].status for p in indexed} == dict.fromkeys(indexed, "indexed")
    assert daemon.stop() == 0
