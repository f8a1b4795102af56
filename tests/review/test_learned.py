"""End to end with the real sleep-time pass: digest learns the conventions, review enforces them."""

from __future__ import annotations

from review_helpers import append, brief, review, stage

from codemem.config import load_config
from codemem.memory import initialize_memory
from codemem.review.conventions import NamingConvention, load_conventions
from codemem.sleep import DigestOptions, run_digest
from codemem.workspace import Workspace


def test_conventions_learned_by_digest_are_enforced(repo_factory):
    repo = repo_factory("sleep/pyshop")
    ws = Workspace(repo)
    initialize_memory(ws)
    run_digest(ws, load_config(None, flags={"sleep": {"min_samples": 3}}), DigestOptions())
    conventions = load_conventions(ws)
    assert conventions.naming[("python", "function")] == NamingConvention("python", "function", "snake_case", 1.0, 7)
    assert conventions.docs["python"].share == 13 / 14
    assert conventions.tested == {"python"}
    append(repo, "shop/prices.py", "\n\ndef halfPrice(price: Price) -> Price:\n    return Price(price.cents // 2)\n")
    stage(repo)
    line = len((repo / "shop/prices.py").read_text().splitlines()) - 1
    assert brief(review(repo)) == [
        ("shop/prices.py", line, "error", "naming/python/function"),
        ("shop/prices.py", line, "warning", "docstrings/python"),
        ("shop/prices.py", line, "warning", "tests/python"),
    ]
