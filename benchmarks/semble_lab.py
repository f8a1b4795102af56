"""semble's dev split scored in-process, for quick iteration and the ablation table.

Runs codemem's `Searcher` directly on the 15 development repositories that
`../shared/bench/semble_bench.py` checked out (its `--work` folder) and scores each query
with semble_bench's own scorer, so the figures match the official run's NDCG@10.

    python benchmarks/semble_lab.py --repos /path/to/semble-work          # chunk and file NDCG@10
    python benchmarks/semble_lab.py --repos /path/to/semble-work --ablation
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parent
ABLATIONS = (
    "bm25",
    "symbols",
    "paths",
    "graph_prior",
    "test_prior",
    "depth_prior",
    "query_analysis",
    "messages",
    "callees",
    "stems",
    "uses",
    "untied",
)
SEMBLE_REV = "8d737aba127b76f3c729ef6925b2b17fd769d646"


def evaluate(
    sb, specs, tasks, repos: Path, off: str | None, dump: Path | None = None
) -> dict[str, float]:
    """NDCG@10 per level: macro over repositories (as semble reports it); per query type, over queries."""
    from codemem.code.indexer import refresh_index
    from codemem.code.search import Searcher
    from codemem.config import load_config
    from codemem.workspace import Workspace

    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    records: list[dict] = []
    for name in sb.DEV_REPOS:
        ws = Workspace(repos / name)
        config = load_config(ws.config_file)
        refresh_index(ws, config)
        if off:
            search = config.search.model_copy(update={off: False})
            config = config.model_copy(update={"search": search})
        searcher = Searcher(ws, config)
        for task in tasks[name]:
            record = {"repo": name, "qid": task.qid, "query": task.query, "type": task.category}
            record["targets"] = [t.to_json() for t in task.targets]
            for level in ("chunk", "file"):
                hits = searcher.search(task.query, k=10, level=level)
                spans = [(h.path, h.start_line, h.end_line) for h in hits]
                ndcg = sb.score(spans, task, specs[name].benchmark_root)["ndcg10"]
                scores[(level, name)].append(ndcg)
                scores[(level, task.category)].append(ndcg)
                record[level] = {"ndcg10": ndcg, "hits": spans}
            records.append(record)
    if dump:
        dump.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = {}
    for level in ("chunk", "file"):
        out[level] = mean(mean(scores[(level, n)]) for n in sb.DEV_REPOS)
        for category in ("architecture", "semantic", "symbol"):  # over queries, as before
            out[f"{level}:{category}"] = mean(scores[(level, category)])
        for n in sb.DEV_REPOS:
            out[f"{level}:{n}"] = mean(scores[(level, n)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repos", type=Path, required=True, help="semble_bench's --work folder")
    parser.add_argument("--bench-dir", type=Path, default=ROOT.parent.parent / "shared" / "bench")
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--ablation", action="store_true", help="each stage and prior off in turn")
    parser.add_argument("--off", choices=ABLATIONS, help="only this stage or prior off")
    parser.add_argument("--per-repo", action="store_true")
    parser.add_argument("--dump", type=Path, help="write each query's hits and NDCG here (JSONL)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.bench_dir))
    import semble_bench as sb

    os.environ.setdefault("CODEMEM_HOME", str(args.repos / "_home"))
    source = sb.BenchSource(None, sb.find_semble_git(args.mirrors), SEMBLE_REV)
    specs, tasks = sb.load_benchmark(source)
    print(
        "| switched off | chunk NDCG@10 | file NDCG@10 | chunk arch / sem / sym | file arch / sem / sym |"
    )
    print("|:--|--:|--:|--:|--:|")
    for off in (None, *ABLATIONS) if args.ablation else (args.off,):
        r = evaluate(sb, specs, tasks, args.repos, off, None if args.ablation else args.dump)
        kinds = [
            " / ".join(f"{r[level + ':' + c]:.3f}" for c in ("architecture", "semantic", "symbol"))
            for level in ("chunk", "file")
        ]
        print(
            f"| {off or '(nothing: full ranking)'} | {r['chunk']:.3f} | {r['file']:.3f}"
            f" | {kinds[0]} | {kinds[1]} |",
            flush=True,
        )
        if args.per_repo:
            print(" ".join(f"{n}:{r['chunk:' + n]:.2f}/{r['file:' + n]:.2f}" for n in sb.DEV_REPOS))


if __name__ == "__main__":
    main()
