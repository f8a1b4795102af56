"""Fusion lab: record every retrieval stage's output once, then replay fusion offline.

`collect` checks each benchmark instance out (oldest first per repository, incremental
indexing, as localization.py does), runs codemem's stages in-process and pickles what they
proposed, plus what the path and symbol stages need to be recomputed offline. `evaluate`
replays `codemem.code.fusion.rank_files` (or a variant) over the recording and prints
file Acc@1/3/5/10 per suite and language in well under a second, so a change to the
fusion or to the path/symbol stages is judged on all instances, never on one.

    python benchmarks/fusion_lab.py collect            # ~10 min, once per stage change
    python benchmarks/fusion_lab.py history            # add each instance's git history (seconds)
    python benchmarks/fusion_lab.py evaluate [--off STAGE]
    python benchmarks/fusion_lab.py ablation            # Markdown table, each stage off in turn
    python benchmarks/fusion_lab.py companions          # Markdown table, companion settings
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

from codemem.code import file_stages, followup, history, stages  # noqa: E402
from codemem.code import query as query_module  # noqa: E402
from codemem.code.cochange import CoChange  # noqa: E402
from codemem.code.file_uses import strongest_names, used_files  # noqa: E402
from codemem.code.fusion import (  # noqa: E402
    COMPANION_KEEP,
    StageResults,
    add_companions,
    kept_files,
    rank_files,
    untied_down,
)
from codemem.code.graph_rank import is_ignored_name  # noqa: E402
from codemem.code.indexer import refresh_index  # noqa: E402
from codemem.code.query import IDENT_RE, analyze_query  # noqa: E402
from codemem.code.search import Searcher, chunk_depth  # noqa: E402
from codemem.code.tags import TagStore  # noqa: E402
from codemem.config import load_config  # noqa: E402
from codemem.config.core import SearchConfig  # noqa: E402
from codemem.workspace import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parent
RECORDING = ROOT / "results" / "fusion_lab.pkl"  # or --recording
USES_RECORDED = 20  # the files whose references are recorded: the best of the ranking
USES = SearchConfig().uses  # replayed as codemem's default has it
_COCHANGE: dict[str, CoChange] = {}  # per instance, built once per process


class RecordedSymbols:
    """Stands in for the code store: answers `symbols_named` from recorded rows."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def symbols_named(self, names, *, most: int | None = None, pinned=()) -> list[dict]:
        """As `LexiconRows.symbols_named`: with `most`, a name defined in more places gives
        `most + 1` of its rows (outside tests first) and those `pinned` names end with."""
        wanted = set(names)
        by_name: dict[str, list[dict]] = defaultdict(list)
        for r in self.rows:
            if r["name"] in wanted:
                by_name[r["name"]].append(r)
        pins = tuple(pinned)
        out = []
        for rows in by_name.values():
            if most is not None and len(rows) > most:
                kept = sorted(rows, key=lambda r: bool(r.get("is_test")))[: most + 1]
                kept += [r for r in rows if r not in kept and r["qualname"].endswith(pins)]
                rows = kept
            out += rows
        return out


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
                records.append(record_instance(searcher, suite, repo, item))
                records[-1]["commits"] = history.read_commits(clone.root)
                pickle.dumps(records[-1])  # fail on the first instance, not after the last
                print(
                    f"{item['instance_id']}: {time.perf_counter() - started:.1f}s", file=sys.stderr
                )
    save_recording(records)


def add_history(args) -> None:
    """Record each instance's commits (what `codemem.code.history` reads at the base commit)
    into an existing recording, from the mirrors."""
    records = load_recording()
    items = {
        item["instance_id"]: item
        for suite in ("swebench", "multiswe")
        for item in load_suite(args.bench_dir, suite)
    }
    for record in records:
        mirror = find_mirror(args.mirrors, record["repo"])
        if mirror is not None:
            commit = items[record["id"]]["base_commit"]
            record["commits"] = history.read_commits(mirror, commit)
    save_recording(records)


def save_recording(records: list[dict]) -> None:
    RECORDING.parent.mkdir(parents=True, exist_ok=True)
    with RECORDING.open("wb") as handle:
        pickle.dump(records, handle)
    print(f"recorded {len(records)} instances in {RECORDING}", file=sys.stderr)


