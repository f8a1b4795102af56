"""Why Multi-SWE's All@10 misses: each missing gold file, its rank and its relations to the top.

Replays the fusion lab's recording (`fusion_lab.py`) and, for every Multi-SWE instance that
fails All@10 although it could pass (at most 10 gold files), lists each gold file outside the
top 10 with its rank now and how it relates to the files ranked above it: same folder, same
file stem, a C-family header/source pair, a test and its code, used by a top file (its names),
changed with a top file in the history (`cochange`), its stem a word of the issue. Then what
kind of file each missing one is, per language (expected test output, build files,
documentation, a header or inline twin of a top file, ...); per relation, how many missing files
have it (recall) and how often a file at ranks 11-50 that has it is gold (precision, to set
against the ranks it would push out); and the ceilings an oracle reaching down to rank N would
give. Markdown on stdout.

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
from codemem.code.fusion import HEADER_SUFFIXES, INLINE_MARKS, SOURCE_SUFFIXES  # noqa: E402
from codemem.code.languages import is_prose  # noqa: E402

ANCHORS = 3  # the top files whose uses and history are followed
RELATIONS = ("same_dir", "same_stem", "header_source", "test_code", "uses", "cochange", "named")
TEST_AFFIX = re.compile(r"^test_|_test$|_tests$|tests?$|_spec$|spec$|\.test$|\.spec$")
# What a missing file is, checked in this order (the first that fits): which kind of recall a
# fix needs beyond the words.
KINDS = (
    "expected test output",  # approval baselines, snapshots, fixtures
    "test",
    "build, CI or manifest",
    "documentation or changelog",
    "header, source or inline twin of a top file",
    "source beside a top file",
    "source elsewhere",
)
EXPECTED_OUTPUT = re.compile(r"\.approved\.|\.snap$|(^|/)(baselines|snapshots|fixtures)/", re.I)
BUILD = re.compile(
    r"(^|/)(makefile|cmakelists\.txt|meson\.build|cargo\.(toml|lock)|package(-lock)?\.json|"
    r"go\.(mod|sum)|pom\.xml|build\.gradle|appveyor\.yml|\.travis\.yml|\.drone\.yml|"
    r"\.gitignore|doxyfile)$|(^|/)\.github/|\.(cmake|vcx?proj|sln|sh|mk)$",
    re.I,
)
# Release notes some projects keep without a suffix (`CHANGELOG`, `release-notes/CREDITS-2.x`).
NOTES = re.compile(r"(^|/)(changelog|changes|news|credits|authors)[^/]*$|(^|/)release-notes/", re.I)


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


def module_stem(path: str) -> str:
    """A C-family file's module: `array-inl.h`, `array.h` and `array.cpp` are `array`'s."""
    name = stem(path)
    mark = next((m for m in INLINE_MARKS if name.endswith(m)), "")
    return name[: len(name) - len(mark)]


def kind(path: str, top: list[str], language: str | None) -> str:
    """Which of `KINDS` a missing gold file is, against the top files."""
    if EXPECTED_OUTPUT.search(path):
        return KINDS[0]
    if is_test_path(path):
        return KINDS[1]
    if BUILD.search(path):
        return KINDS[2]
    if is_prose(path, language) or NOTES.search(path):
        return KINDS[3]
    c_family = HEADER_SUFFIXES | SOURCE_SUFFIXES
    if suffix(path) in c_family and any(
        t != path and suffix(t) in c_family and module_stem(t) == module_stem(path) for t in top
    ):
        return KINDS[4]
    if any(posixpath.dirname(t) == posixpath.dirname(path) for t in top):
        return KINDS[5]
    return KINDS[6]


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
                        "what": kind(path, top, language),
                        "language": record["language"],
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
    languages = sorted({m["language"] for m in missing})
    print(
        f"\n| kind of missing file | {' | '.join(languages)} | all | ranks 11-20 / 21-50 / lower |"
    )
    print("|:--|" + "--:|" * (len(languages) + 2))
    for what in KINDS:
        these = [m for m in missing if m["what"] == what]
        if not these:
            continue
        cells = " | ".join(str(sum(m["language"] == lang for m in these)) for lang in languages)
        depth = Counter(rank_bucket(m["rank"]) for m in these)
        lower = len(these) - depth["11-20"] - depth["21-50"]
        print(
            f"| {what} | {cells} | {len(these)} | {depth['11-20']} / {depth['21-50']} / {lower} |"
        )
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
