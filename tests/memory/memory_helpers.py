"""Helpers shared by the memory tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner, Result

from codemem.cli import cli
from codemem.workspace import Workspace

START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


class Clock:
    """A clock that moves one minute forward every time it is read."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(minutes=1)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.step
        return now


def write_block(ws: Workspace, label: str, text: str) -> None:
    """Write a block file by hand, as a person would."""
    path = ws.blocks_dir / f"{label}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_block(ws: Workspace, label: str) -> str:
    return (ws.blocks_dir / f"{label}.md").read_text(encoding="utf-8")


def run_cli(repo: Path, *args: str, input: str | None = None) -> Result:
    """`codemem --repo REPO ARGS...` through the real CLI entry point."""
    return CliRunner().invoke(cli, ["--repo", str(repo), *args], input=input)


def cli_ok(repo: Path, *args: str, input: str | None = None) -> Result:
    """`run_cli`, which must succeed."""
    result = run_cli(repo, *args, input=input)
    assert result.exit_code == 0, result.output
    return result


def editor_saves_after_the_read(monkeypatch, module, path, edited):
    """Once codemem has read `path`, a person's editor saves `edited` there as editors do: a
    new file renamed over the old one."""
    real = module.read_memory_file

    def read_then_save(ws, where, **kwargs):
        text = real(ws, where, **kwargs)
        if where == path and not saved:
            saved.append(where)
            temp = path.with_name(".editor-save.tmp")
            temp.write_text(edited)
            os.replace(temp, path)
        return text

    saved: list[Path] = []
    monkeypatch.setattr(module, "read_memory_file", read_then_save)
    return saved