def record_instance(searcher: Searcher, suite: str, repo: str, item: dict) -> dict:
    """Every stage's output for one instance, and what the offline stages need to rerun."""
    text = item["problem_statement"]
    query = analyze_query(text)
    results = searcher.collect(query)  # at the depth a search uses
    ranked = searcher.rank_files(results, query)
    top = sorted(ranked, key=lambda p: -ranked[p])[:USES_RECORDED]
    # What the used files are derived from, recorded whether or not the stage is on.
    tags = TagStore.load(searcher.ws.index_dir)
    use_refs = {
        p: {n: c for n, c in tags.references(p).items() if not is_ignored_name(n)} for p in top
    }
    use_names = sorted({n for refs in use_refs.values() for n in refs})
    definers = searcher.rows.definers(use_names) if use_names else {}
    words = sorted(set(IDENT_RE.findall(text)))
    symbol_rows = searcher.rows.symbols_named(words) if words else []
    # Alternatives that change the full-text query, for the ablation and the variants.
    plain = analyze_query(text, enabled=False)
    query_module.TRACE_LINES_AS_PROSE = True
    prose = analyze_query(text)
    query_module.TRACE_LINES_AS_PROSE = False
    bm25_plain = (
        stages.bm25_chunks(searcher.store, plain, chunk_depth(plain)),
        stages.bm25_files(searcher.store, plain, 100),
    )
    bm25_prose = (
        (
            stages.bm25_chunks(searcher.store, prose, chunk_depth(prose)),
            stages.bm25_files(searcher.store, prose, 100),
        )
        if prose.fts_query() != query.fts_query()
        else None
    )
    # The message stage's candidates with their text, and the callee stage's inputs.
    message_cands = followup.message_candidates(searcher.store, query)
    callers = [
        c for c in stages.symbol_matches(searcher.rows, query) if c.kind in followup.CALLER_KINDS
    ][:20]
    bodies = searcher.chunk_texts(callers, by_line=True)
    names = sorted({n for body in bodies.values() for n in followup.called_names(body)})
    return {
        "suite": suite,
        "id": item["instance_id"],
        "repo": repo,
        "language": item.get("language", "python"),
        "gold": item["gold_files"],
        "text": text,
        "results": results,
        "bm25_plain": bm25_plain,
        "bm25_prose": bm25_prose,
        "message_cands": message_cands,
        "message_texts": searcher.chunk_texts(message_cands),
        "bodies": bodies,
        "callee_rows": searcher.rows.symbols_named(names) if names else [],
        "indexed": searcher.manifest.indexed_paths(),
        "languages": searcher.languages(),
        "centrality": dict(searcher.centrality()),  # a view of a memory-mapped column
        "symbols": symbol_rows,
        "use_refs": use_refs,
        "use_definers": {n: sorted(files) for n, files in definers.items()},
    }


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
    "frame_weights",
    "trace_lines_out",
    "cochange",
    "uses",
    "counterparts",
    "untied",
)


def replay(
    record: dict, off: str | None = None, companion: dict | None = None, **options
) -> list[str]:
    """The file ranking codemem would give now from the recorded stage outputs, `off` ablated."""
    query = analyze_query(record["text"], enabled=off != "query_analysis")
    base = record["results"]
    results = StageResults(chunks=base.chunks, files=base.files)
    if off == "query_analysis":
        results.chunks, results.files = record["bm25_plain"]
    elif off == "trace_lines_out" and record.get("bm25_prose"):
        results.chunks, results.files = record["bm25_prose"]
    if off == "bm25":
        results.chunks, results.files = [], []
    names = file_stages.NameIndex(record["indexed"])
    if query.frames and off != "frame_weights":
        file_stages.weigh_frames(query.frames, names)
    if off != "paths":
        results.paths = file_stages.path_matches(file_stages.PathList(record["indexed"]), query)
    if off != "stems":
        results.stems = file_stages.stem_matches(names, query)
    if off != "symbols":
        results.symbols = stages.symbol_matches(RecordedSymbols(record["symbols"]), query)
    if off != "messages" and query.errors:
        results.messages = followup.message_matches(
            record["message_cands"], record["message_texts"], query
        )
    if off != "callees" and results.symbols:
        sources = Searcher.callee_sources(results.symbols)
        results.callees = followup.callee_matches(sources, record["bodies"], record["callee_rows"])
    scores = rank_files(
        results,
        query,
        record["languages"],
        record["centrality"],
        test_prior=off != "test_prior",
        graph_prior=off != "graph_prior",
        depth_prior=off != "depth_prior",
        uses=recorded_uses(record) if USES and off != "uses" and "use_refs" in record else None,
        with_stem=file_stages.PathList(record["indexed"]).with_stem
        if off != "counterparts"
        else None,
        **options,
    )
    if off != "cochange" and record.get("commits") is not None and scores:
        if record["id"] not in _COCHANGE:
            _COCHANGE[record["id"]] = CoChange.from_commits(record["commits"])
        indexed = set(record["indexed"])
        settings = dict(companion or {})
        kept = kept_files(scores, settings.pop("keep", COMPANION_KEEP))
        add_companions(
            scores,
            kept,
            _COCHANGE[record["id"]],
            query,
            lambda paths: indexed.intersection(paths),
            **settings,
        )
        if off != "untied" and query.is_report:
            untied_down(scores, kept, _COCHANGE[record["id"]])
    return [p for p, _ in sorted(scores.items(), key=lambda kv: -kv[1])]


