"""The digest's model path against `--no-llm`: 100 real commits, a scripted provider.

    python benchmarks/digest_model_speed.py                  # marshmallow, 100 commits
    python benchmarks/digest_model_speed.py --delay 0 --runs 3

A clone of the mirror's HEAD (`git clone --shared` into benchmarks/.work/digest_model/), with
memory initialized (`sleep.initial_commits` = --commits) and the index built first, so no
variant re-indexes anything. Each variant runs in its own process (`run_measured`: wall time
and peak RSS, VmHWM) from the same pristine `.codemem/`:

- `no-llm`: `DigestOptions(llm=False)` with the provider still passed in: every step is
  extractive and the provider must see no call;
- `model`: the real model path (`codemem.sleep.llm`: bounded diffs read from git, one prompt
  per commit, `CommitSummarizer`, cost meter) with a `ScriptedProvider` standing in for the
  model. It answers every request with a fixed summary after sleeping --delay seconds
  (default 0.05 s, about a fast local model; nothing is generated, there is no network);
- `model+agent`: as `model`, plus a model-written project summary region (so the pass
  refreshes it: one more call) and --sessions recorded chat sessions of 12 messages each, so
  the sleep-time agent runs: one call with two memory tool calls (an append to the user block
  and an archival note), then its final answer. Both are set up by an earlier process, so
  the timed one starts as cold as the others;
- `model, 2nd pass`: `model` again on the memory it wrote: nothing new, so no model call.

The model path's own cost is `digest_s - simulated latency - no-llm digest_s`: reading the
diffs, building the prompts and writing the summaries. A real model adds its own latency
(seconds per call, sequential) in place of the simulated one.

Results: Markdown on stdout, JSON in benchmarks/results/digest_model_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from checkout import git
from measure import run_measured
from sleep_speed import prepare  # the same clone, memory and index as the sleep benchmark

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = (
    "Changes the schema loading code and its tests; the commit message gives the reason "
    "and the diff shows the new behaviour."
)
SESSION_MESSAGES = 12
USER = "bench"  # CODEMEM_USER of every process, so the agent's users/ block exists


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def restore(root: Path, pristine: Path) -> None:
    """Put `.codemem/` back as initialized (the index in local/ is kept: it is current)."""
    folder = root / ".codemem"
    for entry in folder.iterdir():
        if entry.name != "local":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(pristine, folder, dirs_exist_ok=True)
    for name in ("sleep.json", "recall.sqlite", "recall.sqlite-wal", "recall.sqlite-shm"):
        (folder / "local" / name).unlink(missing_ok=True)


# -- one variant, in a child process ------------------------------------------------------------


class Model:
    """The scripted stand-in: a fixed summary per request after `delay` seconds; as the
    sleep-time agent (a request with tools), two memory tool calls and then a final answer."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.prompt_chars: list[int] = []
        self.agent_turns = 0

    def __call__(self, parts, messages, tools):
        from codemem.agent.providers import tool_call, tool_call_response

        time.sleep(self.delay)
        self.prompt_chars.append(sum(map(len, parts)) + sum(len(m.content) for m in messages))
        if not tools:
            return SUMMARY
        self.agent_turns += 1
        if self.agent_turns > 1:
            return "Saved one preference and one note."
        return tool_call_response(
            tool_call(
                "memory_append", label=f"users/{USER}", content="- Prefers small, reviewed commits."
            ),
            tool_call(
                "archival_insert",
                content="Schema loading was reworked (benchmark note).",
                tags=["benchmark"],
            ),
        )


def record_sessions(ws, count: int) -> None:
    from codemem.memory import Recall

    start = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
    for n in range(count):
        when = start + timedelta(hours=n)
        with Recall(ws, clock=lambda when=when: when) as recall:
            session = recall.start_session("scripted/bench", f"session {n}")
            for m in range(SESSION_MESSAGES):
                role = "user" if m % 2 == 0 else "assistant"
                recall.add_message(session, role, f"Message {m} of session {n}: " + "words " * 40)


def set_up_agent_variant(root: Path, sessions: int) -> None:
    """Before `model+agent` (in its own process, so the timed one starts as cold as the
    others): a project summary region to refresh, and `sessions` recorded sessions."""
    from codemem.agent.providers import ScriptedProvider
    from codemem.config import load_config
    from codemem.sleep.project_init import open_init_model, write_project_summary
    from codemem.workspace import Workspace

    ws = Workspace(root)
    config = load_config(ws.config_file)
    model, _ = open_init_model(ws, config, explicit=True, provider=ScriptedProvider([SUMMARY]))
    write_project_summary(ws, config, model)
    record_sessions(ws, sessions)


