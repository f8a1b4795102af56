"""The soak's timeline: each memory write and each git command of the run, when it started
and ended (wall and monotonic time), in which clone and thread, its exit code and output.

A write reported saved and lost afterwards is placed against the git commands around it: the
report names, for each, the commands of its clone from a little before it started to a little
after it ended, and where its token is found in git (`lost_write`); the whole timeline goes to
a JSON-lines file beside the report (`write`). Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

BEFORE, AFTER = 5.0, 10.0  # seconds of the clone's timeline shown around a lost write
OUTPUT = 300  # characters of a command's output kept (its end: where the error line is)


def _wall(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{int(seconds % 1 * 1000):03d}"


class Timeline:
    """Spans recorded from any thread; `t0`/`t1` are monotonic seconds since the run began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict] = []
        self.origin = time.monotonic()
        self.wall_origin = time.time()

    @contextlib.contextmanager
    def span(self, clone: str, what: str, token: str | None = None) -> Iterator[dict]:
        """Record `what` run in `clone` over the block; the caller sets `rc` and `out` in the
        dict it is given (`rc` None: killed, hung or raised)."""
        start = time.monotonic()
        event: dict = {
            "clone": clone,
            "thread": threading.current_thread().name,
            "what": what,
            "token": token,
            "rc": None,
            "out": "",
        }
        try:
            yield event
        finally:
            end = time.monotonic()
            event["t0"] = round(start - self.origin, 3)
            event["t1"] = round(end - self.origin, 3)
            event["start"] = _wall(self.wall_origin + start - self.origin)
            event["end"] = _wall(self.wall_origin + end - self.origin)
            event["out"] = event["out"].strip()[-OUTPUT:]
            with self.lock:
                self.events.append(event)

    def ordered(self) -> list[dict]:
        with self.lock:
            return sorted(self.events, key=lambda e: (e["t0"], e["t1"]))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for event in self.ordered():
                out.write(json.dumps(event) + "\n")

    def lost_write(self, repo: Path, token: str) -> dict:
        """The write of `token`, the commands of its clone around it (one line each) and the
        commits of `repo` (the clone it was saved in; its reflog too: a rebase leaves the
        first commits out of every branch) whose diff adds or removes it."""
        events = self.ordered()
        write = next((e for e in events if e["token"] == token), None)
        found = subprocess.run(
            ["git", "log", "--all", "--reflog", "-m", "--format=%h %ci %s", "-S", token],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        if write is None:
            return {"token": token, "write": None, "commits": found}
        around = [
            line(e)
            for e in events
            if e["clone"] == write["clone"]
            and e["t1"] >= write["t0"] - BEFORE
            and e["t0"] <= write["t1"] + AFTER
        ]
        return {"token": token, "write": line(write), "around": around, "commits": found}


def line(event: dict) -> str:
    """One event as one line: `+t0..+t1 start-end thread rc: what | output's last line`."""
    out = event["out"].splitlines()[-1][:160] if event["out"] else ""
    return (
        f"+{event['t0']:.3f}..+{event['t1']:.3f} {event['start']}-{event['end']} "
        f"{event['thread']} rc {event['rc']}: {event['what'][:120]}" + (f" | {out}" if out else "")
    )
