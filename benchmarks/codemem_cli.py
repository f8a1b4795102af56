"""The codemem command line as the benchmarks use it: a subprocess, measured, per its contract.

    codemem --repo DIR index [--full] --json
    codemem --repo DIR search --level file -k K --json --query-file -   (query on stdin)
    codemem --repo DIR map

Search stages are switched off with `CODEMEM_SEARCH__<STAGE>=false`. The environment is
cleaned of the caller's CODEMEM_* settings and CODEMEM_HOME points at an empty folder, so a
developer's personal config never changes a benchmark's numbers.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure import Measured, run_measured

STAGES = (
    "bm25", "symbols", "paths", "vectors", "graph_prior", "test_prior", "query_analysis",
    "messages", "callees", "stems", "cochange", "depth_prior", "untied",
)  # fmt: skip
SEARCH_FLAGS = ("--level", "--json", "--query-file")


def default_command() -> list[str]:
    """The installed `codemem` next to this Python, else `python -m codemem`."""
    beside = Path(sys.executable).parent / "codemem"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("codemem")
    return [found] if found else [sys.executable, "-m", "codemem"]


def clean_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMEM_")}
    # Measured as installed: pip compiles the package's bytecode, and a source tree (an
    # editable install) keeps it in __pycache__ after the first run. With this set nothing is
    # kept, and every process compiles codemem's modules again (flask: about 0.13 s of CPU a
    # cold index, 0.08 s a search).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["CODEMEM_HOME"] = str(home)
    env.setdefault("PYTHONUTF8", "1")
    return env


@dataclass
class SearchResult:
    call: Measured
    items: list[dict[str, Any]] | None  # None when the call failed or printed no JSON array
    error: str | None = None

    def paths(self) -> list[str]:
        """Result paths in order, each once."""
        seen: dict[str, None] = {}
        for item in self.items or []:
            path = item.get("path")
            if isinstance(path, str):
                seen.setdefault(path.replace("\\", "/").removeprefix("./"), None)
        return list(seen)


@dataclass
class CodememCLI:
    """Runs codemem subcommands against one repository at a time."""

    home: Path
    command: list[str] = field(default_factory=default_command)
    index_timeout: float = 3600
    search_timeout: float = 300
    sample_every: float | None = None  # process-tree RSS sampling period (None: off)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = clean_environment(self.home)

    @classmethod
    def from_string(cls, command: str | None, home: Path, **kwargs: Any) -> CodememCLI:
        if command:
            return cls(home=home, command=shlex.split(command), **kwargs)
        return cls(home=home, **kwargs)

    def _run(self, args: list[str], repo: Path | None, **kwargs: Any) -> Measured:
        prefix = [*self.command, "--repo", str(repo)] if repo else list(self.command)
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("sample_every", self.sample_every)
        return run_measured([*prefix, *args], **kwargs)

    def preflight(self, subcommands: tuple[str, ...] = ("index", "search")) -> str | None:
        """None when the subcommands exist and search takes the flags we use; else why not."""
        for name in subcommands:
            probe = self._run([name, "--help"], None, timeout=120)
            if not probe.ok:
                return f"`{shlex.join(self.command)} {name} --help` failed ({probe.brief_error(300, lines=1)})"
            if name == "search":
                missing = [flag for flag in SEARCH_FLAGS if flag not in probe.stdout]
                if missing:
                    return f"`codemem search` does not take {', '.join(missing)} yet"
        return None

    def index(self, repo: Path, *, full: bool = False) -> Measured:
        """`codemem index` (incremental unless `full`), running `init` first if it must."""
        args = ["index", "--json"] + (["--full"] if full else [])
        call = self._run(args, repo, timeout=self.index_timeout)
        if not call.ok and not (repo / ".codemem").exists():
            init = self._run(["init"], repo, timeout=self.index_timeout)
            if init.ok:
                call = self._run(args, repo, timeout=self.index_timeout)
        return call

    def search(
        self,
        repo: Path,
        query: str,
        *,
        k: int = 10,
        level: str = "file",
        disabled: str | None = None,
    ) -> SearchResult:
        """`codemem search` with the query on stdin; `disabled` switches one stage off."""
        env = dict(self.env)
        if disabled:
            env[f"CODEMEM_SEARCH__{disabled.upper()}"] = "false"
        args = ["search", "--level", level, "-k", str(k), "--json", "--query-file", "-"]
        call = self._run(args, repo, stdin_text=query, env=env, timeout=self.search_timeout)
        if not call.ok:
            return SearchResult(call, None, call.brief_error())
        try:
            items = json.loads(call.stdout)
        except json.JSONDecodeError as exc:
            return SearchResult(call, None, f"stdout is not JSON: {exc}")
        if not isinstance(items, list):
            return SearchResult(call, None, "stdout is not a JSON array")
        return SearchResult(call, [i for i in items if isinstance(i, dict)])

    def map(self, repo: Path, *args: str) -> Measured:
        return self._run(["map", *args], repo, timeout=self.search_timeout)


def parse_json(text: str) -> Any:
    """The JSON a command printed, or None."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
