"""Helpers shared by every test folder: the one git runner and real repositories from fixtures/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

AWS_KEY = "AKIAQ3EGRT5ZQWJ7XK2M"  # made up, in the format of an AWS access key ID
# how every write of memory refuses a text holding AWS_KEY (`codemem.memory.refuse_secret`)
SECRET_REFUSAL = (
    "the text holds what looks like a secret (AWS access key ID, AKIA…, 20 characters): "
    "memory is committed and shared with the team, so nothing was saved; leave the secret out "
    "and say where it is kept instead"
)


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git in `repo`; `.stdout` is its output as text. Raises on failure unless check=False.

    `env` is added to the current environment (GIT_AUTHOR_DATE and the like).
    """
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **env} if env else None,
    )


def make_repo(path: Path, fixture: str | None = None, commit: bool = True) -> Path:
    """A real git repository at `path`, optionally filled from fixtures/<fixture>."""
    path.mkdir(parents=True, exist_ok=True)
    if fixture:
        shutil.copytree(FIXTURES / fixture, path, dirs_exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    return path


def run_codemem(
    repo: Path,
    *args: str,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m codemem --repo REPO ARGS` in a subprocess, running this checkout's codemem,
    with `env` added to this process's environment (and `preexec_fn` run in the child first,
    to limit its memory, say)."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(FIXTURES.parent), os.environ.get("PYTHONPATH", "")]
    )
    return subprocess.run(
        [sys.executable, "-m", "codemem", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )


@contextmanager
def held_at(repo: Path, point: str, stall: Path, *args: str) -> Iterator[None]:
    """`codemem ARGS` in a subprocess, held at the stall point `point` (`stall_for_tests`,
    reached once `stall` exists) while the block runs, then let go; it must succeed."""
    held = start_held(repo, point, stall, *args)
    try:
        reach(held, point, stall, args)
        yield
    finally:
        Path(f"{stall}.go").touch()
        _, err = held.communicate(timeout=120)
    assert held.returncode == 0, err


def start_held(repo: Path, point: str, stall: Path, *args: str) -> subprocess.Popen:
    """`codemem ARGS` started in a subprocess that stops at the stall point `point` (`reach`)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(FIXTURES.parent), os.environ.get("PYTHONPATH", "")]),
        "CODEMEM_TEST_STALL_AT": point,
        "CODEMEM_TEST_STALL_FILE": str(stall),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def reach(held: subprocess.Popen, point: str, stall: Path, args: tuple[str, ...]) -> None:
    """Wait (up to 2 min) until `held` (`start_held`) stands still at `point`."""
    deadline = time.monotonic() + 120
    while not stall.exists() and held.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stall.exists(), f"codemem {' '.join(args)} never reached {point}"


# Each thing git can run from a repository's own `.git/config`, as `git config` sets it: the
# program `arm_git_config` writes records its first argument as a file in the marks folder.
# The filters and textconv pass the content through and the external diffs print nothing, so
# git's answers stay what they were; the others fail (git then does without them). A
# `filter.<driver>.process` that fails stops git, so tests arm that one themselves.
ARMED_CONFIG = {
    "core.fsmonitor": "fsmonitor",
    "diff.external": "diff-external",
    "diff.marked.command": "diff-command",
    "diff.marked.textconv": "textconv",
    "filter.marked.clean": "clean",
    "filter.marked.smudge": "smudge",
    "filter.x=y.clean": "clean-of-a-driver-named-with-equals",  # no `-c` can name it
    "core.pager": "pager",
    "pager.log": "pager-log",
    "core.editor": "editor",
    "core.sshCommand": "ssh",
    "credential.helper": "credential",
    "core.askPass": "askpass",
}
ARMED_HOOKS = ("post-index-change", "reference-transaction", "pre-commit", "post-commit")
_MARKING = """#!/bin/sh
what=$1; shift
: > "{marks}/$what"
case $what in clean*|smudge) exec cat ;; textconv) exec cat "$1" ;; diff-*) exit 0 ;; esac
exit 1
"""


@contextmanager
def index_held_elsewhere(lock: Path) -> Iterator[None]:
    """The index lock file `lock` held by another process (as `codemem index --full` holds
    it) until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from pathlib import Path\n"
            "from codemem.code.indexer import index_lock\n"
            "with index_lock(Path(sys.argv[1])):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.read()\n",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.communicate("")


def arm_git_config(repo: Path, marks: Path) -> None:
    """Give `repo` the `.git/config` a repository arriving with its `.git` can carry: every key
    of `ARMED_CONFIG` names a program that marks `marks/<name>` when it runs, as do `gpg.program`
    (with `log.showSignature`) and the hooks of `core.hooksPath`; `.git/info/attributes` puts
    every file under the marked diff and filter drivers (`.md` files under `x=y`)."""
    info = Path(git(repo, "rev-parse", "--absolute-git-dir").stdout.strip()) / "info"
    marks.mkdir(parents=True, exist_ok=True)
    program = marks / "program"
    program.write_text(_MARKING.format(marks=marks))
    program.chmod(0o755)
    for key, name in ARMED_CONFIG.items():
        git(repo, "config", key, f"{program} {name}")
    gpg = marks / "gpg"
    gpg.write_text(f'#!/bin/sh\n: > "{marks}/gpg"\nexit 1\n')
    gpg.chmod(0o755)
    git(repo, "config", "gpg.program", str(gpg))
    git(repo, "config", "log.showSignature", "true")
    hooks = marks / "hooks"
    hooks.mkdir(exist_ok=True)
    for hook in ARMED_HOOKS:
        (hooks / hook).write_text(f'#!/bin/sh\n"{program}" hook-{hook}\nexit 0\n')
        (hooks / hook).chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    info.mkdir(exist_ok=True)
    (info / "attributes").write_text("* diff=marked filter=marked\n*.md filter=x=y\n")


def marked(marks: Path) -> list[str]:
    """What the programs `arm_git_config` named have marked, sorted."""
    return sorted(p.name for p in marks.iterdir() if p.name not in ("program", "gpg", "hooks"))


def stale_stat(repo: Path, *paths: str) -> None:
    """Make git's recorded stat information of `paths` stale (their content unchanged), so git
    must read them, through their clean filter, to know whether they changed."""
    for path in paths:
        info = os.stat(repo / path)
        os.utime(repo / path, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))


def forge_signature(repo: Path) -> None:
    """Give HEAD's commit a (bogus) signature header, as anyone can in a repository they hand
    out: `git log` with `log.showSignature` then runs `gpg.program` to check it."""
    body = git(repo, "cat-file", "commit", "HEAD").stdout
    head, _, message = body.partition("\n\n")
    signature = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAAB\n -----END PGP SIGNATURE-----"
    signed = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=repo,
        input=f"{head}\n{signature}\n\n{message}",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(repo, "update-ref", "HEAD", signed)


def codemem_on_a_terminal(
    repo: Path, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
) -> bytes:
    """What `python -m codemem --repo REPO ARGS` writes to its stdout when that is a terminal
    (a pseudo-terminal this process reads), as `run_codemem` runs it otherwise."""
    import pty
    import select

    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(FIXTURES.parent), os.environ.get("PYTHONPATH", "")]
    )
    terminal, their_end = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), *args],
        stdout=their_end,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    os.close(their_end)
    shown = b""
    try:
        while select.select([terminal], [], [], timeout)[0]:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the other end closed: the command ended
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
        process.wait(timeout)
    return shown


def commands_run(
    monkeypatch: Any, before: Callable[[list[str]], None] | None = None
) -> list[list[str]]:
    """The argument lists of every process this process starts from now on (git's, to count
    them: `subprocess.run`'s and `infra.run_git`'s, which watches its git), each appended as
    it starts, after `before(args)` when given."""
    started: list[list[str]] = []

    class Counted(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            started.append([str(arg) for arg in args])
            if before is not None:
                before(started[-1])
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", Counted)
    return started
