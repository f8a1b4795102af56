"""Speed and memory of the code index: full index, warm map, incremental index, search,
side by side with Universal Ctags and Aider's repo map.

Every number is one process, measured from outside: wall time including Python start-up, CPU
(user + system, with the children it waited for), peak RSS of the largest process (`wait4`
rusage) and peak summed RSS of the whole process tree (sampled from /proc every 50 ms, so
worker pools count). The main repository (sympy by default) is a clone of its mirror's HEAD
under benchmarks/.work/speed/; the size series (flask to sympy, `--linux DIR` adds the
kernel) measures per repository: full index, a fresh-process search, a one-file incremental
index, `ctags -R` and, with `--aider CMD`, Aider's cold repo map. "A typical repository"
times a cold `codemem index` plus the first `codemem search`, each a fresh process.

    python benchmarks/speed.py
    python benchmarks/speed.py --aider /work/venv-aider/bin/aider --linux /path/to/linux
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from checkout import CheckoutError, WorkClone, find_mirror, git, tree_size
from codemem_cli import CodememCLI, parse_json
from measure import Measured
from speed_others import Aider, ctags
from speed_report import render

ROOT = Path(__file__).resolve().parent.parent
SIZES = (
    "pallets/flask,marshmallow-code/marshmallow,pylint-dev/astroid,sqlfluff/sqlfluff,sympy/sympy"
)
TYPICAL = (
    "pallets/flask,pallets/click,expressjs/express,gin-gonic/gin,"
    "go-chi/chi,psf/requests,spf13/cobra,Seldaek/monolog"
)
# One query for every repository of the size series and the typical set (a fresh process's
# cost hardly depends on the words; these match something in any codebase).
GENERIC_QUERY = "read the configuration file and raise an error when a required value is missing"
COMMENT = {".py": "#", ".rb": "#", ".c": "//", ".h": "//", ".go": "//", ".js": "//", ".ts": "//"}
QUERIES = (
    "solve a system of linear equations when the coefficient matrix is singular",
    "TypeError: unsupported operand type(s) for *: 'Poly' and 'Piecewise' in Poly.__mul__",
    "trigsimp does not simplify sin(x)**2 + cos(x)**2 inside a Piecewise",
)
CHANGE_STEPS = (1, 10, 100)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_mb(call: Measured) -> float:
    return max(call.max_rss_mb, call.tree_rss_mb or 0.0)


def measured(call: Measured) -> dict[str, Any]:
    out: dict[str, Any] = call.timing()
    if not call.ok:
        out["error"] = call.brief_error()
    return out


def prepare(mirrors: Path, work: Path, repo: str) -> WorkClone:
    """A clean clone of the mirror's HEAD with no `.codemem/` at all."""
    mirror = find_mirror(mirrors, repo)
    if mirror is None:
        raise CheckoutError(f"no mirror for {repo} under {mirrors}")
    clone = WorkClone(mirror, work / repo.replace("/", "+")).ensure()
    head = git("rev-parse", "HEAD", git_dir=mirror).strip()
    clone.checkout(head, keep_codemem=False)
    return clone


def full_index(cli: CodememCLI, root: Path, label: str) -> dict[str, Any]:
    shutil.rmtree(root / ".codemem" / "local", ignore_errors=True)
    log(f"{label}: full index of {root} ...")
    call = cli.index(root, full=True)
    # The system writes the new index back to disk over the next half minute or so (the
    # kernel's is 6 GB): flushed now, outside any timing, so that the search and incremental
    # measured next time their own work, not that write-back's hold on the disk.
    os.sync()
    out = measured(call)
    out["output"] = parse_json(call.stdout)
    log(
        f"{label}: {call.wall_s:.1f} s, peak {peak_mb(call):.0f} MB"
        + ("" if call.ok else f" FAILED {call.brief_error()}")
    )
    return out


