"""Are the learned conventions true? Precision and recall against a hand-checked truth set.

    python benchmarks/conventions_truth.py --mirrors /work/.mirror [--work-dir DIR]
        [--codemem CMD] [--truth fixtures/conventions_truth] [--only owner/name] [--json-out FILE]

Each truth file (`fixtures/conventions_truth/<owner>+<name>.json`) pins a commit and lists
facts checked by hand from the code: `{topic, kind, language, subject, value, expect, bands?,
checked}`. `value` is a string or a list of acceptable strings; `expect` is `stated` (true,
and the miner should say it) or `false` (a value the miner must not state); `bands`, when
given, are the bands a stated rule may carry.

For every repository the mirror is cloned at the pinned commit, `codemem init` and
`codemem digest --no-llm --ci` run, and the rules of `.codemem/conventions.json` are judged:

- a rule is *true* when a `stated` fact of its key (kind, language, subject) accepts its
  value (and band); *false* when a `false` fact names its value, or when the key is covered
  by `stated` facts none of which accepts it; otherwise *unjudged* (reported apart).
  For the multi-valued kinds (`tool`, `editorconfig`, `pre-commit`) only facts naming the
  rule's value judge it.
- precision = true / (true + false); recall = `stated` facts some rule states / `stated` facts.

Also counted: rules whose examples equal their exceptions (never right).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ROOT / "fixtures" / "conventions_truth"
MULTI_VALUED = frozenset({"tool", "editorconfig", "pre-commit"})
FACT_KEYS = ("topic", "kind", "language", "subject", "value", "expect", "checked")
EXPECTS = ("stated", "false")


def load_truth(path: Path) -> dict[str, Any]:
    """One truth file, validated (ValueError names what is wrong)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("repo", "commit", "languages", "facts"):
        if key not in data:
            raise ValueError(f"{path.name}: no {key!r}")
    commit = data["commit"]
    if not (
        isinstance(commit, str)
        and len(commit) == 40
        and all(c in "0123456789abcdef" for c in commit)
    ):
        raise ValueError(f"{path.name}: commit must be 40 hex digits")
    for n, fact in enumerate(data["facts"]):
        missing = [k for k in FACT_KEYS if k not in fact]
        if missing:
            raise ValueError(f"{path.name}: fact {n} lacks {missing}")
        if fact["expect"] not in EXPECTS:
            raise ValueError(f"{path.name}: fact {n} expect must be one of {EXPECTS}")
        if not isinstance(fact["value"], (str, list)) or not fact["checked"]:
            raise ValueError(f"{path.name}: fact {n} needs a value and how it was checked")
    return data


def _values(fact: dict) -> set[str]:
    value = fact["value"]
    return set(value) if isinstance(value, list) else {value}


def _key(item: dict) -> tuple:
    return (item.get("kind"), item.get("language"), item.get("subject"))


@dataclass
class Judged:
    true: list[dict] = field(default_factory=list)
    false: list[dict] = field(default_factory=list)
    unjudged: list[dict] = field(default_factory=list)
    found: list[dict] = field(default_factory=list)  # stated facts some rule states
    missed: list[dict] = field(default_factory=list)
    same_examples: int = 0  # rules whose examples are their exceptions

    def add(self, other: Judged) -> None:
        for name in ("true", "false", "unjudged", "found", "missed"):
            getattr(self, name).extend(getattr(other, name))
        self.same_examples += other.same_examples

    def numbers(self) -> dict[str, Any]:
        judged = len(self.true) + len(self.false)
        facts = len(self.found) + len(self.missed)
        return {
            "true": len(self.true),
            "false": len(self.false),
            "unjudged": len(self.unjudged),
            "precision": round(len(self.true) / judged, 3) if judged else None,
            "facts": facts,
            "found": len(self.found),
            "recall": round(len(self.found) / facts, 3) if facts else None,
            "same_examples": self.same_examples,
        }


def _accepts(fact: dict, rule: dict) -> bool:
    return rule.get("value") in _values(fact) and (
        not fact.get("bands") or rule.get("band") in fact["bands"]
    )


def judge(facts: list[dict], rules: list[dict]) -> Judged:
    """Judge the stated `rules` (records of conventions.json) by the `facts`."""
    out = Judged()
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for fact in facts:
        by_key[_key(fact)].append(fact)
    for rule in rules:
        evidence = rule.get("evidence") or {}
        if evidence.get("examples") and evidence.get("examples") == evidence.get("exceptions"):
            out.same_examples += 1
        covering = by_key.get(_key(rule), [])
        if rule.get("kind") in MULTI_VALUED:
            covering = [f for f in covering if rule.get("value") in _values(f)]
        wrong = any(f["expect"] == "false" and rule.get("value") in _values(f) for f in covering)
        stated = [f for f in covering if f["expect"] == "stated"]
        if wrong or (stated and not any(_accepts(f, rule) for f in stated)):
            out.false.append(rule)
        elif stated:
            out.true.append(rule)
        else:
            out.unjudged.append(rule)
    for fact in facts:
        if fact["expect"] == "stated":
            hit = any(_key(r) == _key(fact) and _accepts(fact, r) for r in rules)
            (out.found if hit else out.missed).append(fact)
    return out


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _head(work: Path) -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=False
    )
    return proc.stdout.strip()


