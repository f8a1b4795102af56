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
        Rule("naming", "python", "Python functions are named in snake_case", 2 / 3,
             Evidence(2, 3, ("`load_file`",), ("`getThing` (m.py:5)",)), "naming", "function", "snake_case"),
        Rule("linting", "python", "Python is linted with ruff", None, Evidence(sources=("pyproject.toml [tool.ruff]",)),
             "tool", value="ruff"),
    ]
    text = render_records(rules)
    assert text == render_records(parse_records(text))
    assert text.endswith("}\n") and "\n  \"rules\": [\n" in text
    assert text.index('"rules"') < text.index('"version": 1')  # sorted keys
    assert parse_records(text)[0].share == 2 / 3  # exact, not rounded
    assert parse_records(text)[1].kind == "tool" and parse_records(text)[1].value == "ruff"


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
    assert records is not None and [r.kind for r in records if r.topic == "naming"] == ["naming"] * 3
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
