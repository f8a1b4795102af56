"""Damage cells: one file under `.codemem/` deleted, cut in half, overwritten with random bytes
or made non-UTF-8; then every everyday command.

After the damage `status`, `index`, `search`, `memory show`, `digest`, `recall` and
`sessions list` run in turn. None may print a traceback or hang. A derived file (under
`.codemem/local/`) must be repaired or rebuilt: every command succeeds and search finds the
file it should. A committed file may stop a command, but then with a message naming it; an
unreadable committed file (random bytes, not UTF-8, a cut JSON file) must be named by at
least one command, unless a command rewrote it whole. Either way the index keeps working.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fault_world import (
    EXPECTED,
    QUERY,
    Codemem,
    Outcome,
    Template,
    check_index,
    copy_template,
    last_line,
)

DAMAGES = ("delete", "truncate", "random", "nonutf8")
COMMANDS = (
    ("status",),
    ("index",),
    ("search", "--level", "file", "-k", "5", QUERY),
    ("memory", "show"),
    ("digest", "--no-llm"),
    ("recall", ""),
    ("sessions", "list"),
)
_VARYING = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{16,}|\d+")
# The three LanceDB tables hold the same kinds of files, and every lock file is alike.
_SAME_ROLE = (
    (re.compile(r"^local/index/\w+\.lance/"), "local/index/*.lance/"),
    (re.compile(r"^local/locks/.*"), "local/locks/*"),
)


@dataclass(frozen=True)
class Target:
    """A file under `.codemem/`: its path there and whether it is derived (under local/)."""

    rel: str

    @property
    def derived(self) -> bool:
        return self.rel.startswith("local/")

    @property
    def kind(self) -> str:
        """The path with ids and numbers starred: one kind per role (a table's data file...)."""
        kind = _VARYING.sub("*", self.rel)
        for pattern, role in _SAME_ROLE:
            kind = pattern.sub(role, kind)
        return kind


def targets(template: Template, every_file: bool) -> list[Target]:
    """The template's files under .codemem/: all of them, or the first of each kind."""
    root = template.repo / ".codemem"
    files = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    )
    found: dict[str, Target] = {}
    for rel in files:
        target = Target(rel)
        if every_file:
            found[rel] = target
        else:
            found.setdefault(target.kind, target)
    return list(found.values())


def damage(path: Path, how: str, rng: random.Random) -> None:
    data = path.read_bytes()
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(rng.randbytes(max(len(data), 64)))
    elif how == "nonutf8":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\xff\xfe\xc3\x28\x80" + data[middle:])
    else:
        raise ValueError(how)


UNREAD = (".gitignore", "digests/")  # not read by these commands (digests: only by the MCP server)


def must_name(target: Target, how: str) -> bool:
    """Whether this damage makes a committed file these commands read unreadable (half a YAML
    file of comments still parses; half a JSON file never does)."""
    if target.derived or how == "delete" or target.rel.startswith(UNREAD):
        return False
    return how in ("random", "nonutf8") or Path(target.rel).suffix == ".json"


def readable(path: Path) -> bool:
    """Whether the file is whole again (a command rewrote it): UTF-8, and JSON if it is JSON."""
    try:
        text = path.read_bytes().decode("utf-8")
        if path.suffix == ".json":
            json.loads(text)
    except (OSError, ValueError):
        return False
    return True


def damage_cell(
    cli: Codemem, template: Template, target: Target, how: str, work: Path, seed: int
) -> Outcome:
    cell = f"damage {how} {target.rel}"
    outcome = Outcome(cell, runs=1, faults=1)
    repo = copy_template(template, work / "damage")
    damage(repo / ".codemem" / target.rel, how, random.Random(f"{seed}:{cell}"))
    names = (target.rel, f".codemem/{target.rel}", Path(target.rel).name)
    named = False
    for args in COMMANDS:
        result = cli.run(repo, *args)
        if not outcome.check_command(result, must_succeed=False):
            continue
        # `status` reports damage on stdout (it is its output); every other command on stderr.
        said = result.stderr + (
            result.stdout if args[:1] == ("status",) or args[:1] == ["status"] else ""
        )
        named = named or any(name in said for name in names)
        if result.rc == 0:
            continue
        if target.derived:
            outcome.problem(
                "other",
                f"{cell}: not repaired: `{' '.join(args)}` exit {result.rc}: {last_line(result.stderr)}",
            )
        elif not any(name in last_line(result.stderr) for name in names):
            outcome.problem(
                "other",
                f"{cell}: `{' '.join(args)}` exit {result.rc} without naming it: {last_line(result.stderr)}",
            )
    if must_name(target, how) and not named and not readable(repo / ".codemem" / target.rel):
        outcome.problem("other", f"{cell}: no command named the damaged file")
    final = cli.run(repo, "search", "--level", "file", "-k", "5", QUERY)
    if (
        target.derived
        or final.rc == 0
        or not any(name in last_line(final.stderr) for name in names)
    ):
        check_index(cli, repo, outcome, f"{cell} (expects {EXPECTED})")  # else: stopped, naming it
    shutil.rmtree(repo, ignore_errors=True)
    return outcome
