"""The conventions truth set: its files are well formed, and the benchmark judges a tiny
fixture repository end to end with exact numbers."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRUTH = ROOT / "fixtures" / "conventions_truth"
TINY = ROOT / "fixtures" / "conventions_truth_tiny"


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "conventions_truth", ROOT / "benchmarks" / "conventions_truth.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _benchmark()


def test_truth_set_covers_enough():
    files = sorted(TRUTH.glob("*.json"))
    truths = [bench.load_truth(path) for path in files]
    assert len(truths) >= 12
    assert len({lang for t in truths for lang in t["languages"]}) >= 5
    for path, truth in zip(files, truths, strict=True):
        assert path.stem == truth["repo"].replace("/", "+")
        assert 8 <= len(truth["facts"]) <= 25, path.name


@pytest.mark.parametrize("path", sorted(TRUTH.glob("*.json")), ids=lambda p: p.stem)
def test_facts_are_well_formed(path):
    truth = bench.load_truth(path)
    for fact in truth["facts"]:
        assert fact["language"] is None or fact["language"] in truth["languages"]
        assert fact.get("bands", []) == [] or set(fact["bands"]) <= {
            "all",
            "almost-all",
            "most",
            "many",
            "about-half",
            "some",
            "few",
        }


def test_load_truth_rejects_a_fact_without_its_check(tmp_path):
    bad = json.loads((TINY / "truth.json").read_text())
    del bad["facts"][0]["checked"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="lacks"):
        bench.load_truth(path)


def test_judge_counts_true_false_and_unjudged():
    facts = [
        {
            "kind": "import-paths",
            "language": "python",
            "subject": None,
            "value": "relative",
            "expect": "stated",
        },
        {
            "kind": "tool",
            "language": "python",
            "subject": None,
            "value": "ruff",
            "expect": "stated",
        },
        {
            "kind": "commit-case",
            "language": None,
            "subject": None,
            "value": "capital",
            "expect": "stated",
            "bands": ["most", "almost-all"],
        },
    ]
    rules = [
        {
            "kind": "import-paths",
            "language": "python",
            "subject": None,
            "value": "absolute",
        },  # false
        {"kind": "tool", "language": "python", "subject": None, "value": "mypy"},  # unjudged
        {"kind": "tool", "language": "python", "subject": None, "value": "ruff"},  # true
        {
            "kind": "commit-case",
            "language": None,
            "subject": None,
            "value": "capital",
            "band": "many",
        },  # band: false
        {
            "kind": "naming",
            "language": "python",
            "subject": "class",
            "value": "PascalCase",
        },  # unjudged
    ]
    judged = bench.judge(facts, rules)
    assert judged.numbers() == {
        "true": 1,
        "false": 2,
        "unjudged": 2,
        "precision": 0.333,
        "facts": 3,
        "found": 1,
        "recall": 0.333,
        "same_examples": 0,
    }


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_tiny_repository_end_to_end(tmp_path):
    mirror = tmp_path / "mirrors" / "fixture+tiny" / "repo"
    shutil.copytree(TINY / "repo", mirror)
    _git("init", "-q", cwd=mirror)
    for n, message in enumerate(
        ["Add the cart", "Add prices", "Add errors", "Add tests", "Add examples"]
    ):
        (mirror / f"NOTES{n}.txt").write_text(message)
        _git("add", "-A", cwd=mirror)
        _git(
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            message,
            cwd=mirror,
        )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=mirror, capture_output=True, text=True, check=True
    ).stdout.strip()
    truth = json.loads((TINY / "truth.json").read_text())
    truth["commit"] = commit
    truth_file = tmp_path / "fixture+tiny.json"
    truth_file.write_text(json.dumps(truth))
    result = bench.run(
        [truth_file], tmp_path / "mirrors", tmp_path / "work", [sys.executable, "-m", "codemem"]
    )
    assert result["overall"] == {
        "true": 4,
        "false": 0,
        "unjudged": 10,
        "precision": 1.0,
        "facts": 5,
        "found": 4,
        "recall": 0.8,
        "same_examples": 0,
    }
    assert result["repos"]["fixture/tiny"]["missed_facts"] == [
        "test-location python  = in a top-level tests/ folder"
    ]
