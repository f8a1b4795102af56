"""End to end with the real sleep-time pass: digest learns the conventions, review enforces them."""

from __future__ import annotations

from review_helpers import CAMEL_FUNCTION, append, brief, review, stage

from codemem.config import load_config
from codemem.memory import initialize_memory
from codemem.review.conventions import REGION_END, REGION_START, NamingConvention, load_conventions
from codemem.review.engine import NOT_INITIALIZED, NOT_LEARNED
from codemem.sleep import DigestOptions, run_digest
from codemem.workspace import Workspace
from tests.helpers import git


def test_conventions_learned_by_digest_are_enforced(repo_factory):
    repo = repo_factory("sleep/pyshop")
    ws = Workspace(repo)
    initialize_memory(ws)
    run_digest(ws, load_config(None, flags={"sleep": {"min_samples": 3}}), DigestOptions())
    conventions = load_conventions(ws)
    assert conventions.naming[("python", "function")] == NamingConvention(
        "python", "function", "snake_case", 1.0, "all"
    )
    assert (conventions.docs["python"].share, conventions.docs["python"].band) == (
        0.8,
        "most, ≥80%",
    )  # 13 of 14
    assert conventions.tested == {"python"}
    append(
        repo,
        "shop/prices.py",
        "\n\ndef halfPrice(price: Price) -> Price:\n    return Price(price.cents // 2)\n",
    )
    stage(repo)
    line = len((repo / "shop/prices.py").read_text().splitlines()) - 1
    assert brief(review(repo)) == [
        ("shop/prices.py", line, "error", "naming/python/function"),
        ("shop/prices.py", line, "warning", "docstrings/python"),
        ("shop/prices.py", line, "warning", "tests/python"),
    ]


def _block(repo) -> str:
    return (repo / ".codemem/blocks/conventions.md").read_text(encoding="utf-8")


def test_the_records_alone_drive_the_naming_check(shop):
    text = _block(shop)
    start, end = text.index(REGION_START), text.index(REGION_END) + len(REGION_END)
    stage(shop, {".codemem/blocks/conventions.md": text[:start] + text[end:].lstrip("\n")})
    git(shop, "commit", "-qm", "No learned prose")
    assert "named in" not in _block(shop)
    append(shop, "shop/prices.py", CAMEL_FUNCTION)
    append(shop, "tests/test_cart.py", "\n# applyDiscount is covered elsewhere\n")
    stage(shop)
    [finding] = review(shop).findings
    assert (finding.file, finding.line, finding.severity, finding.rule) == (
        "shop/prices.py",
        28,
        "error",
        "naming/python/function",
    )
    assert (
        finding.message
        == "`applyDiscount` is camelCase; Python functions here are named in snake_case (almost all, ≥95%)"
    )


def test_without_records_nothing_learned_is_enforced(shop):
    stage(shop, {".codemem/conventions.json": None})
    git(shop, "commit", "-qm", "No records")
    conventions = load_conventions(Workspace(shop))
    assert (conventions.naming, conventions.docs, conventions.tested) == ({}, {}, set())
    assert [r.rule_id for r in conventions.patterns] == [
        "conventions/never-print",
        "conventions/avoid-todo",
    ]
    # Before the first digest a review says so, instead of a bare "No findings".
    append(shop, "shop/prices.py", CAMEL_FUNCTION)
    stage(shop)
    result = review(shop)
    assert result.findings == []
    assert result.warnings == [NOT_LEARNED]
    assert NOT_LEARNED.endswith("run `codemem digest` to learn them from the code")


def test_a_hand_edited_sentence_in_the_region_changes_nothing(shop):
    before = load_conventions(Workspace(shop))
    edited = (
        _block(shop)
        .replace(
            "Python functions are named in snake_case (97%: 34 of 35",
            "Python functions are named in camelCase (100%: 35 of 35",
        )
        .replace("- Python tests use pytest", "- Go tests use pytest")
    )
    stage(shop, {".codemem/blocks/conventions.md": edited})
    git(shop, "commit", "-qm", "Edit the learned region by hand")
    assert "named in camelCase (100%: 35 of 35" in _block(shop)
    after = load_conventions(Workspace(shop))
    assert (after.naming, after.docs, after.tested) == (before.naming, before.docs, before.tested)
    append(shop, "shop/prices.py", CAMEL_FUNCTION)
    append(shop, "tests/test_cart.py", "\n# applyDiscount is covered elsewhere\n")
    stage(shop)
    assert brief(review(shop)) == [("shop/prices.py", 28, "error", "naming/python/function")]


def test_before_init_a_review_names_init_first(repo_factory):
    repo = repo_factory("sleep/pyshop")  # no .codemem/: `codemem digest` would refuse
    append(repo, "shop/prices.py", CAMEL_FUNCTION)
    stage(repo)
    assert review(repo).warnings == [NOT_INITIALIZED]
    assert "run `codemem init`, then `codemem digest`" in NOT_INITIALIZED
    assert not (repo / ".codemem").exists()
