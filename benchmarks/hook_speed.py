"""Speed of the pre-commit review on a sympy-sized repository (target: ≤ 1 s per commit).

A clone of the sympy mirror's HEAD under benchmarks/.work/hook/ gets `codemem init` and one
`codemem digest` (so memory holds learned conventions) the first time; later runs reuse it.
Each scenario stages a change, then times `codemem review --staged --hook` as a subprocess
(`--runs` times, median and max), and one real `git commit` through the installed hook
(undone afterwards). `python -c pass` and `codemem --help` are timed as floors.

    python benchmarks/hook_speed.py            # Markdown on stdout, JSON in benchmarks/results/
    python benchmarks/hook_speed.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from checkout import WorkClone, find_mirror, git
from codemem_cli import clean_environment, default_command

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0

NEW_FUNCTION = '''

def {name}(expr, depth=1):
    """Return ``expr`` with its arguments nested ``depth`` times (benchmark helper)."""
    for _ in range(depth):
        expr = expr.func(*expr.args)
    return expr
'''


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(
    cmd: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def prepare(work: Path, env: dict[str, str], codemem: list[str]) -> Path:
    """The sympy clone with an index and learned conventions (built once, then reused)."""
    mirror = find_mirror(Path("/work/.mirror"), "sympy/sympy")
    if mirror is None:
        raise SystemExit("no sympy mirror under /work/.mirror")
    clone = WorkClone(mirror, work / "sympy+sympy").ensure()
    head = git("rev-parse", "HEAD", git_dir=mirror).strip()
    if not (clone.root / ".codemem" / "conventions.json").exists():
        clone.checkout(head, keep_codemem=False)
        git("config", "user.email", "bench@example.com", cwd=clone.root)
        git("config", "user.name", "Bench", cwd=clone.root)
        log("codemem init (indexes sympy) ...")
        seconds, proc = timed([*codemem, "init"], clone.root, env)
        log(
            f"  {seconds:.1f} s"
            + ("" if proc.returncode == 0 else f" FAILED: {proc.stderr[-400:]}")
        )
        log("codemem digest --ci (learns the conventions) ...")
        seconds, proc = timed([*codemem, "digest", "--ci"], clone.root, env)
        log(
            f"  {seconds:.1f} s"
            + ("" if proc.returncode == 0 else f" FAILED: {proc.stderr[-400:]}")
        )
    else:
        git("reset", "-q", "--hard", head, cwd=clone.root)
    subprocess.run(
        [*codemem, "hook", "install"], cwd=clone.root, env=env, check=True, capture_output=True
    )
    # .codemem/ stays untracked in the clone: keep it out of the staged change
    exclude = clone.root / ".git" / "info" / "exclude"
    if ".codemem/" not in exclude.read_text(encoding="utf-8"):
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(".codemem/\n")
    return clone.root


def typical_change(root: Path) -> str:
    """Three files: a new documented function and its test, and an edited line elsewhere."""
    module = root / "sympy/core/basic.py"
    module.write_text(
        module.read_text(encoding="utf-8") + NEW_FUNCTION.format(name="rebuild_nested"),
        encoding="utf-8",
    )
    test = root / "sympy/core/tests/test_basic.py"
    test.write_text(
        test.read_text(encoding="utf-8")
        + "\n\ndef test_rebuild_nested():\n    from sympy.core.basic import rebuild_nested\n"
        "    assert rebuild_nested(b21, 2) == b21\n",
        encoding="utf-8",
    )
    other = root / "sympy/simplify/simplify.py"
    text = other.read_text(encoding="utf-8")
    other.write_text(
        text.replace("    expr = sympify(expr)\n", "    expr = sympify(expr)  # normalized\n", 1),
        encoding="utf-8",
    )
    return "3 files: a new documented function with a test, a one-line edit"


def untested_change(root: Path) -> str:
    """Two new public functions in two modules, no tests: the test lookup greps the test files."""
    for path, name in (
        ("sympy/polys/polytools.py", "poly_depth_hint"),
        ("sympy/solvers/solvers.py", "solve_hint"),
    ):
        target = root / path
        target.write_text(
            target.read_text(encoding="utf-8") + NEW_FUNCTION.format(name=name), encoding="utf-8"
        )
    return "2 large modules (polytools.py, solvers.py), each with a new untested public function"


def large_change(root: Path) -> str:
    """Twenty modules, each with a new function: an unusually big commit."""
    paths = sorted(p for p in (root / "sympy").glob("*/[a-z]*.py") if "tests" not in p.parts)[:20]
    for i, path in enumerate(paths):
        path.write_text(
            path.read_text(encoding="utf-8") + NEW_FUNCTION.format(name=f"bench_helper_{i}"),
            encoding="utf-8",
        )
    return f"{len(paths)} modules, each with a new function"


SCENARIOS = (("typical", typical_change), ("untested", untested_change), ("large", large_change))


def run_scenario(root: Path, name, change, runs: int, env, codemem) -> dict:
    git("reset", "-q", "--hard", "HEAD", cwd=root)
    what = change(root)
    git("add", "-u", cwd=root)
    stat = git("diff", "--cached", "--shortstat", cwd=root).strip()
    times, proc = [], None
    for _ in range(runs):
        seconds, proc = timed([*codemem, "review", "--staged", "--hook"], root, env)
        times.append(seconds)
    findings = subprocess.run(
        [*codemem, "review", "--staged", "--format", "json", "--no-llm"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    counts = (
        json.loads(findings.stdout)["counts"] if findings.stdout.strip().startswith("{") else {}
    )
    commit_s, commit = timed(["git", "commit", "-q", "-m", f"bench {name}"], root, env)
    committed = commit.returncode == 0
    if committed:
        git("reset", "-q", "--hard", "HEAD~1", cwd=root)
    git("reset", "-q", "--hard", "HEAD", cwd=root)
    log(
        f"{name}: median {statistics.median(times):.3f} s, max {max(times):.3f} s; git commit {commit_s:.3f} s"
    )
    return {
        "scenario": name,
        "change": what,
        "diffstat": stat,
        "runs": runs,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "min_s": round(min(times), 3),
        "exit_code": proc.returncode if proc else None,
        "findings": counts,
        "git_commit_s": round(commit_s, 3),
        "commit_went_through": committed,
    }


def render(report: dict) -> str:
    lines = [
        f"# Pre-commit review speed on sympy ({report['files']:,} tracked files)",
        "",
        f"Floors: `python -c pass` {report['python_s']:.3f} s, `codemem --help` {report['help_s']:.3f} s.",
        "",
        "| scenario | change | review median | max | git commit (hook) | findings (e/w/i) | ≤ 1 s |",
        "|:--|:--|--:|--:|--:|:--|:--|",
    ]
    for row in report["scenarios"]:
        counts = row["findings"]
        found = f"{counts.get('error', 0)}/{counts.get('warning', 0)}/{counts.get('info', 0)}"
        ok = "yes" if row["median_s"] <= TARGET_S else "no"
        lines.append(
            f"| {row['scenario']} | {row['change']} ({row['diffstat']}) | {row['median_s']:.3f} s | "
            f"{row['max_s']:.3f} s | {row['git_commit_s']:.3f} s | {found} | {ok} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work" / "hook")
    args = parser.parse_args()
    home = args.work / "codemem-home"
    home.mkdir(parents=True, exist_ok=True)
    env = clean_environment(home)
    codemem = default_command()
    root = prepare(args.work, env, codemem)
    python_s = statistics.median(
        timed([sys.executable, "-c", "pass"], root, env)[0] for _ in range(5)
    )
    help_s = statistics.median(timed([*codemem, "--help"], root, env)[0] for _ in range(5))
    report = {
        "files": len(git("ls-files", cwd=root).splitlines()),
        "python_s": round(python_s, 3),
        "help_s": round(help_s, 3),
        "load_average": os.getloadavg()[0],
        "scenarios": [
            run_scenario(root, name, change, args.runs, env, codemem) for name, change in SCENARIOS
        ],
    }
    out = ROOT / "benchmarks" / "results" / "hook_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render(report))


if __name__ == "__main__":
    main()
