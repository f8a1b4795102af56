"""Marked regions, relative dates and the state file."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
from sleep_helpers import config

from codemem.conventions import RegionError, fit, region_body, region_budget, with_region
from codemem.errors import ConfigError
from codemem.sleep.dates import absolute_dates
from codemem.sleep.state import SleepState, read_local_state, read_state, write_local_state
from codemem.workspace import Workspace

START, END = "<!-- codemem:c:start -->", "<!-- codemem:c:end -->"


def test_a_region_is_replaced_in_place_and_appended_when_missing():
    value = f"before  \n{START}\nold\n{END}\n  after\n"
    assert with_region(value, "c", "new") == f"before  \n{START}\nnew\n{END}\n  after\n"
    assert region_body(with_region(value, "c", "new"), "c") == "new"
    assert with_region("mine", "c", "x") == f"mine\n\n{START}\nx\n{END}"
    assert with_region("", "c", "x") == f"{START}\nx\n{END}"
    assert region_body("no region", "c") is None


@pytest.mark.parametrize("value", [f"{START}\nx", f"{END}\n{START}", f"{START}{END}{START}{END}"])
def test_broken_markers_are_refused(value):
    with pytest.raises(RegionError, match="must appear once each"):
        with_region(value, "c", "new")


@pytest.mark.parametrize("value", ["", "mine", "mine\n", f"a\n{START}\nold\n{END}\nb"])
def test_the_budget_fills_the_block_exactly(value):
    budget = region_budget(value, "c", 200)
    assert len(with_region(value, "c", "z" * budget)) == 200


def test_fit_keeps_the_most_items_that_fit():
    def render(n):
        return "x" * (10 * n)

    assert fit(render, 10, 1000) == ("x" * 100, 10)
    assert fit(render, 10, 55) == ("x" * 50, 5)
    assert fit(render, 10, 5) == ("", 0)


def test_relative_dates():
    text = (
        "Yesterday we switched to ruff.\nFixed since yesterday; release tomorrow.\n"
        "`today` stays; 3 days ago CI broke; two weeks ago; last month; this year; next week.\n"
        "today's build stays\n```\nyesterday in code\n```\n"
        "<!-- codemem:recent:start -->\n- yesterday in a region\n<!-- codemem:recent:end -->"
    )
    assert absolute_dates(text, lambda _line: date(2024, 3, 31)) == (
        "On 2024-03-30 we switched to ruff.\nFixed since 2024-03-30; release on 2024-04-01.\n"
        "`today` stays; on 2024-03-28 CI broke; in the week of 2024-03-11; in February 2024; in 2024; "
        "in the week of 2024-04-01.\n"
        "today's build stays\n```\nyesterday in code\n```\n"
        "<!-- codemem:recent:start -->\n- yesterday in a region\n<!-- codemem:recent:end -->"
    )


def test_state_is_derived_from_the_digests_and_this_clone(repo_factory):
    ws = Workspace(repo_factory())
    ws.dir.mkdir()
    assert read_state(ws) == SleepState()
    ws.state_file.write_text(
        '{"review": {"x": 1}, "sleep": {"last_commit": "abc"}}\n'
    )  # an old one: read
    assert read_state(ws) == SleepState("abc", None, ["abc"])
    ws.digests_dir.mkdir()
    (ws.digests_dir / "2025-03-01-root-1111111.md").write_text(
        "---\ndate: 2025-03-01\nhead: " + "1" * 40 + "\n---\n"
    )
    (ws.digests_dir / "2025-03-02-1111111-2222222.md").write_text(
        "---\nhead: " + "2" * 40 + "\n---\n# x\n"
    )
    (ws.digests_dir / "notes.md").write_text("# not a digest\n")
    assert read_state(ws) == SleepState(
        "2" * 40, "digests/2025-03-02-1111111-2222222.md", ["1" * 40, "2" * 40, "abc"]
    )
    assert write_local_state(ws, lambda old: replace(old, last_head="3" * 40))
    assert write_local_state(ws, lambda old: old) is False
    assert read_local_state(ws).last_head == "3" * 40
    assert read_state(ws).last_commit == "3" * 40
    ws.state_file.write_text(
        '<<<<<<< HEAD\n{"sleep": {}}\n=======\n{}\n>>>>>>> theirs\n'
    )  # conflicted: ignored
    assert read_state(ws).digested == ["1" * 40, "2" * 40, "3" * 40]
    assert json.loads(ws.state_file.read_text().split("\n")[1]) == {"sleep": {}}  # never written


def test_sleep_settings_are_validated():
    assert config().sleep.initial_commits == 50
    assert config(recent_changes=3).sleep.recent_changes == 3
    with pytest.raises(ConfigError, match=r"sleep\.recent_chnages: unknown key"):
        config(recent_chnages=3)
    with pytest.raises(
        ConfigError, match=r"sleep\.initial_commits: Input should be greater than or equal to 1"
    ):
        config(initial_commits=0)
