"""File-level bug localization: does `codemem search` put the file a fix touched near the top?

Runs SWE-bench Lite (dev split, Python) and Multi-SWE-bench (dev sample: C, C++, Go, Java,
JS, Rust) from `--bench-dir`. Each repository gets one working clone of its local mirror; its
instances run oldest first, each one `git checkout -f <base_commit>` + `git clean`, then
`codemem index` (incremental, as a user's would be), then `codemem search --level file` with
the issue text as the query, then the same search with each stage switched off (ablation).
A whole-file BM25 baseline ranks the same checkout. Markdown tables go to stdout, progress to
stderr, per-instance ranks and timings to a JSON file under benchmarks/results/.

    python benchmarks/localization.py --suite all
    python benchmarks/localization.py --suite multiswe --repos zstd --limit 3 --baseline-only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bm25 import WholeFileBM25
from checkout import CheckoutError, WorkClone, find_mirror
from codemem_cli import STAGES, CodememCLI, parse_json
from metrics import Record, gold_ranks, hit_rank
from report import render_suite

ROOT = Path(__file__).resolve().parent.parent
SUITES = {"swebench": "swebench_lite_dev.jsonl", "multiswe": "multiswe_dev.jsonl"}
TITLES = {"swebench": "SWE-bench Lite (dev)", "multiswe": "Multi-SWE-bench (dev sample)"}
KEEP_TOP = 10


class GivingUp(RuntimeError):
    """Too many instances failed in a row: codemem (or the setup) is broken, not one case."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def created(instance: dict[str, Any]) -> datetime:
    stamp = instance.get("created_at") or "1970-01-01T00:00:00Z"
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def load_suite(bench_dir: Path, suite: str) -> list[dict[str, Any]]:
    path = bench_dir / SUITES[suite]
    instances = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                item.setdefault("language", "python")
                instances.append(item)
    return instances


