"""The world the fault benchmark breaks: a codemem command line, a prepared repository, checks.

`Codemem` runs one command as a subprocess with a timeout (a command that outlives it is a
hang, never a stuck benchmark) or starts one in its own process group to be killed.
`build_template` prepares a repository once (init, digest, a scripted agent session, an
archival note, then a second commit not yet indexed or digested); every cell works on a copy.
`Outcome` counts what a cell found against the invariants, one line per problem.
Standard library only, plus the installed codemem the command runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from codemem_cli import clean_environment, default_command

TIMEOUT = 120.0  # longest any one command may take before it counts as a hang
MODULES = 60  # more than the indexer's PARALLEL_MIN_FILES (48): full builds fork workers
CHANGED = 50  # modules the second commit edits: the incremental run forks workers too
QUERY, EXPECTED = "func_57 Thing57", "pkg/mod57.py"  # a file neither commit changes
KEPT_FACT = "Prices are euros."  # appended to `project` by the scripted session
KEPT_NOTE = "kept-note-zebra: the release checklist lives in RELEASING.md"
TRACEBACK = "Traceback (most recent call last)"
FIGURES = ("indexes_lost", "edits_lost", "orphans_left", "tracebacks", "hangs", "other")


@dataclass
class Result:
    """One finished (or hung) command."""

    argv: list[str]
    rc: int | None  # None: it hung and was killed
    stdout: str
    stderr: str
    seconds: float

    @property
    def command(self) -> str:
        """The command line, with a bootstrap program given to -c shortened (ENOSPC runs)."""
        return shlex.join("<bootstrap>" if "\n" in arg else arg for arg in self.argv)

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.stderr or TRACEBACK in self.stdout


@dataclass
class Outcome:
    """What one cell of the matrix found: the figures and a line per problem."""

    cell: str
    runs: int = 0
    faults: int = 0
    indexes_lost: int = 0
    edits_lost: int = 0
    orphans_left: int = 0
    tracebacks: int = 0
    hangs: int = 0
    other: int = 0
    startup_tracebacks: int = 0  # a signal during Python's own start-up, before any codemem code
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is seen but not codemem's to fix

    def problem(self, figure: str, text: str) -> None:
        setattr(self, figure, getattr(self, figure) + 1)
        self.problems.append(f"{figure}: {text}")

    def check_command(self, result: Result, *, must_succeed: bool = True) -> bool:
        """Count a hang, a traceback or (if `must_succeed`) a failure; True when it went well."""
        if result.rc is None:
            self.problem("hangs", f"`{result.command}` still running after {TIMEOUT:g} s")
            return False
        if result.traceback:
            self.problem(
                "tracebacks",
                f"`{result.command}` (exit {result.rc}): {traceback_summary(result.stderr + result.stdout)}",
            )
            return False
        if must_succeed and result.rc != 0:
            self.problem(
                "other", f"`{result.command}` exit {result.rc}: {last_line(result.stderr)}"
            )
            return False
        return True

    @property
    def ok(self) -> bool:
        return not self.problems


def traceback_summary(text: str) -> str:
    """The innermost frame and the exception of the last traceback in `text`."""
    frames = [line.strip() for line in text.splitlines() if line.strip().startswith('File "')]
    where = f" at {frames[-1]}" if frames else ""
    return f"{last_line(text)}{where}"


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _default_sigint() -> None:
    # A benchmark started as a background job inherits SIGINT ignored; codemem must not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Codemem:
    """The codemem command line against one repository at a time, clean environment."""

    def __init__(self, home: Path, command: list[str] | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.command = command or default_command()
        self.env = clean_environment(home)
        self.env["HOME"] = str(home)
        for name in (
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "ANTHROPIC_BASE_URL",
            "OPENAI_BASE_URL",
        ):
            self.env.pop(name, None)

    def argv(self, repo: Path, args: tuple[str, ...] | list[str]) -> list[str]:
        return [*self.command, "--repo", str(repo), *args]

    def run(
        self, repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT
    ) -> Result:
        return run(self.argv(repo, args), {**self.env, **(env or {})}, timeout)

    def start(self, repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """The command in a new session (its own process group), output to pipes."""
        return subprocess.Popen(
            self.argv(repo, args),
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            preexec_fn=_default_sigint,
        )


def run(
    argv: list[str], env: dict[str, str], timeout: float = TIMEOUT, cwd: Path | None = None
) -> Result:
    """Run `argv` in its own process group; on timeout kill the whole group (rc None)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        rc = None
    return Result(argv, rc, out, err, time.monotonic() - started)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def live_group(pgid: int) -> set[int]:
    """Processes of group `pgid` that are not zombies (from /proc)."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.add(int(entry.name))
    return members


def wait_group_gone(pgid: int, timeout: float = 15.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while (left := live_group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=TIMEOUT)


def write_modules(repo: Path, count: int, version: int) -> None:
    (repo / "pkg").mkdir(exist_ok=True)
    for n in range(count):
        body = f"def func_{n}(x):\n    return x + {n}\n\n\nclass Thing{n}:\n    size = {n}\n"
        if version:
            body += f"\n\ndef revised_{n}_v{version}():\n    return {version}\n"
        (repo / "pkg" / f"mod{n}.py").write_text(body)


@dataclass
class Template:
    """The prepared repository every cell copies."""

    repo: Path
    user: str
    values: dict[str, str]  # block label -> value in the template


SESSION_SCRIPT = [
    {
        "tool_calls": [
            {"name": "memory_append", "arguments": {"label": "project", "content": KEPT_FACT}}
        ]
    },
    "Noted.",
]


def build_template(cli: Codemem, root: Path) -> Template:
    """init + index + digest + a scripted agent session + a note; then a commit not yet seen."""
    repo = root / "template"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("# Shop\n\nA tiny shop: carts, prices and modules.\n")
    write_modules(repo, MODULES, 0)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add the modules")
    script = root / "session.json"
    script.write_text(json.dumps(SESSION_SCRIPT))
    for args in (
        ("init",),
        ("digest", "--no-llm"),
        ("run", "-m", f"scripted/{script}", "--yes", "Remember that prices are euros"),
        ("remember", KEPT_NOTE),
        ("memory", "create", "scratch", "--description", "Scratch space.", "--value", "scratch v0"),
    ):
        result = cli.run(repo, *args)
        if result.rc != 0 or result.traceback:
            raise RuntimeError(
                f"template: `{result.command}` failed: {result.stderr.strip()[-2000:]}"
            )
    write_modules(repo, CHANGED, 1)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Revise the modules")
    listing = json.loads(cli.run(repo, "memory", "list", "--json").stdout)
    labels = [item["label"] for item in listing]
    user = next(label for label in labels if label.startswith("users/"))
    return Template(repo, user, {label: block_value(cli, repo, label) or "" for label in labels})


def copy_template(template: Template, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(template.repo, dest, symlinks=True)
    return dest


def block_value(cli: Codemem, repo: Path, label: str) -> str | None:
    """The block's value as `memory show --json` gives it; None if that fails."""
    result = cli.run(repo, "memory", "show", label, "--json")
    if result.rc != 0:
        return None
    try:
        return json.loads(result.stdout)["value"]
    except (ValueError, KeyError, TypeError):
        return None


