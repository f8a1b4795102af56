"""The fault suite runs a representative part of `benchmarks/faults.py`'s matrix.

The benchmark's modules are the engine (so the matrix is written once); here the commands
that check the invariants after a fault run in this process through click's CliRunner, which
is many times faster than a subprocess each, while every command that is killed still runs
as a real process in its own group. The template repository is built once per session.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from fault_world import Codemem, Result, build_template  # noqa: E402

from codemem.cli import cli as codemem_cli  # noqa: E402


class InProcessCodemem(Codemem):
    """`run` in this process (CliRunner); `start` (the command to kill) still a subprocess."""

    def run(
        self, repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 0
    ) -> Result:
        argv = ["--repo", str(repo), *args]
        runner = CliRunner(env={**self.env, **(env or {})})
        result = runner.invoke(codemem_cli, argv, catch_exceptions=True)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(*result.exc_info))
        return Result(["codemem", *argv], result.exit_code, result.stdout, stderr, 0.0)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """(codemem, template, work folder): the benchmark's prepared repository, built once."""
    work = tmp_path_factory.mktemp("faults")
    codemem = InProcessCodemem(work / "home", [sys.executable, "-m", "codemem"])
    return codemem, build_template(codemem, work), work
