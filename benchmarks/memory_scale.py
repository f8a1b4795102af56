"""Memory at scale: every command that reads memory, timed over 100 to 20,000 blocks.

A team's memory can grow large: a monorepo with one block per package, years of digests, a
big archive. For each N a fresh git repository under `benchmarks/.work/memory_scale/N/` gets
`codemem init`, N committed blocks (`.codemem/blocks/pkg-NNNNN.md`, the frontmatter codemem
writes), N // 10 archival notes and N // 100 digests, all in one commit. Then each command
runs `--runs` times as a subprocess (median), a block changed by one run being the same
block each time:

    memory list | memory show X | memory show (all, as the agent sees them) |
    remember --block X (an append) | memory edit X (an $EDITOR appending a line) |
    review --staged (no model) | digest --dry-run | status | merge-file (one block) |
    in-process: the agent's blocks part (`Context.blocks_part`: its size in characters),
    the MCP tools memory_read (one block) and remember --block

    python benchmarks/memory_scale.py                        # N = 100 1000 5000 20000
    python benchmarks/memory_scale.py --sizes 100 20000 --runs 3 --code /path/to/checkout

`--code` runs another checkout's codemem (PYTHONPATH), to compare old and new code on the
same repositories. A command past `--timeout` seconds is shown as `>T`. Markdown on stdout,
JSON in `benchmarks/results/memory_scale.json`. Standard library only.
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

ROOT = Path(__file__).resolve().parent.parent
LABEL = "pkg-{:05d}"

IN_PROCESS = r"""
import json, sys, time
from pathlib import Path
from codemem.config import load_config
from codemem.workspace import Workspace
from codemem.agent.tools.toolbox import ToolContext
from codemem.mcp import tools as mcp_tools
ws = Workspace(Path(sys.argv[1])); label = sys.argv[2]
ctx = ToolContext(ws, load_config(ws.config_file))
out = {}
start = time.perf_counter()
settings = ctx.settings
limit = getattr(settings, "memory_chars", None)
# `Context.blocks_part`: the store's blocks within the budget (no budget before there was one)
text = ctx.store.render_blocks(max_chars=limit) if limit else ctx.store.render_blocks()
out["context"] = time.perf_counter() - start
out["context_chars"] = len(text)
start = time.perf_counter()
mcp_tools.memory_read(ctx, label)
out["mcp_read"] = time.perf_counter() - start
start = time.perf_counter()
mcp_tools.remember(ctx, "benchmark fact from mcp", block=label)
out["mcp_remember"] = time.perf_counter() - start
print(json.dumps(out))
"""

EDITOR = "#!/bin/sh\nprintf 'edited by the benchmark\\n' >> \"$1\"\n"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def block_text(number: int, total: int) -> str:
    label = LABEL.format(number)
    return (
        f"---\ndescription: What {label} does, how to build it and its rules.\nlimit: 4000\n"
        f"read_only: false\n---\n# {label}\n- build: make {label}\n- owner: team {number % 37}\n"
        f"- depends on {LABEL.format(number * 7 % total)}\n"
    )


def note_text(number: int) -> str:
    day = 1 + number % 28
    return (
        f"---\nid: 20250{1 + number % 9}{day:02d}-120000-{number:08x}\n"
        f"created: 2025-0{1 + number % 9}-{day:02d}T12:00:00+00:00\ntags: [pkg, bench]\n---\n"
        f"Decision {number}: package {LABEL.format(number)} keeps its own cache "
        f"because build step {number % 13} is slow.\n"
    )


def digest_text(number: int) -> str:
    base, head = f"{number:07x}", f"{number + 1:07x}"
    return (
        f"---\nbase: {base}\nhead: {head}\n---\n# Digest {base}..{head}\n\n"
        f"## 2024-01-01 `{head}` Change {number}\nAuthor: A\n"
    )


def make_repo(work: Path, size: int, env: dict[str, str], codemem: list[str]) -> Path:
    """The repository with `size` committed blocks (made once, then reused)."""
    repo = work / str(size)
    if (repo / ".codemem" / "blocks" / f"{LABEL.format(size - 1)}.md").exists():
        git(repo, "reset", "-q", "--hard")
        return repo
    if repo.exists():
        subprocess.run(["rm", "-rf", str(repo)], check=True)
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "Bench")
    (repo / "app.py").write_text("def main():\n    return 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    subprocess.run([*codemem, "init"], cwd=repo, env=env, check=True, capture_output=True)
    dot = repo / ".codemem"
    for number in range(size):
        (dot / "blocks" / f"{LABEL.format(number)}.md").write_text(block_text(number, size))
    (dot / "archive").mkdir(exist_ok=True)
    for number in range(size // 10):
        (dot / "archive" / f"note-{number:05d}.md").write_text(note_text(number))
    (dot / "digests").mkdir(exist_ok=True)
    for number in range(size // 100):
        name = f"2024-01-{1 + number % 28:02d}-{number:07x}-{number + 1:07x}.md"
        (dot / "digests" / name).write_text(digest_text(number))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"{size} blocks")
    return repo


def timed(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> float | None:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode not in (0, 1):
        log(f"  {' '.join(cmd[-3:])}: exit {proc.returncode}: {proc.stderr.decode()[-300:]}")
    return time.perf_counter() - start


def merge_driver(repo: Path, label: str, env: dict[str, str], codemem: list[str], timeout: float):
    """`merge-file` on one block: two sides each appending a line."""
    path = repo / ".codemem" / "blocks" / f"{label}.md"
    text = path.read_text()
    scratch = repo.parent / "merge"
    scratch.mkdir(exist_ok=True)
    files = {"base": text, "ours": text + "- ours\n", "theirs": text + "- theirs\n"}
    for name, content in files.items():
        (scratch / name).write_text(content)
    cmd = [*codemem, "merge-file", *(str(scratch / n) for n in files), path.relative_to(repo)]
    return timed([str(part) for part in cmd], repo, env, timeout)


def measure(repo: Path, size: int, env: dict[str, str], codemem: list[str], args) -> dict:
    label = LABEL.format(size // 2)
    editor = repo.parent / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    commands = {
        "memory list": ["memory", "list"],
        "memory show X": ["memory", "show", label],
        "memory show (all)": ["memory", "show"],
        "remember --block X": ["remember", "--block", label, "a fact from the benchmark"],
        "memory edit X": ["memory", "edit", label],
        "review --staged": ["review", "--staged"],
        "digest --dry-run": ["digest", "--dry-run"],
        "status": ["status"],
    }
    row: dict[str, float | int | None] = {}
    for name, cmd in commands.items():
        times = []
        for _ in range(args.runs):
            git(repo, "reset", "-q", "--hard")
            if name == "review --staged":
                with (repo / "app.py").open("a") as handle:
                    handle.write("\n\ndef extra():\n    return 2\n")
                git(repo, "add", "app.py")
            run_env = {**env, "EDITOR": str(editor), "VISUAL": str(editor)}
            times.append(timed([*codemem, *cmd], repo, run_env, args.timeout))
        row[name] = None if None in times else statistics.median(t for t in times if t)
        log(f"  {size:>6} {name:<20} {fmt(row[name], args.timeout)}")
    git(repo, "reset", "-q", "--hard")
    row["merge-file"] = merge_driver(repo, label, env, codemem, args.timeout)
    proc = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(repo), label],
        cwd=repo,  # `-c` puts the current folder first on the path: `--code` must win
        env=env,
        capture_output=True,
        text=True,
        timeout=args.timeout * 3,
        check=False,
    )
    if proc.returncode == 0:
        row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    else:
        log(f"  in-process: {proc.stderr[-400:]}")
    git(repo, "reset", "-q", "--hard")
    return row


def fmt(value: float | int | None, timeout: float) -> str:
    if value is None:
        return f">{timeout:g}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000, 20000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose codemem runs")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work" / "memory_scale")
    args = parser.parse_args()
    home = args.work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMEM_")}
    env.update(CODEMEM_HOME=str(home), CODEMEM_USER="bench", PYTHONPATH=str(args.code))
    codemem = [sys.executable, "-m", "codemem"]
    rows = {}
    for size in args.sizes:
        log(f"{size} blocks: making the repository")
        repo = make_repo(args.work, size, env, codemem)
        rows[size] = measure(repo, size, env, codemem, args)
    names = list(next(iter(rows.values())))
    print(f"Seconds (median of {args.runs}), code: {args.code}, load: {os.getloadavg()[0]:.1f}\n")
    print("| command | " + " | ".join(f"{size:,}" for size in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for name in names:
        cells = " | ".join(fmt(rows[size].get(name), args.timeout) for size in rows)
        print(f"| {name} | {cells} |")
    out = ROOT / "benchmarks" / "results" / "memory_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"code": str(args.code), "runs": args.runs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
