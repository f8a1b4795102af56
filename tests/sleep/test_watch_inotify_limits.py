"""`codemem watch` when the kernel has no inotify watch or instance left: one line saying so,
with the sysctl that fixes it, and a daemon that polls the same folders instead."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sleep_helpers import init
from test_watch_daemon import TIMEOUT, searchable, wait_for
from watchdog.observers.inotify import InotifyObserver
from watchdog.observers.polling import PollingObserverVFS

from codemem.cli.watch import status_lines
from codemem.daemon import events
from codemem.daemon.events import Debouncer, PathFilter, TreeObserver
from codemem.daemon.process import describe_status, read_status
from codemem.workspace import Workspace
from tests.helpers import make_repo

WATCH_LIMIT = (
    "watch: the inotify watch limit is reached; polling every 0.1s instead (raise it: "
    "sudo sysctl fs.inotify.max_user_watches=524288; codemem watch then goes back to "
    "inotify, and tries again every 60s meanwhile)"
)
INSTANCE_LIMIT = (
    "watch: the inotify instance limit is reached; polling every 0.1s instead (raise it: "
    "sudo sysctl fs.inotify.max_user_instances=1024; codemem watch then goes back to "
    "inotify, and tries again every 60s meanwhile)"
)


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setattr(events, "POLL_SECONDS", 0.1, raising=False)
    root = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    (root / "docs").mkdir()
    bouncer = Debouncer(quiet=0.05, max_wait=0.2)
    observer = TreeObserver(root, bouncer, PathFilter(root))
    yield root, bouncer, observer
    observer.stop()
    bouncer.close()


def changes(bouncer: Debouncer, want: str) -> set[str]:
    """Collect batches until one holds `want`."""
    seen: set[str] = set()

    def arrived() -> bool:
        bouncer.wait(0.1)
        seen.update(bouncer.take()[0])
        return want in seen

    wait_for(arrived, timeout=10, what=want)
    return seen


def limited(monkeypatch, number: int, *, after: int) -> None:
    """inotify's `schedule` fails with `number` once `after` watches are in place."""
    real = InotifyObserver.schedule
    calls = []

    def schedule(self, *args, **kwargs):
        calls.append(args)
        if len(calls) > after:
            raise OSError(number, os.strerror(number))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(InotifyObserver, "schedule", schedule)


def test_out_of_instances_at_start_polls_instead_and_says_how_to_fix_it(tree, monkeypatch, caplog):
    root, bouncer, observer = tree
    limited(monkeypatch, errno.EMFILE, after=0)
    observer.start()
    assert isinstance(observer._observer, PollingObserverVFS)
    assert observer.polling == INSTANCE_LIMIT.removeprefix("watch: ")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        INSTANCE_LIMIT
    ]
    assert sorted(observer._watched) == [".github", "docs", "shop", "tests"]
    (root / "shop" / "new.py").write_text("x = 1\n")
    assert "shop/new.py" in changes(bouncer, "shop/new.py")
    (root / "top.py").write_text("y = 2\n")
    assert "top.py" in changes(bouncer, "top.py")


def test_out_of_watches_in_a_top_level_folder_at_start_polls_every_folder(
    tree, monkeypatch, caplog
):
    root, bouncer, observer = tree
    limited(monkeypatch, errno.ENOSPC, after=2)  # the root and docs/, then none left
    observer.start()
    assert isinstance(observer._observer, PollingObserverVFS)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [WATCH_LIMIT]
    (root / "tests" / "test_new.py").write_text("z = 3\n")
    assert "tests/test_new.py" in changes(bouncer, "tests/test_new.py")


def test_out_of_watches_for_a_folder_made_later_polls_from_then_on(tree, monkeypatch, caplog):
    root, bouncer, observer = tree
    observer.start()
    assert isinstance(observer._observer, InotifyObserver)
    limited(monkeypatch, errno.ENOSPC, after=0)
    (root / "plugins").mkdir()  # a new top-level folder: its watch fails
    observer.saw({"plugins"}, ["plugins"])
    assert isinstance(observer._observer, PollingObserverVFS)
    (root / "plugins" / "tax.py").write_text("rate = 1\n")
    assert "plugins/tax.py" in changes(bouncer, "plugins/tax.py")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [WATCH_LIMIT]


