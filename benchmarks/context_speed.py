"""Context assembly per agent step on a sympy-sized index, and what the memory prefix costs.

    python benchmarks/context_speed.py [FOLDER] [--work DIR] [--reparse] [--repeat N]

FOLDER defaults to /tmp/sympy (an extracted sympy checkout); its tag store is built once into
WORK/repo (as `map_speed.py` does) and reused. The repository gets realistic memory: blocks
filled to typical sizes, 200 archival notes, 50 earlier sessions of 40 messages in recall,
and a 40-message conversation. Then, with a scripted provider (no network):

- the first `Context.build()` of a session (loads the tag store and graph, renders the map),
- a warm step (`build()` as the loop calls it before every model call: blocks re-read from
  disk, stats, cached map, token estimate), and the same after a block was edited on disk,
- each part on its own,

as best and median wall seconds over --repeat runs; and the size of each part in characters
and estimated tokens (3.5 characters per token, the provider estimator's starting point). The
memory prefix is the system prompt plus the memory blocks: the stable, cacheable head of every
request. Results also go to benchmarks/results/context_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from map_speed import prepare

from codemem.agent.messages import Message
from codemem.agent.providers import ScriptedProvider, tool_call
from codemem.agent.session import create_agent
from codemem.config import Config
from codemem.memory import Archive, MemoryStore, Recall, initialize_memory
from codemem.workspace import Workspace

RESULTS = Path(__file__).resolve().parent / "results" / "context_speed.json"
PROSE = (
    "The solver dispatches on the equation type; rational equations are reduced to polynomials "
    "first. Tests live next to the code in tests/ folders and run with `bin/test`. "
)


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def fill_memory(ws: Workspace) -> None:
    """Blocks at typical sizes, archival notes and earlier sessions (only once per work dir)."""
    marker = ws.local_dir / "context-bench-filled"
    if marker.exists():
        return
    initialize_memory(ws)
    store = MemoryStore(ws)
    for label, chars in (("project", 4000), ("conventions", 3000), (store.user_label, 1000)):
        store.rethink(label, (PROSE * (chars // len(PROSE) + 1))[:chars])
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    clock = iter(start + timedelta(minutes=n) for n in range(100_000))
    archive = Archive(ws, clock=lambda: next(clock))
    for n in range(200):
        archive.insert(f"Note {n}: {PROSE}", tags=["bench", f"topic-{n % 10}"])
    with Recall(ws, clock=lambda: next(clock)) as recall:
        for s in range(50):
            session = recall.start_session("scripted/bench", f"session {s}")
            for m in range(40):
                recall.add_message(session, "user" if m % 2 == 0 else "assistant", f"{m} {PROSE}")
    marker.write_text("ok\n")


def conversation(n: int) -> list[Message]:
    """A conversation of `n` messages: questions, tool calls with results, answers."""
    out = [Message.user("Why does solve() return an empty list for rational equations?")]
    while len(out) < n:
        call = tool_call("read_file", path="sympy/solvers/solvers.py", start_line=1, end_line=80)
        out.append(Message.assistant("Let me look at the solver.", [call]))
        out.append(
            Message.tool_result(call.id, "\n".join(f"{i:>6}\t{PROSE}" for i in range(1, 25)))
        )
    return out[:n]


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="/tmp/sympy")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "codemem-context-bench"))
    ap.add_argument("--reparse", action="store_true", help="parse the folder again")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--messages", type=int, default=40)
    args = ap.parse_args()

    index_dir = prepare(Path(args.folder), Path(args.work), args.reparse)
    ws = Workspace(index_dir.parents[2])
    fill_memory(ws)
    config = Config.model_validate({"agent": {"refresh_index": False}})

    def new_agent():
        agent = create_agent(ws, config, ScriptedProvider([]), record=False)
        agent.context.conversation.history.extend(conversation(args.messages))
        return agent

    rows: list[tuple[str, float, float]] = []
    cold = []
    for _ in range(max(3, args.repeat // 4)):  # a new session each time: tag store + graph load
        agent = new_agent()
        start = time.perf_counter()
        agent.context.build()
        cold.append(time.perf_counter() - start)
    rows.append(("first step of a session (loads map data)", min(cold), statistics.median(cold)))

    agent = new_agent()
    context = agent.context
    prompt = context.build()
    rows.append(("warm step: Context.build()", *timed(context.build, args.repeat)))

    block = ws.blocks_dir / "project.md"
    original = block.read_text()

    def edited_step() -> None:
        block.write_text(original + f"\nEdited at {time.perf_counter()}.")
        context.build()

    rows.append(("warm step after a block edit on disk", *timed(edited_step, args.repeat)))
    block.write_text(original)
    rows.append(("  memory blocks (re-read from disk)", *timed(context.blocks_part, args.repeat)))
    rows.append(("  memory stats", *timed(lambda: context.stats_part(False), args.repeat)))
    rows.append(("  repo map (cached)", *timed(context.map_part, args.repeat)))
    rows.append(
        (
            "  token estimate",
            *timed(
                lambda: context.count(prompt.system, prompt.messages, prompt.tools), args.repeat
            ),
        )
    )

    chars_per_token = context.estimator.chars_per_token
    tool_chars = sum(
        len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in prompt.tools
    )
    parts = {
        "system prompt": context.instructions,
        "memory blocks": context.blocks_part(),
        "memory stats": context.stats_part(False),
        "repo map": context.map_part() or "",
        "tool schemas": "x" * tool_chars,
        "conversation": "x" * sum(len(m.content) for m in prompt.messages),
    }
    prefix_chars = len(parts["system prompt"]) + len(parts["memory blocks"])
    sizes = {
        name: {"chars": len(text), "tokens": round(len(text) / chars_per_token)}
        for name, text in parts.items()
    }
    sizes["memory prefix (prompt + blocks)"] = {
        "chars": prefix_chars,
        "tokens": context.prefix_tokens(),
    }

    store = context.ctx.repo_maps._store
    print(f"workspace: {ws.root} ({len(store)} files in the tag store)", file=sys.stderr)
    width = max(len(label) for label, _, _ in rows)
    print(f"{'per step':{width}}  {'best ms':>8}  {'median ms':>9}")
    for label, best, median in rows:
        print(f"{label:{width}}  {best * 1000:8.2f}  {median * 1000:9.2f}")
    print()
    width = max(len(name) for name in sizes)
    print(f"{'part':{width}}  {'chars':>7}  {'~tokens':>7}")
    for name, size in sizes.items():
        print(f"{name:{width}}  {size['chars']:7,}  {size['tokens']:7,}")
    print(
        f"\nwhole request: ~{prompt.tokens:,} tokens ({prompt.ratio:.1%} of a {prompt.window:,}-token window)"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "files": len(store),
                "messages": args.messages,
                "timings_ms": {
                    label.strip(): {"best": best * 1000, "median": median * 1000}
                    for label, best, median in rows
                },
                "sizes": sizes,
                "request_tokens": prompt.tokens,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
