"""Speed and memory of the sleep-time side: a digest of 100 real commits, re-index latency under
`codemem watch`, and what the daemon costs while it rests.

    python benchmarks/sleep_speed.py                       # pallets/click, 100 commits
    python benchmarks/sleep_speed.py --repo marshmallow-code/marshmallow --commits 100

1. **Digest.** A clone of the mirror's HEAD (`git clone --shared` into benchmarks/.work/sleep/)
   with memory initialized (`sleep.initial_commits` = --commits) and the index built first, so
   the pass re-indexes nothing. Each variant runs in its own process from the same pristine
   `.codemem/` (wall time of `run_digest` inside, and the process's peak RSS):
   - `extractive`: no model (what `codemem digest --no-llm` and CI do);
   - `scripted`: the model path with a *scripted* summarizer standing in for a model: it
     returns a fixed 400-character summary after sleeping --delay seconds (default 0.05 s, a
     fast local model; no network, nothing is generated). The difference from `extractive`
     is the model path's own cost (bounded diffs read from git, summaries written) plus the
     simulated latency, which is reported separately; a real model adds its own latency per
     commit instead.
2. **Re-index latency under watch.** `codemem watch` runs on the clone; --edits times a
   Python file is changed (alternately an existing module gets a new function, or a new
   module is created) and the clock runs from the write until `CodeIndex.search` (in this
   process, polling) returns the new function. The daemon's own refresh time is reported too.
3. **Idle cost.** The daemon's CPU (utime + stime of it and its children, from /proc) and RSS
   over --idle-window seconds of rest: once right after start, once after the edits (by
   then LanceDB and the parsers are loaded).

Results: Markdown on stdout, JSON in benchmarks/results/sleep_speed.json. Run it alone on an
otherwise idle machine: the numbers are wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from checkout import CheckoutError, WorkClone, find_mirror, git
from measure import run_measured, tree_rss_kb

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
SUMMARY_CHARS = 400


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the repository -------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> Path:
    """A clone of the mirror's HEAD, memory initialized, indexed; a pristine copy of .codemem/."""
    from codemem.code import CodeIndex
    from codemem.config import load_config
    from codemem.memory import initialize_memory
    from codemem.workspace import Workspace

    mirror = find_mirror(args.mirrors, args.repo)
    if mirror is None:
        raise CheckoutError(f"no mirror for {args.repo} under {args.mirrors}")
    clone = WorkClone(mirror, args.work_dir / args.repo.replace("/", "+")).ensure()
    clone.checkout(git("rev-parse", "HEAD", git_dir=mirror).strip(), keep_codemem=False)
    (clone.root / ".git" / "info" / "exclude").write_text(".codemem/\n")
    ws = Workspace(clone.root)
    initialize_memory(ws)
    ws.config_file.write_text(
        f"sleep:\n  initial_commits: {args.commits}\n  max_commits: {args.commits}\n"
    )
    started = time.perf_counter()
    summary = CodeIndex(ws, load_config(ws.config_file)).refresh(full=True)
    log(f"index: {summary.files} files in {time.perf_counter() - started:.1f}s")
    pristine = args.work_dir / "pristine"
    shutil.rmtree(pristine, ignore_errors=True)
    shutil.copytree(ws.dir, pristine, ignore=shutil.ignore_patterns("local"))
    return clone.root


def restore(root: Path, pristine: Path) -> None:
    """Put `.codemem/` back as initialized (the index in local/ is kept: it is current)."""
    folder = root / ".codemem"
    for entry in folder.iterdir():
        if entry.name == "local":
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(pristine, folder, dirs_exist_ok=True)
    (folder / "local" / "sleep.json").unlink(missing_ok=True)
    (folder / "local" / "watch.json").unlink(missing_ok=True)


# -- 1. digest ------------------------------------------------------------------------------------


