"""Sleep-time passes racing each other and git, in real processes: a pass is held still at a
named point (`CODEMEM_TEST_STALL_AT`, `codemem/sleep/stalls.py`) while the test runs another
digest, a git command or a kill there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sleep_helpers import init, scripted_history

from codemem.infra import read_holder
from tests.helpers import make_repo

WAIT = 120.0
STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _end_stalled_passes():
    yield
    for proc in STARTED:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    STARTED.clear()


def digest_cmd(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "codemem", "--repo", str(repo), "digest", *args]


def run_digest(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        digest_cmd(repo, "--ci", "--no-llm", *args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def start(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`codemem digest --ci --no-llm ARGS` in its own process group, its output piped."""
    # its own group: a kill of the pass reaches any worker it started
    options = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = subprocess.Popen(
        digest_cmd(repo, "--ci", "--no-llm", *args),
        env=env,
        text=True,
        start_new_session=True,
        **options,
    )
    STARTED.append(proc)
    return proc


class Stalled:
    """`codemem digest` in its own process group, held at `point` until `go`."""

    def __init__(self, repo: Path, tmp_path: Path, point: str, *args: str) -> None:
        self.reached = tmp_path / f"stalled-{time.monotonic_ns()}"
        env = {
            **os.environ,
            "CODEMEM_TEST_STALL_AT": point,
            "CODEMEM_TEST_STALL_FILE": str(self.reached),
        }
        self.proc = start(repo, *args, env=env)
        deadline = time.monotonic() + WAIT
        while not self.reached.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                out, err = self.proc.communicate()
                pytest.fail(f"`codemem digest` never reached {point!r}: {out}{err}")
            time.sleep(0.02)
        assert int(self.reached.read_text()) == self.proc.pid

    def go(self) -> tuple[int, str, str]:
        self.reached.with_name(self.reached.name + ".go").touch()
        out, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, out, err