def mine(
    mirror: Path, commit: str, work: Path, codemem: list[str], reuse: bool = False
) -> list[dict]:
    """Clone `mirror` at `commit` into `work`, run init and digest, return the stored rules.

    With `reuse`, a clone already at `commit` with its `.codemem/` keeps its index and only
    the digest runs again (which re-mines the conventions): quick, for trying miner changes."""
    fresh = not (reuse and (work / ".codemem").is_dir() and _head(work) == commit)
    if fresh and work.exists():
        shutil.rmtree(work)
    if fresh:
        _git("clone", "--quiet", "--shared", "--no-checkout", str(mirror), str(work))
        _git("checkout", "--quiet", "--detach", commit, cwd=work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMEM_")}
    env["CODEMEM_HOME"] = str(work.parent / ".codemem-home")
    for args in ([["init"]] if fresh else []) + [["digest", "--no-llm", "--ci"]]:
        proc = subprocess.run(
            [*codemem, *args], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"codemem {' '.join(args)} failed in {work}: {proc.stderr.strip()[-400:]}"
            )
    data = json.loads((work / ".codemem" / "conventions.json").read_text(encoding="utf-8"))
    return list(data.get("rules", []))


def _mirror(mirrors: Path, repo: str) -> Path:
    base = mirrors / repo.replace("/", "+")
    return base / "repo" if (base / "repo").is_dir() else base


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value * 100:5.1f}%"


def report(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"{'':28} {'precision':>9} {'(true/false)':>12} {'unjudged':>8} {'recall':>7} {'(found/facts)':>13} {'ex=exc':>6}"
    ]
    for name, n in rows.items():
        counts, found = f"{n['true']}/{n['false']}", f"{n['found']}/{n['facts']}"
        lines.append(
            f"{name:28} {_pct(n['precision']):>9} {counts:>12} {n['unjudged']:>8} "
            f"{_pct(n['recall']):>7} {found:>13} {n['same_examples']:>6}"
        )
    return "\n".join(lines)


def run(
    truth_files: list[Path], mirrors: Path, work_dir: Path, codemem: list[str], reuse: bool = False
) -> dict[str, Any]:
    per_repo: dict[str, Judged] = {}
    per_language: dict[str, Judged] = defaultdict(Judged)
    details: dict[str, Any] = {}
    for path in truth_files:
        truth = load_truth(path)
        repo = truth["repo"]
        rules = mine(
            _mirror(mirrors, repo),
            truth["commit"],
            work_dir / repo.replace("/", "+"),
            codemem,
            reuse,
        )
        judged = judge(truth["facts"], rules)
        per_repo[repo] = judged
        for rule_lang in {
            *(f["language"] for f in truth["facts"]),
            *(r.get("language") for r in rules),
        }:
            part = judge(
                [f for f in truth["facts"] if f["language"] == rule_lang],
                [r for r in rules if r.get("language") == rule_lang],
            )
            per_language[rule_lang or "(repository)"].add(part)
        details[repo] = {
            **judged.numbers(),
            "false_rules": [r.get("statement") for r in judged.false],
            "missed_facts": [
                f"{f['kind']} {f['language']} {f['subject'] or ''} = {f['value']}"
                for f in judged.missed
            ],
        }
        print(f"{repo}: {judged.numbers()}", file=sys.stderr)
    overall = Judged()
    for judged in per_repo.values():
        overall.add(judged)
    return {
        "repos": details,
        "languages": {k: v.numbers() for k, v in sorted(per_language.items())},
        "overall": overall.numbers(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mirrors", type=Path, required=True, help="folder of <owner>+<name>/repo git mirrors"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the clones go (default: a temporary folder)"
    )
    parser.add_argument("--codemem", help="the codemem command (default: python -m codemem)")
    parser.add_argument("--truth", type=Path, default=TRUTH, help="folder of truth files")
    parser.add_argument("--only", action="append", default=[], help="owner/name (repeatable)")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep clones already at the pinned commit (and their index)",
    )
    args = parser.parse_args(argv)
    codemem = shlex.split(args.codemem) if args.codemem else [sys.executable, "-m", "codemem"]
    files = sorted(args.truth.glob("*.json"))
    if args.only:
        wanted = {name.replace("/", "+").lower() for name in args.only}
        files = [f for f in files if f.stem.lower() in wanted]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="conventions-truth-"))
    work.mkdir(parents=True, exist_ok=True)
    result = run(files, args.mirrors, work, codemem, args.reuse)
    rows = {repo: n for repo, n in result["repos"].items()}
    print(report(rows))
    print()
    print(
        report(
            {
                **{f"lang {k}": v for k, v in result["languages"].items()},
                "OVERALL": result["overall"],
            }
        )
    )
    for repo, n in result["repos"].items():
        for statement in n["false_rules"]:
            print(f"  false  {repo}: {statement}")
        for fact in n["missed_facts"]:
            print(f"  missed {repo}: {fact}")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
