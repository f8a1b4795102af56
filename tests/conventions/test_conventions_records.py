"""The learned rules as records: `.codemem/conventions.json` and the Markdown rendered from it."""

from __future__ import annotations

import pytest

from codemem.code.indexer import refresh_index
from codemem.config import load_config
from codemem.conventions import (
    ConventionsRegion,
    Evidence,
    Rule,
    gather_facts,
    markers,
    mine_conventions,
    parse_records,
    read_records,
    records_path,
    region_body,
    render_conventions,
    render_records,
    stable_rules,
)
from codemem.memory import MemoryStore, initialize_memory
from codemem.sleep import DigestOptions, run_digest
from codemem.workspace import Workspace


@pytest.fixture
def mined(repo_factory) -> tuple[Workspace, list[Rule]]:
    """pyshop indexed, and the rules the miner learns from it."""
    ws = Workspace(repo_factory("sleep/pyshop"))
    cfg = load_config(None, flags={"sleep": {"min_samples": 3}})
    refresh_index(ws, cfg)
    return ws, mine_conventions(gather_facts(ws, cfg, cfg.sleep), 3)


def test_records_round_trip(mined):
    ws, rules = mined
    assert len(rules) > 10
    ws.dir.mkdir(exist_ok=True)
    records_path(ws).write_text(render_records(rules), encoding="utf-8")
    assert read_records(ws) == rules
    assert parse_records(render_records(rules)) == rules


def test_the_records_file_is_deterministic_json():
    rules = [
        Rule(
            "naming",
            "python",
            "Python functions are named in snake_case",
            2 / 3,
            Evidence(2, 3, ("`load_file`",), ("`getThing` (m.py:5)",)),
            "naming",
            "function",
            "snake_case",
        ),
        Rule(
            "linting",
            "python",
            "Python is linted with ruff",
            None,
            Evidence(sources=("pyproject.toml [tool.ruff]",)),
            "tool",
            value="ruff",
        ),
    ]
    text = render_records(rules)
    assert text == render_records(parse_records(text))
    assert text.endswith("}\n") and '\n  "rules": [\n' in text
    assert text.index('"rules"') < text.index('"version": 2')  # sorted keys
    assert '"matched"' not in text and '"total"' not in text and '"share"' not in text  # no counts
    first = parse_records(text)[0]
    assert (first.band, first.share) == ("many", 0.6)  # a band, and its lower bound for the review
    assert first.evidence == Evidence(
        examples=("`load_file`",), exceptions=("`getThing` (m.py:5)",)
    )
    assert parse_records(text)[1].kind == "tool" and parse_records(text)[1].value == "ruff"
    assert parse_records(text)[1].band is None  # read from a configuration file: it holds


def test_a_version_1_file_is_read_with_bands():
    old = (
        '{"version": 1, "rules": [{"topic": "naming", "kind": "naming", "language": "python", '
        '"subject": "function", "value": "snake_case", "statement": "s", "share": 0.97, '
        '"evidence": {"matched": 34, "total": 35, "examples": ["`a_b`"], "exceptions": [], '
        '"sources": [], "detail": ""}}]}'
    )
    [rule] = parse_records(old)
    assert (rule.band, rule.share, rule.evidence.examples) == ("almost-all", 0.95, ("`a_b`",))


def test_examples_are_kept_while_they_hold():
    def naming(share, examples, exceptions=()):
        return Rule(
            "naming",
            "python",
            "Python functions are named in snake_case",
            share,
            Evidence(9, 10, examples, exceptions),
            "naming",
            "function",
            "snake_case",
        )

    first = stable_rules([naming(0.97, ("`a_x`", "`b_x`", "`c_x`", "`d_x`"))])
    assert (first[0].band, first[0].evidence.examples) == (
        "almost-all",
        ("`a_x`", "`b_x`", "`c_x`"),
    )
    # A name that sorts first appears, the share moves within its band: nothing changes.
    again = stable_rules([naming(0.96, ("`0_x`", "`a_x`", "`b_x`", "`c_x`", "`d_x`"))], first)
    assert again == first
    # `b_x` is gone: only it is replaced; crossing into another band re-states the share.
    later = stable_rules([naming(0.9, ("`0_x`", "`a_x`", "`c_x`", "`d_x`"))], again)
    assert (later[0].band, later[0].evidence.examples) == ("most", ("`a_x`", "`c_x`", "`0_x`"))
    assert render_records(later) == render_records(
        stable_rules(later, later)
    )  # stable is idempotent