def test_out_of_watches_inside_a_watched_folder_polls_from_the_next_batch(tree, caplog):
    """watchdog only logs it (a folder made inside a recursive watch): the daemon hears it."""
    root, bouncer, observer = tree
    observer.start()
    (root / "shop" / "deep").mkdir()
    logging.getLogger("watchdog.observers.inotify").warning(
        "Unable to watch %r: %s",
        os.fsencode(root / "shop" / "deep"),
        OSError(errno.ENOSPC, "inotify watch limit reached"),
    )
    paths = changes(bouncer, "shop/deep")
    observer.saw(paths, sorted(paths))
    assert isinstance(observer._observer, PollingObserverVFS)
    (root / "shop" / "deep" / "x.py").write_text("x = 1\n")
    assert "shop/deep/x.py" in changes(bouncer, "shop/deep/x.py")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        WATCH_LIMIT
    ]  # watchdog's own line is not shown besides


BACK = "watch: inotify has room again; no longer polling"


def test_polling_goes_back_to_inotify_once_the_limit_is_raised(tree, monkeypatch, tmp_path, caplog):
    """Before: a daemon that fell back to polling polled until it was restarted."""
    root, bouncer, observer = tree
    limit = tmp_path / "max_user_instances"
    limit.write_text("0\n")
    monkeypatch.setattr(events, "LIMIT_FILES", (str(limit),))
    real = InotifyObserver.schedule
    limited(monkeypatch, errno.EMFILE, after=0)
    observer.start()
    poller = observer._observer
    assert isinstance(poller, PollingObserverVFS)
    observer._retry_at = 0.0  # a retry is due: the kernel still has no instance
    assert observer.inotify_again() is False
    assert observer._observer is poller and observer.polling is not None
    (root / "shop" / "during.py").write_text("x = 1\n")  # still polled
    assert "shop/during.py" in changes(bouncer, "shop/during.py")
    monkeypatch.setattr(InotifyObserver, "schedule", real)  # room again...
    assert observer.inotify_again() is False  # ...but not tried before the next retry
    limit.write_text("128\n")  # `sysctl` raised the limit: tried at once
    assert observer.inotify_again() is True
    assert isinstance(observer._observer, InotifyObserver)
    assert observer.polling is None
    assert sorted(observer._watched) == [".github", "docs", "shop", "tests"]
    assert not poller.is_alive()
    (root / "shop" / "after.py").write_text("y = 2\n")
    assert "shop/after.py" in changes(bouncer, "shop/after.py")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        INSTANCE_LIMIT,
        BACK,
    ]


def test_a_retry_with_watches_for_only_some_folders_keeps_polling(tree, monkeypatch):
    root, bouncer, observer = tree
    real = InotifyObserver.schedule
    limited(monkeypatch, errno.ENOSPC, after=0)
    observer.start()
    poller = observer._observer
    monkeypatch.setattr(InotifyObserver, "schedule", real)
    limited(monkeypatch, errno.ENOSPC, after=2)  # the root and one folder, then none left
    observer._retry_at = 0.0
    assert observer.inotify_again() is False
    assert observer._observer is poller and poller.is_alive()
    assert sorted(observer._watched) == [".github", "docs", "shop", "tests"]
    (root / "tests" / "test_late.py").write_text("z = 3\n")
    assert "tests/test_late.py" in changes(bouncer, "tests/test_late.py")


def test_an_error_other_than_a_limit_still_fails_the_start(tree, monkeypatch):
    _root, _bouncer, observer = tree
    limited(monkeypatch, errno.EACCES, after=0)
    with pytest.raises(PermissionError):
        observer.start()
    assert observer._observer is None


def test_status_says_the_daemon_polls_and_how_to_stop_it(tmp_path):
    ws = init(make_repo(tmp_path / "r", "sleep/pyshop", commit=False))
    info = describe_status(ws) | {"running": True, "pid": 7, "uptime_s": 5.0}
    info |= {"activity": "watching", "polling": INSTANCE_LIMIT.removeprefix("watch: ")}
    assert status_lines(info)[1] == (
        "Not using inotify: the inotify instance limit is reached; polling every 0.1s instead "
        "(raise it: sudo sysctl fs.inotify.max_user_instances=1024; codemem watch then goes back "
        "to inotify, and tries again every 60s meanwhile)."
    )