def shop(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    shas = scripted_history(repo)
    init(repo)
    return repo, shas


def digests(repo: Path) -> list[str]:
    folder = repo / ".codemem" / "digests"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def last_head(repo: Path) -> str | None:
    path = repo / ".codemem" / "local" / "sleep.json"
    return json.loads(path.read_text()).get("last_head") if path.exists() else None


def test_a_digest_while_another_pass_runs_says_who_and_exits_2_doing_nothing(tmp_path):
    # Two passes at once (a CI job and a user, `watch` and `digest`) both did the whole work,
    # both wrote the range's digest file (the second one's left alone with a warning) and both
    # saved this clone's state. Now the second says who holds the pass and does nothing.
    repo, shas = shop(tmp_path)
    first = Stalled(repo, tmp_path, "digest-check")
    holder = read_holder(repo / ".codemem" / "local" / "digest.lock")
    assert holder is not None and holder.pid == first.proc.pid
    second = run_digest(repo)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stdout == ""
    assert second.stderr == (
        f"codemem: error: another digest is running in this clone: {holder}; nothing "
        "digested: run it again once it ends (or wait for it: --wait SECONDS)\n"
    )
    assert digests(repo) == [] and last_head(repo) is None
    code, out, err = first.go()
    assert code == 0, out + err
    assert "codemem digest: Commits: 4 digested" in out and err == ""
    assert digests(repo) == [f"2025-03-04-root-{shas[3][:7]}.md"]
    assert last_head(repo) == shas[3]


TAKES_THEN_WRITES = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))  # the moment between taking the lock and writing itself in
os.ftruncate(fd, 0)
os.pwrite(fd, f"{os.getpid()}\\ncodemem digest --new\\n".encode(), 0)
time.sleep(60)
"""


def test_the_busy_message_never_names_the_holder_before(tmp_path):
    # The holder writes its pid a moment after it takes the lock; a digest that looked in that
    # moment (widened here) named the pass before it: this process, alive as the watch daemon
    # is once its idle pass has ended, which held nothing any more.
    from codemem.infra import FileLock

    repo, _ = shop(tmp_path)
    lock = repo / ".codemem" / "local" / "digest.lock"
    with FileLock(lock):  # the pass before, ended
        pass
    program = [sys.executable, "-c", TAKES_THEN_WRITES, str(lock), "60"]
    new = subprocess.Popen(program, stdout=subprocess.PIPE, text=True, start_new_session=True)
    STARTED.append(new)
    assert new.stdout.readline() == "held\n"
    second = run_digest(repo)
    # Named from the kernel's lock table (Linux) as the holder has not written itself in yet.
    command = " ".join([os.path.basename(program[0]), *program[1:]]).replace("\n", " ")[:200]
    assert (second.returncode, second.stderr) == (
        2,
        f"codemem: error: another digest is running in this clone: pid {new.pid} ({command}); "
        "nothing digested: run it again once it ends (or wait for it: --wait SECONDS)\n",
    )


def test_json_names_the_pass_that_holds_the_clone(tmp_path):
    repo, _ = shop(tmp_path)
    first = Stalled(repo, tmp_path, "digest-check")
    second = run_digest(repo, "--json")
    assert second.returncode == 2
    holder = read_holder(repo / ".codemem" / "local" / "digest.lock")
    assert holder is not None
    assert json.loads(second.stdout) == {
        "busy": {
            "lock": ".codemem/local/digest.lock",
            "pid": first.proc.pid,
            "command": holder.command,
        }
    }
    assert second.stderr.startswith("codemem: error: another digest is running in this clone")
    assert first.go()[0] == 0


def test_wait_runs_the_pass_once_the_other_one_ends(tmp_path):
    repo, shas = shop(tmp_path)
    first = Stalled(repo, tmp_path, "digest-check")
    second = start(repo, "--wait", "60")
    time.sleep(1.0)
    assert second.poll() is None  # waiting for the first pass
    assert first.go()[0] == 0
    out, err = second.communicate(timeout=WAIT)
    assert second.returncode == 0, out + err
    assert out.splitlines()[-1] == "codemem digest: Nothing new: nothing written."
    assert digests(repo) == [f"2025-03-04-root-{shas[3][:7]}.md"]


def test_a_killed_pass_never_blocks_the_next_one(tmp_path):
    repo, shas = shop(tmp_path)
    first = Stalled(repo, tmp_path, "digest-write")
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    lock = repo / ".codemem" / "local" / "digest.lock"
    assert lock.exists()  # the file stays; the kernel let go of its lock
    second = run_digest(repo)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "codemem digest: Commits: 4 digested" in second.stdout
    assert digests(repo) == [f"2025-03-04-root-{shas[3][:7]}.md"]
    assert last_head(repo) == shas[3]


@pytest.mark.parametrize("git_op", ["checkout", "commit"])
def test_git_moving_head_as_the_pass_writes_is_said_and_the_range_not_marked_digested(
    tmp_path, git_op
):
    # Between the pass's last HEAD check and its writes, a `git checkout` left its digest of
    # main's range (and its block edits) in another branch's work tree, or a commit moved HEAD
    # past what it read; the pass said "Wrote ..." and saved main's HEAD as digested, so the
    # range was never digested again. Now the move is seen after the writes: one line, exit 2,
    # and this clone's state is left as it was.
    from tests.helpers import git

    repo, shas = shop(tmp_path)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add memory")
    main = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "branch", "other")
    first = Stalled(repo, tmp_path, "digest-write")
    if git_op == "checkout":
        git(repo, "checkout", "-q", "other")
        git(repo, "commit", "-q", "--allow-empty", "-m", "Other")
        now = f"other at {git(repo, 'rev-parse', '--short=7', 'HEAD').stdout.strip()}"
    else:
        git(repo, "commit", "-q", "--allow-empty", "-m", "Meanwhile")
        now = f"main at {git(repo, 'rev-parse', '--short=7', 'HEAD').stdout.strip()}"
    code, out, err = first.go()
    assert code == 2, out + err
    assert err.splitlines()[-1] == (
        f"codemem: error: HEAD moved from main at {main[:7]} to {now} while the digest wrote "
        "its files (4 writes under .codemem/): see them with `git status -- .codemem`; "
        "nothing recorded as digested, so the next digest reads the range again"
    )
    assert last_head(repo) is None
    # left, said; named by the last commit it digested (the memory commit on top is none)
    assert [name[11:] for name in digests(repo)] == [f"root-{shas[3][:7]}.md"]
