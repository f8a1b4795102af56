"""`codemem watch --status` names the last index run and the last digest whoever ran them (a
manual `codemem index` or `codemem digest` too, not "never"), and the daemon's own where that
says more."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sleep_helpers import commit, config, init

from codemem.cli import cli
from codemem.daemon.watch import Watcher
from tests.helpers import make_repo


def status(repo: Path) -> tuple[list[str], dict]:
    runner = CliRunner()
    lines = runner.invoke(cli, ["--repo", str(repo), "watch", "--status"]).stdout.splitlines()
    info = json.loads(
        runner.invoke(cli, ["--repo", str(repo), "watch", "--status", "--json"]).stdout
    )
    return lines, info


def test_a_manual_digest_is_the_last_digest(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    assert CliRunner().invoke(cli, ["--repo", str(repo), "init", "--no-index"]).exit_code == 0
    _, before = status(repo)
    assert before["last_digest"] is None
    done = CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--no-llm", "--json"])
    assert done.exit_code == 0, done.output
    wrote = json.loads(done.stdout)["digest"]["path"]
    lines, info = status(repo)
    (said,) = [line for line in lines if line.startswith("Last digest")]
    assert said.endswith(f"by codemem digest (1 commit, {wrote}).")
    assert info["last_digest"]["by"] == "codemem digest"
    assert info["last_digest"]["commits"] == 1
    assert info["last_digest"]["digest"] == wrote
    assert info["watch_digest"] is None
    assert not any(line.startswith("The daemon's") for line in lines)


def test_the_daemons_digest_is_said_apart_once_another_ran_after_it(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    (repo / ".git" / "info" / "exclude").write_text(".codemem/\n")
    first = commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    watcher = Watcher(ws, config())
    assert watcher.on_idle() == f"new commits up to {first[:7]}"
    watcher.debouncer.close()
    lines, info = status(repo)
    assert info["last_digest"]["by"] == "codemem watch"
    assert info["watch_digest"]["commits"] == 1
    assert not any(line.startswith("The daemon's") for line in lines)
    commit(repo, "Add notes", "2025-03-02T10:00:00+00:00", {"NOTES.md": "# Notes\n"})
    ci = CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--ci", "--no-llm"])
    assert ci.exit_code == 0, ci.output
    lines, info = status(repo)
    assert info["last_digest"]["by"] == "codemem digest --ci"
    assert any(line.startswith("The daemon's last digest: ") for line in lines)


def test_a_damaged_record_is_no_digest_and_the_next_pass_writes_it_anew(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    ws.last_digest_file.write_text("{not json", encoding="utf-8")
    _, info = status(repo)
    assert info["last_digest"] is None
    assert CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--no-llm"]).exit_code == 0
    _, info = status(repo)
    assert info["last_digest"]["by"] == "codemem digest"


def test_an_index_built_by_init_is_the_last_index(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    assert CliRunner().invoke(cli, ["--repo", str(repo), "init"]).exit_code == 0
    lines, info = status(repo)
    files = info["last_index"]["files"]
    assert files > 0 and info["watch_index"] is None
    (said,) = [line for line in lines if line.startswith("Last index")]
    assert said.endswith(f"(holds {files} files).")


def test_the_daemons_index_run_is_the_last_until_another_command_indexes(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    (repo / ".git" / "info" / "exclude").write_text(".codemem/\n")
    commit(repo, "Add the shop", "2025-03-01T10:00:00+00:00")
    watcher = Watcher(init(repo), config())
    watcher._index([])
    watcher.debouncer.close()
    _, info = status(repo)
    assert info["last_index"]["by"] == "codemem watch" and "added" in info["last_index"]
    assert info["watch_index"]["added"] == info["last_index"]["added"]
    assert CliRunner().invoke(cli, ["--repo", str(repo), "index", "--full"]).exit_code == 0
    lines, info = status(repo)
    assert "by" not in info["last_index"] and info["last_index"]["files"] > 0
    assert info["watch_index"] is not None  # the daemon's own, kept