def in_user_namespace() -> bool:
    """Whether this machine lets a test set its own inotify limits (a user namespace)."""
    if shutil.which("unshare") is None:
        return False
    probe = "echo 5 > /proc/sys/user/max_inotify_instances"
    done = subprocess.run(["unshare", "-U", "-r", "sh", "-c", probe], capture_output=True)
    return done.returncode == 0


def namespaced_daemon(shop, script: str, err, **env: str) -> subprocess.Popen:
    """`codemem watch` in `shop`, run by `script` (`sh -c`, the command line as "$@") in a user
    namespace of its own, once its status says it watches."""
    argv = [sys.executable, "-m", "codemem", "watch", "--idle", "5"]
    with open(err, "wb") as out:
        proc = subprocess.Popen(
            ["unshare", "-U", "-r", "sh", "-c", script, "sh", *argv],
            cwd=shop,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env={**os.environ, **env},
        )
    ws = Workspace(shop)
    try:
        wait_for(
            lambda: read_status(ws).activity == "watching" or proc.poll() is not None,
            what="the daemon to watch",
        )
    except AssertionError:
        proc.kill()
        raise
    assert proc.poll() is None, err.read_text()
    return proc


@pytest.mark.skipif(not in_user_namespace(), reason="needs unprivileged user namespaces")
@pytest.mark.parametrize(
    ("setting", "value", "which"),
    [("max_inotify_instances", 0, "instance"), ("max_inotify_watches", 2, "watch")],
)
def test_a_real_daemon_out_of_inotify_polls_and_reindexes_saves(tmp_path, setting, value, which):
    shop = make_repo(tmp_path / "shop", "sleep/pyshop")
    ws = init(shop)
    err = shop.parent / "watch.err"
    proc = namespaced_daemon(shop, f'echo {value} > /proc/sys/user/{setting} && exec "$@"', err)
    try:
        assert read_status(ws).polling.startswith(f"the inotify {which} limit is reached;")
        time.sleep(0.5)
        (shop / "shop" / "zebra.py").write_text("def zebra_polled_marker():\n    return 1\n")
        wait_for(lambda: searchable(shop, "zebra_polled_marker"), what="the polled save")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
    text = err.read_text()
    assert "internal error" not in text and "Traceback" not in text
    assert f"the inotify {which} limit is reached; polling every" in text


RAISES_LATER = """
echo {low} > /proc/sys/user/{setting}
"$@" &
daemon=$!
while [ ! -e "$RAISE" ]; do sleep 0.05; done
echo {high} > /proc/sys/user/{setting}
wait $daemon
"""


@pytest.mark.skipif(not in_user_namespace(), reason="needs unprivileged user namespaces")
@pytest.mark.parametrize(
    ("setting", "low", "high"),
    [("max_inotify_instances", 0, 128), ("max_inotify_watches", 2, 100_000)],
)
def test_a_real_polling_daemon_goes_back_to_inotify_once_the_limit_is_raised(
    tmp_path, setting, low, high
):
    """Before: it polled, and `watch --status` said so, until it was restarted."""
    shop = make_repo(tmp_path / "shop", "sleep/pyshop")
    ws = init(shop)
    err, raise_it = shop.parent / "watch.err", shop.parent / "raise"
    script = RAISES_LATER.format(low=low, high=high, setting=setting)
    proc = namespaced_daemon(shop, script, err, RAISE=str(raise_it))
    daemon = None
    try:
        daemon = read_status(ws).pid
        assert read_status(ws).polling is not None
        raise_it.touch()
        wait_for(lambda: read_status(ws).polling is None, what="inotify again")
        (shop / "shop" / "zebra.py").write_text("def zebra_inotify_marker():\n    return 1\n")
        wait_for(lambda: searchable(shop, "zebra_inotify_marker"), what="the save")
    finally:
        if daemon is not None:
            os.kill(daemon, signal.SIGTERM)
        else:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
    text = err.read_text()
    assert "Traceback" not in text
    assert "codemem: WARNING: watch: inotify has room again; no longer polling" in text