def search_paths(cli: Codemem, repo: Path, query: str = QUERY) -> tuple[Result, list[str] | None]:
    result = cli.run(repo, "search", "--level", "file", "-k", "5", "--json", query)
    try:
        return result, [item["path"] for item in json.loads(result.stdout)]
    except (ValueError, KeyError, TypeError):
        return result, None


def check_index(cli: Codemem, repo: Path, outcome: Outcome, context: str) -> None:
    """The index is there and finds the file that no fault touched."""
    result, paths = search_paths(cli, repo)
    if not outcome.check_command(result, must_succeed=False):
        return
    if not paths or paths[0] != EXPECTED:
        outcome.problem(
            "indexes_lost",
            f"{context}: `{result.command}` gave {paths} (exit {result.rc}: {last_line(result.stderr)})",
        )


def check_kept_edits(cli: Codemem, repo: Path, outcome: Outcome, context: str) -> None:
    """The template's successful edits are still there: the session's fact and the note."""
    project = block_value(cli, repo, "project")
    if project is None or "euros." not in project:
        outcome.problem("edits_lost", f"{context}: `project` lost {KEPT_FACT!r}")
    result = cli.run(repo, "recall", "--archive", "--json", "kept-note-zebra")
    if outcome.check_command(result) and "kept-note-zebra" not in result.stdout:
        outcome.problem("edits_lost", f"{context}: `{result.command}` lost the note")


def python_for(command: list[str]) -> str:
    """The interpreter behind a codemem command (its shebang), else this one."""
    first = Path(command[0])
    if first.name.startswith("python"):
        return str(first)
    try:
        line = first.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return sys.executable
    return line[2:].strip() if line.startswith("#!") and "python" in line else sys.executable
