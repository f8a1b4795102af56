"""`codemem digest` shows a bar for each long phase of a pass (reading the commits, the model's
calls or, with no model, the definitions read instead, conventions, writing), not only while
it re-indexes; nothing in a pipe or with --json."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sleep_helpers import config, init, scripted_history

from codemem.agent.providers import ScriptedProvider
from codemem.cli import cli, progress
from codemem.sleep import DigestOptions, run_digest
from tests.helpers import make_repo


@pytest.fixture
def shop(tmp_path):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop", commit=False)
    scripted_history(repo)
    return repo


def phases(calls: list[tuple[str, int, int]]) -> list[str]:
    """The phases told, in order, each once."""
    seen: list[str] = []
    for phase, _, _ in calls:
        if not seen or seen[-1] != phase:
            seen.append(phase)
    return seen


def test_a_pass_tells_each_phase_and_each_commit_read(shop):
    ws = init(shop)
    calls: list[tuple[str, int, int]] = []
    run_digest(ws, config(), DigestOptions(), progress=lambda *told: calls.append(told))
    assert phases(calls) == [
        "Indexing",
        "Reading commits",
        "Reading changed definitions",
        "Learning conventions",
        "Writing memory",
    ]
    reading = [(done, total) for phase, done, total in calls if phase == "Reading commits"]
    assert reading == [(0, 4), (1, 4), (2, 4), (3, 4)]


def test_with_a_model_the_commits_are_summarized_in_a_phase_of_its_own(shop):
    ws = init(shop)
    calls: list[tuple[str, int, int]] = []
    run_digest(
        ws,
        config(),
        DigestOptions(reindex=False),
        progress=lambda *told: calls.append(told),
        provider=ScriptedProvider(["One.", "Two.", "Three.", "Four."]),
    )
    assert "Summarizing commits with the model" in phases(calls)
    assert "Reading changed definitions" not in phases(calls)


class Bars(list):
    """The bars a command drew, by phase, as if stderr were a terminal."""

    def bar(self, description: str):
        bars = self

        class Bar:
            def __init__(self, _description: str) -> None:
                bars.append(description)

            def update(self, done: int, total: int) -> None: ...

            def stop(self) -> None: ...

        return Bar(description)


def test_the_command_draws_a_bar_per_phase_at_a_terminal_and_none_with_json(shop, monkeypatch):
    bars = Bars()
    monkeypatch.setattr(progress, "_on_terminal", lambda: True, raising=False)
    monkeypatch.setattr(progress, "_Bar", bars.bar)
    assert CliRunner().invoke(cli, ["--repo", str(shop), "init", "--no-index"]).exit_code == 0
    bars.clear()
    dry = CliRunner().invoke(cli, ["--repo", str(shop), "digest", "--no-llm", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert bars == [
        "Indexing",
        "Reading commits",
        "Reading changed definitions",
        "Learning conventions",
    ]
    bars.clear()
    as_json = CliRunner().invoke(cli, ["--repo", str(shop), "digest", "--no-llm", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert bars == []