def plan(
    instances: list[dict[str, Any]], mirrors: Path, repos: list[str], limit: int | None
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Instances to run per repository (oldest first) and the ones skipped, with why."""
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for item in instances:
        name = item["repo"]
        if repos and not any(r.lower() in name.lower() for r in repos):
            continue
        by_repo.setdefault(name, []).append(item)
    runnable, skipped = {}, []
    for name in sorted(by_repo, key=str.lower):
        items = sorted(by_repo[name], key=created)[:limit]
        if find_mirror(mirrors, name) is None:
            reason = f"no mirror {name.replace('/', '+')} under {mirrors}"
            skipped.append(
                {"repo": name, "instances": [i["instance_id"] for i in items], "reason": reason}
            )
        else:
            runnable[name] = items
    return runnable, skipped


def rank_record(ranked: list[str], gold: list[str]) -> dict[str, Any]:
    return {"ranks": gold_ranks(ranked, gold), "top": ranked[:KEEP_TOP]}


def run_baseline(clone: WorkClone, bm25: WholeFileBM25, instance: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    docs = bm25.load(clone.root, clone.tracked_files())
    loaded = time.perf_counter()
    ranking = [path for path, _ in bm25.rank(instance["problem_statement"])]
    done = time.perf_counter()
    out = rank_record(ranking, instance["gold_files"])
    out.update(docs=docs, load_s=round(loaded - start, 4), rank_s=round(done - loaded, 4))
    return out


def run_codemem(
    clone: WorkClone, cli: CodememCLI, instance: dict[str, Any], k: int, ablation: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The codemem result for one instance and, if asked, its ablation results."""
    index = cli.index(clone.root)
    out: dict[str, Any] = {"index": {**index.timing(), "output": parse_json(index.stdout)}}
    if not index.ok:
        out["error"] = f"index: {index.brief_error()}"
        return out, None
    query, gold = instance["problem_statement"], instance["gold_files"]
    search = cli.search(clone.root, query, k=k)
    out["search"] = search.call.timing()
    if search.error:
        out["error"] = f"search: {search.error}"
        return out, None
    out.update(rank_record(search.paths(), gold))
    if not ablation:
        return out, None
    ablated = {}
    for stage in STAGES:
        result = cli.search(clone.root, query, k=k, disabled=stage)
        entry: dict[str, Any] = {"wall_s": round(result.call.wall_s, 4)}
        if result.error:
            entry["error"] = result.error
        else:
            entry.update(rank_record(result.paths(), gold))
        ablated[stage] = entry
    return out, ablated


def run_instance(
    clone: WorkClone,
    instance: dict[str, Any],
    args: argparse.Namespace,
    cli: CodememCLI | None,
    bm25: WholeFileBM25,
) -> Record:
    record: Record = {
        key: instance.get(key)
        for key in ("instance_id", "repo", "language", "created_at", "base_commit", "gold_files")
    }
    start = time.perf_counter()
    try:
        skipped = clone.checkout(instance["base_commit"])
    except CheckoutError as exc:
        record.update(error=f"checkout: {exc}", gold_present=[])
        return record
    record["checkout_s"] = round(time.perf_counter() - start, 4)
    if skipped:
        record["blobs_missing_from_mirror"] = skipped
    record["gold_present"] = [g for g in instance["gold_files"] if (clone.root / g).is_file()]
    if args.baseline:
        record["bm25"] = run_baseline(clone, bm25, instance)
    if cli is not None:
        record["codemem"], ablated = run_codemem(clone, cli, instance, args.k, args.ablation)
        if ablated is not None:
            record["ablation"] = ablated
    return record


def describe(record: Record) -> str:
    parts = []
    if "error" in record:
        return f"ERROR {record['error'][:200]}"
    result = record.get("codemem")
    if result is not None:
        if result.get("error"):
            parts.append(f"codemem ERROR {result['error'][:200]}")
        else:
            idx, srch = result["index"]["wall_s"], result["search"]["wall_s"]
            parts.append(
                f"index {idx:.1f}s search {srch:.2f}s codemem rank {hit_rank(record, 'codemem')}"
            )
    if "bm25" in record:
        parts.append(f"bm25 rank {hit_rank(record, 'bm25')}")
    return ", ".join(parts)


def run_suite(
    suite: str, args: argparse.Namespace, cli: CodememCLI | None, result: dict[str, Any], save: Any
) -> None:
    """Run one suite into `result` ({"instances": [...], "skipped": [...]}), saving per repository."""
    runnable, skipped = plan(
        load_suite(args.bench_dir, suite), args.mirrors, args.repos, args.limit
    )
    for item in skipped:
        log(
            f"[{suite}] skipping {item['repo']} ({len(item['instances'])} instances): {item['reason']}"
        )
    result["skipped"] = skipped
    total, done = sum(len(v) for v in runnable.values()), 0
    for name, instances in runnable.items():
        clone = WorkClone(find_mirror(args.mirrors, name), args.work_dir / name.replace("/", "+"))
        try:
            clone.ensure()
        except CheckoutError as exc:
            log(f"[{suite}] {name}: cannot clone: {exc}")
            for item in instances:
                result["instances"].append(
                    {
                        **{k: item.get(k) for k in ("instance_id", "repo", "language")},
                        "gold_files": item["gold_files"],
                        "gold_present": [],
                        "error": f"clone: {exc}",
                    }
                )
            continue
        if not args.reuse_index and (clone.root / ".codemem").exists():
            shutil.rmtree(clone.root / ".codemem")
        bm25 = WholeFileBM25()
        for instance in instances:
            done += 1
            record = run_instance(clone, instance, args, cli, bm25)
            result["instances"].append(record)
            log(f"[{suite} {done}/{total}] {instance['instance_id']}: {describe(record)}")
            failed = bool(record.get("error") or (record.get("codemem") or {}).get("error"))
            args.failures_in_a_row = args.failures_in_a_row + 1 if failed else 0
            if args.max_failures and args.failures_in_a_row >= args.max_failures:
                raise GivingUp(
                    f"{args.failures_in_a_row} instances failed in a row; the last: {describe(record)}"
                )
        bm25.forget()
        save()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=["swebench", "multiswe", "all"], default="all")
    parser.add_argument("--bench-dir", type=Path, default=ROOT.parent / "shared" / "bench")
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument(
        "--work-dir", type=Path, default=ROOT / "benchmarks" / ".work" / "localization"
    )
    parser.add_argument(
        "--repos", default="", help="comma-separated substrings of owner/name to keep"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="at most N instances per repository (oldest)"
    )
    parser.add_argument(
        "-k", type=int, default=10, help="results asked of codemem search (default 10)"
    )
    parser.add_argument(
        "--ablation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="rerun search with each stage off (default on)",
    )
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the whole-file BM25 baseline (default on)",
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="skip codemem; BM25 baseline only"
    )
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="keep each clone's .codemem/ from an earlier run (default: start fresh)",
    )
    parser.add_argument(
        "--codemem", default=None, help="command to run codemem (default: the installed one)"
    )
    parser.add_argument(
        "--max-failures",
        type=int,
        default=5,
        help="stop after N instances in a row fail (0: never; default 5)",
    )
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.failures_in_a_row = 0
    args.repos = [r.strip() for r in args.repos.split(",") if r.strip()]
    if args.baseline_only:
        args.baseline, args.ablation = True, False
    return args


def save_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    missing = [s for s in suites if not (args.bench_dir / SUITES[s]).is_file()]
    if missing:
        log(
            f"error: {', '.join(SUITES[s] for s in missing)} not found under {args.bench_dir} (see --bench-dir)"
        )
        return 2
    cli = None
    if not args.baseline_only:
        cli = CodememCLI.from_string(args.codemem, home=args.work_dir / "codemem-home")
        problem = cli.preflight()
        if problem:
            log(
                f"error: codemem is not usable yet: {problem}\n"
                "       run with --baseline-only to measure the BM25 baseline alone"
            )
            return 2
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = (
        args.json_out or ROOT / "benchmarks" / "results" / f"localization-{args.suite}-{stamp}.json"
    )
    data: dict[str, Any] = {
        "meta": {
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else argv,
            "codemem": None if cli is None else cli.command,
            "k": args.k,
            "cpus": os.cpu_count(),
        },
        "suites": {},
    }
    start = time.perf_counter()
    status = 0
    try:
        for suite in suites:
            data["suites"][suite] = {"instances": [], "skipped": []}
            run_suite(suite, args, cli, data["suites"][suite], lambda: save_json(out_path, data))
    except GivingUp as exc:
        log(f"error: giving up: {exc}")
        data["meta"]["gave_up"] = str(exc)
        status = 1
    data["meta"]["wall_s"] = round(time.perf_counter() - start, 1)
    save_json(out_path, data)
    for suite in data["suites"]:
        print(render_suite(TITLES[suite], suite, data["suites"][suite], args.k))
    print(f"_Total wall time {data['meta']['wall_s']:.0f} s; results in {out_path}_")
    log(f"results: {out_path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
