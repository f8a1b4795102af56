"""Run one subprocess and measure it: wall time, peak RSS of its largest process, and the
peak of the summed RSS of its whole process tree (worker pools included).

`os.wait4` gives the rusage of exactly this child (plus the descendants it waited for), so
measurements never leak between calls the way `RUSAGE_CHILDREN` maxima do. The tree sampler
reads `/proc` every `sample_every` seconds, so it can miss a spike shorter than that.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Measured:
    """What one subprocess did and cost."""

    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    max_rss_mb: float  # largest single process (ru_maxrss)
    tree_rss_mb: float | None  # peak sum over the process tree, sampled; None when not sampled
    timed_out: bool = False
    cpu_s: float | None = None  # user + system CPU of the process and the children it waited for

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def brief_error(self, limit: int = 400, lines: int = 3) -> str:
        """The last lines of stderr (or stdout) on one line, for a failure record."""
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-lines:]
        text = " | ".join(line.strip() for line in tail)[-limit:]
        why = "timed out" if self.timed_out else f"exit {self.returncode}"
        return f"{why}: {text}" if text else why

    def timing(self) -> dict[str, float | None]:
        return {
            "wall_s": round(self.wall_s, 4),
            "max_rss_mb": round(self.max_rss_mb, 1),
            "tree_rss_mb": None if self.tree_rss_mb is None else round(self.tree_rss_mb, 1),
            "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 3),
        }


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: split after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_rss_kb(root: int) -> int:
    """Summed resident set size of `root` and all its descendants, in KiB."""
    children = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            continue
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, every: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self.done.wait(self.every)


def run_measured(
    cmd: list[str],
    *,
    cwd: Path | str | None = None,
    stdin_text: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    sample_every: float | None = None,
) -> Measured:
    """Run `cmd` to completion and measure it; never raises for a failing command.

    Args:
        cmd: the argv to run.
        cwd: working directory.
        stdin_text: text fed on stdin (stdin is /dev/null otherwise).
        env: the full environment (default: inherit).
        timeout: seconds before the process group is killed.
        sample_every: seconds between process-tree RSS samples; None disables the sampler.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as inp,
    ):
        if stdin_text is not None:
            inp.write(stdin_text.encode("utf-8"))
            inp.seek(0)
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=inp if stdin_text is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            return Measured(cmd, 127, "", f"cannot start: {exc}", 0.0, 0.0, None)
        sampler = _TreeSampler(proc.pid, sample_every) if sample_every else None
        if sampler:
            sampler.start()
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
            if sampler:
                sampler.done.set()
                sampler.join()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            cmd=cmd,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            wall_s=wall,
            max_rss_mb=usage.ru_maxrss / 1024,
            tree_rss_mb=sampler.peak_kb / 1024 if sampler else None,
            timed_out=expired.is_set(),
            cpu_s=usage.ru_utime + usage.ru_stime,
        )
