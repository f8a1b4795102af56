"""Fault injection: kill, damage, starve and mislead codemem, and count what breaks.

    python benchmarks/faults.py --runs 3 --seed 1 --json-out benchmarks/results/faults.json

Four families of cells (see each module's docstring):
- kills (`fault_kills.py`): `index --full`, `index`, `digest`, `memory set`, `remember
  --block`, `remember` and an agent session editing memory, each killed by SIGINT, SIGTERM and
  SIGKILL at every phase (the test hook's named points, and `--runs` random times);
- damage (`fault_damage.py`): every kind of file under `.codemem/` deleted, cut in half,
  overwritten with random bytes, made non-UTF-8 (`--every-file`: every file, not one per kind);
- ENOSPC (`fault_env.py`): `remember`, `memory set`, `index`, `digest` failing at each of their
  write/rename/fsync calls (`--enospc-calls N`: only the first N of each);
- a real full disk (`fault_env.py`, as root with unshare(1)): the same four commands on a
  64 MB tmpfs filled to 0, 64 KB and 1 MB free, then again with room;
- hostile repositories (`fault_env.py`): symlinks out, type changes, huge and binary files.

Prints a Markdown table (runs, faults injected, indexes lost, edits lost, orphans left,
tracebacks shown, hangs, other failures) and every problem with its command. Exit status 1
when anything but runs and faults is non-zero. Standard library and the installed codemem only.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from fault_damage import DAMAGES, damage_cell, targets
from fault_env import (
    DISK_FREE,
    DISK_OPS,
    count_calls,
    disk_cell,
    disk_cell_inside,
    enospc_cell,
    hostile_cell,
    real_disk_unavailable,
)
from fault_kills import SIGNALS, calibrate, kill_cell, ops, write_edit_script
from fault_world import FIGURES, Codemem, Outcome, Template, build_template

HERE = Path(__file__).resolve().parent
FAMILIES = ("kill", "damage", "enospc", "disk", "hostile")
COLUMNS = ("runs", "faults", *FIGURES, "startup_tracebacks")
HEADERS = (
    "runs",
    "faults injected",
    "indexes lost",
    "edits lost",
    "orphans left",
    "tracebacks shown",
    "hangs",
    "other failures",
    "Python start-up tracebacks",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def kill_family(cli: Codemem, template, work: Path, runs: int, seed: int):
    script = write_edit_script(work)
    for op in ops(script):
        calibration = calibrate(cli, template, op, work)
        log(f"  {op.name}: {calibration.seconds:.1f} s uninterrupted")
        for signame in SIGNALS:
            for n, phase in enumerate((*op.hooks, *["random"] * runs)):
                rng = random.Random(f"{seed}:{op.name}:{signame}:{n}")
                yield kill_cell(cli, template, op, signame, phase, calibration, work, rng)


def damage_family(cli: Codemem, template, work: Path, every_file: bool, seed: int):
    for target in targets(template, every_file):
        for how in DAMAGES:
            yield damage_cell(cli, template, target, how, work, seed)


def enospc_family(cli: Codemem, template, work: Path, limit: int | None):
    for op in DISK_OPS:
        calls = count_calls(cli, template, op, work)
        log(f"  {op.name}: {calls} write/rename/fsync calls")
        for at in range(1, (min(calls, limit) if limit else calls) + 1):
            yield enospc_cell(cli, template, op, at, work)


def disk_family(cli: Codemem, template, work: Path):
    reason = real_disk_unavailable()
    if reason:
        log(f"  skipped: {reason}")
        return
    for op in DISK_OPS:
        for free in DISK_FREE:
            yield disk_cell(cli, template, op, free, work, Path(__file__).resolve())


def summarize(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """Figures per family and in total."""
    table: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        family = outcome.cell.split()[0]
        for key in (family, "all"):
            row = table.setdefault(key, dict.fromkeys(COLUMNS, 0))
            for column in COLUMNS:
                row[column] += getattr(outcome, column)
    return table


def markdown(table: dict[str, dict[str, int]], outcomes: list[Outcome]) -> str:
    lines = ["| cells | " + " | ".join(HEADERS) + " |", "|:--" + "|--:" * len(HEADERS) + "|"]
    for family, row in sorted(table.items(), key=lambda item: item[0] == "all"):
        name = f"**{family}**" if family == "all" else family
        lines.append(f"| {name} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    problems = [p for outcome in outcomes for p in outcome.problems]
    lines += ["", f"Problems: {len(problems)}" + (":" if problems else ".")]
    lines += [f"- {p}" for p in problems]
    notes = [n for outcome in outcomes for n in outcome.notes]
    if notes:
        lines += ["", "Not codemem's to fix:"] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def write_json(path: Path, args, cli: Codemem, started: float, outcomes: list[Outcome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "argv": sys.argv,
        "codemem": cli.command,
        "seed": args.seed,
        "runs": args.runs,
        "seconds": round(time.monotonic() - started, 1),
    }
    cells = [asdict(o) for o in outcomes]
    path.write_text(
        json.dumps({"meta": meta, "figures": summarize(outcomes), "cells": cells}, indent=2)
    )


def inside_disk_cell(argv: list[str]) -> int:
    """`--disk-cell OP FREE TEMPLATE WORK CMD...`: one disk cell, run by disk_cell under unshare."""
    name, free, repo, work, *command = argv
    cli = Codemem(Path(work) / "home", command)
    values = {}  # blocks are compared with their own value just before the fault
    outcome = disk_cell_inside(
        cli,
        Template(Path(repo), "", values),
        next(op for op in DISK_OPS if op.name == name),
        int(free),
        Path(work) / f"disk-{name.replace(' ', '-')}-{free}",
    )
    print(json.dumps(asdict(outcome)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--disk-cell"]:
        return inside_disk_cell(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codemem", help="the codemem command (default: the installed one)")
    parser.add_argument(
        "--runs", type=int, default=3, help="random-time kills per command and signal"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only", default=",".join(FAMILIES), help="families to run, comma-separated"
    )
    parser.add_argument(
        "--every-file", action="store_true", help="damage every file, not one of each kind"
    )
    parser.add_argument(
        "--enospc-calls", type=int, default=None, help="fail only the first N calls of each"
    )
    parser.add_argument(
        "--huge-mb", type=int, default=64, help="size of the hostile repository's huge file"
    )
    parser.add_argument("--work", type=Path, default=HERE / ".work" / "faults")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    families = [f for f in args.only.split(",") if f]
    unknown = set(families) - set(FAMILIES)
    if unknown:
        parser.error(f"unknown families: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    cli = Codemem(args.work / "home", shlex.split(args.codemem) if args.codemem else None)
    log(f"faults: building the template with {shlex.join(cli.command)}")
    template = build_template(cli, args.work)
    generators = {
        "kill": lambda: kill_family(cli, template, args.work, args.runs, args.seed),
        "damage": lambda: damage_family(cli, template, args.work, args.every_file, args.seed),
        "enospc": lambda: enospc_family(cli, template, args.work, args.enospc_calls),
        "disk": lambda: disk_family(cli, template, args.work),
        "hostile": lambda: iter([hostile_cell(cli, args.work, args.huge_mb)]),
    }
    outcomes: list[Outcome] = []
    for family in families:
        log(f"faults: {family}")
        for outcome in generators[family]():
            outcomes.append(outcome)
            if args.json_out:  # after every cell, so a long run can be read while it goes
                write_json(args.json_out, args, cli, started, outcomes)
            log(
                f"  {'ok  ' if outcome.ok else 'FAIL'} {outcome.cell}"
                + "".join(f"\n       {p}" for p in outcome.problems)
            )
    table = summarize(outcomes)
    print(markdown(table, outcomes))
    if args.json_out:
        write_json(args.json_out, args, cli, started, outcomes)
    total = table.get("all", dict.fromkeys(COLUMNS, 0))
    return 1 if any(total[figure] for figure in FIGURES) else 0


if __name__ == "__main__":
    sys.exit(main())
