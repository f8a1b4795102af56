"""`codemem digest` with a model configured: --no-llm, CI without a key, the report."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sleep_helpers import init, scripted_history

from codemem.cli import cli
from tests.helpers import make_repo

SUMMARIES = [
    "Adds the shop package.",
    "Adds VAT.",
    "Removes the legacy discount.",
    "Documents the CLI.",
]


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    init(repo)
    return repo


def run(repo, *args):
    return CliRunner().invoke(cli, ["--repo", str(repo), "digest", *args], catch_exceptions=False)


def scripted_model(tmp_path, monkeypatch, answers) -> str:
    path = tmp_path / "script.yml"
    path.write_text(json.dumps(answers), encoding="utf-8")
    monkeypatch.setenv("CODEMEM_MODEL", f"scripted/{path}")
    return f"scripted/{path}"


def digest_text(repo) -> str:
    (path,) = (repo / ".codemem" / "digests").iterdir()
    return path.read_text()


def test_a_configured_model_summarizes_and_the_log_says_so(repo, tmp_path, monkeypatch):
    model = scripted_model(tmp_path, monkeypatch, SUMMARIES)
    result = run(repo, "--ci")

    assert result.exit_code == 0, result.output
    assert (
        f"codemem digest: Model {model}: 4 commit summaries (4 calls, $0.0000)."
        in result.stdout.splitlines()
    )
    assert [line for line in digest_text(repo).splitlines() if line.startswith("Summary: ")] == [
        f"Summary: {s}" for s in SUMMARIES
    ]
    assert result.stderr == ""


def test_no_llm_makes_no_model_call_even_with_a_model_configured(repo, tmp_path, monkeypatch):
    scripted_model(tmp_path, monkeypatch, [])  # any call would fail and warn
    result = run(repo, "--ci", "--no-llm")

    assert result.exit_code == 0
    assert "summaries: extractive" in digest_text(repo)
    assert not any("Model" in line for line in result.stdout.splitlines())
    assert result.stderr == ""


def test_ci_with_the_key_missing_falls_back_to_extractive_and_exits_0(repo, monkeypatch):
    monkeypatch.setenv("CODEMEM_MODEL", "anthropic/claude-sonnet-4-5")
    result = run(repo, "--ci")

    assert result.exit_code == 0
    assert result.stderr == (
        "codemem: warning: ANTHROPIC_API_KEY is not set: export it, or choose another model "
        "with --model; this pass is extractive (no model)\n"
    )
    assert "summaries: extractive" in digest_text(repo)


def test_without_ci_the_missing_key_is_an_error(repo, monkeypatch):
    monkeypatch.setenv("CODEMEM_MODEL", "anthropic/claude-sonnet-4-5")
    result = CliRunner().invoke(cli, ["--repo", str(repo), "digest"])

    assert result.exit_code == 2
    assert result.stderr == (
        "codemem: error: ANTHROPIC_API_KEY is not set: export it, or choose another model with "
        "--model, or pass --no-llm for an extractive digest\n"
    )
    assert not (repo / ".codemem" / "digests").exists()


def test_json_reports_the_model_path(repo, tmp_path, monkeypatch):
    model = scripted_model(
        tmp_path, monkeypatch, [SUMMARIES[0], {"error": "scripted: overloaded"}, *SUMMARIES[2:]]
    )
    data = json.loads(run(repo, "--json").stdout)

    assert data["model"] == {
        "model": model,
        "summaries": 3,
        "fallbacks": 1,
        "project_summary": None,
        "sessions_learned": 0,
        "agent": None,
        "calls": 3,
        "cost": 0.0,
    }
    assert [c["summary"] for c in data["commits"]] == [SUMMARIES[0], None, *SUMMARIES[2:]]
    assert data["warnings"] == [
        f"{data['commits'][1]['sha'][:7]}: kept the extractive summary: the model failed (scripted: overloaded)"
    ]


def test_sleep_model_overrides_the_top_level_model(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("CODEMEM_MODEL", "anthropic/claude-sonnet-4-5")  # no key: would fail
    path = tmp_path / "sleep.yml"
    path.write_text(json.dumps(SUMMARIES), encoding="utf-8")
    monkeypatch.setenv("CODEMEM_SLEEP__MODEL", f"scripted/{path}")
    result = run(repo, "--ci")

    assert result.exit_code == 0 and result.stderr == ""
    assert "summaries: model" in digest_text(repo)
