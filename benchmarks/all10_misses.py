"""Why Multi-SWE's All@10 misses: each missing gold file, its rank and its relations to the top.

Replays the fusion lab's recording (`fusion_lab.py`) and, for every Multi-SWE instance that
fails All@10 although it could pass (at most 10 gold files), lists each gold file outside the
top 10 with its rank now and how it relates to the files ranked above it: same folder, same
file stem, a C-family header/source pair, a test and its code, used by a top file (its names),
changed with a top file in the history (`cochange`), its stem a word of the issue. Then, per
relation: how many missing files have it (recall), how often a file at ranks 11-50 that has it
is gold (precision, to set against the ranks it would push out), and the ceilings an oracle
reaching down to rank N would give. Markdown on stdout.

    python benchmarks/all10_misses.py --recording /work/bench-work/s6-fusion.pkl
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fusion_lab  # noqa: E402

from codemem.code.cochange import CoChange  # noqa: E402
from codemem.code.file_uses import strongest_names, used_files  # noqa: E402
from codemem.code.files import is_test_path  # noqa: E402
from codemem.code.fusion import HEADER_SUFFIXES, SOURCE_SUFFIXES  # noqa: E402
from codemem.code.languages import is_prose  # noqa: E402

ANCHORS = 3  # the top files whose uses and history are followed
RELATIONS = ("same_dir", "same_stem", "header_source", "test_code", "uses", "cochange", "named")
TEST_AFFIX = re.compile(r"^test_|_test$|_tests$|tests?$|_spec$|spec$|\.test$|\.spec$")


def stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].split(".", 1)[0].lower()


def suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def relations(path: str, top: list[str], record: dict, cochange: CoChange | None) -> set[str]:
    """How `path` relates to the files in `top` (the first `ANCHORS` for uses and history)."""
    found: set[str] = set()
    refs, definers = record["use_refs"], record["use_definers"]
    words = set(re.findall(r"[a-z0-9_]+", record["text"].lower()))
    for n, anchor in enumerate(top):
        if anchor == path:
            continue
        if posixpath.dirname(anchor) == posixpath.dirname(path):
            found.add("same_dir")
        if stem(anchor) == stem(path):
            found.add("same_stem")
            kinds = {suffix(anchor), suffix(path)}
            if kinds & HEADER_SUFFIXES and kinds & SOURCE_SUFFIXES:
                found.add("header_source")
        if is_test_path(anchor) != is_test_path(path) and TEST_AFFIX.sub(
            "", stem(anchor)
        ) == TEST_AFFIX.sub("", stem(path)):
            found.add("test_code")
        if n < ANCHORS and anchor in refs:
            used = used_files(anchor, strongest_names(refs[anchor]), definers)
            if path in dict(used):
                found.add("uses")
        if n < ANCHORS and cochange is not None and path in cochange.partners(anchor):
            found.add("cochange")
    if len(stem(path)) > 2 and stem(path) in words:
        found.add("named")
    return found


def rank_bucket(rank: int | None) -> str:
    if rank is None:
        return "not ranked"
    for low, high in ((11, 20), (21, 50), (51, 100)):
        if low <= rank <= high:
            return f"{low}-{high}"
    return ">100"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recording", type=Path, default=fusion_lab.RECORDING)
    args = parser.parse_args()
    fusion_lab.RECORDING = args.recording
    records = [r for r in fusion_lab.load_recording() if r["suite"] == "multiswe"]
    missing: list[dict] = []
    precision: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # relation -> [gold, all]
    ceilings: Counter = Counter()
    for record in records:
        ranked = fusion_lab.replay(record)
        rank = {p: n + 1 for n, p in enumerate(ranked)}
        gold = record["gold"]
        history = record.get("commits")
        cochange = CoChange.from_commits(history) if history is not None else None
        top = ranked[:10]
        worst = max(rank.get(g, 10**6) for g in gold)
        for depth in (10, 20, 30, 50):
            ceilings[depth] += len(gold) <= 10 and worst <= depth
        for path in ranked[10:50]:
            for relation in relations(path, top[:ANCHORS], record, cochange):
                precision[relation][0] += path in gold
                precision[relation][1] += 1
        if worst <= 10 or len(gold) > 10:
            continue
        for path in gold:
            if rank.get(path, 10**6) > 10:
                language = record["languages"].get(path)
                missing.append(
                    {
                        "id": record["id"],
                        "path": path,
                        "rank": rank.get(path),
                        "kind": "prose/config" if is_prose(path, language) else "source",
                        "relations": relations(path, top, record, cochange),
                    }
                )
    failing = {m["id"] for m in missing}
    print(f"## {len(missing)} missing gold files in {len(failing)} instances that could pass\n")
    print("| instance | missing gold file | rank now | kind | relations (uses, cochange: top 3) |")
    print("|:--|:--|--:|:--|:--|")
    for m in sorted(missing, key=lambda m: (m["id"], m["rank"] or 10**6)):
        rel = ", ".join(r for r in RELATIONS if r in m["relations"]) or "none"
        print(f"| {m['id']} | {m['path']} | {m['rank'] or '-'} | {m['kind']} | {rel} |")
    print("\n| rank now | files |\n|:--|--:|")
    for bucket, n in sorted(Counter(rank_bucket(m["rank"]) for m in missing).items()):
        print(f"| {bucket} | {n} |")
    print(
        "\n| relation | missing files with it (to the top 10) | gold among ranks 11-50 with it "
        f"(of the top {ANCHORS}) |"
    )
    print("|:--|--:|--:|")
    for relation in RELATIONS:
        have = sum(relation in m["relations"] for m in missing)
        hit, seen = precision[relation]
        share = f"{hit}/{seen} = {100 * hit / seen:.1f}%" if seen else "-"
        print(f"| {relation} | {have} ({100 * have / max(len(missing), 1):.0f}%) | {share} |")
    print("\n| an oracle ordering ranks 1..N | All@10 |\n|:--|--:|")
    for depth, n in sorted(ceilings.items()):
        print(f"| N = {depth} | {100 * n / len(records):.1f} |")


if __name__ == "__main__":
    main()
