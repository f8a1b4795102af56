"""`codemem search` beside a watch daemon that does not answer: stopped (SIGSTOP), or
trickling its reply. The search gives up on it after `REPLY_SECONDS` in all and answers
in-process, saying so in one line."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import threading
import time

from test_watch_daemon import codemem, daemons, shop, wait_for  # noqa: F401 (fixtures)

from codemem.daemon.query_client import (
    PROTOCOL,
    REPLY_SECONDS,
    ask_daemon,
    private_dir,
    socket_path,
)
from tests.helpers import make_repo

WARNING = (
    "codemem: WARNING: search: codemem watch did not answer within 10s (stopped or stuck: "
    "`codemem watch --stop` stops it); searching here instead"
)


def test_a_search_beside_a_stopped_daemon_answers_in_process_after_the_reply_deadline(
    shop,  # noqa: F811
    daemons,  # noqa: F811
):
    in_process = codemem(shop, "search", "--json", "--level", "symbol", "parse price")
    daemon = daemons(shop)
    daemon.proc.send_signal(signal.SIGSTOP)  # its socket still takes connections (the backlog)
    try:
        # Before: it waited 60s for the reply, then as long again for each byte that came.
        stuck = codemem(
            shop, "search", "--json", "--level", "symbol", "parse price", timeout=REPLY_SECONDS + 25
        )
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    assert stuck.returncode == 0, stuck.stderr
    assert json.loads(stuck.stdout) == json.loads(in_process.stdout)
    assert stuck.stderr.splitlines() == [WARNING]
    assert daemon.stop() == 0


def test_a_reply_trickled_byte_by_byte_is_bounded_by_one_deadline(tmp_path, caplog):
    repo = make_repo(tmp_path / "r")
    path = socket_path(repo)
    private_dir(path.parent)
    path.unlink(missing_ok=True)
    (repo / ".codemem" / "local").mkdir(parents=True)
    (repo / ".codemem" / "local" / "watch.json").write_text(
        json.dumps({"socket": str(path), "protocol": PROTOCOL})
    )
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    done = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):  # the client hung up
            while not done.wait(0.1):  # a byte every 0.1s, never the closing newline
                conn.sendall(b" ")

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    answers: list[object] = []
    asker = threading.Thread(
        target=lambda: answers.append(ask_daemon(repo, "x", None, "chunk", timeout=1.0))
    )
    started = time.monotonic()
    asker.start()
    asker.join(timeout=15)
    finished = not asker.is_alive()
    done.set()
    asker.join()
    listener.close()
    path.unlink()
    assert finished, f"still waiting after {time.monotonic() - started:.0f}s"
    assert answers == [None]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        WARNING.removeprefix("codemem: WARNING: ").replace("10s", "1s")
    ]


@contextlib.contextmanager
def stalled_run(repo, start, monkeypatch, source: str):
    """A real daemon (`start`: the `daemons` fixture) held still in an index run of `repo`
    (its rows committed, the run not ended) of `shop/zebra.py` saved as `source`; yields the
    daemon, lets the run go on after."""
    reached = repo.parent / "stall"
    monkeypatch.setenv("CODEMEM_TEST_STALL_AT", "full_text")
    monkeypatch.setenv("CODEMEM_TEST_STALL_FILE", str(reached))  # (a client's env, the same)
    go = reached.with_name("stall.go")
    go.touch()  # the catch-up run at start passes
    daemon = start(repo)
    go.unlink()
    reached.unlink(missing_ok=True)
    (repo / "shop" / "zebra.py").write_text(source)
    try:
        wait_for(reached.exists, what="the daemon's index run to stall")
        yield daemon
        assert daemon.proc.poll() is None  # still in the same run
        assert not daemon.log().count("watch: indexed")  # the run has not ended
    finally:
        go.touch()
    wait_for(lambda: "watch: indexed" in daemon.log(), what="the run to end")


def test_a_search_during_the_daemons_index_run_is_answered_at_once_from_what_it_committed(
    shop,  # noqa: F811
    daemons,  # noqa: F811
    monkeypatch,
):
    """Before: the daemon's search waited for the index lock its own run held, so the client
    gave up after 10 s ("busy or stuck") and searched in-process."""
    source = "def zebra_mid_run_marker():\n    return 1\n"
    with stalled_run(shop, daemons, monkeypatch, source) as daemon:
        found = codemem(shop, "-v", "search", "--json", "--level", "symbol", "zebra_mid_run_marker")
    assert found.returncode == 0, found.stderr
    assert [hit["symbol"] for hit in json.loads(found.stdout)][:1] == ["zebra_mid_run_marker"]
    assert found.stderr.splitlines() == [  # its rows are committed: nothing to wait for
        "codemem: INFO: search: codemem watch is indexing; the index already holds every saved file"
    ]
    assert daemon.stop() == 0


def test_status_says_the_daemon_is_indexing_during_its_index_run(
    shop,  # noqa: F811
    daemons,  # noqa: F811
    monkeypatch,
):
    """Before: `watch --status` said "watching" all through a run (a checkout's: minutes)."""
    with stalled_run(shop, daemons, monkeypatch, "def zebra():\n    return 1\n") as daemon:
        shown = codemem(shop, "watch", "--status")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].endswith(", indexing).")
    assert daemon.stop() == 0
