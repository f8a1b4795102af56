"""User-facing messages: suggested models are known, no internal provider, true hints."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codemem.agent.providers import resolve_provider
from codemem.agent.providers.models import lookup_model
from codemem.cli import _PrintableFormatter, cli
from codemem.cli.agent import CONFIGURE_HELP
from codemem.config import Config
from codemem.errors import UsageError
from codemem.memory.initialize import CONFIG_TEMPLATE
from tests.helpers import make_repo
from tests.helpers import run_codemem as codemem

ROOT = Path(__file__).resolve().parents[2]
SUGGESTING = [CONFIGURE_HELP, CONFIG_TEMPLATE, (ROOT / "README.md").read_text(encoding="utf-8")]


def suggested_models() -> set[str]:
    found = set()
    for text in SUGGESTING:
        found |= set(re.findall(r"\b(?:anthropic|openai|ollama)/([\w.-]*\w)", text))
    return found


def test_every_suggested_model_is_known(caplog):
    models = suggested_models()
    assert {"claude-sonnet-4-6", "gpt-5", "qwen2.5-coder"} <= models
    with caplog.at_level(logging.WARNING, logger="codemem"):
        for name in models:
            assert lookup_model(name, full_name=f"x/{name}").known, name
    assert caplog.records == []


def test_an_ollama_tag_finds_its_model():
    assert lookup_model("qwen2.5-coder:7b").context_window == 32_768


def test_the_internal_provider_is_never_offered():
    with pytest.raises(UsageError) as caught:
        resolve_provider("mistral/codestral", Config())
    assert "scripted" not in str(caught.value)
    with pytest.raises(UsageError) as bare:
        resolve_provider("codestral", Config())
    assert "scripted" not in str(bare.value)


def test_digest_takes_the_model_its_message_suggests(repo_factory):
    repo = repo_factory("shop")
    assert CliRunner().invoke(cli, ["--repo", str(repo), "init", "--no-index"]).exit_code == 0
    result = CliRunner().invoke(
        cli, ["--repo", str(repo), "digest", "--model", "anthropic/claude-sonnet-4-6"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "codemem: error: ANTHROPIC_API_KEY is not set: export it, or choose another model with "
        "--model, or pass --no-llm for an extractive digest\n"
    )
    help_text = CliRunner().invoke(cli, ["digest", "--help"]).stdout
    assert "--model" in help_text


def test_an_error_or_log_line_never_sends_terminal_codes(tmp_path):
    # Error and log lines name files and quote text from the repository; with colour on (a
    # terminal) a folder named `x<ESC>[2J` cleared the screen.
    folder = tmp_path / "x\x1b[2J"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "codemem", "--color", "always", "--repo", str(folder), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "x\\x1b[2J is not inside a git repository" in done.stderr
    record = logging.LogRecord(
        "codemem", logging.WARNING, __file__, 1, "parsing %s failed", ("a\x1b]0;t\x07.py",), None
    )
    assert _PrintableFormatter("%(message)s").format(record) == "parsing a\\x1b]0;t\\x07.py failed"


@pytest.mark.parametrize("args", [["status"], ["search", "order total"]])
def test_a_command_started_with_its_output_closed_says_so(tmp_path, args):
    # `codemem status >&-` printed nothing and exited 0; `search` ended on an AttributeError.
    repo = make_repo(tmp_path / "shop", "shop")
    result = codemem(repo, *args, preexec_fn=lambda: os.close(1), timeout=60)
    assert result.returncode == 2
    assert result.stderr == (
        "codemem: error: standard output is closed: run codemem with it open "
        "(`>/dev/null` discards what it prints)\n"
    )