def recorded_uses(record: dict):
    """`FileUses` over the recorded references and definers (`USED_FILES` may be a variant)."""
    refs, definers = record["use_refs"], record["use_definers"]
    return lambda path: USED_FILES(path, strongest_names(refs.get(path, {})), definers)


USED_FILES = used_files


def load_recording() -> list[dict]:
    with RECORDING.open("rb") as handle:
        return pickle.load(handle)


def score(records: list[dict], off: str | None = None, verbose: bool = False, **options) -> dict:
    """Acc@1/3/5/10 and All@10 (every gold file in the top 10) per suite and language, in %."""
    table: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for record in records:
        ranked = replay(record, off, **options)
        ranks = [ranked.index(g) + 1 for g in record["gold"] if g in ranked]
        best = min(ranks) if ranks else None
        every = len(ranks) == len(record["gold"]) and max(ranks) <= 10
        suite = record["suite"]
        kind = record["language"] if suite == "multiswe" else record["repo"]
        for group in ("all:" + suite, suite + ":" + kind):
            table[group]["n"] += 1
            for k in (1, 3, 5, 10):
                table[group][k] += bool(best and best <= k)
            table[group]["all10"] += every
        if verbose:
            print(f"{record['id']:45} gold rank {best}  top {ranked[:3]}")
    return {
        group: {k: 100 * row[k] / row["n"] for k in (1, 3, 5, 10, "all10")} | {"n": row["n"]}
        for group, row in table.items()
    }


def evaluate(args) -> None:
    table = score(load_recording(), args.off, args.verbose, rrf_k=args.rrf_k)
    print(f"{'group':36} {'n':>4} {'@1':>6} {'@3':>6} {'@5':>6} {'@10':>6} {'all@10':>6}")
    for group in sorted(table):
        row = table[group]
        cells = " ".join(f"{row[k]:6.1f}" for k in (1, 3, 5, 10, "all10"))
        print(f"{group:36} {row['n']:>4} {cells}")


def ablation(args) -> None:
    """A Markdown table: the full ranking, then each stage or prior switched off in turn."""
    records = load_recording()
    print(
        "| switched off | SWE-bench Lite dev Acc@1/5/10 | Multi-SWE dev Acc@1/5/10 | Multi-SWE All@10 |"
    )
    print("|:--|--:|--:|--:|")
    for off in (None, *ABLATIONS):
        table = score(records, off)
        swe, multi = table["all:swebench"], table["all:multiswe"]
        print(
            f"| {off or '(nothing: full ranking)'} | {swe[1]:.1f} / {swe[5]:.1f} / {swe[10]:.1f} "
            f"| {multi[1]:.1f} / {multi[5]:.1f} / {multi[10]:.1f} | {multi['all10']:.1f} |"
        )


COMPANION_VARIANTS = (
    {},  # the defaults in codemem.code.fusion
    {"anchors": 1},
    {"anchors": 3},
    {"anchors": 5},
    {"weight": 0.5},
    {"weight": 1.0, "sure": 2.0},  # no sure slot, a stronger additive raise
    {"sure": 0.3, "slots": 3},
    {"keep": 3},  # lets companions move ranks 4 and 5
)


def companion_table(args) -> None:
    """A Markdown table: companions off, the defaults, then each variant of their settings."""
    records = load_recording()
    print("| companions | SWE Acc@1/5/10 | Multi Acc@1/5/10 | Multi All@10 | All@10 by language |")
    print("|:--|--:|--:|--:|:--|")
    for label, off, options in (
        ("off", "cochange", None),
        *((str(v or "defaults"), None, v) for v in COMPANION_VARIANTS),
    ):
        table = score(records, off, companion=options)
        swe, multi = table["all:swebench"], table["all:multiswe"]
        langs = " ".join(
            f"{group.split(':')[1]} {row['all10']:.0f}"
            for group, row in sorted(table.items())
            if group.startswith("multiswe:")
        )
        print(
            f"| {label} | {swe[1]:.1f} / {swe[5]:.1f} / {swe[10]:.1f} "
            f"| {multi[1]:.1f} / {multi[5]:.1f} / {multi[10]:.1f} | {multi['all10']:.1f} | {langs} |"
        )


def main() -> None:
    global RECORDING
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
    e.add_argument("--off", choices=ABLATIONS, help="replay with this stage or prior off")
    e.add_argument("-v", "--verbose", action="store_true")
    sub.add_parser("ablation")
    sub.add_parser("companions")
    h = sub.add_parser("history")
    h.add_argument("--bench-dir", type=Path, default=ROOT.parent.parent / "shared" / "bench")
    h.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--recording", type=Path, default=RECORDING, help="the recording file")
    args = parser.parse_args()
    RECORDING = args.recording
    commands = {"collect": collect, "evaluate": evaluate, "ablation": ablation}
    commands["history"] = add_history
    commands["companions"] = companion_table
    commands[args.command](args)


if __name__ == "__main__":
    main()
