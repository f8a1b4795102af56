"""Helpers for the review tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from codemem.cli import cli
from codemem.config import load_config
from codemem.review.diff import Target
from codemem.review.engine import ReviewOptions, run_review
from codemem.workspace import Workspace
from tests.helpers import git

# A function that breaks the learned snake_case convention, for several tests.
CAMEL_FUNCTION = '''

def applyDiscount(price: Price, percent: int) -> Price:
    """The price less `percent` percent."""
    return Price(price.cents * (100 - percent) // 100)
'''


def fake_aws_key() -> str:
    """An AWS-shaped access key id, built so that this file does not contain one."""
    return "AKIA" + "Q7XZ2KJH4MPL9WRT"


def write(repo: Path, files: dict[str, str | bytes | None]) -> None:
    """Write (or with None, delete) files in `repo`."""
    for path, content in files.items():
        target = repo / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def append(repo: Path, path: str, text: str) -> None:
    target = repo / path
    target.write_text(target.read_text(encoding="utf-8") + text, encoding="utf-8")


def stage(repo: Path, files: dict[str, str | bytes | None] | None = None) -> None:
    """Write `files`, then stage everything."""
    write(repo, files or {})
    git(repo, "add", "-A")


def cli_review(repo: Path, *args: str):
    """`codemem review ARGS` in `repo` through click's runner."""
    return CliRunner().invoke(cli, ["--repo", str(repo), "review", *args], catch_exceptions=False)


def review(repo: Path, target: Target | None = None, config=None, **options):
    """`run_review` on `repo` (staged changes by default)."""
    ws = Workspace(repo)
    cfg = config or load_config(ws.config_file)
    return run_review(ws, cfg, ReviewOptions(target or Target("staged"), **options))


def brief(result) -> list[tuple[str, int | None, str, str]]:
    """(file, line, severity, rule) of each finding."""
    return [(f.file, f.line, f.severity, f.rule) for f in result.findings]


def json_findings(output: str) -> list[tuple[str, int | None, str, str]]:
    data = json.loads(output)
    return [(f["file"], f["line"], f["severity"], f["rule"]) for f in data["findings"]]
