"""A search asked of `codemem watch` right after a save, while an index run holds the index:
the daemon's own run of a few saves is waited for (the search must see them), and an answer
given from the index as last committed names the files it is stale for."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from test_watch_daemon import codemem, daemons, shop, wait_for  # noqa: F401 (fixtures)

from codemem.daemon.query_client import ask_daemon
from codemem.workspace import Workspace
from tests.helpers import git, held_at


def test_a_search_right_after_a_save_waits_for_the_daemons_run_of_saves(
    shop,  # noqa: F811
    daemons,  # noqa: F811
    monkeypatch,
    tmp_path,
    caplog,
):
    stall = tmp_path / "stall"
    monkeypatch.setenv("CODEMEM_TEST_STALL_AT", "full_text")
    monkeypatch.setenv("CODEMEM_TEST_STALL_FILE", str(stall))
    daemons(shop)
    (shop / "shop" / "first.py").write_text("def zebra_first_save():\n    return 1\n")
    wait_for(stall.exists, what="the daemon's run for the save to hold the index")
    # Saved while that run holds the index, and searched at once, as an agent does. The run
    # ends a second later (loaded machine: a run of 60 files takes 2-5 s).
    (shop / "shop" / "second.py").write_text("def zebra_second_save():\n    return 2\n")
    go = threading.Timer(1.5, Path(f"{stall}.go").touch)
    go.start()
    try:
        with caplog.at_level(logging.INFO, logger="codemem"):
            hits = ask_daemon(shop, "zebra_second_save", None, "symbol")
    finally:
        go.join()
    # Before: answered after 0.5 s from the index without the save, saying so only with -v.
    assert hits is not None and hits[0]["symbol"] == "zebra_second_save"
    # No warning; an INFO line is fine: the run for the second save may hold the index, its
    # rows committed, when the search looks (a loaded machine).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_search_while_another_process_rebuilds_names_the_files_it_is_stale_for(
    shop,  # noqa: F811
    daemons,  # noqa: F811
    tmp_path,
):
    daemons(shop)
    with held_at(shop, "full_text", tmp_path / "stall", "index", "--full"):
        (shop / "shop" / "late.py").write_text("def zebra_late_save():\n    return 3\n")
        result = codemem(shop, "search", "--json", "--level", "symbol", "zebra_late_save")
        # Answered from the index as last committed, which does not hold the save: it says so
        # (before: nothing, or one line with -v that named no file).
        assert result.returncode == 1, result.stderr
        assert result.stdout == "[]\n"
        assert result.stderr == (
            "codemem: WARNING: search: the index does not hold the latest saves of 1 file(s): "
            "shop/late.py (another index run holds it; search again once that run ends)\n"
        )
    after = codemem(shop, "search", "--json", "--level", "symbol", "zebra_late_save")
    assert json.loads(after.stdout)[0]["symbol"] == "zebra_late_save"
    assert after.stderr == ""


OLD = (1_577_836_800, 1_577_836_800)  # 2020-01-01: an mtime long before git's index file


def test_a_same_size_save_given_its_old_mtime_back_is_indexed_under_check_stat_minimal(
    shop,  # noqa: F811
    daemons,  # noqa: F811
):
    """`core.checkStat=minimal` (`feature.manyFiles`): git vouches for a file by its size and
    mtime alone, so a same-size rewrite given its old mtime back (`touch -d`, `cp -p`,
    `rsync -t`) is clean to git (`git ls-files -m`, `git status`). Before: the daemon, told by
    inotify which file changed, trusted git and the search never saw the save."""
    same = shop / "shop" / "same.py"
    same.write_text("def alpha_one():\n    return 1\n")
    git(shop, "add", "shop/same.py")
    git(shop, "commit", "-q", "-m", "same")
    git(shop, "config", "core.checkStat", "minimal")
    os.utime(same, OLD)
    git(shop, "update-index", "-q", "--refresh")
    assert codemem(shop, "index").returncode == 0
    daemon = daemons(shop)
    same.write_text("def bravo_two():\n    return 2\n")  # the same size
    os.utime(same, OLD)
    assert git(shop, "ls-files", "-m").stdout == ""  # git misses it
    wait_for(
        lambda: "same.py" in str(daemon.status().last_index.get("paths")),
        what="the daemon's run for the save",
    )
    hits = ask_daemon(shop, "bravo_two", None, "symbol")
    assert hits is not None and hits[0]["symbol"] == "bravo_two"
    assert daemon.stop() == 0
    # Saved back to git's own blob with no daemon running: `codemem index` reads that file
    # again (its run listed it as changed), though git's stat data did not move.
    same.write_text("def alpha_one():\n    return 1\n")
    os.utime(same, OLD)
    assert codemem(shop, "index").returncode == 0
    found = codemem(shop, "search", "--json", "--level", "symbol", "alpha_one")
    assert json.loads(found.stdout)[0]["symbol"] == "alpha_one"
    assert json.loads(codemem(shop, "search", "--json", "bravo_two").stdout) == []


def test_a_search_during_the_first_catch_up_waits_for_the_index_instead_of_failing(
    shop,  # noqa: F811
    daemons,  # noqa: F811
    monkeypatch,
    tmp_path,
):
    # No index yet (a fresh clone, `.codemem/local/` removed): the daemon serves searches
    # while its catch-up builds the first one. Before: after 0.5 s it searched an index that
    # did not exist and answered "no index yet: run `codemem index` first", an error, where a
    # search with no daemon running builds the index (waiting for the run under way) and answers.
    shutil.rmtree(Workspace(shop).index_dir, ignore_errors=True)
    stall = tmp_path / "stall"
    monkeypatch.setenv("CODEMEM_TEST_STALL_AT", "full_text")
    monkeypatch.setenv("CODEMEM_TEST_STALL_FILE", str(stall))
    daemons(shop, activity="indexing")
    wait_for(stall.exists, what="the catch-up to hold the index")
    assert ask_daemon(shop, "parse price", None, "symbol") is None  # declined: search here
    search = subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(shop), "search", "--json", "parse price"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The search waits for the catch-up's lock (it is there already, or comes meanwhile).
        Path(f"{stall}.go").touch()
        out, err = search.communicate(timeout=120)
    finally:
        if search.poll() is None:
            search.kill()
    assert search.returncode == 0, err
    assert json.loads(out)[0]["path"].startswith("shop/")