def editable_files(clone: WorkClone, count: int) -> list[Path]:
    """`count` Python files spread evenly over the tree (deterministic), code not tests."""
    files = [
        f.path for f in clone.tracked_files() if f.path.endswith(".py") and "/tests/" not in f.path
    ]
    files.sort()
    step = max(1, len(files) // count)
    return [clone.root / path for path in files[::step][:count]]


def append_function(path: Path, tag: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n\ndef codemem_bench_{tag}(value):\n    """Added by the benchmark."""\n    return value\n'
        )


def incremental(cli: CodememCLI, clone: WorkClone) -> list[dict[str, Any]]:
    """Incremental index time against the number of files changed since the last index."""
    targets = editable_files(clone, sum(CHANGE_STEPS))
    rows, used = [], 0
    call = cli.index(clone.root)
    rows.append({"changed": 0, **measured(call)})
    for count in CHANGE_STEPS:
        batch = targets[used : used + count]
        used += count
        for i, path in enumerate(batch):
            append_function(path, f"{count}_{i}")
        call = cli.index(clone.root)
        rows.append({"changed": len(batch), **measured(call)})
        log(f"incremental after {len(batch)} changed files: {call.wall_s:.2f} s")
    return rows


def search_runs(cli: CodememCLI, root: Path, runs: int) -> list[dict[str, Any]]:
    rows = []
    for query in QUERIES:
        walls, errors = [], []
        for _ in range(runs):
            result = cli.search(root, query, k=10)
            walls.append(result.call.wall_s)
            if result.error:
                errors.append(result.error)
        rows.append(
            {
                "query": query,
                "walls_s": [round(w, 4) for w in walls],
                "median_s": statistics.median(walls),
                "errors": errors[:1],
            }
        )
    return rows


def linux_tree(path: Path) -> WorkClone:
    """The kernel tree as a git work tree (an extracted tarball is `git init`-ed in place once)."""
    if not (path / ".git").exists():
        log(
            f"linux: {path} is not a git repository; committing it in place once (takes a while) ..."
        )
        git("init", "--quiet", cwd=path)
        # -f: Debian's kernel source ships a .gitignore of `/*` (only its packaging is tracked)
        git("add", "-f", "-A", ".", cwd=path)
        git(
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "--quiet",
            "-m",
            "linux source",
            cwd=path,
        )
    return WorkClone(path, path)


def size_row(
    cli: CodememCLI,
    clone: WorkClone,
    label: str,
    args: argparse.Namespace,
    aider: Aider | None,
    index: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One row of the size series: full index, fresh search, one-file incremental, ctags,
    Aider (`index` reuses a full index already measured)."""
    row: dict[str, Any] = {
        "repo": label,
        "commit": clone.head(),
        **tree_size(clone.root, clone.tracked_files()),
    }
    row["index"] = index or full_index(cli, clone.root, label)
    row["search"] = fresh_search(cli, clone.root, args.runs)
    row["incremental_1"] = one_file_edit(cli, clone)
    log(f"{label}: ctags -R ...")
    row["ctags"] = ctags(clone.root)
    if aider is None:
        row["aider"] = None
    elif row["files"] > args.aider_max_files:
        row["aider"] = {"error": f"skipped: {row['files']:,} files > --aider-max-files"}
    else:
        log(f"{label}: aider's cold repo map ...")
        row["aider"] = aider.repo_map(clone.root)
    log(
        f"{label}: search {row['search'].get('wall_s', 0):.2f} s, one-file index "
        f"{row['incremental_1'].get('wall_s', 0):.2f} s, ctags {row['ctags'].get('wall_s', 0):.1f} s"
        + (f", aider {row['aider'].get('wall_s', 0):.1f} s" if row["aider"] else "")
    )
    return row


def fresh_search(cli: CodememCLI, root: Path, runs: int) -> dict[str, Any]:
    """`codemem search` in a fresh process: the run with the median wall time."""
    calls = []
    for _ in range(max(1, runs)):
        result = cli.search(root, GENERIC_QUERY, k=10)
        calls.append(result)
    calls.sort(key=lambda r: r.call.wall_s)
    median = calls[len(calls) // 2]
    out = measured(median.call)
    out["runs"] = len(calls)
    if median.error:
        out["error"] = median.error
    return out


def edit_target(clone: WorkClone) -> Path | None:
    """A code file in the middle of the tree (by path), not a test: the one-file edit."""
    files = sorted(
        f.path
        for f in clone.tracked_files()
        if Path(f.path).suffix in COMMENT and "test" not in f.path.lower()
    )
    for path in files[len(files) // 2 :] + files[: len(files) // 2]:
        if (clone.root / path).is_file():
            return clone.root / path
    return None


def one_file_edit(cli: CodememCLI, clone: WorkClone) -> dict[str, Any]:
    """`codemem index` after one file changed (a comment appended; restored afterwards, so
    the index is then one file behind the work tree)."""
    call = cli.index(clone.root)  # up to date first: only the edit is measured
    target = edit_target(clone)
    if not call.ok or target is None:
        return {"error": call.brief_error() if not call.ok else "no code file to edit"}
    original = target.read_bytes()
    try:
        with target.open("a", encoding="utf-8") as fh:
            fh.write(f"\n{COMMENT[target.suffix]} edited by the speed benchmark\n")
        call = cli.index(clone.root)
    finally:
        target.write_bytes(original)
    out = measured(call)
    out["path"] = target.relative_to(clone.root).as_posix()
    return out


def typical(cli: CodememCLI, args: argparse.Namespace) -> list[dict[str, Any]]:
    """A typical repository: a cold `codemem index`, then the first `codemem search`."""
    rows = []
    for repo in [r.strip() for r in args.typical.split(",") if r.strip()]:
        try:
            clone = prepare(args.mirrors, args.work_dir, repo)
        except CheckoutError as exc:
            rows.append({"repo": repo, "error": str(exc)})
            continue
        size = tree_size(clone.root, clone.tracked_files())
        index = cli.index(clone.root)
        search = cli.search(clone.root, GENERIC_QUERY, k=10)
        row = {"repo": repo, **size, "index": measured(index), "search": measured(search.call)}
        if search.error:
            row["search"]["error"] = search.error
        row["total_s"] = round(index.wall_s + search.call.wall_s, 4)
        log(f"typical {repo}: index {index.wall_s:.2f} s + search {search.call.wall_s:.2f} s")
        rows.append(row)
    return rows


def python_floor(runs: int) -> float:
    """Median wall of `python -c pass` here: the start-up cost no CLI can go below."""
    from measure import run_measured

    return statistics.median(
        run_measured([sys.executable, "-c", "pass"]).wall_s for _ in range(runs)
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repo", default="sympy/sympy", help="main repository (owner/name of a mirror)"
    )
    parser.add_argument(
        "--sizes", default=SIZES, help="comma-separated mirrors for the size series ('' to skip)"
    )
    parser.add_argument(
        "--linux", type=Path, default=None, help="an extracted Linux source tree to index too"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per search query (median reported)"
    )
    parser.add_argument(
        "--typical",
        default=TYPICAL,
        help="comma-separated mirrors for 'a typical repository' ('' to skip)",
    )
    parser.add_argument(
        "--aider",
        default=None,
        help="command that runs Aider (e.g. /work/venv-aider/bin/aider): its cold repo map too",
    )
    parser.add_argument(
        "--aider-max-files",
        type=int,
        default=20_000,
        help="skip Aider on repositories with more tracked files (the kernel: 78k)",
    )
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--work-dir", type=Path, default=ROOT / "benchmarks" / ".work" / "speed")
    parser.add_argument(
        "--codemem", default=None, help="command to run codemem (default: the installed one)"
    )
    parser.add_argument("--json-out", type=Path, default=None)
    return parser.parse_args(argv)


def run(
    args: argparse.Namespace, cli: CodememCLI, available: dict[str, str | None]
) -> dict[str, Any]:
    results: dict[str, Any] = {"repo": args.repo, "available": available}
    results["python_startup_s"] = python_floor(5)
    clone = prepare(args.mirrors, args.work_dir, args.repo)
    results["commit"] = clone.head()
    results["size"] = tree_size(clone.root, clone.tracked_files())
    results["full_index"] = full_index(cli, clone.root, args.repo)
    if available["map"] is None:
        first, second = cli.map(clone.root), cli.map(clone.root)
        results["map"] = {"first": measured(first), "warm": measured(second)}
    if available["search"] is None:
        results["search"] = search_runs(cli, clone.root, args.runs)
    results["incremental"] = incremental(cli, clone)
    aider = Aider(args.aider, args.work_dir / "aider-home") if args.aider else None
    if aider is not None and (problem := aider.preflight()):
        log(f"aider not measured: {problem}")
        results["aider_problem"], aider = problem, None
    sizes = []
    for repo in [r.strip() for r in args.sizes.split(",") if r.strip()]:
        if repo == args.repo:
            sizes.append(size_row(cli, clone, repo, args, aider, results["full_index"]))
            continue
        try:
            other = prepare(args.mirrors, args.work_dir, repo)
        except CheckoutError as exc:
            sizes.append({"repo": repo, "error": str(exc)})
            continue
        sizes.append(size_row(cli, other, repo, args, aider))
    if args.linux:
        tree = linux_tree(args.linux.resolve())
        sizes.append(size_row(cli, tree, "linux", args, aider))
    results["sizes"] = sorted(sizes, key=lambda row: row.get("lines", 0))
    results["typical"] = typical(cli, args)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli = CodememCLI.from_string(
        args.codemem, home=args.work_dir / "codemem-home", sample_every=0.05
    )
    problem = cli.preflight(("index",))
    if problem:
        log(f"error: codemem is not usable yet: {problem}")
        return 2
    available = {name: cli.preflight((name,)) for name in ("map", "search")}
    load = os.getloadavg()[0]
    if load > 0.5:
        log(
            f"warning: load average {load:.1f}: other work on this machine will slow the numbers down"
        )
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        results = run(args, cli, available)
    except CheckoutError as exc:
        log(f"error: {exc}")
        return 2
    results["meta"] = {
        "started": started,
        "load_avg_1m": load,
        "cpus": os.cpu_count(),
        "codemem": cli.command,
    }
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = args.json_out or ROOT / "benchmarks" / "results" / f"speed-{stamp}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(render(results))
    log(f"results: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