def scripted_summarizer(delay: float):
    """A stand-in for a model: a fixed-length summary after `delay` seconds (documented above)."""
    calls = {"n": 0, "diff_bytes": 0}

    def summarize(commit, symbols) -> str:
        calls["n"] += 1
        calls["diff_bytes"] += len(commit.diff)
        time.sleep(delay)
        text = f"{commit.subject}: touches {len(commit.files)} files. "
        return (text * (SUMMARY_CHARS // max(1, len(text)) + 1))[:SUMMARY_CHARS]

    return summarize, calls


def digest_variant(root: Path, variant: str, delay: float) -> dict[str, Any]:
    """One pass in this process (run by the parent as a subprocess); prints its JSON."""
    from codemem.config import load_config
    from codemem.sleep import DigestOptions, run_digest
    from codemem.workspace import Workspace

    ws = Workspace(root)
    summarize, calls = scripted_summarizer(delay) if variant == "scripted" else (None, None)
    started = time.perf_counter()
    result = run_digest(ws, load_config(ws.config_file), DigestOptions(), summarize=summarize)
    seconds = time.perf_counter() - started
    out = {
        "variant": variant,
        "digest_s": round(seconds, 3),
        "commits": len(result.commits),
        "changes": len(result.changes),
        "digest_chars": len(result.digest_text or ""),
        "index_up_to_date": bool(result.index and result.index["up_to_date"]),
    }
    if calls is not None:
        out.update(
            summaries=calls["n"],
            simulated_latency_s=round(calls["n"] * delay, 3),
            diff_bytes=calls["diff_bytes"],
        )
    return out


def digest_runs(args: argparse.Namespace, root: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for variant, delay in (("extractive", 0.0), ("scripted", 0.0), ("scripted", args.delay)):
        for run in range(args.runs):
            restore(root, args.work_dir / "pristine")
            call = run_measured(
                [
                    sys.executable,
                    __file__,
                    "--variant",
                    variant,
                    "--delay",
                    str(delay),
                    "--root",
                    str(root),
                ],
                cwd=ROOT / "benchmarks",
                env=env,
                timeout=1800,
            )
            if not call.ok:
                rows.append({"variant": variant, "delay_s": delay, "error": call.brief_error()})
                log(f"digest {variant} (delay {delay}) FAILED: {call.brief_error()}")
                continue
            row = json.loads(call.stdout.strip().splitlines()[-1])
            row.update(
                delay_s=delay,
                run=run,
                process_wall_s=round(call.wall_s, 3),
                max_rss_mb=round(call.max_rss_mb, 1),
            )
            rows.append(row)
            log(
                f"digest {variant} (delay {delay}s) run {run}: {row['digest_s']:.2f}s for "
                f"{row['commits']} commits, peak {row['max_rss_mb']:.0f} MB"
            )
    return rows


# -- 2 and 3. the daemon ----------------------------------------------------------------------------


def proc_tree(pid: int) -> list[int]:
    from measure import _children_map

    children, stack, out = _children_map(), [pid], []
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, ()))
    return out


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def idle_window(pid: int, seconds: float) -> dict[str, Any]:
    """CPU% and RSS of the daemon (and its children) over `seconds` of rest."""
    pids = proc_tree(pid)
    before, started = cpu_ticks(pids), time.monotonic()
    rss, tree = [], []
    while time.monotonic() - started < seconds:
        rss.append(rss_mb(pid))
        tree.append(tree_rss_kb(pid) / 1024)
        time.sleep(1.0)
    elapsed = time.monotonic() - started
    used = (cpu_ticks(proc_tree(pid)) - before) / CLK_TCK
    return {
        "seconds": round(elapsed, 1),
        "cpu_s": round(used, 3),
        "cpu_percent": round(100 * used / elapsed, 3),
        "rss_mb": round(statistics.median(rss), 1),
        "rss_max_mb": round(max(rss), 1),
        "tree_rss_mb": round(max(tree), 1),
        "processes": len(proc_tree(pid)),
    }


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def watch_runs(args: argparse.Namespace, root: Path, env: dict[str, str]) -> dict[str, Any]:
    from codemem.code import CodeIndex
    from codemem.config import load_config
    from codemem.daemon.process import read_status
    from codemem.workspace import Workspace

    restore(root, args.work_dir / "pristine")
    ws = Workspace(root)
    config = load_config(ws.config_file)
    index = CodeIndex(ws, config)
    index.search("warm up the search", k=1)  # imports and first open, not timed
    logfile = args.work_dir / "watch.stderr"
    with open(logfile, "wb") as err:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "codemem", "--repo", str(root), "watch", "--idle", "600"],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    out: dict[str, Any] = {"pid": daemon.pid}
    try:
        started = time.perf_counter()
        wait_for(
            lambda: read_status(ws).pid == daemon.pid and read_status(ws).activity == "watching",
            120,
            "the daemon to start",
        )
        out["start_s"] = round(time.perf_counter() - started, 3)
        time.sleep(2)
        log(f"watch: started in {out['start_s']:.2f}s; idle window of {args.idle_window:g}s ...")
        out["idle_after_start"] = idle_window(daemon.pid, args.idle_window)
        files = sorted(
            p for p in git("ls-files", "*.py", cwd=root).split("\n") if p and "test" not in p
        )
        latencies = []
        for i in range(args.edits):
            name = f"codemem_watch_bench_{i}"
            code = f'\n\ndef {name}(value):\n    """Added by the watch benchmark."""\n    return value\n'
            runs = read_status(ws).index_runs
            if i % 2 == 0:
                target = root / files[(i * 7) % len(files)]
                with target.open("a", encoding="utf-8") as fh:
                    fh.write(code)
            else:
                target = root / Path(files[0]).parent / f"bench_new_{i}.py"
                target.write_text(code.lstrip(), encoding="utf-8")
            written = time.perf_counter()
            wait_for(
                lambda n=name: any(h.symbol == n or n in h.text for h in index.search(n, k=3)),
                60,
                f"{name} in search",
            )
            latency = time.perf_counter() - written
            wait_for(lambda r=runs: read_status(ws).index_runs > r, 30, "the refresh record")
            record = read_status(ws).last_index or {}
            latencies.append(
                {
                    "edit": "append" if i % 2 == 0 else "new file",
                    "searchable_s": round(latency, 3),
                    "refresh_s": record.get("seconds"),
                }
            )
            log(
                f"watch: edit {i} searchable after {latency:.2f}s (refresh {record.get('seconds')}s)"
            )
            time.sleep(1.0)
        out["edits"] = latencies
        walls = [row["searchable_s"] for row in latencies]
        out["searchable_median_s"] = round(statistics.median(walls), 3)
        out["searchable_max_s"] = round(max(walls), 3)
        time.sleep(2)
        log(f"watch: idle window of {args.idle_window:g}s after the edits ...")
        out["idle_after_edits"] = idle_window(daemon.pid, args.idle_window)
        stopping = time.perf_counter()
        daemon.send_signal(signal.SIGTERM)
        out["exit_code"] = daemon.wait(timeout=60)
        out["stop_s"] = round(time.perf_counter() - stopping, 3)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        git("checkout", "--quiet", "--force", "HEAD", cwd=root)
        git("clean", "-fdxq", "-e", ".codemem", cwd=root)
    return out


