"""A search asked of `codemem watch` while the daemon's run for a save holds the index waits
for that run on the run's own word (`RunProgress`), listing the work tree at most once, not
every half second (0.3 s of git each time on the Linux kernel)."""

from __future__ import annotations

import threading
import time

from sleep_helpers import config

from codemem.code import CodeIndex
from codemem.daemon.query_client import PROTOCOL, settings_env
from codemem.daemon.query_server import QueryServer
from codemem.daemon.watch import Watcher
from codemem.infra import lock_held
from codemem.workspace import Workspace
from tests.helpers import commands_run, make_repo

SLOW_COMMIT_SECONDS = 2.5  # a loaded machine's run of a few saves takes 2-5 s


def test_a_search_waiting_for_the_run_of_saves_lists_the_work_tree_at_most_once(
    tmp_path, monkeypatch
):
    from codemem.code import batch_writer

    repo = make_repo(tmp_path / "r", "shop")
    ws = Workspace(repo)
    cfg = config()
    CodeIndex(ws, cfg).refresh()
    watcher = Watcher(ws, cfg)
    watcher.queries = server = QueryServer(ws, cfg)
    commit = batch_writer.BatchWriter.commit

    def slow_commit(self, pending):
        time.sleep(SLOW_COMMIT_SECONDS)
        commit(self, pending)

    monkeypatch.setattr(batch_writer.BatchWriter, "commit", slow_commit)
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef zebra_saved_total():\n    return 0\n")
    run = threading.Thread(target=watcher._index, args=(["shop/cart.py"],))
    run.start()
    try:
        deadline = time.monotonic() + 60
        while not lock_held(ws.local_dir / "index.lock") and time.monotonic() < deadline:
            time.sleep(0.01)
        searching = threading.current_thread()
        git_runs: list[list[str]] = []  # the search's own, not the run's

        def counted(args):
            if threading.current_thread() is searching and "git" in args[0]:
                git_runs.append(args)

        commands_run(monkeypatch, counted)
        request = {
            "op": "search",
            "protocol": PROTOCOL,
            "query": "zebra_saved_total",
            "k": 3,
            "level": "symbol",
            "env": settings_env(),
        }
        reply = server.answer(request)
    finally:
        run.join(timeout=120)
        watcher.debouncer.close()
    assert reply["hits"][0]["symbol"] == "zebra_saved_total"
    # Before: a listing (`git ls-files`, `git check-attr`) every half second of the wait.
    listings = [args for args in git_runs if "ls-files" in args]
    assert len(listings) <= 1, git_runs
