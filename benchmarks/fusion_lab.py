"""Fusion lab: record every retrieval stage's output once, then replay fusion offline.

`collect` checks each benchmark instance out (oldest first per repository, incremental
indexing, as localization.py does), runs codemem's stages in-process and pickles what they
proposed, plus what the path and symbol stages need to be recomputed offline. `evaluate`
replays `codemem.code.fusion.rank_files` (or a variant) over the recording and prints
file Acc@1/3/5/10 per suite and language in well under a second, so a change to the
fusion or to the path/symbol stages is judged on all instances, never on one.

    python benchmarks/fusion_lab.py collect            # ~10 min, once per stage change
    python benchmarks/fusion_lab.py evaluate
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkout import WorkClone, find_mirror  # noqa: E402
from localization import created, load_suite  # noqa: E402

from codemem.code import stages  # noqa: E402
from codemem.code.fusion import rank_files  # noqa: E402
from codemem.code.indexer import refresh_index  # noqa: E402
from codemem.code.query import IDENT_RE, analyze_query  # noqa: E402
from codemem.code.search import Searcher  # noqa: E402
from codemem.config import load_config  # noqa: E402
from codemem.workspace import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parent
RECORDING = ROOT / "results" / "fusion_lab.pkl"


class RecordedSymbols:
    """Stands in for the code store: answers `symbols_named` from recorded rows."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def symbols_named(self, names, limit: int = 20_000) -> list[dict]:
        wanted = set(names)
        return [r for r in self.rows if r["name"] in wanted][:limit]


def collect(args) -> None:
    records = []
    for suite in ("swebench", "multiswe"):
        items = load_suite(args.bench_dir, suite)
        by_repo = defaultdict(list)
        for item in items:
            by_repo[item["repo"]].append(item)
        for repo, group in sorted(by_repo.items()):
            mirror = find_mirror(args.mirrors, repo)
            if mirror is None:
                continue
            clone = WorkClone(mirror, args.work_dir / repo.replace("/", "+")).ensure()
            for item in sorted(group, key=created):
                started = time.perf_counter()
                clone.checkout(item["base_commit"])
                ws = Workspace(clone.root)
                config = load_config(ws.config_file)
                refresh_index(ws, config)
                searcher = Searcher(ws, config)
                query = analyze_query(item["problem_statement"])
                results = searcher.collect(query, depth=300)
                words = sorted(set(IDENT_RE.findall(item["problem_statement"])))
                symbol_rows = searcher.store.symbols_named(words, limit=100_000) if words else []
                languages = searcher.languages()
                records.append(
                    {
                        "suite": suite,
                        "id": item["instance_id"],
                        "repo": repo,
                        "language": item.get("language", "python"),
                        "gold": item["gold_files"],
                        "text": item["problem_statement"],
                        "results": results,
                        "indexed": searcher.manifest.indexed_paths(),
                        "languages": languages,
                        "centrality": searcher.centrality(),
                        "symbols": symbol_rows,
                    }
                )
                print(
                    f"{item['instance_id']}: {time.perf_counter() - started:.1f}s", file=sys.stderr
                )
    RECORDING.parent.mkdir(parents=True, exist_ok=True)
    with RECORDING.open("wb") as handle:
        pickle.dump(records, handle)
    print(f"recorded {len(records)} instances in {RECORDING}", file=sys.stderr)


def replay(record: dict, recompute: bool = True, **options) -> list[str]:
    """The file ranking codemem would give now, from the recorded stage outputs."""
    query = analyze_query(record["text"])
    results = record["results"]
    if recompute:
        results.paths = stages.path_matches(stages.PathList(record["indexed"]), query)
        results.symbols = stages.symbol_matches(RecordedSymbols(record["symbols"]), query)
    scores = rank_files(results, query, record["languages"], record["centrality"], **options)
    return [p for p, _ in sorted(scores.items(), key=lambda kv: -kv[1])]


def evaluate(args) -> None:
    with RECORDING.open("rb") as handle:
        records = pickle.load(handle)
    table = defaultdict(lambda: defaultdict(int))
    for record in records:
        ranked = replay(record, rrf_k=args.rrf_k)
        ranks = [ranked.index(g) + 1 for g in record["gold"] if g in ranked]
        best = min(ranks) if ranks else None
        groups = [
            "all:" + record["suite"],
            record["suite"]
            + ":"
            + (record["language"] if record["suite"] == "multiswe" else record["repo"]),
        ]
        for group in groups:
            table[group]["n"] += 1
            for k in (1, 3, 5, 10):
                table[group][k] += bool(best and best <= k)
        if args.verbose:
            print(f"{record['id']:45} gold rank {best}  top {ranked[:3]}")
    print(f"{'group':36} {'n':>4} {'@1':>6} {'@3':>6} {'@5':>6} {'@10':>6}")
    for group in sorted(table):
        row = table[group]
        cells = " ".join(f"{100 * row[k] / row['n']:6.1f}" for k in (1, 3, 5, 10))
        print(f"{group:36} {row['n']:>4} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--bench-dir", type=Path, default=ROOT.parent.parent / "shared" / "bench")
    c.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    c.add_argument("--work-dir", type=Path, default=ROOT / ".work" / "localization")
    e = sub.add_parser("evaluate")
    e.add_argument("--rrf-k", type=int, default=20)
    e.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    collect(args) if args.command == "collect" else evaluate(args)


if __name__ == "__main__":
    main()
