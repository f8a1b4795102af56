"""The index's fixed cost per file: `codemem index --full` over N empty files and over N small
files of a realistic mix, and where one worker's time goes.

    python benchmarks/file_cost.py [--files 20000] [--kind empty,mix] [--runs 3]
                                   [--profile] [--codemem "codemem"]

Each kind's repository is made once under benchmarks/.work/file_cost/ (a git commit of N
files in folders of 500; the same files every time: the mix is drawn from a seeded random
generator) and indexed `--runs` times from nothing (`index --full`, a fresh CODEMEM_HOME);
the median wall and CPU seconds are printed with the cost per file. `--profile` also runs
`extract_file` (read, classify, redact, parse, rows: a worker's work for one file) over every
file in this process under cProfile and prints the top functions. To see the workers
themselves: `py-spy record --subprocesses -o out.svg -- python -m codemem --repo REPO index
--full` (the repository's path is printed).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]  # this tree's codemem

from codemem_cli import CodememCLI  # noqa: E402

PER_FOLDER = 500
WORDS = (
    "value", "index", "parse", "result", "items", "count", "name", "path", "config", "load",
    "store", "query", "token", "buffer", "render", "node", "graph", "cache", "limit", "offset",
)  # fmt: skip


def _python(rng: random.Random) -> str:
    parts = ['"""A module."""\n', "import os\n\n"]
    for _ in range(rng.randint(1, 6)):
        name, arg = rng.choice(WORDS), rng.choice(WORDS)
        body = "\n".join(
            f"    {rng.choice(WORDS)} = {arg} + {rng.randint(0, 99)}" for _ in range(3)
        )
        parts.append(f"\ndef {name}_{rng.randint(0, 999)}({arg}):\n{body}\n    return {arg}\n")
    return "".join(parts)


def _c(rng: random.Random) -> str:
    funcs = (
        f"static int {rng.choice(WORDS)}_{i}(int {rng.choice(WORDS)})\n{{\n\treturn {i};\n}}\n"
        for i in range(rng.randint(1, 5))
    )
    return "#include <stdio.h>\n\n" + "\n".join(funcs)


def _markdown(rng: random.Random) -> str:
    return "".join(
        f"# {rng.choice(WORDS).title()}\n\n{' '.join(rng.choices(WORDS, k=30))}.\n\n"
        for _ in range(rng.randint(1, 4))
    )


def _json(rng: random.Random) -> str:
    pairs = ", ".join(f'"{rng.choice(WORDS)}": {rng.randint(0, 9)}' for _ in range(8))
    return "{" + pairs + "}\n"


# (suffix, weight, maker) of the mix: roughly a Python project's files by kind.
MIX = (
    (".py", 45, _python),
    ("/__init__.py", 10, lambda rng: ""),
    (".c", 15, _c),
    (".md", 10, _markdown),
    (".json", 10, _json),
    (".txt", 10, lambda rng: " ".join(rng.choices(WORDS, k=rng.randint(0, 60))) + "\n"),
)


def make_repo(folder: Path, kind: str, files: int) -> Path:
    """The repository of `files` files of `kind` (made once; reused while it is complete)."""
    repo = folder / f"{kind}-{files}"
    if (repo / ".git" / "made").exists():
        return repo
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    rng = random.Random(files)
    for i in range(files):
        sub = repo / f"d{i // PER_FOLDER}"
        if kind == "empty":
            path, text = sub / f"f{i}.py", ""
        else:
            suffix, _, maker = rng.choices(MIX, weights=[m[1] for m in MIX])[0]
            path = (
                sub / f"m{i}" / "__init__.py" if suffix.startswith("/") else sub / f"f{i}{suffix}"
            )
            text = maker(rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "files"], check=True)
    (repo / ".git" / "made").write_text("")
    return repo


def time_index(cli: CodememCLI, repo: Path, runs: int) -> dict[str, float]:
    """Median wall and CPU seconds of `index --full` over `runs` runs."""
    walls, cpus = [], []
    for _ in range(runs):
        call = cli.index(repo, full=True)
        if not call.ok:
            raise SystemExit(f"index failed: {call.brief_error()}")
        walls.append(call.wall_s)
        cpus.append(call.cpu_s or 0.0)
    return {
        "wall_s": round(statistics.median(walls), 2),
        "cpu_s": round(statistics.median(cpus), 2),
    }


def profile_extract(repo: Path, top: int) -> None:
    """`extract_file` over every file of `repo` in this process, under cProfile."""
    from codemem.code.extract import ExtractSettings, extract_file
    from codemem.code.files import list_candidates

    settings = ExtractSettings(max_file_bytes=1_000_000, chunk_lines=80, max_line_chars=2000)
    candidates = list_candidates(repo)
    for c in candidates[:50]:  # load the grammars before timing
        extract_file(repo, c.path, c.content_id, settings)
    profiler = cProfile.Profile()
    start = time.process_time()
    profiler.enable()
    for c in candidates:
        extract_file(repo, c.path, c.content_id, settings)
    profiler.disable()
    cpu = time.process_time() - start
    print(f"extract_file: {len(candidates)} files, {cpu:.2f} s CPU under cProfile")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--kind", default="empty,mix", help="empty, mix or both (comma-separated)")
    ap.add_argument("--runs", type=int, default=3, help="index runs (0: profile only)")
    ap.add_argument("--profile", action="store_true", help="cProfile extract_file in-process")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument(
        "--codemem", help="the codemem command (default: this tree's, `python -m codemem`)"
    )
    ap.add_argument("--work-dir", type=Path, default=ROOT / "benchmarks" / ".work" / "file_cost")
    args = ap.parse_args()
    command = args.codemem or f"{sys.executable} -m codemem"
    cli = CodememCLI.from_string(command, args.work_dir / "home")
    cli.env["PYTHONPATH"] = str(ROOT)  # this tree's codemem, not the one installed
    for kind in args.kind.split(","):
        repo = make_repo(args.work_dir, kind, args.files)
        print(f"{kind}: {repo}", file=sys.stderr)
        if args.runs:
            timing = time_index(cli, repo, args.runs)
            per_file = 1000 * timing["cpu_s"] / args.files
            print(f"{kind} files={args.files} {timing} cpu_ms_per_file={per_file:.3f}")
        if args.profile:
            profile_extract(repo, args.top)


if __name__ == "__main__":
    main()