def run_variant(root: Path, variant: str, delay: float) -> dict[str, Any]:
    """One pass in this process (the parent runs it as a subprocess); returns its row."""
    from codemem.agent.providers import ScriptedProvider
    from codemem.config import load_config
    from codemem.sleep import DigestOptions, run_digest
    from codemem.workspace import Workspace

    ws = Workspace(root)
    config = load_config(ws.config_file)
    model = Model(delay)
    provider = ScriptedProvider([model] * 10_000)
    passes = 2 if variant == "model, 2nd pass" else 1
    for _ in range(passes):
        before = len(provider.calls)
        options = DigestOptions(llm=variant != "no-llm")
        started = time.perf_counter()
        result = run_digest(ws, config, options, provider=provider)
        seconds = time.perf_counter() - started
    calls = len(provider.calls) - before
    report = result.model
    return {
        "variant": variant,
        "digest_s": round(seconds, 3),
        "commits": len(result.commits),
        "model_calls": calls,
        "simulated_latency_s": round(calls * delay, 3),
        "summaries": report.summaries if report else 0,
        "agent_tool_calls": len(report.agent.tool_calls) if report and report.agent else 0,
        "sessions_learned": report.sessions_learned if report else 0,
        "prompt_chars_mean": round(statistics.mean(model.prompt_chars[-calls:]), 1) if calls else 0,
        "prompt_chars_max": max(model.prompt_chars[-calls:]) if calls else 0,
        "digest_chars": len(result.digest_text or ""),
        "changes": len(result.changes),
        "warnings": result.warnings,
        "peak_rss_mb": vm_hwm_mb(),
    }


def vm_hwm_mb() -> float:
    """This process's peak RSS since exec (VmHWM). `ru_maxrss` of a forked child can report
    the parent's size at the fork instead, and the parent here has built the index."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# -- the parent -----------------------------------------------------------------------------------

VARIANTS = ("no-llm", "model", "model+agent", "model, 2nd pass")


def runs(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMEM_")}
    env["CODEMEM_HOME"] = str(args.work_dir / "home")
    env["CODEMEM_USER"] = USER
    rows = []
    for variant in VARIANTS:
        for run in range(args.runs):
            restore(root, args.work_dir / "pristine")
            child = [sys.executable, __file__, "--root", str(root)]
            if variant == "model+agent":
                setup = run_measured(
                    [*child, "--setup", "--sessions", str(args.sessions)],
                    cwd=ROOT / "benchmarks",
                    env=env,
                    timeout=600,
                )
                if not setup.ok:
                    raise RuntimeError(f"set-up of {variant} failed: {setup.brief_error()}")
            cmd = [*child, "--variant", variant, "--delay", str(args.delay)]
            call = run_measured(cmd, cwd=ROOT / "benchmarks", env=env, timeout=3600)
            if not call.ok:
                rows.append({"variant": variant, "run": run, "error": call.brief_error()})
                log(f"{variant} run {run} FAILED: {call.brief_error()}")
                continue
            row = json.loads(call.stdout.strip().splitlines()[-1])
            row.update(run=run, process_wall_s=round(call.wall_s, 3))
            rows.append(row)
            log(
                f"{variant} run {run}: {row['digest_s']:.2f}s, {row['model_calls']} model calls, "
                f"peak {row['peak_rss_mb']:.0f} MB"
            )
    return rows


def render(results: dict[str, Any]) -> str:
    rows = [r for r in results["runs"] if "error" not in r]
    base = [r["digest_s"] for r in rows if r["variant"] == "no-llm"]
    base_s = statistics.median(base) if base else None
    lines = [
        f"# Digest model path: {results['repo']} @ {results['head'][:12]}, "
        f"{results['commits']} commits, simulated latency {results['delay_s']} s per call",
        "",
        "| variant | digest s (median) | model calls | simulated latency s | own overhead s "
        "| prompt chars mean / max | agent tool calls | sessions learned | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        mine = [r for r in rows if r["variant"] == variant]
        if not mine:
            continue
        digest_s = statistics.median(r["digest_s"] for r in mine)
        last = mine[-1]
        full_pass = variant in ("model", "model+agent")  # a 2nd pass digests nothing
        overhead = (
            f"{digest_s - last['simulated_latency_s'] - base_s:+.2f}"
            if full_pass and base_s
            else ""
        )
        lines.append(
            f"| {variant} | {digest_s:.2f} | {last['model_calls']} | {last['simulated_latency_s']:.2f} "
            f"| {overhead} | {last['prompt_chars_mean']:,.0f} / {last['prompt_chars_max']:,} "
            f"| {last['agent_tool_calls']} | {last['sessions_learned']} "
            f"| {max(r['peak_rss_mb'] for r in mine):.0f} |"
        )
    lines += [
        "",
        "Own overhead: digest time less the simulated latency less the `no-llm` median "
        "(bounded diffs read from git, prompts built, summaries written).",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default="marshmallow-code/marshmallow")
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument(
        "--delay", type=float, default=0.05, help="simulated seconds per model call"
    )
    parser.add_argument("--sessions", type=int, default=5, help="recorded sessions for model+agent")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument(
        "--work-dir", type=Path, default=ROOT / "benchmarks" / ".work" / "digest_model"
    )
    parser.add_argument(
        "--results", type=Path, default=ROOT / "benchmarks" / "results" / "digest_model_speed.json"
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup:
        set_up_agent_variant(args.root, args.sessions)
        return 0
    if args.variant:
        print(json.dumps(run_variant(args.root, args.variant, args.delay)))
        return 0
    os.environ["CODEMEM_USER"] = USER
    root = prepare(args)
    results = {
        "repo": args.repo,
        "head": git("rev-parse", "HEAD", cwd=root).strip(),
        "commits": args.commits,
        "delay_s": args.delay,
        "sessions": args.sessions,
        "runs": runs(args, root),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