# -- report ---------------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    lines = [f"# Sleep-time speed: {results['repo']} @ {results['commit'][:10]}", ""]
    lines += [
        "## Digest of the newest commits (index already current)",
        "",
        "| variant | simulated latency/commit | commits | run_digest s | minus simulated s "
        "| process s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["digest"]:
        if "error" in row:
            lines.append(f"| {row['variant']} | {row['delay_s']} | error: {row['error']} | | | | |")
            continue
        lines.append(
            f"| {row['variant']} | {row['delay_s']:g} s | {row['commits']} | {row['digest_s']:.2f} "
            f"| {row['digest_s'] - row.get('simulated_latency_s', 0):.2f} "
            f"| {row['process_wall_s']:.2f} | {row['max_rss_mb']:.0f} |"
        )
    watch = results.get("watch")
    if watch:
        lines += [
            "",
            "## codemem watch",
            "",
            f"- start to watching: {watch['start_s']:.2f} s",
            f"- write to searchable: median {watch['searchable_median_s']:.2f} s, "
            f"max {watch['searchable_max_s']:.2f} s over {len(watch['edits'])} edits "
            f"(refresh inside the daemon: median "
            f"{statistics.median(e['refresh_s'] or 0 for e in watch['edits']):.2f} s)",
            f"- SIGTERM to exit: {watch['stop_s']:.2f} s (exit {watch['exit_code']})",
            "",
            "| idle window | seconds | CPU % | CPU s | RSS MB (median / max) | tree RSS MB | processes |",
            "|---|---|---|---|---|---|---|",
        ]
        for key in ("idle_after_start", "idle_after_edits"):
            w = watch[key]
            lines.append(
                f"| {key.replace('_', ' ')} | {w['seconds']} | {w['cpu_percent']:.2f} | {w['cpu_s']:.2f} "
                f"| {w['rss_mb']:.0f} / {w['rss_max_mb']:.0f} | {w['tree_rss_mb']:.0f} | {w['processes']} |"
            )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default="pallets/click", help="owner/name of a mirror")
    parser.add_argument("--commits", type=int, default=100, help="commits to digest")
    parser.add_argument("--runs", type=int, default=2, help="runs per digest variant")
    parser.add_argument(
        "--delay",
        type=float,
        default=0.05,
        help="the scripted summarizer's simulated latency per commit, seconds",
    )
    parser.add_argument("--edits", type=int, default=10, help="edits timed under watch")
    parser.add_argument("--idle-window", type=float, default=30.0, help="seconds per idle sample")
    parser.add_argument("--skip-digest", action="store_true")
    parser.add_argument("--skip-watch", action="store_true")
    parser.add_argument("--render", type=Path, help="only print the report of this results JSON")
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--work-dir", type=Path, default=ROOT / "benchmarks" / ".work" / "sleep")
    parser.add_argument(
        "--json-out", type=Path, default=ROOT / "benchmarks" / "results" / "sleep_speed.json"
    )
    # internal: one digest variant in a child process
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.variant:
        print(json.dumps(digest_variant(args.root, args.variant, args.delay)))
        return 0
    if args.render:
        print(render(json.loads(args.render.read_text())), end="")
        return 0
    home = args.work_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    for name in [n for n in os.environ if n.startswith("CODEMEM_")]:
        del os.environ[name]
    os.environ["CODEMEM_HOME"] = str(home)  # no personal config moves the numbers
    env = dict(os.environ)
    root = prepare(args)
    results: dict[str, Any] = {
        "repo": args.repo,
        "commit": git("rev-parse", "HEAD", cwd=root).strip(),
        "argv": sys.argv[1:],
        "cpus": os.cpu_count(),
    }
    results["digest"] = [] if args.skip_digest else digest_runs(args, root, env)
    if not args.skip_watch:
        results["watch"] = watch_runs(args, root, env)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
