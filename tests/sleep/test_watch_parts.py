"""The parts of `codemem watch` in-process: debouncing, the path filter, the idle decision,
the idle setting and the CLI's argument checks and status text."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sleep_helpers import NOW, commit, config, digest, init

from codemem.cli import cli
from codemem.cli.watch import status_lines
from codemem.config import Config
from codemem.daemon.events import Debouncer, PathFilter, skipped_by_name
from codemem.daemon.watch import Watcher
from codemem.memory import Recall
from codemem.sleep import DigestOptions, run_digest
from codemem.sleep.state import read_local_state
from codemem.workspace import Workspace
from tests.helpers import git, make_repo


def shop_repo(tmp_path: Path) -> Path:
    """The pyshop fixture, with .codemem/ kept out of its commits (so checkouts stay clean)."""
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    (repo / ".git" / "info" / "exclude").write_text(".codemem/\n")
    return repo


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_events_is_one_batch_after_a_quiet_moment():
    clock = FakeClock()
    bouncer = Debouncer(quiet=0.3, max_wait=1.0, clock=clock)
    assert bouncer.take() == (set(), None)
    bouncer.add("a.py")
    clock.now += 0.2
    bouncer.add("b.py")
    bouncer.add("a.py")
    assert bouncer.ready_at() == pytest.approx(100.5)
    clock.now += 0.2
    assert bouncer.take() == (set(), None)  # still settling
    clock.now += 0.1
    assert bouncer.take() == ({"a.py", "b.py"}, pytest.approx(100.2))
    assert bouncer.ready_at() is None
    bouncer.close()


def test_a_steady_stream_of_events_is_flushed_after_the_maximum_wait():
    clock = FakeClock()
    bouncer = Debouncer(quiet=0.3, max_wait=1.0, clock=clock)
    for i in range(6):
        bouncer.add(f"f{i}.py")
        clock.now += 0.2
    # the last event was 0.2 s ago (never quiet), but the first was 1.2 s ago
    assert bouncer.take() == ({f"f{i}.py" for i in range(6)}, pytest.approx(101.0))
    bouncer.close()


def test_wait_returns_when_woken_or_when_the_batch_is_due():
    bouncer = Debouncer(quiet=0.05, max_wait=1.0)
    bouncer.wake()
    bouncer.wait(30)  # returns at once: woken
    bouncer.add("x.py")  # also wakes
    bouncer.wait(30)
    bouncer.wait(30)  # the pipe is drained: returns when the batch is due (0.05 s)
    assert bouncer.take()[0] == {"x.py"}
    bouncer.close()


def test_skipped_by_name():
    assert [
        p
        for p in [
            ".git/index",
            ".codemem/local/index/x",
            ".codemem/blocks/project.md",
            "vendor/lib/.git/HEAD",
            "src/git.py",
            ".github/workflows/ci.yml",
            ".gitignore",
            "src/.codemem.yml",
        ]
        if not skipped_by_name(p)
    ] == ["src/git.py", ".github/workflows/ci.yml", ".gitignore", "src/.codemem.yml"]


def test_the_path_filter_asks_git_once_per_batch_and_caches(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "r")
    (repo / ".gitignore").write_text("*.log\nbuild/\nnode_modules/\n")
    git(repo, "add", ".gitignore")
    (repo / "tracked.log").write_text("x")
    git(repo, "add", "-f", "tracked.log")
    paths = [
        "src/a.py",
        "app.log",
        "tracked.log",
        "build/out.py",
        "node_modules/x/y.js",
        "docs/gone.md",
        ".git/HEAD",
        ".codemem/state.json",
        "vendor/v.py",
    ]
    filt = PathFilter(repo, exclude=["vendor/**"])
    calls = []
    real = filt._check_ignore
    monkeypatch.setattr(filt, "_check_ignore", lambda ps: calls.append(list(ps)) or real(ps))
    assert filt.relevant(paths) == ["docs/gone.md", "src/a.py", "tracked.log"]
    assert filt.relevant(paths) == ["docs/gone.md", "src/a.py", "tracked.log"]
    assert len(calls) == 1
    assert ".git/HEAD" not in calls[0] and ".codemem/state.json" not in calls[0]
    (repo / ".gitignore").write_text("*.log\n")  # the rules changed: the cache is dropped
    assert filt.relevant([".gitignore", "build/out.py"]) == [".gitignore", "build/out.py"]
    with_include = PathFilter(repo, include=["build/**"])
    (repo / ".gitignore").write_text("build/\n")
    assert with_include.relevant(["build/out.py", "build.log"]) == ["build.log", "build/out.py"]


def test_idle_minutes_defaults_to_10_and_takes_fractions():
    assert Config().sleep.idle_minutes == 10
    assert config(idle_minutes=0.05).sleep.idle_minutes == 0.05
    ws = Workspace(Path("/nonexistent"))
    assert Watcher(ws, config(idle_minutes=0.5)).idle_seconds == 30
    assert Watcher(ws, config(), idle_seconds=2).recheck_seconds == 1.0
    assert Watcher(ws, config()).recheck_seconds == 60.0


def test_new_commits_and_new_sessions_are_digested_once(tmp_path):
    repo = shop_repo(tmp_path)
    first = commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())
    assert watcher.pending_work() == f"new commits up to {first[:7]}"
    assert watcher.on_idle() == f"new commits up to {first[:7]}"
    assert watcher.status.last_digest["commits"] == 1
    assert watcher.pending_work() is None and watcher.on_idle() is None
    second = commit(repo, "Add notes", "2025-03-02T10:00:00+00:00", {"NOTES.md": "# Notes\n"})
    assert watcher.on_idle() == f"new commits up to {second[:7]}"
    # HEAD moved back to an older commit: nothing to digest, and not again and again either.
    git(repo, "checkout", "-q", first)
    assert watcher.on_idle() == f"new commits up to {first[:7]}"
    assert watcher.status.last_digest["commits"] == 0
    assert watcher.on_idle() is None
    with Recall(ws) as recall:
        session = recall.start_session()
        recall.add_message(session, "user", "How are prices rounded?")
    assert watcher.on_idle() == "new chat sessions"
    assert watcher.on_idle() is None
    watcher.debouncer.close()


def test_a_fresh_daemon_remembers_what_the_last_one_digested(tmp_path):
    from codemem.daemon.process import read_status, write_status

    repo = shop_repo(tmp_path)
    first = commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    commit(repo, "Two", "2025-03-02T10:00:00+00:00", {"a.md": "a\n"})
    ws = init(repo)
    digest(ws)
    git(repo, "checkout", "-q", first)
    before = Watcher(ws, config())
    assert before.on_idle() == f"new commits up to {first[:7]}"
    write_status(ws, before.status)
    after = Watcher(ws, config())
    after.status = read_status(ws)
    assert after.pending_work() is None
    before.debouncer.close(), after.debouncer.close()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--idle", "0"], "--idle must be a positive number of minutes"),
        (["--stop", "--status"], "use only one of --detach, --stop and --status"),
        (["--json"], "--json goes with --status, --stop or --detach"),
    ],
)
def test_bad_arguments_exit_2(repo_factory, args, message):
    result = CliRunner().invoke(cli, ["--repo", str(repo_factory()), "watch", *args])
    assert result.exit_code == 2
    assert result.output == f"codemem: error: {message}\n"


def test_an_uninitialized_repository_is_refused(repo_factory):
    result = CliRunner().invoke(cli, ["--repo", str(repo_factory()), "watch", "--idle", "1"])
    assert result.exit_code == 2
    assert "run `codemem init` first" in result.output


def test_status_lines():
    info = {
        "running": True,
        "pid": 42,
        "uptime_s": 3725.0,
        "activity": "watching",
        "last_index": {"at": 0, "added": 1, "changed": 2, "removed": 0},
        "last_digest": {"at": 0, "commits": 1, "digest": ".codemem/digests/x.md"},
        "log": "/r/.codemem/local/watch.log",
    }
    lines = status_lines(info)
    assert lines[0] == "codemem watch is running (pid 42, up 1h 2m, watching)."
    assert lines[1].startswith("Last index: ") and lines[1].endswith(
        "(1 added, 2 changed, 0 removed)."
    )
    assert lines[2].endswith("(1 commit, .codemem/digests/x.md).")
    assert status_lines(
        {**info, "running": False, "stale_pid": 7, "last_index": None, "last_digest": None}
    ) == [
        "codemem watch is not running.",
        "A pid file from pid 7 was left by a daemon that did not stop cleanly; "
        "the next start replaces it.",
        "Last index: never.",
        "Last digest: never.",
        "Log: /r/.codemem/local/watch.log",
    ]


def test_the_idle_digest_is_reported_as_uncommitted_and_can_be_turned_off(tmp_path):
    from codemem.daemon.process import describe_status

    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    ws = init(repo)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")  # .codemem/ committed with it
    assert describe_status(ws)["uncommitted_memory"] == []
    off = Watcher(ws, config(watch_digest=False))
    assert off.pending_work() is not None and off.on_idle() is None  # index only
    assert describe_status(ws)["uncommitted_memory"] == []
    off.debouncer.close()
    watcher = Watcher(ws, config())
    assert Config().sleep.watch_digest is True
    assert watcher.on_idle() is not None
    changed = describe_status(ws)["uncommitted_memory"]
    assert changed and all(
        path.startswith(".codemem/") and "/local/" not in path for path in changed
    )
    line = [
        text
        for text in status_lines({**describe_status(ws), "log": "x"})
        if text.startswith("Memory: ")
    ]
    assert line == [
        f"Memory: {len(changed)} file{'s' if len(changed) > 1 else ''} under .codemem/ not committed (digests "
        "and learned regions): review with `git diff .codemem`, commit to share them "
        "(sleep.watch_digest: false stops the idle digest)."
    ]
    watcher.debouncer.close()


def test_the_idle_digest_waits_while_a_cherry_pick_waits_for_the_user(tmp_path, caplog):
    repo = shop_repo(tmp_path)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00", {"NOTES.md": "one\n"})
    git(repo, "checkout", "-q", "-b", "other")
    picked = commit(repo, "Two", "2025-03-02T10:00:00+00:00", {"NOTES.md": "two\n"})
    git(repo, "checkout", "-q", "main")
    head = commit(repo, "Three", "2025-03-03T10:00:00+00:00", {"NOTES.md": "three\n"})
    watcher = Watcher(init(repo), config())
    assert git(repo, "cherry-pick", picked, check=False).returncode != 0
    caplog.set_level("INFO", logger="codemem")
    assert watcher.on_idle() is None and watcher.on_idle() is None
    assert watcher.status.last_digest is None  # not run, so not marked as done either
    waits = [r.getMessage() for r in caplog.records if "the digest waits" in r.getMessage()]
    assert waits == [
        f"watch: new commits up to {head[:7]}, but git is in the middle of a cherry-pick (end "
        "it with `git cherry-pick --continue` or `--abort`); the digest waits"
    ]
    git(repo, "cherry-pick", "--abort")
    assert watcher.on_idle() == f"new commits up to {head[:7]}"
    watcher.debouncer.close()


def test_a_pass_stops_at_its_next_safe_point_once_the_repository_is_gone(tmp_path):
    import shutil
    import time

    from codemem.daemon.process import DaemonLock
    from codemem.daemon.watch import STATE_CHECK_IN_PASS_SECONDS, StopRequested
    from codemem.errors import CodememError

    repo = shop_repo(tmp_path)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())
    with DaemonLock(ws) as lock:
        watcher._lock = lock
        watcher._checkpoint(1, 10)  # between two files of a pass: nothing to stop for
        shutil.rmtree(repo)  # deleted (or moved) in the middle of an index run or a digest
        time.sleep(STATE_CHECK_IN_PASS_SECONDS)  # a pass looks at the disk this often
        with pytest.raises(StopRequested):
            watcher._checkpoint(2, 10)
    assert watcher.state_lost
    # What the pass does next makes no `.codemem/` where the repository was.
    with pytest.raises(CodememError, match="the repository is no longer there"):
        ws.ensure_local()
    assert not repo.exists()
    watcher.debouncer.close()


def test_a_checkout_in_the_middle_of_a_digest_writes_nothing_and_the_next_pass_redoes_it(
    tmp_path, caplog
):
    from sleep_helpers import snapshot

    repo = shop_repo(tmp_path)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    git(repo, "checkout", "-q", "-b", "other")
    other = commit(repo, "Other", "2025-03-02T10:00:00+00:00", {"OTHER.md": "other\n"})
    git(repo, "checkout", "-q", "main")
    head = commit(repo, "Add notes", "2025-03-03T10:00:00+00:00", {"NOTES.md": "# Notes\n"})
    ws = init(repo)
    before = snapshot(ws)
    watcher = Watcher(ws, config())
    dated = watcher._now

    def checkout_then_now():  # the pass asks the time after its digest is decided
        if git(repo, "branch", "--show-current").stdout.strip() == "main":
            git(repo, "checkout", "-q", "other")
        return dated()

    watcher._now = checkout_then_now
    caplog.set_level("INFO", logger="codemem")
    assert watcher.on_idle() == f"new commits up to {head[:7]}"
    # Nothing about main's commits landed in other's work tree, nor anything else.
    assert snapshot(ws) == before
    assert (
        f"watch: digest dropped, nothing written: HEAD moved from main at {head[:7]} to other "
        f"at {other[:7]} (redone once idle)"
    ) in caplog.messages
    assert watcher.status.digested_head is None
    assert watcher.on_idle() == f"new commits up to {other[:7]}"
    assert sorted(p.name for p in ws.digests_dir.iterdir()) == [f"2025-03-02-root-{other[:7]}.md"]
    watcher.debouncer.close()


def test_a_checkout_in_the_middle_of_a_digest_folds_no_duplicate_notes(tmp_path):
    from sleep_helpers import snapshot

    from codemem.errors import HeadMovedError
    from codemem.memory import Archive

    repo = shop_repo(tmp_path)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    git(repo, "branch", "other")
    ws = init(repo)
    archive = Archive(ws)
    archive.insert("Receipts are plain text.", ["receipts"])
    archive.insert("Receipts are plain text. Decided in March.", ["decision"])
    before = snapshot(ws)

    def checkout_then_now():  # asked just before consolidation folds the two
        git(repo, "checkout", "-q", "other")
        return datetime(2025, 3, 10, tzinfo=timezone.utc)

    with pytest.raises(HeadMovedError):
        run_digest(ws, config(), DigestOptions(reindex=False), now=checkout_then_now)
    assert snapshot(ws) == before  # the fold was held with the rest, and dropped with it
    git(repo, "checkout", "-q", "main")
    result = run_digest(ws, config(), DigestOptions(reindex=False), now=lambda: NOW)
    assert [n.content for n in Archive(ws).notes()] == [
        "Receipts are plain text. Decided in March."
    ]
    assert Archive(ws).notes()[0].tags == ["decision", "receipts"]
    assert [note.split(" into ")[1] for note in result.consolidation.merged] == [
        Archive(ws).notes()[0].id
    ]


# A git operation begun in the middle of a digest: the command that starts it, the phrase the
# log names it by, and the command that ends it (HEAD back where the pass found it).
BEGUN = {
    "merge": (["merge", "-q", "other"], "a merge", ["merge", "--abort"]),
    "rebase": (["rebase", "-q", "other"], "a rebase", ["rebase", "--abort"]),
    "cherry-pick": (["cherry-pick", "other"], "a cherry-pick", ["cherry-pick", "--abort"]),
    "revert": (["revert", "--no-edit", "HEAD~1"], "a revert", ["revert", "--abort"]),
    "bisect": (["bisect", "start"], "a bisect", ["bisect", "reset"]),
}


@pytest.mark.parametrize("operation", [*BEGUN, "index.lock"])
def test_a_git_operation_begun_in_the_middle_of_a_digest_drops_it_like_a_checkout(
    tmp_path, caplog, operation
):
    from sleep_helpers import snapshot

    repo = shop_repo(tmp_path)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00", {"NOTES.md": "one\n"})
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, "Other", "2025-03-02T10:00:00+00:00", {"NOTES.md": "other\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "Two", "2025-03-03T10:00:00+00:00", {"NOTES.md": "two\n"})
    head = commit(repo, "Three", "2025-03-04T10:00:00+00:00", {"NOTES.md": "three\n"})
    ws = init(repo)
    before = snapshot(ws)
    watcher = Watcher(ws, config())
    dated, lock = watcher._now, repo / ".git" / "index.lock"

    def begin_then_now():  # the pass asks the time after its digest is decided
        if operation == "index.lock":
            lock.touch()  # a `git commit` or `git checkout` running
        else:
            git(repo, *BEGUN[operation][0], check=False)
        return dated()

    watcher._now = begin_then_now
    caplog.set_level("INFO", logger="codemem")
    assert watcher.on_idle() == f"new commits up to {head[:7]}"
    assert snapshot(ws) == before  # nothing written, into the operation's commit or anywhere
    assert [r.levelname for r in caplog.records] == ["INFO", "INFO"]  # no "digest failed"
    what = "a git command holds " if operation == "index.lock" else "git is in the middle of "
    what += str(lock) if operation == "index.lock" else BEGUN[operation][1] + " ("
    assert caplog.messages[1].startswith(
        f"watch: digest dropped, nothing written: since the digest began, {what}"
    )
    assert caplog.messages[1].endswith(" (redone once idle)")
    assert watcher.status.digested_head is None
    watcher._now = dated
    assert watcher.on_idle() is None  # waits while the operation does
    if operation == "index.lock":
        lock.unlink()
    else:
        git(repo, *BEGUN[operation][2])
    assert git(repo, "rev-parse", "HEAD").stdout.strip() == head
    assert watcher.on_idle() == f"new commits up to {head[:7]}"  # redone once it ended
    assert snapshot(ws) != before
    watcher.debouncer.close()


@pytest.mark.parametrize("begun", ["git", "digest"])
def test_a_git_command_begun_just_before_the_digest_starts_is_waited_for_not_a_failure(
    tmp_path, caplog, monkeypatch, begun
):
    # "digest": another `codemem digest` took the clone's digest lock in that moment.
    from codemem.daemon import watch as watch_module
    from codemem.infra import FileLock
    from codemem.sleep.pass_lock import lock_path

    repo = shop_repo(tmp_path)
    head = commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())
    lock = repo / ".git" / "index.lock"
    other = FileLock(lock_path(ws), timeout=0)  # another process's, as far as flock goes

    def lock_then_look(_ws):  # after `on_idle` found git idle, before the pass starts
        if begun == "digest":
            other.acquire()
        else:
            lock.touch()  # an editor's `git status`, a `git commit`
        return None

    monkeypatch.setattr(watch_module, "newest_session", lock_then_look)
    caplog.set_level("INFO", logger="codemem")
    assert watcher.on_idle() == f"new commits up to {head[:7]}"
    why = (
        f"another digest is running in this clone: pid {os.getpid()} ({_own_command()}); "
        "nothing digested: run it again once it ends (or wait for it: --wait SECONDS)"
        if begun == "digest"
        else f"nothing digested: a git command holds {lock} (if none is running, a git that "
        "crashed left it: remove that file), then run it again"
    )
    assert caplog.messages[1:] == [f"watch: digest not run: {why} (redone once idle)"]
    assert watcher.status.digested_head is None
    other.release()
    lock.unlink(missing_ok=True)
    monkeypatch.undo()
    assert watcher.on_idle() == f"new commits up to {head[:7]}"
    assert watcher.status.digested_head == head
    watcher.debouncer.close()


@pytest.mark.parametrize("step", ["_index", "_digest"])
def test_a_pass_that_fails_because_the_repository_went_is_a_stop_not_a_failure(
    tmp_path, monkeypatch, caplog, step
):
    import errno
    import shutil

    from codemem.code import CodeIndex
    from codemem.daemon.process import DaemonLock
    from codemem.daemon.watch import StopRequested

    repo = shop_repo(tmp_path)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())

    def removed_meanwhile(*_args, **_kwargs):  # `rm -rf` between two safe points of the pass
        shutil.rmtree(repo)
        raise FileNotFoundError(errno.ENOENT, "gone (deleted or moved?)", str(ws.local_dir))

    monkeypatch.setattr(CodeIndex, "refresh", removed_meanwhile)
    caplog.set_level("INFO", logger="codemem")
    with DaemonLock(ws) as lock:
        watcher._lock = lock
        with pytest.raises(StopRequested):
            getattr(watcher, step)("catch-up" if step == "_digest" else [])
    assert [r.levelname for r in caplog.records if r.levelname != "INFO"] == ["WARNING"]
    assert "was removed or replaced under the daemon; stopping" in caplog.records[-1].getMessage()
    assert not repo.exists()
    watcher.debouncer.close()


def test_a_pid_file_removed_alone_comes_back_only_once_it_has_stayed_away(tmp_path, monkeypatch):
    import os
    import time

    from codemem.daemon import process
    from codemem.daemon.process import DaemonLock, read_pid

    ws = init(shop_repo(tmp_path))
    with DaemonLock(ws) as lock:
        (ws.local_dir / "watch.pid").unlink()  # perhaps an `rm -rf` of the folder, under way
        assert lock.still_ours() and read_pid(ws) is None  # not written into it at once
        later = time.monotonic() + process.PID_REWRITE_SECONDS
        monkeypatch.setattr(process.time, "monotonic", lambda: later)
        assert lock.still_ours() and read_pid(ws) == os.getpid()  # removed alone: back


def test_status_after_the_clock_went_back_shows_no_negative_uptime(tmp_path):
    import os
    import time

    from codemem.daemon.process import DaemonLock, WatchStatus, describe_status, write_status

    ws = init(shop_repo(tmp_path))
    with DaemonLock(ws):  # a laptop resumed, and the clock set back an hour since the start
        write_status(ws, WatchStatus(pid=os.getpid(), started_at=time.time() + 3600))
        info = describe_status(ws)
    assert info["uptime_s"] == 0.0
    assert status_lines(info)[0] == f"codemem watch is running (pid {os.getpid()}, up 0s, stopped)."


def test_the_idle_digest_waits_while_another_digest_runs_in_the_clone(tmp_path, caplog):
    # `codemem digest` (or a CI job) running in the clone did the same pass as the daemon's
    # idle digest, at the same time. The daemon now waits for it, and then has nothing to do.
    from codemem.infra import FileLock
    from codemem.sleep.pass_lock import lock_path

    repo = shop_repo(tmp_path)
    head = commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())
    caplog.set_level("INFO", logger="codemem")
    ws.ensure_local()
    with FileLock(lock_path(ws), timeout=0):  # another process's pass, as far as flock goes
        assert watcher.on_idle() is None and watcher.on_idle() is None
        assert watcher.status.last_digest is None  # not run, so not marked as done either
        assert not (repo / ".codemem" / "digests").exists()
    digest(ws)  # that pass's work, done
    waits = [m for m in caplog.messages if "the digest waits" in m]
    assert waits == [
        f"watch: new commits up to {head[:7]}, but another digest is running (pid {os.getpid()} "
        f"({_own_command()})); the digest waits"
    ]
    assert watcher.on_idle() is None  # the other pass did the work
    watcher.debouncer.close()


def _own_command() -> str:
    from codemem.infra.locks import _own_command as own

    return own()


def test_git_moving_head_as_the_idle_digest_writes_is_a_warning_and_the_pass_redone(
    tmp_path, caplog, monkeypatch
):
    from codemem.sleep.writer import MemoryWriter

    repo = shop_repo(tmp_path)
    head = commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())
    write_held = MemoryWriter.write_held
    moved: list[str] = []

    def write_then_commit(self):  # a commit that lands as the pass writes its set
        write_held(self)
        moved.append(commit(repo, "Meanwhile", "2025-03-02T10:00:00+00:00", {"B.md": "b\n"}))

    monkeypatch.setattr(MemoryWriter, "write_held", write_then_commit)
    caplog.set_level("INFO", logger="codemem")
    assert watcher.on_idle() == f"new commits up to {head[:7]}"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and warned[0].startswith(
        f"watch: digest: HEAD moved from main at {head[:7]} to main at {moved[0][:7]} while "
        "the digest wrote its files ("
    )
    assert watcher.status.digested_head is None  # redone once idle
    assert read_local_state(ws).last_head is None
    monkeypatch.undo()
    assert watcher.on_idle() == f"new commits up to {moved[0][:7]}"
    assert read_local_state(ws).last_head == moved[0]
    watcher.debouncer.close()