def test_a_conflicted_records_file_reads_our_side(tmp_path):
    ws = Workspace(tmp_path)
    ws.dir.mkdir()
    ours = render_records(
        [
            Rule(
                "naming",
                "python",
                "s",
                1.0,
                Evidence(examples=("`a`",)),
                "naming",
                "function",
                "snake_case",
            )
        ]
    )
    theirs = ours.replace("`a`", "`b`")
    records_path(ws).write_text(
        f"<<<<<<< HEAD\n{ours}=======\n{theirs}>>>>>>> origin/main\n", encoding="utf-8"
    )
    assert [rule.evidence.examples for rule in read_records(ws)] == [("`a`",)]


def test_the_markdown_is_byte_identical_for_the_same_records(mined):
    _ws, rules = mined
    again = parse_records(render_records(rules))
    assert render_conventions(again) == render_conventions(rules)
    assert render_conventions(again, examples=False) == render_conventions(rules, examples=False)
    for budget in (100_000, 1_500, 600):
        assert ConventionsRegion(again)(budget) == ConventionsRegion(rules)(budget)


def test_a_broken_or_missing_records_file_reads_as_none(tmp_path):
    ws = Workspace(tmp_path)
    assert read_records(ws) is None
    ws.dir.mkdir()
    records_path(ws).write_text("{not json", encoding="utf-8")
    assert read_records(ws) is None
    records_path(ws).write_text('{"version": 99, "rules": []}\n', encoding="utf-8")
    assert read_records(ws) is None


def test_the_digest_stores_the_records_and_renders_the_region_from_them(repo_factory):
    ws = Workspace(repo_factory("sleep/pyshop"))
    initialize_memory(ws)
    cfg = load_config(None, flags={"sleep": {"min_samples": 3}})
    run_digest(ws, cfg, DigestOptions())
    records = read_records(ws)
    assert (
        records is not None and [r.kind for r in records if r.topic == "naming"] == ["naming"] * 3
    )
    text = records_path(ws).read_text(encoding="utf-8")
    assert text == render_records(records)
    block = MemoryStore(ws, user="test").get("conventions")
    assert region_body(block.value, "conventions") == render_conventions(records)
    assert markers("conventions")[0] in block.value


def test_each_rule_says_what_it_asserts_as_data(mined):
    _ws, rules = mined
    assert [(r.kind, r.language, r.subject, r.value) for r in rules if r.topic != "commits"] == [
        ("naming", "python", "class", "PascalCase"),
        ("naming", "python", "function", "snake_case"),
        ("naming", "python", "method", "snake_case"),
        ("docstring-coverage", "python", None, "most"),
        ("docstring-style", "python", None, "google"),
        ("type-hints", "python", None, "most"),
        ("test-framework", "python", None, "pytest"),
        ("test-location", "python", None, "in a top-level tests/ folder"),
        ("test-file-names", "python", None, "test_*.py"),
        ("tool", "python", None, "ruff isort"),
        ("tool", "python", None, "ruff"),
        ("import-form", "python", None, "from"),
        ("import-paths", "python", None, "absolute"),
        ("future-import", "python", None, "annotations"),
        ("line-length", "python", None, "88"),
        ("indentation", "python", None, "4 spaces"),
        ("comment-density", "python", None, "few"),
    ]
